package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/ratelimit"
	"github.com/hotline-org/hotline/channels/telegram"
	"github.com/hotline-org/hotline/channels/twilio"
	"github.com/hotline-org/hotline/channels/voice"
	"github.com/hotline-org/hotline/channels/web"
	"github.com/hotline-org/hotline/handoff"
	"github.com/hotline-org/hotline/handoff/accounts"
	"github.com/hotline-org/hotline/handoff/console"
)

// routes lists every route of the hotline, so that the whole surface reads at once.
func (a *app) routes() http.Handler {
	r := gin.New()
	// The client's address (the per-address limits and the login throttle count by
	// it) comes from X-Forwarded-For only behind the proxies the organisation names
	// (checked at start), and never from X-Real-IP, which gin would otherwise read
	// when a proxy sends no X-Forwarded-For: a client could set that one itself.
	if err := r.SetTrustedProxies(a.cfg.TrustedProxies); err != nil {
		a.log.Error("HOTLINE_TRUSTED_PROXIES is not a list of addresses or CIDRs; trusting none", "err", err)
		_ = r.SetTrustedProxies(nil)
	}
	r.RemoteIPHeaders = []string{"X-Forwarded-For"}
	if len(a.cfg.TrustedProxies) == 0 {
		a.log.Warn("no HOTLINE_TRUSTED_PROXIES: clients are counted by the address that connects; behind a " +
			"reverse proxy or an ingress every client counts as the proxy and shares its login and simulator limits")
	}
	// gin's default recovery prints the request's headers (signatures, later cookies
	// and the Telegram secret); log only where it happened.
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, err any) {
		a.log.Error("handler panicked", "path", c.FullPath(), "panic", fmt.Sprint(err))
		c.AbortWithStatus(http.StatusInternalServerError)
	}))
	r.Use(warnUntrustedForwarding(a.cfg.TrustedProxies, a.log))
	r.HandleMethodNotAllowed = true

	r.GET("/", handleLanding(a))
	r.GET("/healthz", handleHealth())
	r.GET("/readyz", handleReady(a))
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{})))
	// The recordings calls play: fetched by Twilio without credentials.
	r.GET("/audio/:lang/:file", handleAudio(a.clips, a.log))
	r.HEAD("/audio/:lang/:file", handleAudio(a.clips, a.log))

	// A channel without credentials is off: its webhook answers 404.
	if a.verifier != nil {
		r.POST("/webhooks/twilio/sms", twilio.HandleMessage(channels.SMS, a.verifier, a.inbox, a.now,
			a.rejected(channels.SMS), a.log))
		r.POST("/webhooks/twilio/status", twilio.HandleStatus(a.verifier, a.outbox, a.rejected("twilio_status"), a.log))
	}
	if a.voice != nil {
		r.POST(voice.Path, a.voice.Call)
		r.POST(voice.StatusPath, a.voice.Status)
		r.POST(voice.ScreenPath, a.voice.Screen)
	}
	if a.senders[channels.WhatsApp] != nil {
		r.POST("/webhooks/twilio/whatsapp", twilio.HandleMessage(channels.WhatsApp, a.verifier, a.inbox, a.now,
			a.rejected(channels.WhatsApp), a.log))
	}
	if a.telegram != nil {
		r.POST("/webhooks/telegram", telegram.HandleUpdate(a.inbox, a.cfg.TelegramSecret, a.now,
			a.rejected(channels.Telegram), a.log, a.answerCallback))
	}
	switch a.cfg.Simulator {
	case "on":
		web.Mount(r, web.Config{Enqueuer: a.inbox, Redis: a.rdb, Prefix: a.cfg.RedisPrefix, Now: a.now, Log: a.log,
			Limit: a.limits.simulator})
	case "operators":
		// A deployment where the organisation's people try the bot (training, checking
		// content) and nobody else can. Each operator has the limit, so that a class
		// training from one office address does not share it.
		web.Mount(r.Group("", a.console.Require(accounts.Operator)), web.Config{Enqueuer: a.inbox, Redis: a.rdb,
			Prefix: a.cfg.RedisPrefix, Now: a.now, Log: a.log, CSRF: func(c *gin.Context) string { return console.SessionOf(c).CSRF },
			Limit: a.limits.simulator, Client: func(c *gin.Context) string { return "operator:" + console.SessionOf(c).Operator }})
	}
	api := r.Group("/api", requireToken(a.cfg.APIToken))
	api.GET("/queue", handleQueue(a))
	api.GET("/alerts", handleAlerts(a))
	api.POST("/alerts/:id/ack", handleAck(a))
	api.GET("/routes", handleRoutes(a))
	api.GET("/route-alerts", handleRouteAlerts(a))
	api.POST("/route-alerts", handlePublish(a))
	api.GET("/route-alerts/:id", handleRouteAlert(a))
	api.DELETE("/route-alerts/:id", handleCancelAlert(a))
	api.GET("/held", handleHeld(a))
	api.GET("/conversations/:key", handleConversation(a, namedInBody))
	for _, action := range []string{"claim", "transfer", "reply", "note", "release", "close"} {
		api.POST("/conversations/:key/"+action, handleConversationChange(a, action, namedInBody))
	}
	api.POST("/conversations/:key/takeover", handleConversationChange(a, "takeover", namedInBody))
	api.POST("/voicemail/:key/done", handleVoicemailDone(a, namedInBody))
	a.consoleRoutes(r)
	return r
}

