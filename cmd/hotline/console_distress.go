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
	"github.com/hotline-org/hotline/dialogs"
	"github.com/hotline-org/hotline/handoff"
	"github.com/hotline-org/hotline/handoff/accounts"
	"github.com/hotline-org/hotline/handoff/console"
)

// consoleDistressRoutes mounts the distress pages of the console: every operator sees
// and acknowledges distress alerts.
func (a *app) consoleDistressRoutes(r *gin.Engine, c *console.Console) {
	d := distressConsole{a}
	op := c.Require(accounts.Operator)
	r.GET("/console/distress", op, c.DistressList(d))
	r.GET("/console/distress/:id", op, c.DistressPanel(d))
	r.GET("/console/distress/:id/summary", op, c.DistressSummary(d))
	// The pages' live stream, and what the page polls when it cannot hold one
	// (console.js asks /console/api/sig… for /console/events…).
	r.GET("/console/events/distress", op, c.DistressEvents(d, time.Second))
	r.GET("/console/api/sig/distress", op, c.DistressSig(d))
	r.POST("/console/api/distress/:id/ack", op, c.DistressAck(d))
}

// distressLinks are the distress alerts of a conversation's contact, newest first: the
// register's cases of that contact, and the case the bot has open (which the register
// may not have yet, when the database was away).
func (a *app) distressLinks(ctx context.Context, e handoff.Entry) []console.Link {
	var links []console.Link
	seen := map[string]bool{}
	if compact, err := a.rdb.Get(ctx, a.cases.distressRefKey(e.Contact)).Result(); err == nil {
		if st, err := a.alerts.Alert(ctx, alertIDOf(compact)); err == nil {
			links = append(links, distressLink(st.ID, st.Raised))
			seen[st.ID] = true
		}
	} else if !errors.Is(err, redis.Nil) {
		a.log.Warn("console distress links", "err", err)
	}
	dbctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	heads, err := a.register.DistressOf(dbctx, e.Contact, 10)
	if err != nil {
		a.log.Warn("console distress links", "contact", dialogs.ShortHash(e.Contact), "err", err)
	}
	for _, h := range heads {
		if id := alertIDOf(h.Ref); !seen[id] {
			links = append(links, distressLink(id, h.Created))
		}
	}
	return links
}

func distressLink(id string, raised time.Time) console.Link {
	return console.Link{Kind: "distress", Label: raised.UTC().Format("02 Jan 15:04"), URL: "/console/distress/" + id}
}

// alertIDOf is the alert of a distress case (its compact reference): distressOpen
// raises it so.
func alertIDOf(compact string) string { return "A" + compact }

// distressConsole is what the console's distress pages read: the alerts from Redis
// (they never wait for the database), the cases' facts from the register.
type distressConsole struct{ a *app }

// recentDistress is how far back the list goes: as long as alerts are kept.
const recentDistress = 7 * 24 * time.Hour

// DistressAlerts lists the alerts nobody acknowledged, then those of the register's
// cases of the last week.
func (d distressConsole) DistressAlerts(ctx context.Context, lang string) (console.DistressList, error) {
	a := d.a
	open, err := a.alerts.Open(ctx)
	if err != nil {
		return console.DistressList{}, err
	}
	var list console.DistressList
	dbctx, cancel := context.WithTimeout(ctx, dbTimeout)
	heads, err := a.register.RecentDistress(dbctx, a.now().Add(-recentDistress), 100)
	cancel()
	if err != nil {
		a.log.Warn("console distress list: the register does not answer; open alerts only", "err", err)
		list.Partial = true
	}
	byID := map[string]*cases.DistressHead{}
	for i := range heads {
		byID[alertIDOf(heads[i].Ref)] = &heads[i]
	}
	listed := map[string]bool{}
	for _, st := range open {
		h := byID[st.ID]
		if h == nil && !list.Partial {
			// Older than the hundred listed, or not in the register yet.
			h = d.head(ctx, st.ID)
		}
		list.Alerts = append(list.Alerts, d.alertOf(ctx, st, h, lang, true))
		listed[st.ID] = true
	}
	for i, h := range heads {
		id := alertIDOf(h.Ref)
		if listed[id] {
			continue
		}
		st, err := a.alerts.Alert(ctx, id)
		if errors.Is(err, handoff.ErrNoAlert) {
			continue // no longer kept
		}
		if err != nil {
			return console.DistressList{}, err
		}
		// Where they travel matters while the alert is live; for the done, it is
		// on the panel.
		list.Alerts = append(list.Alerts, d.alertOf(ctx, st, &heads[i], lang, st.AckedAt.IsZero()))
	}
	return list, nil
}

