package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/inbox"
	"github.com/hotline-org/hotline/channels/outbox"
	"github.com/hotline-org/hotline/channels/twilio"
	"github.com/hotline-org/hotline/dialogs"
	"github.com/hotline-org/hotline/handoff/accounts"
	"github.com/hotline-org/hotline/handoff/console"
	"github.com/hotline-org/hotline/handoff/notify"
)

// consoleAdminRoutes mounts the service pages of the console (admins).
func (a *app) consoleAdminRoutes(r *gin.Engine, c *console.Console) {
	s := adminService{a}
	r.GET("/console/admin", c.Require(accounts.Admin), c.Admin(s))
	r.GET("/console/admin/dead/:kind/:id", c.Require(accounts.Admin), c.AdminDeadLetter(s))
	r.POST("/console/api/admin/dead/:kind/:id/replay", c.Require(accounts.Admin), c.AdminReplay(s))
	r.POST("/console/api/admin/dead/:kind/:id/discard", c.Require(accounts.Admin), c.AdminDiscard(s))
}

// When the service is unwell. Each condition is a warning on every console page while
// it lasts, and admins are told when it begins and when it ends.
const (
	// A channel keeps failing when failingAfter sends in a row failed, for reasons not
	// of one contact (the provider's errors, timeouts, our credentials), over at least
	// failingFor, the last within failingStale: a blip of a few seconds is not news,
	// and a run that ended long ago (its messages now dead letters) says nothing of now.
	failingAfter = 5
	failingFor   = time.Minute
	failingStale = 15 * time.Minute
	// deadWarnAt dead letters (not counting a contact's refusals) need an admin: each
	// is a message someone did not get, or a report or request not done.
	deadWarnAt = 1
	// healthFresh is how long pages reuse what was read: one read every few seconds,
	// whatever the number of open consoles.
	healthFresh = 5 * time.Second
	// tellEvery: admins hear of a condition at most once in this time (it began, it
	// ended), so that one that comes and goes does not flood their phones.
	tellEvery = 15 * time.Minute
	// watchEvery is how often the watcher looks, when no page woke it.
	watchEvery = 15 * time.Second
)

// healthWatch is what the health check keeps between calls.
type healthWatch struct {
	mu   sync.Mutex
	snap healthSnap
	busy bool // a page is reading: the others take what was read last
	// wake tells the watcher that a page saw the service change.
	wake chan struct{}
	host string
	// told is, for the spool (this server's alone), what admins were last told and
	// when: kept here, since Redis is what does not answer while the spool is in use.
	told map[string]toldState
}

type toldState struct {
	on bool
	at time.Time
}

// healthWatch is the app's watch of its own health (made in wire).
func (a *app) healthWatch() *healthWatch { return a.healthW }

func newHealthWatch() *healthWatch {
	host, _ := os.Hostname()
	return &healthWatch{wake: make(chan struct{}, 1), host: sanitize(host), told: map[string]toldState{}}
}

// healthSnap is the service's health as read at one moment.
type healthSnap struct {
	at time.Time
	// unknown: Redis did not answer; only this server's spool is known.
	unknown bool
	sends   map[channels.Channel]outbox.SendHealth
	spooled int
	// dead counts dead letters by kind; refused are the outbox's that are a contact's
	// refusal.
	dead    map[string]int
	refused int
}

// The kinds of dead letter: where each was set aside.
const (
	deadInbox  = "inbox"  // a message received whose turns kept failing
	deadOutbox = "outbox" // a message to send
	deadEffect = "effect" // a task a turn queued (a case to save, an alert to raise)
	deadCase   = "case"   // a case write the database refused while it answered
)

var deadKinds = []string{deadInbox, deadOutbox, deadEffect, deadCase}

// effectsDeadKey is the list dialogs.Effects sets failed effects aside in.
func effectsDeadKey(prefix string, shard int) string {
	return channels.Tag(prefix, shard) + "effects:dead"
}