// warnUntrustedForwarding says once per process that a peer the hotline does not
// trust sent X-Forwarded-For: most likely a reverse proxy missing from
// HOTLINE_TRUSTED_PROXIES, behind which every client counts as the proxy, so that a
// few dozen failed logins from anyone lock every operator out of the console.
func warnUntrustedForwarding(trusted []string, log *slog.Logger) gin.HandlerFunc {
	var ranges []netip.Prefix
	for _, p := range trusted {
		// Checked at start (checkProxies); what does not parse is trusted by no one.
		if pfx, err := netip.ParsePrefix(p); err == nil {
			ranges = append(ranges, pfx.Masked())
		} else if addr, err := netip.ParseAddr(p); err == nil {
			ranges = append(ranges, netip.PrefixFrom(addr, addr.BitLen()))
		}
	}
	var warned atomic.Bool
	return func(c *gin.Context) {
		if warned.Load() || c.Request.Header.Get("X-Forwarded-For") == "" {
			return
		}
		addr, err := netip.ParseAddrPort(c.Request.RemoteAddr)
		if err != nil {
			return
		}
		// An IPv4 peer matches its range written either way (10.0.0.0/8 or
		// ::ffff:10.0.0.0/104).
		peer, mapped := addr.Addr().Unmap(), netip.AddrFrom16(addr.Addr().As16())
		if slices.ContainsFunc(ranges, func(p netip.Prefix) bool { return p.Contains(peer) || p.Contains(mapped) }) ||
			warned.Swap(true) {
			return
		}
		// A private address is the organisation's own machine (an ingress pod); a
		// public one may be a person's, which is not logged.
		shown := "public, not logged"
		if peer.IsPrivate() || peer.IsLoopback() || peer.IsLinkLocalUnicast() {
			shown = peer.String()
		}
		log.Warn("a request came with X-Forwarded-For from a peer that is not a trusted proxy; if it is your "+
			"reverse proxy or ingress, set HOTLINE_TRUSTED_PROXIES to its addresses (the ingress controller's pod CIDR), "+
			"or every client counts as it and shares its login and simulator limits; said once", "peer", shown)
	}
}

// limiter is what the simulator and the console's login take (web.Limiter and
// console.Limiter). A limit that is off is a nil limiter, never a nil
// *ratelimit.Limiter: that one, in an interface, would pass their nil checks and
// panic on use.
type limiter interface {
	Allow(ctx context.Context, client string) (ok bool, retryAfter time.Duration, err error)
}

// limits bound, per client, what a stranger can make the hotline do without a
// provider's signature: start conversations in the simulator, try logins.
type limits struct {
	simulator, login limiter
}

// newLimits keeps the counts in Redis, shared by every replica, with clients named
// by HMAC under the lookup key (as contacts are), never by their address.
func newLimits(a *app) (limits, error) {
	limit := func(name string, rate ratelimit.Rate) (limiter, error) {
		l, err := ratelimit.New(a.rdb, a.cfg.RedisPrefix, ratelimit.Config{Name: name, Rate: rate, Key: a.cfg.LookupKey, Now: a.now})
		if err != nil || rate.Off() {
			return nil, err
		}
		return l, nil
	}
	sim, err := limit("simulator", a.cfg.SimulatorRate)
	if err != nil {
		return limits{}, err
	}
	login, err := limit("login", a.cfg.LoginRate)
	if err != nil {
		return limits{}, err
	}
	return limits{simulator: sim, login: login}, nil
}

func (a *app) rejected(ch channels.Channel) func(string) {
	return func(reason string) { a.metrics.rejections.WithLabelValues(string(ch), reason).Inc() }
}

func handleHealth() gin.HandlerFunc {
	return func(c *gin.Context) { c.String(http.StatusOK, "ok\n") }
}

// handleReady says whether this process can do its work: Redis and the database answer.
// While Redis is away the webhooks still take messages (into the spool), but a load
// balancer should prefer a process that is whole.
func handleReady(a *app) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		status := gin.H{"redis": "ok", "database": "ok"}
		code := http.StatusOK
		if err := a.rdb.Ping(ctx).Err(); err != nil {
			status["redis"], code = "unreachable", http.StatusServiceUnavailable
		}
		if err := a.store.Ping(ctx); err != nil {
			status["database"], code = "unreachable", http.StatusServiceUnavailable
		}
		c.JSON(code, status)
	}
}

