package console

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/text/language"

	"github.com/hotline-org/hotline/handoff"
	"github.com/hotline-org/hotline/handoff/accounts"
	"github.com/hotline-org/hotline/locales"
)

// Account is what logging in needs of an operator's account.
type Account struct {
	ID, Name string
	Role     accounts.Role
	Langs    []string // the hotline languages they read
	Hash     string   // the password's PHC string
	Active   bool
	// PasswordSet is when the password last changed: sessions from before end.
	PasswordSet time.Time
}

// Limiter bounds how often one client may do something.
type Limiter interface {
	// Allow counts one request of client and reports whether it is within the limit;
	// if not, retryAfter says when it will be.
	Allow(ctx context.Context, client string) (ok bool, retryAfter time.Duration, err error)
}

// ErrNoAccount is a login name with no account.
var ErrNoAccount = errors.New("no such account")

// Config wires the console's login.
type Config struct {
	Sessions *Sessions
	Throttle *accounts.Throttle
	// Limit bounds the login requests from one client address, whatever their outcome
	// (nil: no bound). Throttle counts failures; this bounds what a flood costs besides
	// (password checks of a valid account, refusals written to the audit log). When it
	// fails (Redis away) the login goes on to Throttle, which refuses while Redis is away.
	Limit Limiter
	// Account finds an account by its login name (ErrNoAccount when there is none).
	Account func(ctx context.Context, id string) (Account, error)
	// Secure marks the cookie for HTTPS only: the hotline's public URL is https.
	Secure bool
	// Audit records a login, a refused one, a logout.
	Audit func(ctx context.Context, actor, action, reason string)
	// AuditCase records a step on one case (a distress alert seen, its number opened,
	// acknowledged), so that the case's own audit log shows it; nil writes it with
	// Audit, without the reference.
	AuditCase func(ctx context.Context, actor, action, caseRef, reason string)
	// Words are the console's words in the hotline's languages (locales.LoadConsole).
	Words Words
	// Health says what is wrong with the service now, for every page's banner; nil
	// when nothing watches it.
	Health func(ctx context.Context) []Warning
	// Extra is what a conversation's page shows beside its transcript (nil: nothing).
	Extra func(ctx context.Context, e handoff.Entry, lang string) (Extra, error)
	// Operators lists the active accounts (the queue page's duty list, transfers).
	Operators func(ctx context.Context) ([]Operator, error)
	Log       *slog.Logger
	Now       func() time.Time
}

// Console is the operators' login and the guard of every console page and API.
type Console struct {
	cfg Config
	// hashing bounds the password checks running at once: each takes tens of MiB.
	hashing chan struct{}
	// seen is each account as last read, for when the database does not answer.
	mu   sync.Mutex
	seen map[string]seenAccount
	// viewed is when each operator last had each conversation's view audited: a
	// page that loads itself again on every change is one view, not hundreds.
	viewed map[string]time.Time
	// dummy is verified when the login name has no account, so that an unknown name
	// takes as long as a wrong password and the answer does not tell them apart.
	dummy string
	// closing ends the open event streams when the server shuts down.
	closing   chan struct{}
	closeOnce sync.Once
}

// Shutdown ends the open event streams (the server's shutdown waits for them).
func (c *Console) Shutdown() { c.closeOnce.Do(func() { close(c.closing) }) }

// CookieName is the console session's cookie.
const CookieName = "hotline_console"

