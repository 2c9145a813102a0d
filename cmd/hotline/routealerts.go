package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/broadcast"
	"github.com/hotline-org/hotline/dialogs"
	"github.com/hotline-org/hotline/handoff/console"
	"github.com/hotline-org/hotline/locales"
	"github.com/hotline-org/hotline/locales/content"
)

// alertParts is how many SMS parts a route alert may take, header and footer included:
// a warning is read at once or not at all.
const alertParts = 2

// newBroadcasts wires route alerts to the content (route names), the message files
// (the header and footer every alert carries) and the SMS budget.
func newBroadcasts(a *app, bundle *locales.Bundle, store *content.Store) *broadcast.Broadcasts {
	render := func(lang, route, text string) string {
		name := store.Current().Name(lang, route)
		if name == "" {
			name = route // removed from the content since it was published
		}
		head := bundle.Localize(lang, "alert.header", map[string]any{"Route": name})
		return head + "\n" + text + "\n" + bundle.Localize(lang, "alert.footer", nil)
	}
	budget := func(msg string) error {
		if n := len(channels.SplitSMS(msg)); n > alertParts {
			return fmt.Errorf("with the hotline's header and footer the alert takes %d SMS parts; at most %d: shorten it", n, alertParts)
		}
		return nil
	}
	return broadcast.New(a.rdb, broadcast.Config{Prefix: a.cfg.RedisPrefix, Shards: a.cfg.Shards, Hash: a.hash,
		Sealer: a.cfg.DataKeys, Langs: bundle.Languages(), Render: render, Budget: budget,
		Routes: func(r string) bool { return r != content.General && store.Current().HasRoute(r) },
		NewID:  func() string { return rand.Text()[:16] }}, a.now, a.log)
}

// alertEffects are the effect handlers of route alert subscriptions.
func alertEffects(b *broadcast.Broadcasts) map[string]dialogs.EffectHandler {
	return map[string]dialogs.EffectHandler{
		dialogs.EffectAlertsSubscribe: func(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
			until, err := time.Parse(time.RFC3339, job.Data["until"])
			if err != nil || job.Data["route"] == "" {
				// A damaged job cannot become valid by retrying.
				return nil, nil
			}
			return nil, b.Subscribe(ctx, broadcast.Subscriber{Channel: job.Channel, Contact: job.Contact,
				From: job.To, Lang: job.Lang, Test: job.Test}, job.Data["route"], until)
		},
		dialogs.EffectAlertsLang: func(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
			return nil, b.SetLang(ctx, job.Channel, job.Contact, job.Lang)
		},
		dialogs.EffectAlertsUnsubscribe: func(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
			_, err := b.Unsubscribe(ctx, job.Channel, job.Contact, job.Data["route"])
			return nil, err
		},
	}
}

// maxAlertBody bounds a publish request: four short texts fit many times over.
const maxAlertBody = 64 << 10

// handlePublish publishes a route alert:
//
//	{"route": "central-med", "texts": {"en": "...", "fr": "..."}, "expires_in": "12h"}
//
// (or "expires": an RFC 3339 time; "id" makes a client's retry safe).
func handlePublish(a *app) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body struct {
			ID        string            `json:"id"`
			Route     string            `json:"route"`
			Texts     map[string]string `json:"texts"`
			Expires   time.Time         `json:"expires"`
			ExpiresIn string            `json:"expires_in"`
			By        string            `json:"by"`
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxAlertBody)
		raw, err := io.ReadAll(c.Request.Body)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": "the request is too large"})
			return
		}
		if err == nil {
			err = jsonStrict(raw, &body)
		}
		if err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "the body must be JSON like {\"route\": \"central-med\", \"texts\": {\"en\": \"…\"}, \"expires_in\": \"12h\"}: " + err.Error()})
			return
		}
		if len(body.By) > 100 {
			c.JSON(http.StatusBadRequest, gin.H{"error": "by must be at most 100 characters"})
			return
		}
		if body.ExpiresIn != "" && !body.Expires.IsZero() {
			c.JSON(http.StatusBadRequest, gin.H{"error": "give expires or expires_in, not both"})
			return
		}
		if body.ExpiresIn != "" {
			d, err := time.ParseDuration(body.ExpiresIn)
			if err != nil || d <= 0 {
				c.JSON(http.StatusBadRequest, gin.H{"error": "expires_in must be a duration like 12h or 90m"})
				return
			}
			body.Expires = a.now().Add(d)
		}
		by := body.By
		if by == "" {
			by = "api"
		}
		if strings.HasPrefix(by, "operator:") {
			c.JSON(http.StatusBadRequest, gin.H{"error": `"by" cannot name a console operator: they publish from the console`})
			return
		}
		actor := "api-token:" + by
		if op := console.SessionOf(c).Operator; op != "" {
			// From the console: who is logged in, not what the body says.
			by, actor = "operator:"+op, "operator:"+op
		}
		alert, err := a.bcast.Publish(c.Request.Context(), broadcast.Alert{ID: body.ID, Route: body.Route,
			Texts: body.Texts, Expires: body.Expires, By: by})
		switch {
		case errors.Is(err, broadcast.ErrInvalid):
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		case errors.Is(err, broadcast.ErrConflict):
			c.JSON(http.StatusConflict, gin.H{"error": err.Error()})
			return
		case err != nil:
			a.log.Error("publish route alert", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the alert cannot be published now; try again"})
			return
		}
		a.auditAlert(c.Request.Context(), actor, "alert.publish", alert)
		subs, err := a.bcast.Count(c.Request.Context(), alert.Route)
		if err != nil {
			// Published all the same: only the number is missing from the answer.
			a.log.Warn("count subscribers", "err", err)
		}
		c.JSON(http.StatusAccepted, gin.H{"alert": alert, "subscribers": subs})
	}
}