// requireToken guards the operations API with HOTLINE_API_TOKEN; with no token set the
// API is off, never open.
func requireToken(token string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if token == "" {
			c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "the operations API is off: set HOTLINE_API_TOKEN"})
			return
		}
		got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			c.Header("WWW-Authenticate", "Bearer")
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "a valid bearer token is required"})
			return
		}
		c.Next()
	}
}

// handleAlerts lists the distress alerts nobody has acknowledged, oldest first.
func handleAlerts(a *app) gin.HandlerFunc {
	return func(c *gin.Context) {
		open, err := a.alerts.Open(c.Request.Context())
		if err != nil {
			a.log.Error("list alerts", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the alerts cannot be read now"})
			return
		}
		type row struct {
			ID         string    `json:"id"`
			CaseRef    string    `json:"case_ref"`
			Channel    string    `json:"channel"`
			Lang       string    `json:"lang"`
			Level      int       `json:"level"`
			Raised     time.Time `json:"raised_at"`
			NextLevel  time.Time `json:"next_level_at"`
			Test       bool      `json:"test"`
			Deliveries []string  `json:"deliveries"`
		}
		out := make([]row, 0, len(open))
		for _, st := range open {
			out = append(out, row{st.ID, st.CaseRef, string(st.Channel), st.Lang, st.Level, st.Raised, st.Next, st.Test, st.Log})
		}
		c.JSON(http.StatusOK, gin.H{"alerts": out})
	}
}

// handleAck acknowledges an alert: someone has it, the escalation stops. The body may
// name who: {"by": "operator:7"}.
func handleAck(a *app) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body struct {
			By string `json:"by"`
		}
		_ = c.ShouldBindJSON(&body)
		by := body.By
		if by == "" {
			by = "api"
		}
		err := a.alerts.Ack(c.Request.Context(), c.Param("id"), by)
		switch {
		case errors.Is(err, handoff.ErrNoAlert):
			c.JSON(http.StatusNotFound, gin.H{"error": "no such alert"})
		case err != nil:
			a.log.Error("ack alert", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the alert cannot be acknowledged now"})
		default:
			c.JSON(http.StatusOK, gin.H{"acknowledged": c.Param("id")})
		}
	}
}

// handleQueue lists the conversations waiting for a person, most urgent first.
func handleQueue(a *app) gin.HandlerFunc {
	return func(c *gin.Context) {
		entries, err := a.queue.List(c.Request.Context())
		if err != nil {
			a.log.Error("list queue", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the queue cannot be read now"})
			return
		}
		now := a.now()
		type row struct {
			Position    int    `json:"position"`
			Key         string `json:"key"` // names the conversation in /api/conversations/:key
			Channel     string `json:"channel"`
			Contact     string `json:"contact"`
			Lang        string `json:"lang"`
			Priority    int    `json:"priority"`
			WaitingSecs int64  `json:"waiting_seconds"`
			Messages    int    `json:"messages_since"`
			Test        bool   `json:"test"`
		}
		out := make([]row, 0, len(entries))
		for _, e := range entries {
			out = append(out, row{e.Position, e.Key, string(e.Channel), e.Contact[:min(12, len(e.Contact))], e.Lang,
				e.Priority, int64(now.Sub(e.Since).Seconds()), e.Messages, e.Test})
		}
		c.JSON(http.StatusOK, gin.H{"waiting": out})
	}
}

var landing = template.Must(template.New("landing").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hotline</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .3em}li{margin:.3em 0}</style></head>
<body><h1>Hotline</h1>
<p>A multi-channel hotline for migrants in transit and for the families of people missing on migration routes.</p>
<h2>Running here</h2><ul>
<li>Channels on: {{range .Channels}}<code>{{.}}</code> {{else}}none{{end}}</li>
<li>Redis: {{if .Embedded}}embedded, in memory — <strong>nothing is kept when the process stops</strong>{{else}}external{{end}}</li>
<li>Database: <code>{{.Database}}</code></li></ul>
<h2>Links</h2><ul>
<li><a href="/console">Operators' console</a>: people take conversations over from the bot</li>
{{if .Simulator}}<li><a href="/simulator">Simulator</a>: chat with the hotline as if by SMS (test conversations)</li>{{end}}
<li><a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a>, <a href="/metrics">/metrics</a></li></ul>
</body></html>`))

func handleLanding(a *app) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Content-Type", "text/html; charset=utf-8")
		landing.Execute(c.Writer, map[string]any{
			"Channels": a.channelsOn(), "Embedded": a.cfg.Embedded, "Simulator": a.cfg.Simulator != "off",
			"Database": strings.SplitN(a.cfg.DatabaseURL, ":", 2)[0],
		})
	}
}

// answerCallback stops a pressed Telegram button from spinning. It runs apart from the
// webhook, which must answer Telegram at once; a failure only leaves the spinner.
func (a *app) answerCallback(ctx context.Context, id string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := a.telegram.AnswerCallback(ctx, id); err != nil {
			a.log.Warn("answer callback query", "err", err)
		}
	}()
}