// New returns the console's login over cfg.
func New(cfg Config) (*Console, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Words == nil {
		words, err := locales.LoadConsole(nil)
		if err != nil {
			return nil, err
		}
		cfg.Words = words
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Audit == nil {
		cfg.Audit = func(context.Context, string, string, string) {}
	}
	if cfg.AuditCase == nil {
		audit := cfg.Audit
		cfg.AuditCase = func(ctx context.Context, actor, action, _, reason string) { audit(ctx, actor, action, reason) }
	}
	dummy, err := accounts.Hash(accounts.GeneratePassword(), accounts.DefaultParams())
	if err != nil {
		return nil, err
	}
	return &Console{cfg: cfg, dummy: dummy, hashing: make(chan struct{}, 2), seen: map[string]seenAccount{}, viewed: map[string]time.Time{},
		closing: make(chan struct{})}, nil
}

// firstView reports whether an operator's view of a conversation is one to audit:
// the first in half an hour.
func (c *Console) firstView(op, key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	k := op + "\x00" + key
	if at, ok := c.viewed[k]; ok && now.Sub(at) < 30*time.Minute {
		return false
	}
	if len(c.viewed) > 10000 {
		clear(c.viewed) // bounded: at worst a view audited twice
	}
	c.viewed[k] = now
	return true
}

type seenAccount struct {
	acct Account
	at   time.Time
}

// recentlySeen is how long an account read holds while the database does not answer.
const recentlySeen = 10 * time.Minute

// account reads an operator's account; while the database does not answer, the
// account as read in the last ten minutes holds (so that people go on answering
// through an outage, and a disabled account stays disabled).
func (c *Console) account(ctx context.Context, id string) (Account, error) {
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	acct, err := c.cfg.Account(actx, id)
	cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		c.seen[id] = seenAccount{acct, c.cfg.Now()}
		return acct, nil
	}
	if errors.Is(err, ErrNoAccount) {
		delete(c.seen, id)
		return acct, err
	}
	if s, ok := c.seen[id]; ok && c.cfg.Now().Sub(s.at) < recentlySeen {
		c.cfg.Log.Warn("account not read: the database does not answer; its last reading holds", "err", err)
		return s.acct, nil
	}
	return acct, err
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="{{.Lang}}" dir="{{.Dir}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.T "console.name"}} — {{.T "login.title"}}</title>
<link rel="stylesheet" href="/console/static/console.css"></head>
<body class="login"><h1>{{.T "console.name"}}</h1>
{{if .Error}}<p class="error" role="alert">{{if .Minutes}}{{.T .Error "N" .Minutes "Count" .Minutes}}{{else}}{{.T .Error}}{{end}}</p>{{end}}
<form method="post" action="/console/login">
<label for="id">{{.T "login.id"}}</label><input id="id" name="id" autocomplete="username" required value="{{.ID}}">
<label for="password">{{.T "login.password"}}</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">{{.T "login.submit"}}</button></form></body></html>`))

// LoginPage shows the login form.
func (c *Console) LoginPage(g *gin.Context) {
	c.renderLogin(g, http.StatusOK, "", "")
}

// loginView is the login page's data: in the browser's language, as nobody is known yet.
type loginView struct {
	View
	ID, Error string
	// Minutes is how long to wait, for an error that says it (0: one that does not).
	Minutes int
}

func (c *Console) renderLogin(g *gin.Context, status int, id, errID string) {
	c.renderLoginView(g, status, loginView{ID: id, Error: errID})
}

func (c *Console) renderLoginView(g *gin.Context, status int, v loginView) {
	lang := c.browserLang(g.GetHeader("Accept-Language"))
	g.Header("Cache-Control", "no-store")
	g.Header("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	g.Header("Content-Type", "text/html; charset=utf-8")
	g.Status(status)
	v.View = View{Lang: lang, Dir: locales.Direction(lang), words: c.cfg.Words}
	if err := loginPage.Execute(g.Writer, v); err != nil {
		c.cfg.Log.Error("render login page", "err", err)
	}
}

// browserLang is the console language that best matches an Accept-Language header.
func (c *Console) browserLang(accept string) string {
	tags, _, err := language.ParseAcceptLanguage(accept)
	if err != nil {
		return locales.Fallback
	}
	for _, t := range tags {
		base, _ := t.Base()
		if c.cfg.Words.Has(base.String()) {
			return base.String()
		}
	}
	return locales.Fallback
}

// Login checks a login name and password and opens a session: limited per address,
// throttled per account and per address, the same answer for an unknown name and a
// wrong password.
func (c *Console) Login(g *gin.Context) {
	ctx := g.Request.Context()
	addr := g.ClientIP()
	// First, before anything is read or written: a flood costs one Redis call a try.
	if c.cfg.Limit != nil {
		ok, wait, err := c.cfg.Limit.Allow(ctx, addr)
		switch {
		case err != nil:
			c.cfg.Log.Warn("login rate limit not checked; the throttle still counts", "err", err)
		case !ok:
			secs := max(int(math.Ceil(wait.Seconds())), 1)
			g.Header("Retry-After", strconv.Itoa(secs))
			c.renderLoginView(g, http.StatusTooManyRequests, loginView{Error: "login.busy", Minutes: (secs + 59) / 60})
			return
		}
	}
	// A login form is a name and a password: a larger body is no login, and would
	// otherwise be read whole (up to 10 MB) before being refused.
	g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, 8<<10)
	id := strings.ToLower(strings.TrimSpace(g.PostForm("id")))
	password := g.PostForm("password")
	if accounts.CheckID(id) != nil || password == "" || len(password) > 256 {
		c.renderLogin(g, http.StatusUnauthorized, "", "login.wrong")
		return
	}
	// Counted before the password is checked: tries sent at once cannot all pass.
	ok, wait, ticket, err := c.cfg.Throttle.Attempt(ctx, id, addr)
	if err != nil {
		c.cfg.Log.Error("login throttle", "err", err)
		c.renderLogin(g, http.StatusServiceUnavailable, id, "login.unavailable")
		return
	}
	if !ok {
		g.Header("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
		c.cfg.Audit(ctx, "console:"+id, "console.login_throttled", "")
		c.renderLogin(g, http.StatusTooManyRequests, id, "login.throttled")
		return
	}
	acct, err := c.cfg.Account(ctx, id)
	hash := acct.Hash
	if err != nil {
		if !errors.Is(err, ErrNoAccount) {
			c.cfg.Log.Error("read account", "err", err)
			c.renderLogin(g, http.StatusServiceUnavailable, id, "login.unavailable")
			return
		}
		hash = c.dummy
	}
	select {
	case c.hashing <- struct{}{}:
	case <-ctx.Done():
		return
	}
	good, err := accounts.Verify(password, hash)
	<-c.hashing
	if err != nil || !good || !acct.Active || !acct.Role.Valid() {
		c.cfg.Audit(ctx, "console:"+id, "console.login_refused", "")
		c.renderLogin(g, http.StatusUnauthorized, id, "login.wrong")
		return
	}
	if err := c.cfg.Throttle.Succeeded(ctx, id, addr, ticket); err != nil {
		c.cfg.Log.Error("login throttle", "err", err)
	}
	token, _, err := c.cfg.Sessions.Start(ctx, acct.ID, acct.Name, acct.Role, acct.Langs)
	if err != nil {
		c.cfg.Log.Error("start console session", "err", err)
		c.renderLogin(g, http.StatusServiceUnavailable, id, "login.unavailable")
		return
	}
	c.setCookie(g, token, 0)
	c.cfg.Audit(ctx, "operator:"+acct.ID, "console.login", string(acct.Role))
	g.Redirect(http.StatusSeeOther, "/console")
}

// setCookie sets (maxAge 0: for the browser's session) or clears (-1) the cookie:
// never readable by scripts, never sent by another site's page, over HTTPS only when
// the hotline is served over it.
func (c *Console) setCookie(g *gin.Context, token string, maxAge int) {
	http.SetCookie(g.Writer, &http.Cookie{Name: CookieName, Value: token, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.cfg.Secure, SameSite: http.SameSiteStrictMode})
}

// Logout ends the session (a change: it needs the CSRF token, behind Require).
func (c *Console) Logout(g *gin.Context) {
	if token, err := g.Cookie(CookieName); err == nil {
		if err := c.cfg.Sessions.End(g.Request.Context(), token); err != nil {
			c.cfg.Log.Error("end console session", "err", err)
		}
	}
	c.cfg.Audit(g.Request.Context(), "operator:"+SessionOf(g).Operator, "console.logout", "")
	c.setCookie(g, "", -1)
	g.Redirect(http.StatusSeeOther, "/console/login")
}

const sessionKey = "console.session"

// Require guards a console page or API: a live session of a role that allows need,
// and, on any change, the session's CSRF token in the X-CSRF-Token header. Without a
// session, a page goes to the login and an API answers 401.
func (c *Console) Require(need accounts.Role) gin.HandlerFunc {
	return func(g *gin.Context) {
		g.Header("Cache-Control", "no-store")
		api := strings.HasPrefix(g.Request.URL.Path, "/console/api/")
		token, err := g.Cookie(CookieName)
		var sess Session
		if err == nil {
			sess, err = c.cfg.Sessions.Get(g.Request.Context(), token)
		}
		switch {
		case err != nil && !errors.Is(err, ErrNoSession) && !errors.Is(err, http.ErrNoCookie):
			c.cfg.Log.Error("read console session", "err", err)
			g.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "the console cannot check your session now"})
			return
		case err != nil && api:
			g.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "log in first"})
			return
		case err != nil:
			g.Redirect(http.StatusSeeOther, "/console/login")
			g.Abort()
			return
		}
		// The account as it is now: disabled, or its password reset since this session
		// began, the session ends; a changed role counts at once.
		acct, err := c.account(g.Request.Context(), sess.Operator)
		switch {
		case err != nil && !errors.Is(err, ErrNoAccount):
			c.cfg.Log.Error("read account", "err", err)
			g.AbortWithStatusJSON(http.StatusServiceUnavailable, gin.H{"error": "the console cannot check your account now"})
			return
		case err != nil || !acct.Active || acct.PasswordSet.After(sess.Created):
			if derr := c.cfg.Sessions.End(g.Request.Context(), token); derr != nil {
				c.cfg.Log.Error("end console session", "err", derr)
			}
			if api {
				g.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "log in again"})
			} else {
				g.Redirect(http.StatusSeeOther, "/console/login")
				g.Abort()
			}
			return
		}
		sess.Role, sess.Name, sess.Langs = acct.Role, acct.Name, acct.Langs
		if !sess.Role.Allows(need) {
			g.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "your role does not allow this"})
			return
		}
		if m := g.Request.Method; m != http.MethodGet && m != http.MethodHead && !sess.CSRFMatches(g.GetHeader("X-CSRF-Token")) {
			g.AbortWithStatusJSON(http.StatusForbidden, gin.H{"error": "missing or wrong CSRF token: reload the page"})
			return
		}
		g.Set(sessionKey, sess)
		g.Next()
	}
}