// readHealth reads the service's health in one round trip: each channel's sends and
// the dead letters of every shard. The spool is this server's own.
func (a *app) readHealth(ctx context.Context) healthSnap {
	s := healthSnap{at: a.now(), spooled: a.inbox.Spooled(), dead: map[string]int{}}
	prefix := a.cfg.RedisPrefix
	var sends *redis.MapStringStringCmd
	var lens []struct {
		kind string
		cmd  *redis.IntCmd
	}
	var refused []*redis.StringCmd
	_, err := a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		sends = p.HGetAll(ctx, outbox.HealthKey(prefix))
		for sh := range a.cfg.Shards {
			for kind, key := range map[string]string{deadInbox: inbox.DeadKey(prefix, sh),
				deadOutbox: outbox.DeadKey(prefix, sh), deadEffect: effectsDeadKey(prefix, sh)} {
				lens = append(lens, struct {
					kind string
					cmd  *redis.IntCmd
				}{kind, p.LLen(ctx, key)})
			}
			refused = append(refused, p.Get(ctx, outbox.RefusedKey(prefix, sh)))
		}
		lens = append(lens, struct {
			kind string
			cmd  *redis.IntCmd
		}{deadCase, p.HLen(ctx, a.cases.pending+":dead")})
		return nil
	})
	if err == nil || errors.Is(err, redis.Nil) {
		// (A shard without refusals has no count: that one answer is nil.)
		err = sends.Err()
		for _, l := range lens {
			err = cmp.Or(err, l.cmd.Err())
		}
	}
	if err != nil {
		a.log.Warn("service health not read", "err", err)
		s.unknown = true
		return s
	}
	s.sends = outbox.ParseHealth(sends.Val())
	for _, l := range lens {
		s.dead[l.kind] += int(l.cmd.Val())
	}
	for _, r := range refused {
		n, _ := r.Int()
		s.refused += n
	}
	return s
}

// needy is how many dead letters someone must look at: all but the refusals.
func (s healthSnap) needy() int {
	n := 0
	for _, v := range s.dead {
		n += v
	}
	return max(0, n-s.refused)
}

// failing reports whether sends through a channel keep failing (see failingAfter).
func failing(h outbox.SendHealth, now time.Time) bool {
	return h.Failures >= failingAfter && now.Sub(h.Since) >= failingFor && now.Sub(h.Last) < failingStale
}

// condition is one thing that may be wrong with the service, on or off now.
type condition struct {
	key string // sends_failing:<channel>, spool, dead_letters
	on  bool
	n   int
	ch  channels.Channel
	// since is when a channel's run of failures began.
	since time.Time
}

// healthChannels are the channels the hotline sends through, in a stable order.
func (a *app) healthChannels() []channels.Channel {
	out := make([]channels.Channel, 0, len(a.senders))
	for ch := range a.senders {
		out = append(out, ch)
	}
	slices.Sort(out)
	return out
}

// conditions are the service's conditions as s shows them: those kept in Redis are
// left out when it did not answer (nothing is known of them).
func (s healthSnap) conditions(chs []channels.Channel) []condition {
	var out []condition
	if !s.unknown {
		for _, ch := range chs {
			h := s.sends[ch]
			out = append(out, condition{key: "sends_failing:" + string(ch), ch: ch, on: failing(h, s.at), n: h.Failures, since: h.Since})
		}
	}
	out = append(out, condition{key: "spool", on: s.spooled > 0, n: s.spooled})
	if !s.unknown {
		n := s.needy()
		out = append(out, condition{key: "dead_letters", on: n >= deadWarnAt, n: n})
	}
	return out
}

// warning is what the banner says of an on condition.
func (c condition) warning() console.Warning {
	switch {
	case c.ch != "":
		return console.Warning{ID: "admin.health.failing." + string(c.ch), Args: []any{"N", c.n}}
	case c.key == "spool":
		return console.Warning{ID: "admin.health.spool", Args: []any{"N", c.n}}
	}
	return console.Warning{ID: "admin.health.dead", Args: []any{"N", c.n}}
}

func (s healthSnap) warnings(chs []channels.Channel) []console.Warning {
	var out []console.Warning
	for _, c := range s.conditions(chs) {
		if c.on {
			out = append(out, c.warning())
		}
	}
	return out
}

// onKeys names the conditions on in s, to tell whether anything changed.
func (s healthSnap) onKeys(chs []channels.Channel) string {
	var on []string
	for _, c := range s.conditions(chs) {
		if c.on {
			on = append(on, c.key)
		}
	}
	return strings.Join(on, ",")
}

// health is what is wrong with the service now, for every console page's banner: read
// at most every few seconds (pages reading meanwhile, or while a read is under way,
// take the last one), within the caller's deadline.
func (a *app) health(ctx context.Context) []console.Warning {
	return a.healthNow(ctx, false).warnings(a.healthChannels())
}