// handleRouteAlerts lists the alerts in force with their counts.
func handleRouteAlerts(a *app) gin.HandlerFunc {
	return func(c *gin.Context) {
		list, err := a.bcast.Active(c.Request.Context())
		if err != nil {
			a.log.Error("list route alerts", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the alerts cannot be read now"})
			return
		}
		type row struct {
			broadcast.Alert
			Counts broadcast.Counts `json:"counts"`
		}
		out := make([]row, 0, len(list))
		for _, al := range list {
			counts, err := a.bcast.Status(c.Request.Context(), al.ID)
			if err != nil {
				a.log.Error("route alert status", "err", err)
				c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the alerts cannot be read now"})
				return
			}
			out = append(out, row{al, counts})
		}
		c.JSON(http.StatusOK, gin.H{"alerts": out})
	}
}

// handleRouteAlert shows one alert and how far its delivery has gone.
func handleRouteAlert(a *app) gin.HandlerFunc {
	return func(c *gin.Context) {
		al, err := a.bcast.Get(c.Request.Context(), c.Param("id"))
		if errors.Is(err, broadcast.ErrNotFound) {
			c.JSON(http.StatusNotFound, gin.H{"error": "no such alert"})
			return
		}
		var counts broadcast.Counts
		if err == nil {
			counts, err = a.bcast.Status(c.Request.Context(), al.ID)
		}
		if err != nil {
			a.log.Error("route alert", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the alert cannot be read now"})
			return
		}
		c.JSON(http.StatusOK, gin.H{"alert": al, "counts": counts})
	}
}

// handleCancelAlert withdraws an alert: what was not sent yet is not sent.
func handleCancelAlert(a *app) gin.HandlerFunc {
	return func(c *gin.Context) {
		al, err := a.bcast.Cancel(c.Request.Context(), c.Param("id"))
		switch {
		case errors.Is(err, broadcast.ErrNotFound):
			c.JSON(http.StatusNotFound, gin.H{"error": "no such alert"})
		case err != nil:
			a.log.Error("cancel route alert", "err", err)
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the alert cannot be cancelled now; try again"})
		default:
			a.auditAlert(c.Request.Context(), "api-token:api", "alert.cancel", al)
			c.JSON(http.StatusOK, gin.H{"alert": al})
		}
	}
}

// auditAlert writes who published or withdrew an alert to the audit log. The alert is
// out either way: a database that does not answer must not hold up a warning, so a
// failure is logged instead. actor is the console's operator, or "api-token:" and what
// the caller of the shared-token API said.
func (a *app) auditAlert(ctx context.Context, actor, action string, al broadcast.Alert) {
	dbctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	if err := a.store.Audit(dbctx, cases.Entry{Actor: actor, Action: action,
		Reason: "route alert " + al.ID + " on " + al.Route}); err != nil {
		a.log.Error("route alert not audited", "alert", al.ID, "action", action, "err", err)
	}
}

// handleRoutes lists the routes, their names and how many people get their alerts.
func handleRoutes(a *app) gin.HandlerFunc {
	return func(c *gin.Context) {
		type row struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			Subscribers int64  `json:"subscribers"`
		}
		cur := a.content.Current()
		out := []row{}
		for _, r := range cur.Routes() {
			n, err := a.bcast.Count(c.Request.Context(), r)
			if err != nil {
				a.log.Error("count subscribers", "err", err)
				c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the routes cannot be read now"})
				return
			}
			out = append(out, row{r, cur.Name(locales.Fallback, r), n})
		}
		c.JSON(http.StatusOK, gin.H{"routes": out})
	}
}

// contentCommand checks a content folder the way the hotline would load it.
func contentCommand(args []string, stdout io.Writer) error {
	if len(args) != 2 || args[0] != "check" {
		return fmt.Errorf("usage: hotline content check DIR")
	}
	if st, err := os.Stat(args[1]); err != nil || !st.IsDir() {
		return fmt.Errorf("%s is not a folder", args[1])
	}
	bundle, err := locales.Load(nil)
	if err != nil {
		return err
	}
	// Recordings do not stop the content from loading; one badly named never plays.
	clips := locales.CheckClips(args[1], bundle)
	for _, p := range clips {
		fmt.Fprintln(stdout, p)
	}
	files := content.Over(args[1], content.Shipped())
	c, err := content.Parse(files, bundle.Languages())
	if err == nil {
		err = contentCheck(bundle)(c)
	}
	var ps content.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(stdout, p)
		}
		return fmt.Errorf("%d problems: the hotline would refuse this content", len(ps))
	}
	if err != nil {
		return err
	}
	if len(clips) > 0 {
		return fmt.Errorf("%d recordings would never play", len(clips))
	}
	fmt.Fprintf(stdout, "ok: %d routes in %s, %d emergency numbers filled\n", len(c.Routes()),
		strings.Join(bundle.Languages(), ", "), len(c.Numbers()))
	return nil
}

// contentCheck finds what only the flows can see in content: menus too long with the
// hotline's own questions, sections too long with the line after them.
func contentCheck(bundle *locales.Bundle) func(*content.Content) error {
	return func(c *content.Content) error {
		var ps content.Problems
		for _, p := range dialogs.CheckContent(bundle, c) {
			ps = append(ps, content.Problem{File: "menus", Message: p})
		}
		if len(ps) > 0 {
			return ps
		}
		return nil
	}
}

// jsonStrict decodes one JSON object, refusing fields it does not know: a misspelt
// "expires" must not publish an alert with none.
func jsonStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}