// head reads one case's head, nil when the register has none or does not answer.
func (d distressConsole) head(ctx context.Context, id string) *cases.DistressHead {
	dbctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	h, err := d.a.register.DistressHeadOf(dbctx, strings.TrimPrefix(id, "A"))
	if err != nil {
		if !errors.Is(err, cases.ErrNotFound) {
			d.a.log.Warn("console distress case", "alert", id, "err", err)
		}
		return nil
	}
	return &h
}

// alertOf is an alert as the console shows it; h is its case's head (nil when not
// known), routes whether to look up the routes the contact follows.
func (d distressConsole) alertOf(ctx context.Context, st handoff.AlertState, h *cases.DistressHead, lang string, routes bool) console.DistressAlert {
	a := d.a
	out := console.DistressAlert{ID: st.ID, CaseRef: st.CaseRef, Channel: st.Channel, Lang: st.Lang, Raised: st.Raised,
		Level: st.Level, Attempt: st.Attempt, AckedAt: st.AckedAt, AckedBy: st.AckedBy, Test: st.Test, Deliveries: st.Log}
	if st.AckedAt.IsZero() {
		out.NextLevel = st.Next
	}
	if h != nil {
		if h.Lang != "" {
			// The language they chose after the alert was raised.
			out.Lang = h.Lang
		}
		known := true // whether the conversation is with a person
		if h.ContactKey != "" {
			e, err := a.queue.Entry(ctx, handoff.EntryKey(st.Channel, h.ContactKey))
			switch {
			case err != nil:
				a.log.Warn("console distress conversation", "alert", st.ID, "err", err)
				known = false
			case e != nil:
				out.Conversation = e.Key
			}
		}
		// Known not to be with a person any more: done, once acknowledged.
		out.Done = known && !st.AckedAt.IsZero() && out.Conversation == ""
	}
	if routes && a.bcast != nil {
		out.Routes = d.routes(ctx, st, lang)
	}
	return out
}

// routes are the names of the routes whose alerts an alert's contact follows.
func (d distressConsole) routes(ctx context.Context, st handoff.AlertState, lang string) []string {
	a := d.a
	// Opened only to look their subscriptions up: never shown, never logged.
	contact, err := a.alerts.ContactOf(st)
	if err != nil || contact == "" {
		return nil
	}
	subs, err := a.bcast.Subscribed(ctx, st.Channel, contact)
	if err != nil {
		a.log.Warn("console distress routes", "alert", st.ID, "err", err)
		return nil
	}
	cur := a.content.Current()
	var out []string
	for _, r := range cur.Routes() {
		if _, ok := subs[r]; ok {
			out = append(out, cur.Name(lang, r))
		}
	}
	return out
}

// DistressCase reads an alert and its case: the alert from Redis, the facts from the
// register (which audits the read). Either may be missing: an alert whose case the
// database has not yet, a case whose alert is no longer kept.
func (d distressConsole) DistressCase(ctx context.Context, id, actor, reason, lang string) (*console.DistressCase, error) {
	a := d.a
	compact, ok := strings.CutPrefix(id, "A")
	if !ok || compact == "" {
		return nil, handoff.ErrNoAlert
	}
	st, err := a.alerts.Alert(ctx, id)
	if err != nil && !errors.Is(err, handoff.ErrNoAlert) {
		return nil, err
	}
	kept := err == nil
	dbctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	head, herr := a.register.DistressHeadOf(dbctx, compact)
	switch {
	case !kept && errors.Is(herr, cases.ErrNotFound):
		return nil, handoff.ErrNoAlert
	case !kept && herr != nil:
		return nil, herr
	}
	dc := &console.DistressCase{Kept: kept}
	var h *cases.DistressHead
	if herr == nil {
		h = &head
	}
	if kept {
		dc.Alert = d.alertOf(ctx, st, h, lang, true)
	} else {
		dc.Alert = console.DistressAlert{ID: id, CaseRef: displayRef(compact), Channel: channelOf(head.Channel), Lang: head.Lang,
			Raised: head.Created, Test: head.Test}
		if head.ContactKey != "" {
			if e, err := a.queue.Entry(ctx, handoff.EntryKey(dc.Alert.Channel, head.ContactKey)); err == nil && e != nil {
				dc.Alert.Conversation = e.Key
			}
		}
	}
	c, err := a.register.ReadDistress(dbctx, compact, actor, reason)
	switch {
	case errors.Is(err, cases.ErrNotFound):
		dc.Register = "missing"
		return dc, nil
	case err != nil:
		a.log.Warn("console distress case: the register does not answer", "alert", id, "err", err)
		dc.Register = "away"
		return dc, nil
	}
	s := c.Summary()
	dc.Opened, dc.Updated = s.Opened, s.Updated
	dc.People, dc.Children, dc.Injured, dc.Situation = s.People, s.Children, s.Injured, s.Situation
	dc.Boat, dc.Water, dc.Engine = s.Boat, s.Water, s.Engine
	for _, e := range s.Track {
		dc.Track = append(dc.Track, console.DistressFact{At: e.At, Value: e.Value})
	}
	for _, e := range s.Notes {
		dc.Notes = append(dc.Notes, console.DistressFact{At: e.At, Value: e.Value})
	}
	return dc, nil
}

