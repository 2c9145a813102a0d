package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/handoff"
	"github.com/hotline-org/hotline/handoff/accounts"
	"github.com/hotline-org/hotline/handoff/console"
	"github.com/hotline-org/hotline/locales"
)

// newConsole wires the operators' console: accounts from the register's database,
// sessions and the login throttle in Redis.
func (a *app) newConsole() (*console.Console, error) {
	tc := accounts.DefaultThrottle()
	tc.Key = a.cfg.LookupKey
	throttle, err := accounts.NewThrottle(a.rdb, a.cfg.RedisPrefix, tc, a.now)
	if err != nil {
		return nil, err
	}
	words, err := locales.LoadConsole(func(lang, id string) { a.metrics.missing.WithLabelValues(lang, id).Inc() })
	if err != nil {
		return nil, err
	}
	return console.New(console.Config{
		Words:     words,
		Health:    a.health,
		Extra:     a.conversationExtra,
		Operators: a.consoleOperators,
		Sessions:  console.NewSessions(a.rdb, a.cfg.RedisPrefix, console.DefaultSessions(), a.now),
		Throttle:  throttle,
		Limit:     a.limits.login,
		Account: func(ctx context.Context, id string) (console.Account, error) {
			o, err := a.store.Operator(ctx, id)
			if errors.Is(err, cases.ErrNotFound) {
				return console.Account{}, console.ErrNoAccount
			}
			if err != nil {
				return console.Account{}, err
			}
			return console.Account{ID: o.ID, Name: o.Name, Role: accounts.Role(o.Role), Langs: o.Langs, Hash: o.PasswordHash,
				Active: o.Active(), PasswordSet: o.PasswordSetAt}, nil
		},
		Secure: strings.HasPrefix(a.cfg.PublicURL, "https://"),
		Audit: func(ctx context.Context, actor, action, reason string) {
			a.auditConsole(ctx, actor, action, "", reason)
		},
		AuditCase: a.auditConsole,
		Log:       a.log, Now: a.now,
	})
}

// auditConsole writes a console step to the audit log, under caseRef when it concerns
// one case; the log names cases as the register does, in the compact form.
func (a *app) auditConsole(ctx context.Context, actor, action, caseRef, reason string) {
	if r, err := ref.Parse(caseRef); err == nil {
		caseRef = r.Compact()
	}
	dbctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dbTimeout)
	defer cancel()
	if err := a.store.Audit(dbctx, cases.Entry{Actor: actor, Action: action, CaseRef: caseRef, Reason: reason}); err != nil {
		a.log.Error("console step not audited", "action", action, "err", err)
	}
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
	r.GET("/console/c/:key", c.Require(accounts.Operator), c.Conversation(a.queue))
	r.GET("/console/static/*file", console.Static)

	api := r.Group("/console/api", c.Require(accounts.Operator))
	api.GET("/sig", c.Sig(a.queue))
	api.POST("/me", c.Me)
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

	a.consoleCaseRoutes(r, c)
	a.consoleDistressRoutes(r, c)
	a.consoleAdminRoutes(r, c)
	a.consoleRouteAlertRoutes(r, c)
	a.consoleMediaRoutes(api)
}

// conversationExtra is what a conversation's page shows beside the transcript.
func (a *app) conversationExtra(ctx context.Context, e handoff.Entry, lang string) (console.Extra, error) {
	x := console.Extra{Canned: a.canned(e.Lang)}
	if e.Channel == channels.WhatsApp {
		w, err := a.whatsAppWindow(ctx, e)
		if err != nil {
			return x, err
		}
		x.Window = w
	}
	x.Links = append(a.caseLinks(ctx, e), a.distressLinks(ctx, e)...)
	ops, err := a.consoleOperators(ctx)
	x.Operators = ops
	return x, err
}

// whatsAppWindow reads whether WhatsApp takes free text to the contact now.
func (a *app) whatsAppWindow(ctx context.Context, e handoff.Entry) (*console.Window, error) {
	keys := channels.WindowKeysFor(a.cfg.RedisPrefix, e.Shard, e.Contact)
	ms, err := a.rdb.Get(ctx, keys.Seen).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read whatsapp window: %w", err)
	}
	w := &console.Window{Template: len(a.cfg.WhatsAppTemplates) > 0}
	if ms > 0 {
		w.LastAt = time.UnixMilli(ms)
		w.Until = w.LastAt.Add(channels.WhatsAppWindow - channels.WindowMargin)
		w.Open = a.now().Before(w.Until)
	}
	return w, nil
}

// consoleOperators lists the active accounts and who has a console open.
func (a *app) consoleOperators(ctx context.Context) ([]console.Operator, error) {
	all, err := a.store.Operators(ctx)
	if err != nil {
		return nil, err
	}
	present, err := a.console.Presences(ctx)
	if err != nil {
		a.log.Warn("console presence", "err", err)
	}
	out := make([]console.Operator, 0, len(all))
	for _, o := range all {
		if o.Active() {
			out = append(out, console.Operator{ID: o.ID, Name: o.Name, Langs: o.Langs, Presence: present[o.ID]})
		}
	}
	return out, nil
}