// healthNow is the service's health: the last reading while it is fresh (unless
// fresh is asked), else a new one. A reading that changed what is wrong wakes the
// watcher, so that admins hear of it without waiting for its next look.
func (a *app) healthNow(ctx context.Context, fresh bool) healthSnap {
	w := a.healthWatch()
	now := a.now()
	w.mu.Lock()
	age := now.Sub(w.snap.at)
	if !fresh && (w.busy || !w.snap.at.IsZero() && age >= 0 && age < healthFresh) {
		s := w.snap
		w.mu.Unlock()
		// The spool is this server's: always as it is now.
		s.spooled = a.inbox.Spooled()
		return s
	}
	if !fresh {
		w.busy = true
	}
	w.mu.Unlock()
	s := a.readHealth(ctx)
	w.mu.Lock()
	prev := w.snap
	if !s.unknown || ctx.Err() == nil {
		// (A page that went away before Redis answered says nothing of Redis.)
		w.snap = s
	}
	if !fresh {
		w.busy = false
	}
	w.mu.Unlock()
	if chs := a.healthChannels(); prev.onKeys(chs) != s.onKeys(chs) {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return s
}

// watchHealth tells admins, through the notifiers distress alerts use (the signed
// webhook, the Telegram duty group, the duty phones), when a condition begins and
// when it ends: at most once per condition per tellEvery, across every server of the
// deployment (what admins were told is kept in Redis), except for the spool, which
// each server tells of its own. It runs until ctx ends.
func (a *app) watchHealth(ctx context.Context) {
	w := a.healthWatch()
	ns := a.healthNotifiers()
	if len(ns) == 0 {
		a.log.Warn("no notifier for the service's health (HOTLINE_NOTIFY_*): admins see it only in the console")
	}
	t := time.NewTicker(watchEvery)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		s := a.healthNow(rctx, true)
		cancel()
		// This very reading may have asked for another look: it is this one.
		select {
		case <-w.wake:
		default:
		}
		for _, c := range s.conditions(a.healthChannels()) {
			if ctx.Err() != nil {
				return
			}
			a.tellHealth(ctx, w, ns, c, s.at)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// toldScript decides whether admins are told now that a condition (ARGV[1]) is on or
// off (ARGV[2]): when what they were last told differs, at least ARGV[4] ms before
// now (ARGV[3]). It records what they are told, and returns 1 and what they had been
// told before (empty for nothing), or 0.
var toldScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
local state, at = 'off', nil
if v then
  local s, t = string.match(v, '^(%a+) (%-?%d+)$')
  if s then state, at = s, tonumber(t) end
end
if state == ARGV[2] then return {0, ''} end
if at and tonumber(ARGV[3]) - at < tonumber(ARGV[4]) then return {0, ''} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3])
return {1, v or ''}
`)

// tellHealth tells admins of c when it is news to them (see toldScript); when no
// notifier took it, what they were told is put back, so that the next look tries
// again.
func (a *app) tellHealth(ctx context.Context, w *healthWatch, ns []healthNotifier, c condition, now time.Time) {
	state := "off"
	if c.on {
		state = "on"
	}
	var undo func()
	if c.key == "spool" {
		w.mu.Lock()
		last := w.told[c.key]
		if last.on == c.on || !last.at.IsZero() && now.Sub(last.at) < tellEvery {
			w.mu.Unlock()
			return
		}
		w.told[c.key] = toldState{on: c.on, at: now}
		w.mu.Unlock()
		undo = func() { w.mu.Lock(); w.told[c.key] = last; w.mu.Unlock() }
	} else {
		key := a.cfg.RedisPrefix + "health:told"
		res, err := toldScript.Run(ctx, a.rdb, []string{key}, c.key, state, now.UnixMilli(), tellEvery.Milliseconds()).Slice()
		if err != nil {
			a.log.Warn("service health: cannot tell whether admins know", "condition", c.key, "err", err)
			return
		}
		if len(res) != 2 || res[0] != int64(1) {
			return
		}
		before, _ := res[1].(string)
		undo = func() {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if before == "" {
				a.rdb.HDel(uctx, key, c.key)
			} else {
				a.rdb.HSet(uctx, key, c.key, before)
			}
		}
	}
	n := a.notice(w, c, now)
	a.log.Warn("service health changed", "condition", c.key, "state", state, "count", c.n)
	if len(ns) == 0 {
		return
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ns))
	for i, nt := range ns {
		wg.Go(func() {
			nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			errs[i] = nt.tell(nctx, n)
		})
	}
	wg.Wait()
	delivered := 0
	for i, err := range errs {
		if err != nil {
			a.log.Error("service health: notifier failed", "notifier", ns[i].name(), "condition", c.key, "err", err)
		} else {
			delivered++
		}
	}
	if delivered == 0 {
		undo()
	}
}

// healthNotice is what admins are told when a condition begins or ends. It holds no
// personal data: a condition, a channel, counts and times. As the webhook's JSON body:
//
//	kind         "health" (a distress alert's body has no kind)
//	id           the notice's ID: the same for every notifier and retry of one notice
//	condition    sends_failing, spool or dead_letters
//	state        on (it began) or off (it ended)
//	channel      for sends_failing: sms, whatsapp, telegram or web
//	count        failed sends in a row, messages in the spool, or dead letters
//	server       for spool: the server whose spool it is
//	at           when it was seen (RFC 3339)
//	console_url  the service page
//	summary      the notice in English words
type healthNotice struct {
	Kind       string    `json:"kind"`
	ID         string    `json:"id"`
	Condition  string    `json:"condition"`
	State      string    `json:"state"`
	Channel    string    `json:"channel,omitempty"`
	Count      int       `json:"count"`
	Server     string    `json:"server,omitempty"`
	At         time.Time `json:"at"`
	ConsoleURL string    `json:"console_url,omitempty"`
	Summary    string    `json:"summary"`
}

func (a *app) notice(w *healthWatch, c condition, now time.Time) healthNotice {
	cond, _, _ := strings.Cut(c.key, ":")
	n := healthNotice{Kind: "health", Condition: cond, State: "off", Channel: string(c.ch), Count: c.n,
		At: now.UTC(), ConsoleURL: a.cfg.PublicURL + "/console/admin"}
	if c.on {
		n.State = "on"
	}
	if cond == "spool" {
		n.Server = w.host
	}
	n.ID = "health:" + c.key + ":" + n.State + ":" + strconv.FormatInt(now.UnixMilli(), 10)
	name := map[channels.Channel]string{channels.SMS: "SMS", channels.WhatsApp: "WhatsApp", channels.Telegram: "Telegram",
		channels.Web: "Simulator"}[c.ch]
	switch {
	case cond == "sends_failing" && c.on:
		n.Summary = fmt.Sprintf("%s sends keep failing: %d in a row since %s UTC, none accepted. Replies wait in the outbox.",
			name, c.n, c.since.UTC().Format("2 Jan 15:04"))
	case cond == "sends_failing":
		n.Summary = name + " sends are accepted again."
	case cond == "spool" && c.on:
		n.Summary = fmt.Sprintf("Server %s cannot reach Redis: %d messages wait in its spool file.", w.host, c.n)
	case cond == "spool":
		n.Summary = fmt.Sprintf("Server %s: its spool is empty again.", w.host)
	case c.on:
		n.Summary = fmt.Sprintf("%d dead letters (messages or tasks set aside after failing) wait for an admin.", c.n)
	default:
		n.Summary = "No dead letters wait any more."
	}
	return n
}

// healthNotifier tells admins of a notice on one medium.
type healthNotifier interface {
	name() string
	tell(ctx context.Context, n healthNotice) error
}

// healthNotifiers are the notifiers of distress alerts' first level that are
// configured: the signed webhook, the Telegram duty group, the duty phones.
func (a *app) healthNotifiers() []healthNotifier {
	cfg := a.cfg.Notify
	var ns []healthNotifier
	if cfg.WebhookURL != "" {
		ns = append(ns, &healthWebhook{url: cfg.WebhookURL, secret: cfg.WebhookSecret,
			client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}})
	}
	if cfg.TelegramChat != "" && a.telegram != nil {
		ns = append(ns, &healthTelegram{chat: cfg.TelegramChat, sender: a.telegram})
	}
	if len(cfg.DutySMS) > 0 && cfg.TwilioAccountSID != "" {
		ns = append(ns, &healthSMS{to: cfg.DutySMS, sender: twilio.NewSender(twilio.SenderConfig{AccountSID: cfg.TwilioAccountSID,
			AuthToken: cfg.TwilioAuthToken, APIURL: cfg.TwilioAPIURL, From: cfg.SMSFrom})})
	}
	return ns
}

// healthWebhook posts a notice as signed JSON, as distress alerts are posted (the same
// headers and signature: notify.Webhook), told apart by its "kind".
type healthWebhook struct {
	url, secret string
	client      *http.Client
}

func (h *healthWebhook) name() string { return "webhook" }

func (h *healthWebhook) tell(ctx context.Context, n healthNotice) error {
	body, err := json.Marshal(n)
	if err != nil {
		return err
	}
	u, err := url.Parse(h.url)
	if err != nil {
		return errors.New("webhook URL does not parse")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request to %s: %w", u.Host, err)
	}
	// The wall clock, as the receiver checks the timestamp against its own.
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hotline-notify")
	req.Header.Set(notify.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(notify.HeaderSignature, notify.Sign(h.secret, ts, body))
	resp, err := h.client.Do(req)
	if err != nil {
		// Named by host: the full URL may hold a token.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post to %s: %w", u.Host, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %d", u.Host, resp.StatusCode)
	}
	return nil
}

// healthTelegram posts a notice to the operators' Telegram group, as the hotline's bot.
type healthTelegram struct {
	chat   string
	sender channels.Sender
}

func (h *healthTelegram) name() string { return "telegram" }

func (h *healthTelegram) tell(ctx context.Context, n healthNotice) error {
	mark := "⚠️"
	if n.State == "off" {
		mark = "✅"
	}
	text := mark + " SERVICE: " + n.Summary + "\nOpen the console: " + n.ConsoleURL
	return sendAll(ctx, h.sender, channels.Outbound{ID: n.ID, Channel: channels.Telegram, Contact: h.chat, Lang: "en",
		Parts: []string{text}, Lane: channels.LaneReply})
}

// healthSMS texts a notice to the duty phones: the summary in one message, its words
// plain ASCII (GSM-7).
type healthSMS struct {
	to     []string
	sender channels.Sender
}

func (h *healthSMS) name() string { return "sms:duty" }

func (h *healthSMS) tell(ctx context.Context, n healthNotice) error {
	text := "HOTLINE SERVICE: " + n.Summary
	if utf8.RuneCountInString(text) > 160 {
		text = string([]rune(text)[:157]) + "..."
	}
	var errs []error
	for i, to := range h.to {
		if err := sendAll(ctx, h.sender, channels.Outbound{ID: n.ID + ":" + strconv.Itoa(i), Channel: channels.SMS, Contact: to,
			Lang: "en", Parts: []string{text}, Lane: channels.LaneReply}); err != nil {
			// Named by its place in the list, never by the number.
			errs = append(errs, fmt.Errorf("phone %d: %w", i+1, err))
		}
	}
	if len(errs) == len(h.to) {
		return errors.Join(errs...)
	}
	return nil
}

// sendAll sends every piece of o through s.
func sendAll(ctx context.Context, s channels.Sender, o channels.Outbound) error {
	for _, p := range s.Render(o) {
		if err := s.Send(ctx, o, p); err != nil {
			return err
		}
	}
	return nil
}

// adminService is the hotline as the service page sees it (console.Service).
type adminService struct{ a *app }

// State is the service's health, read afresh.
func (s adminService) State(ctx context.Context) (console.ServiceState, error) {
	a := s.a
	snap := a.healthNow(ctx, true)
	chs := a.healthChannels()
	st := console.ServiceState{Warnings: snap.warnings(chs), Unknown: snap.unknown, Spooled: snap.spooled}
	if snap.unknown {
		return st, nil
	}
	for _, ch := range chs {
		h := snap.sends[ch]
		st.Channels = append(st.Channels, console.ChannelState{Channel: string(ch), LastOK: h.LastOK, Failures: h.Failures,
			Since: h.Since, Failing: failing(h, snap.at)})
	}
	for _, k := range deadKinds {
		d := console.DeadCount{Kind: k, N: snap.dead[k]}
		if k == deadOutbox {
			d.Refused = snap.refused
		}
		st.Dead = append(st.Dead, d)
	}
	return st, nil
}

// letter is a dead letter as stored, where it is, and as the page shows it.
type letter struct {
	kind  string
	shard int // -1 for the case writes, which have no shard
	raw   string
	show  console.DeadLetter
	// payload is what it holds, for the page that shows it.
	payload any
}

// letterID names a dead letter by a short hash of what is stored: no personal data,
// and the same for as long as it stays set aside.
func letterID(shard int, raw string) string {
	sum := sha256.Sum256([]byte(raw))
	h := hex.EncodeToString(sum[:8])
	if shard < 0 {
		return h
	}
	return strconv.Itoa(shard) + "-" + h
}

// parseLetterID reads an ID of kind: its shard (-1 for case writes) and hash.
func (s adminService) parseLetterID(kind, id string) (int, bool) {
	if !slices.Contains(deadKinds, kind) {
		return 0, false
	}
	h := id
	shard := -1
	if kind != deadCase {
		sh, rest, ok := strings.Cut(id, "-")
		n, err := strconv.Atoi(sh)
		if !ok || err != nil || n < 0 || n >= s.a.cfg.Shards || strconv.Itoa(n) != sh {
			return 0, false
		}
		shard, h = n, rest
	}
	if len(h) != 16 {
		return 0, false
	}
	if _, err := hex.DecodeString(h); err != nil {
		return 0, false
	}
	return shard, true
}

// maxError bounds an error as the page shows it.
const maxError = 300

func shortError(e string) string {
	if utf8.RuneCountInString(e) > maxError {
		return string([]rune(e)[:maxError]) + "…"
	}
	return e
}

// effectLetter is a dialogs.Effects dead letter as stored.
type effectLetter struct {
	Entry string    `json:"entry"`
	Job   string    `json:"job"`
	Error string    `json:"error"`
	At    time.Time `json:"at"`
}

// decode reads a stored dead letter of kind; open also opens what it holds.
func (s adminService) decode(kind string, shard int, raw string, open bool) letter {
	a := s.a
	l := letter{kind: kind, shard: shard, raw: raw}
	l.show = console.DeadLetter{Kind: kind, ID: letterID(shard, raw)}
	d := &l.show
	switch kind {
	case deadInbox:
		m, err := inbox.ParseDeadLetter(raw)
		if err != nil {
			d.Detail, d.Error = "unreadable", err.Error()
			return l
		}
		d.Detail, d.At, d.Attempts, d.Error, d.Replayable = string(m.Msg.Channel), m.Msg.Received, m.Attempts, m.Error, m.Replayable()
		if m.Msg.Effect != nil {
			d.Detail += " · " + m.Msg.Effect.Kind
		}
		l.payload = m.Msg
	case deadOutbox:
		m, err := outbox.ParseDeadLetter(raw)
		if err != nil {
			d.Detail, d.Error = "unreadable", err.Error()
			return l
		}
		d.Detail = string(m.Out.Channel)
		if m.Outcome != "" {
			d.Detail += " · " + m.Outcome
		}
		if m.Out.Alert != "" {
			d.Detail += " · route alert"
		}
		// A contact's refusal is never sent again: they blocked the bot or said STOP.
		d.At, d.Attempts, d.Error, d.Replayable = m.At, m.Attempts, m.Error, m.Replayable(a.now())
		l.payload = m.Out
	case deadEffect:
		var e effectLetter
		var job dialogs.EffectJob
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			d.Detail, d.Error = "unreadable", err.Error()
			return l
		}
		d.At, d.Error, d.Attempts = e.At, e.Error, a.effects.MaxAttempts
		if err := json.Unmarshal([]byte(e.Job), &job); err != nil || job.ID == "" {
			d.Detail = "unreadable"
			return l
		}
		d.Detail, d.Replayable, d.Ref = job.Kind+" · "+string(job.Channel), true, job.Data["ref"]
		if open && job.Sealed != nil && a.cfg.DataKeys != nil {
			if plain, err := a.cfg.DataKeys.Open(job.Sealed, []byte(job.ID)); err == nil {
				job.Sealed = nil
				if json.Unmarshal(plain, &job.Data) == nil {
					d.Ref = job.Data["ref"]
				}
			}
		}
		l.payload = job
	}
	return l
}

// lists reads the newest limit dead letters of every list of every shard, in one
// round trip, with the case writes set aside.
func (s adminService) lists(ctx context.Context, limit int) ([]letter, error) {
	a := s.a
	prefix := a.cfg.RedisPrefix
	type read struct {
		kind  string
		shard int
		cmd   *redis.StringSliceCmd
	}
	var reads []read
	if _, err := a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for sh := range a.cfg.Shards {
			reads = append(reads, read{deadInbox, sh, p.LRange(ctx, inbox.DeadKey(prefix, sh), 0, int64(limit-1))},
				read{deadOutbox, sh, p.LRange(ctx, outbox.DeadKey(prefix, sh), 0, int64(limit-1))},
				read{deadEffect, sh, p.LRange(ctx, effectsDeadKey(prefix, sh), 0, int64(limit-1))})
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	var out []letter
	for _, r := range reads {
		for _, raw := range r.cmd.Val() {
			out = append(out, s.decode(r.kind, r.shard, raw, false))
		}
	}
	writes, err := a.cases.deadWrites(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range writes {
		out = append(out, caseLetter(w))
	}
	return out, nil
}

// caseLetter is a case write set aside, as a dead letter.
func caseLetter(w deadWrite) letter {
	l := letter{kind: deadCase, shard: -1, raw: w.Raw}
	l.show = console.DeadLetter{Kind: deadCase, ID: letterID(-1, w.Raw), Error: w.Why, Detail: "unreadable"}
	if w.W != nil {
		l.show.Detail, l.show.At, l.show.Ref, l.show.Replayable = w.W.Kind, w.W.At, w.W.Ref, true
		if w.W.Report != nil {
			l.show.Ref = w.W.Report.Ref
		}
		l.payload = w.W
	}
	return l
}

// DeadLetters lists the dead letters, newest first.
func (s adminService) DeadLetters(ctx context.Context, limit int) ([]console.DeadLetter, error) {
	ls, err := s.lists(ctx, limit)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(ls, func(i, j int) bool { return ls[i].show.At.After(ls[j].show.At) })
	out := make([]console.DeadLetter, 0, min(len(ls), limit))
	for _, l := range ls {
		if len(out) == limit {
			break
		}
		l.show.Error = shortError(l.show.Error)
		out = append(out, l.show)
	}
	return out, nil
}

// find reads the dead letter kind/id in full.
func (s adminService) find(ctx context.Context, kind, id string) (letter, error) {
	shard, ok := s.parseLetterID(kind, id)
	if !ok {
		return letter{}, console.ErrNoDeadLetter
	}
	a := s.a
	if kind == deadCase {
		writes, err := a.cases.deadWrites(ctx)
		if err != nil {
			return letter{}, err
		}
		for _, w := range writes {
			if letterID(-1, w.Raw) == id {
				return caseLetter(w), nil
			}
		}
		return letter{}, console.ErrNoDeadLetter
	}
	key := map[string]string{deadInbox: inbox.DeadKey(a.cfg.RedisPrefix, shard), deadOutbox: outbox.DeadKey(a.cfg.RedisPrefix, shard),
		deadEffect: effectsDeadKey(a.cfg.RedisPrefix, shard)}[kind]
	all, err := a.rdb.LRange(ctx, key, 0, -1).Result()
	if err != nil {
		return letter{}, fmt.Errorf("read dead letters: %w", err)
	}
	for _, raw := range all {
		if letterID(shard, raw) == id {
			return s.decode(kind, shard, raw, true), nil
		}
	}
	return letter{}, console.ErrNoDeadLetter
}

// DeadLetter reads one dead letter with what it holds opened.
func (s adminService) DeadLetter(ctx context.Context, kind, id string) (console.DeadLetter, error) {
	l, err := s.find(ctx, kind, id)
	if err != nil {
		return console.DeadLetter{}, err
	}
	d := l.show
	switch {
	case l.payload != nil:
		b, _ := json.MarshalIndent(l.payload, "", "  ")
		d.Payload = string(b)
	case kind == deadCase:
		d.Payload = "(sealed under a key that is no longer in HOTLINE_DATA_KEYS, or damaged: it cannot be opened)"
	default:
		d.Payload = l.raw
	}
	return d, nil
}

// settledKey remembers for a week that a dead letter was replayed or discarded, so
// that asking again is answered, not refused.
func (s adminService) settledKey(kind, id string) string {
	return s.a.cfg.RedisPrefix + "deadletters:settled:" + kind + ":" + id
}

// gone says why a dead letter is not there: settled before, or unknown.
func (s adminService) gone(ctx context.Context, kind, id string) error {
	how, err := s.a.rdb.Get(ctx, s.settledKey(kind, id)).Result()
	switch {
	case err == nil:
		return console.ErrSettled{How: how}
	case errors.Is(err, redis.Nil):
		return console.ErrNoDeadLetter
	}
	return fmt.Errorf("read dead letter's fate: %w", err)
}

// settle records how a dead letter was settled.
func (s adminService) settle(ctx context.Context, kind, id, how string) {
	if err := s.a.rdb.Set(ctx, s.settledKey(kind, id), how, 7*24*time.Hour).Err(); err != nil {
		s.a.log.Warn("dead letter's fate not recorded", "kind", kind, "err", err)
	}
}

// effectSettleScript takes a dead effect (ARGV[1]) off its list and, when ARGV[2]
// holds its job, queues that on the shard's effect stream again (its handler is
// idempotent): 0 when it is not there.
var effectSettleScript = redis.NewScript(`
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
if ARGV[2] ~= '' then redis.call('XADD', KEYS[2], '*', 'm', ARGV[2]) end
return 1
`)

// Replay puts a dead letter back on its queue, once.
func (s adminService) Replay(ctx context.Context, kind, id string) error {
	a := s.a
	return s.resolve(ctx, kind, id, "replayed", func(l letter) (bool, error) {
		if !l.show.Replayable {
			return false, console.ErrNotReplayable
		}
		switch kind {
		case deadInbox:
			return a.inbox.ReplayDead(ctx, l.shard, l.raw)
		case deadOutbox:
			if err := s.stillWanted(ctx, l); err != nil {
				return false, err
			}
			done, err := a.outbox.ReplayDead(ctx, l.shard, l.raw)
			if errors.Is(err, outbox.ErrTooOld) {
				return false, console.ErrNotReplayable
			}
			return done, err
		case deadEffect:
			var e effectLetter
			if err := json.Unmarshal([]byte(l.raw), &e); err != nil {
				return false, console.ErrNotReplayable
			}
			return s.settleEffect(ctx, l, e.Job)
		case deadCase:
			return a.cases.replayDead(ctx, l.raw, l.show.At)
		}
		return false, nil
	})
}

// stillWanted refuses to replay a reply to a contact who has said STOP to the
// hotline (or blocked the bot) since it was set aside: nothing may reach them until
// they write again, and a message arriving after STOP can give away, to whoever holds
// the phone, that they asked for help. (A refusal by the provider is never
// replayable; a route alert is checked against the contact's subscription when it
// is sent.)
func (s adminService) stillWanted(ctx context.Context, l letter) error {
	d, err := outbox.ParseDeadLetter(l.raw)
	if err != nil || d.Out.Alert != "" || d.Out.Contact == "" {
		return nil
	}
	a := s.a
	keys := dialogs.KeysFor(a.cfg.RedisPrefix, l.shard, d.Out.Channel, a.hash(d.Out.Channel, d.Out.Contact))
	sess, err := dialogs.LoadSession(ctx, a.rdb, keys, a.cfg.DataKeys)
	if err != nil && !errors.Is(err, dialogs.ErrUndecodable) {
		return fmt.Errorf("check the contact still takes messages: %w", err)
	}
	if sess.OptedOut || sess.Blocked {
		return fmt.Errorf("%w: the contact has said STOP, or blocked the bot, since; nothing goes to them until they write again",
			console.ErrNotReplayable)
	}
	return nil
}

// Discard drops a dead letter for good.
func (s adminService) Discard(ctx context.Context, kind, id string) error {
	a := s.a
	return s.resolve(ctx, kind, id, "discarded", func(l letter) (bool, error) {
		switch kind {
		case deadInbox:
			return a.inbox.DiscardDead(ctx, l.shard, l.raw)
		case deadOutbox:
			return a.outbox.DiscardDead(ctx, l.shard, l.raw)
		case deadEffect:
			return s.settleEffect(ctx, l, "")
		case deadCase:
			return a.cases.discardDead(ctx, l.raw)
		}
		return false, nil
	})
}

// resolve finds a dead letter and settles it with act (replay or discard, named by
// how): a letter that is gone, or that act finds gone (another admin was first), is
// told as gone; one settled is remembered and logged.
func (s adminService) resolve(ctx context.Context, kind, id, how string, act func(letter) (bool, error)) error {
	l, err := s.find(ctx, kind, id)
	if errors.Is(err, console.ErrNoDeadLetter) {
		return s.gone(ctx, kind, id)
	}
	if err != nil {
		return err
	}
	done, err := act(l)
	if err != nil {
		return err
	}
	if !done {
		return s.gone(ctx, kind, id)
	}
	s.settle(ctx, kind, id, how)
	s.a.log.Info("dead letter "+how, "kind", kind, "id", id)
	return nil
}

// settleEffect takes a dead effect off its list and, when job is not empty, queues
// the job again.
func (s adminService) settleEffect(ctx context.Context, l letter, job string) (bool, error) {
	n, err := effectSettleScript.Run(ctx, s.a.rdb, []string{effectsDeadKey(s.a.cfg.RedisPrefix, l.shard),
		dialogs.EffectsKey(s.a.cfg.RedisPrefix, l.shard)}, l.raw, job).Int()
	return n == 1, err
}
