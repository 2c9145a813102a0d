package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/handoff/accounts"
	"github.com/hotline-org/hotline/handoff/console"
)

// newConsole wires the operators' console: accounts from the register's database,
// sessions and the login throttle in Redis.
func (a *app) newConsole() (*console.Console, error) {
	throttle, err := accounts.NewThrottle(a.rdb, a.cfg.RedisPrefix, accounts.DefaultThrottle(), a.now)
	if err != nil {
		return nil, err
	}
	return console.New(console.Config{
		Sessions: console.NewSessions(a.rdb, a.cfg.RedisPrefix, console.DefaultSessions(), a.now),
		Throttle: throttle,
		Account: func(ctx context.Context, id string) (console.Account, error) {
			o, err := a.store.Operator(ctx, id)
			if errors.Is(err, cases.ErrNotFound) {
				return console.Account{}, console.ErrNoAccount
			}
			if err != nil {
				return console.Account{}, err
			}
			return console.Account{ID: o.ID, Name: o.Name, Role: accounts.Role(o.Role), Hash: o.PasswordHash,
				Active: o.Active(), PasswordSet: o.PasswordSetAt}, nil
		},
		Secure: strings.HasPrefix(a.cfg.PublicURL, "https://"),
		Audit: func(ctx context.Context, actor, action, reason string) {
			dbctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
			defer cancel()
			if err := a.store.Audit(dbctx, cases.Entry{Actor: actor, Action: action, Reason: reason}); err != nil {
				a.log.Error("console step not audited", "action", action, "err", err)
			}
		},
		Log: a.log, Now: a.now,
	})
}

// consoleRoutes mounts the console: its login, its page, and its API, where the
// operator is whoever is logged in and every change carries the session's CSRF token.
func (a *app) consoleRoutes(r *gin.Engine) {
	c := a.console
	r.GET("/console/login", c.LoginPage)
	r.POST("/console/login", c.Login)
	r.POST("/console/logout", c.Require(accounts.Operator), c.Logout)
	r.GET("/console", c.Require(accounts.Operator), c.Home(a.queue))
	r.GET("/console/events", c.Require(accounts.Operator), c.Events(a.queue, time.Second))

	api := r.Group("/console/api", c.Require(accounts.Operator))
	api.GET("/queue", handleQueue(a))
	api.GET("/held", handleHeld(a))
	api.GET("/conversations/:key", handleConversation(a, loggedIn))
	for _, action := range []string{"claim", "transfer", "reply", "note", "release", "close"} {
		api.POST("/conversations/:key/"+action, handleConversationChange(a, action, loggedIn))
	}
	// Taking a conversation from another operator (one who left, or is away): supervisors.
	r.POST("/console/api/conversations/:key/takeover", c.Require(accounts.Supervisor), handleConversationChange(a, "takeover", loggedIn))
	// A recorded message a call left, listened to and dealt with.
	api.POST("/voicemail/:key/done", handleVoicemailDone(a, loggedIn))
	// Publishing a route alert reaches everyone on a route: supervisors only.
	r.POST("/console/api/route-alerts", c.Require(accounts.Supervisor), handlePublish(a))
}