// SessionOf is the session Require let through.
func SessionOf(g *gin.Context) Session {
	s, _ := g.Get(sessionKey)
	sess, _ := s.(Session)
	return sess
}

// present says, for the others, that an operator has a console open.
func (c *Console) present(ctx context.Context, sess Session) {
	p := sess.Presence
	if p == "" {
		p = Available
	}
	if err := c.cfg.Sessions.SetPresence(ctx, sess.Operator, p); err != nil {
		c.cfg.Log.Warn("console presence", "err", err)
	}
}

// Me changes what an operator chose for themselves: the console's language, their
// presence.
func (c *Console) Me(g *gin.Context) {
	var body struct {
		Lang     *string `json:"lang"`
		Presence *string `json:"presence"`
	}
	g.Request.Body = http.MaxBytesReader(g.Writer, g.Request.Body, 4<<10)
	if err := g.ShouldBindJSON(&body); err != nil {
		g.JSON(http.StatusBadRequest, gin.H{"error": "the body must be a JSON object"})
		return
	}
	if body.Lang != nil && !c.cfg.Words.Has(*body.Lang) ||
		body.Presence != nil && *body.Presence != Available && *body.Presence != Away {
		g.JSON(http.StatusBadRequest, gin.H{"error": `"lang" must be a language of the console, "presence" available or away`})
		return
	}
	token, _ := g.Cookie(CookieName)
	sess, err := c.cfg.Sessions.Update(g.Request.Context(), token, func(s *Session) {
		if body.Lang != nil {
			s.Lang = *body.Lang
		}
		if body.Presence != nil {
			s.Presence = *body.Presence
		}
	})
	if err != nil {
		c.cfg.Log.Error("console me", "err", err)
		g.JSON(http.StatusServiceUnavailable, gin.H{"error": "try again"})
		return
	}
	c.present(g.Request.Context(), sess)
	g.JSON(http.StatusOK, gin.H{"lang": c.lang(sess), "presence": sess.Presence})
}

// Presences are the operators with a console open now, and whether they are
// available.
func (c *Console) Presences(ctx context.Context) (map[string]string, error) {
	return c.cfg.Sessions.Presences(ctx)
}

// Say is a console word in the language of the operator a request is from (behind
// Require), for an API's error: the page shows it as it comes.
func (c *Console) Say(g *gin.Context, id string, args ...any) string {
	v := View{Lang: c.lang(SessionOf(g)), words: c.cfg.Words}
	return v.T(id, args...)
}