// AckDistress acknowledges an alert as the operations API does; already when someone
// had (or, at the same moment, did).
func (d distressConsole) AckDistress(ctx context.Context, id, by string) (console.DistressAlert, bool, error) {
	a := d.a
	st, err := a.alerts.Alert(ctx, id)
	if err != nil {
		return console.DistressAlert{}, false, err
	}
	if !st.AckedAt.IsZero() {
		return d.alertOf(ctx, st, nil, "", false), true, nil
	}
	if err := a.alerts.Ack(ctx, id, by); err != nil {
		return console.DistressAlert{}, false, err
	}
	if st, err = a.alerts.Alert(ctx, id); err != nil {
		return console.DistressAlert{}, false, err
	}
	return d.alertOf(ctx, st, nil, "", false), st.AckedBy != by, nil
}

// DistressContact opens the address an alert came from; once the alert is no longer
// kept, the register's (which audits the read).
func (d distressConsole) DistressContact(ctx context.Context, id, actor string) (string, error) {
	a := d.a
	contact, err := a.alerts.Contact(ctx, id)
	if !errors.Is(err, handoff.ErrNoAlert) {
		return contact, err
	}
	dbctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	c, err := a.register.ReadDistress(dbctx, strings.TrimPrefix(id, "A"), actor, "console: the number to call back")
	if err != nil {
		return "", err
	}
	return c.Contact, nil
}

// DistressState sums up the list (the alerts nobody acknowledged, and how far each
// went) or one alert's panel (its escalation, its case's last fact, its conversation).
func (d distressConsole) DistressState(ctx context.Context, id string) (console.DistressState, error) {
	a := d.a
	open, err := a.alerts.Open(ctx)
	if err != nil {
		return console.DistressState{}, err
	}
	var st console.DistressState
	var b strings.Builder
	for _, o := range open {
		st.Open = append(st.Open, o.ID)
		if id == "" {
			fmt.Fprintf(&b, "%s|%d|%d;", o.ID, o.Level, o.Attempt)
		}
	}
	if id != "" {
		al, err := a.alerts.Alert(ctx, id)
		switch {
		case errors.Is(err, handoff.ErrNoAlert):
			b.WriteString("gone;")
		case err != nil:
			return console.DistressState{}, err
		default:
			fmt.Fprintf(&b, "%s|%d|%d|%d;", al.ID, al.Level, al.Attempt, al.AckedAt.UnixMilli())
		}
		dbctx, cancel := context.WithTimeout(ctx, time.Second)
		h, err := a.register.DistressHeadOf(dbctx, strings.TrimPrefix(id, "A"))
		cancel()
		if err == nil {
			fmt.Fprintf(&b, "%d;", h.Updated.UnixMilli())
			if h.ContactKey != "" {
				if e, err := a.queue.Entry(ctx, handoff.EntryKey(channelOf(h.Channel), h.ContactKey)); err == nil && e != nil {
					fmt.Fprintf(&b, "%s|%s;", e.Key, e.Operator)
				}
			}
		}
	}
	st.Sig = b.String()
	return st, nil
}

// displayRef is a compact case reference as people read it ("HK7-QM4-XTN9").
func displayRef(compact string) string {
	if r, err := ref.Parse(compact); err == nil {
		return r.String()
	}
	return compact
}

// channelOf is a channel as the register writes it.
func channelOf(s string) channels.Channel { return channels.Channel(s) }
