package dialogs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/inbox"
	"github.com/hotline-org/hotline/channels/stream"
	"github.com/hotline-org/hotline/locales"
)

// RunnerConfig sets the runner's limits.
type RunnerConfig struct {
	Prefix   string
	ChatTTL  time.Duration // a bot-owned chat session expires after this much silence
	VoiceTTL time.Duration // a bot-owned voice session (one call)
	LangTTL  time.Duration // how long the chosen language outlives an expired session
	Block    time.Duration // how long one read waits for new messages
	Batch    int64
	// Sealer, when set, encrypts sessions and effect data in Redis: a report's answers
	// are personal data.
	Sealer Sealer
	// OnLimited, when set, is told how each message over its contact's limit was
	// handled (see Limited*).
	OnLimited func(ch channels.Channel, handling string)
}

// Runner turns inbound messages into turns: load the session, Step, localize, commit.
type Runner struct {
	rdb     redis.UniversalClient
	in      *inbox.Inbox
	m       *Machine
	b       *locales.Bundle
	cfg     RunnerConfig
	hash    func(ch channels.Channel, contact string) string
	now     func() time.Time
	log     *slog.Logger
	observe func(ch channels.Channel, d time.Duration, outcome string)
}

// NewRunner wires a runner. hash turns a contact address into the keyed hash that names
// its keys and appears in logs; observe (may be nil) is told how each turn went.
func NewRunner(rdb redis.UniversalClient, in *inbox.Inbox, m *Machine, b *locales.Bundle, cfg RunnerConfig,
	hash func(channels.Channel, string) string, now func() time.Time, log *slog.Logger,
	observe func(channels.Channel, time.Duration, string)) *Runner {
	if cfg.ChatTTL <= 0 {
		cfg.ChatTTL = 7 * 24 * time.Hour
	}
	if cfg.VoiceTTL <= 0 {
		cfg.VoiceTTL = 30 * time.Minute
	}
	if cfg.LangTTL <= 0 {
		cfg.LangTTL = 180 * 24 * time.Hour
	}
	if cfg.Block <= 0 {
		cfg.Block = 2 * time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 32
	}
	if observe == nil {
		observe = func(channels.Channel, time.Duration, string) {}
	}
	if cfg.OnLimited == nil {
		cfg.OnLimited = func(channels.Channel, string) {}
	}
	return &Runner{rdb: rdb, in: in, m: m, b: b, cfg: cfg, hash: hash, now: now, log: log, observe: observe}
}

// LeaseKey is the key of a shard's lease.
func LeaseKey(prefix string, shard int) string { return channels.Tag(prefix, shard) + "lease" }

// OutboxKey is the key of a shard's reply lane.
func OutboxKey(prefix string, shard int) string { return channels.Tag(prefix, shard) + "outbox" }

// RunShard works one shard while this process holds its lease (token). It first takes
// back what a previous holder left pending, then waits for new entries. It returns when
// ctx ends (after finishing the turns in hand) or when the lease is lost.
func (r *Runner) RunShard(ctx context.Context, shard int, token string) error {
	rd := r.in.Reader(shard, LeaseKey(r.cfg.Prefix, shard), token, int(r.cfg.Batch), r.cfg.Block)
	if err := rd.Prepare(ctx); err != nil {
		return err
	}
	cache := newSessionCache()
	for ctx.Err() == nil {
		batch, err := rd.Next(ctx)
		if errors.Is(err, ErrLeaseLost) {
			r.log.Warn("lease lost, leaving shard", "shard", shard)
			return err
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.log.Warn("read inbox", "shard", shard, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		failed, err := r.turns(ctx, shard, token, batch, cache)
		if errors.Is(err, ErrLeaseLost) {
			r.log.Warn("lease lost, leaving shard", "shard", shard)
			return err
		}
		if failed {
			// Re-read from the pending list, so that a failed entry is tried again
			// before anything of its contact behind it.
			rd.Again()
			sleep(ctx, 200*time.Millisecond)
		}
	}
	return nil
}

// turns works a batch as the outbox sends one: a goroutine per contact (at most the
// batch's size), each contact's entries in order. Contacts wait on Redis side by side
// rather than in a line, and their commits can share a round trip. A contact whose
// turn fails takes no more turns in this batch: its entry is recorded as failed, and
// it and what follows it are read again from the pending list (failed is true). err is
// ErrLeaseLost when the shard was lost.
func (r *Runner) turns(ctx context.Context, shard int, token string, batch []stream.Entry, cache *sessionCache) (failed bool, err error) {
	var order []string
	groups := map[string][]inbox.Entry{}
	for _, se := range batch {
		e := r.in.Decode(se)
		k := string(e.Msg.Channel) + "\x00" + e.Msg.Contact
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], e)
	}
	type failure struct {
		e   inbox.Entry
		err error
	}
	var (
		mu    sync.Mutex
		fails []failure
		lost  bool
	)
	work := func(es []inbox.Entry) {
		for _, e := range es {
			if ctx.Err() != nil {
				return
			}
			// A turn in hand is finished even when shutdown begins: it is a few
			// milliseconds of Redis work, and leaving it would only replay it.
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err := r.handleWithRetry(tctx, shard, token, e, cache)
			cancel()
			if err == nil {
				continue
			}
			mu.Lock()
			if errors.Is(err, ErrLeaseLost) {
				lost = true
			} else {
				fails = append(fails, failure{e, err})
			}
			mu.Unlock()
			return
		}
	}
	if len(order) == 1 {
		work(groups[order[0]])
	} else {
		var wg sync.WaitGroup
		for _, k := range order {
			wg.Go(func() { work(groups[k]) })
		}
		wg.Wait()
	}
	if lost {
		return true, ErrLeaseLost
	}
	for _, f := range fails {
		dead, ferr := r.in.Fail(ctx, shard, LeaseKey(r.cfg.Prefix, shard), token, f.e, f.err)
		r.log.Error("turn failed", "shard", shard, "entry", f.e.StreamID, "dead_letter", dead, "err", f.err)
		if errors.Is(ferr, ErrLeaseLost) {
			return true, ferr
		}
		if ferr != nil {
			r.log.Error("record turn failure", "shard", shard, "err", ferr)
		}
		r.observe(f.e.Msg.Channel, 0, "failed")
	}
	return len(fails) > 0, nil
}

func (r *Runner) handleWithRetry(ctx context.Context, shard int, token string, e inbox.Entry, cache *sessionCache) error {
	var err error
	for range 3 {
		if err = r.handle(ctx, shard, token, e, cache); !errors.Is(err, ErrVersion) {
			return err
		}
	}
	return err
}

// Handle runs one turn for an inbox entry: two round trips (load, commit).
func (r *Runner) Handle(ctx context.Context, shard int, token string, e inbox.Entry) error {
	return r.handle(ctx, shard, token, e, nil)
}

// handle is Handle with the shard's session cache (nil for none): a session this
// runner saved is not read back (one round trip, the commit). A turn that fails in any
// way drops the contact's kept session, so that its retry reads Redis.
func (r *Runner) handle(ctx context.Context, shard int, token string, e inbox.Entry, cache *sessionCache) (err error) {
	start := r.now()
	in := e.Msg
	if in.Contact == "" {
		return fmt.Errorf("entry %s has no contact", e.StreamID)
	}
	hash := r.hash(in.Channel, in.Contact)
	keys := KeysFor(r.cfg.Prefix, shard, in.Channel, hash)
	if !cacheable(in.Channel) {
		cache = nil
	}
	defer func() {
		if err != nil {
			cache.drop(keys.Session)
		}
	}()
	s, err := r.loadSession(ctx, keys, cache)
	if errors.Is(err, ErrUndecodable) {
		r.log.Error("session unreadable, starting afresh", "shard", shard, "contact", ShortHash(hash))
	} else if err != nil {
		return err
	}
	if s.New() {
		s.Channel, s.Test = in.Channel, in.Test
	}
	if in.Effect != nil && in.Effect.Kind == channels.EventCallEnded {
		// A report left unfinished waits a while for its caller to call back.
		if err := r.keepUnfinished(ctx, s); err != nil {
			r.log.Warn("keep an unfinished report", "contact", ShortHash(hash), "err", err)
		}
	}
	next, prompts, effects := r.m.Step(s, EventFrom(in), r.now())
	limited := ""
	if in.OverLimit > 0 && in.Effect == nil {
		// What the turn would do says whether it matters; set aside, it is forgotten.
		if limited = r.m.overLimitTurn(s, next, effects, in.OverLimit); limited == "" {
			return r.setAside(ctx, shard, token, e, s, keys, hash)
		}
		if in.OverLimit == 1 {
			r.log.Info("contact over its message limit", "shard", shard, "contact", ShortHash(hash), "channel", string(in.Channel),
				"handling", limited)
		}
	}
	if in.Effect == nil && !in.Received.IsZero() {
		next.LastSeen = in.Received
	}
	if in.Effect == nil && in.Channel != channels.Voice {
		next.Addr, next.Via = in.Contact, in.To
	}
	var outs []channels.Outbound
	if o, ok := Localize(r.b, next, prompts); ok {
		o.ID = in.ID + ":0"
		o.Channel, o.Contact, o.From, o.Lane, o.Test = in.Channel, in.Contact, in.To, channels.LaneReply, in.Test
		if in.Channel == channels.WhatsApp && !next.LastSeen.IsZero() {
			o.Until = next.LastSeen.Add(channels.WhatsAppWindow - channels.WindowMargin)
		}
		outs = append(outs, o)
		// What the bot answers someone who waits is in the transcript the operator
		// reads, after what they wrote.
		for i := range effects {
			if effects[i].Kind == EffectHandoffInbound {
				effects[i].Data["bot"] = strings.Join(o.Parts, "\n")
			}
		}
	}
	jobs, stopAlerts, err := r.jobs(in, hash, shard, next.Lang, effects)
	if err != nil {
		return err
	}
	ttl, langTTL := r.ttls(in.Channel, next)
	v, stored, err := Commit{
		Keys: keys, LeaseKey: LeaseKey(r.cfg.Prefix, shard), Token: token, Session: next, TTL: ttl,
		LangTTL: langTTL, Outbound: outs, Effects: jobs, StreamID: e.StreamID,
		InboxKey: r.in.StreamKey(shard), InboxGrp: inbox.Group, Attempts: keys.Tag + "attempts",
		OutboxKey: OutboxKey(r.cfg.Prefix, shard), EffectKey: EffectsKey(r.cfg.Prefix, shard),
		Seen: seen(in), Sealer: r.cfg.Sealer, StopAlerts: stopAlerts,
	}.save(ctx, r.rdb)
	if errors.Is(err, ErrCommitted) {
		// An earlier try went through but its answer was lost: the turn is done, and
		// what it stored is not known here.
		cache.drop(keys.Session)
		r.log.Info("turn committed already", "shard", shard, "entry", e.StreamID)
		return nil
	}
	if err != nil {
		return err
	}
	if next.Erase {
		cache.drop(keys.Session)
	} else {
		cache.put(keys.Session, v, stored, r.now())
	}
	d := r.now().Sub(start)
	r.observe(in.Channel, d, "ok")
	if limited != "" {
		r.cfg.OnLimited(in.Channel, limited)
	}
	if !r.log.Enabled(ctx, slog.LevelDebug) {
		return nil
	}
	r.log.Debug("turn", "shard", shard, "contact", ShortHash(hash), "msg_id", in.ID, "at", next.At.Flow+"."+next.At.Step,
		"owner", next.Owner, "replies", len(outs), "effects", len(jobs), "ms", d.Milliseconds())
	return nil
}

// loadSession reads a contact's session, from the shard's cache when it holds it.
func (r *Runner) loadSession(ctx context.Context, keys Keys, cache *sessionCache) (Session, error) {
	if vals, ok := cache.get(keys.Session, r.now()); ok {
		if s, err := decodeSession(vals, "", r.cfg.Sealer, []byte(keys.Session)); err == nil {
			return s, nil
		}
		cache.drop(keys.Session)
	}
	return LoadSession(ctx, r.rdb, keys, r.cfg.Sealer)
}

// seen is when a WhatsApp contact wrote, for their window; zero for anything else.
func seen(in channels.Inbound) time.Time {
	if in.Channel != channels.WhatsApp || in.Effect != nil {
		return time.Time{}
	}
	return in.Received
}

// ShortHash is the part of a contact hash that logs carry.
func ShortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// jobs makes a turn's effects into jobs for the effect workers, sealed. stopAlerts is
// the contact's hash when the turn stops their route alerts (STOP, STOP ALERTS,
// DELETE): the commit then forgets their details at once.
func (r *Runner) jobs(in channels.Inbound, hash string, shard int, lang string, effects []Effect) ([]EffectJob, string, error) {
	var jobs []EffectJob
	stopAlerts := ""
	for i, ef := range effects {
		if ef.Kind == EffectAlertsUnsubscribe && ef.Data["route"] == "" || ef.Kind == EffectErase {
			stopAlerts = hash
		}
		data := ef.Data
		if in.Channel == channels.Voice && RealNumber(in.Caller) && (ef.Kind == EffectCaseSave || ef.Kind == EffectCaseLookup || ef.Kind == EffectDistressOpen) {
			// A call's address is the call: a report and a distress alert need the
			// number to call back (sealed with the job), and a report the key under
			// which that number's DELETE by SMS finds it; a look-up is throttled per
			// number, not per call. (An erasure asked on a call reaches only that
			// call's reports: caller ID can be forged.)
			data = maps.Clone(data)
			if data == nil {
				data = map[string]string{}
			}
			data[DataCaller], data[DataCallerKey] = in.Caller, r.hash(channels.SMS, in.Caller)
		}
		job := EffectJob{ID: in.ID + ":e" + strconv.Itoa(i), Kind: ef.Kind, Data: data,
			Channel: in.Channel, Contact: in.Contact, To: in.To, Hash: hash, Shard: shard, Lang: lang, Test: in.Test, At: r.now()}
		if err := job.seal(r.cfg.Sealer); err != nil {
			return nil, "", err
		}
		jobs = append(jobs, job)
	}
	return jobs, stopAlerts, nil
}

// ttls are how long a session and its remembered language are kept after a turn, in
// seconds. A chat held by a person or the queue is kept until handed back (0); a call
// is never kept past the longest call Twilio allows, in case its end is never heard.
func (r *Runner) ttls(ch channels.Channel, s Session) (session, lang int64) {
	if ch == channels.Voice {
		ttl := int64(r.cfg.VoiceTTL / time.Second)
		if s.Owner != OwnerBot {
			ttl = int64(maxCall / time.Second)
		}
		return ttl, ttl
	}
	if s.Owner == OwnerBot {
		return int64(r.cfg.ChatTTL / time.Second), int64(r.cfg.LangTTL / time.Second)
	}
	return 0, int64(r.cfg.LangTTL / time.Second)
}

// maxCall is the longest a Twilio call lasts (four hours).
const maxCall = 4 * time.Hour

// Turn runs one turn of a call now and returns what to say: Twilio waits for the
// answer. turn is the number its action URL carries: a turn already taken (Twilio
// asking again after a lost answer) is not taken twice, the question is said again.
// It holds no lease: a call's turns come one at a time, and the session's version
// check keeps it whole.
func (r *Runner) Turn(ctx context.Context, in channels.Inbound, turn int) (channels.Outbound, error) {
	shard := channels.ShardOf(in.Channel, in.Contact, r.in.Shards())
	hash := r.hash(in.Channel, in.Contact)
	keys := KeysFor(r.cfg.Prefix, shard, in.Channel, hash)
	var (
		o       channels.Outbound
		waiting bool
		err     error
	)
	for range 3 {
		if o, waiting, err = r.voiceTurn(ctx, in, turn, shard, hash, keys); !errors.Is(err, ErrVersion) {
			break
		}
	}
	if err != nil || !waiting {
		return o, err
	}
	// The call waits for an effect's answer (a case reference, a look-up), which most
	// often comes within milliseconds: worth waiting for within this turn's deadline
	// rather than make the caller wait a turn more.
	if later, ok := r.awaitLater(ctx, in, shard, keys); ok {
		return later, nil
	}
	return o, nil
}

func (r *Runner) voiceTurn(ctx context.Context, in channels.Inbound, turn, shard int, hash string, keys Keys) (channels.Outbound, bool, error) {
	start := r.now()
	s, err := LoadSession(ctx, r.rdb, keys, r.cfg.Sealer)
	if errors.Is(err, ErrUndecodable) {
		r.log.Error("session unreadable, starting afresh", "shard", shard, "contact", ShortHash(hash))
	} else if err != nil {
		return channels.Outbound{}, false, err
	}
	if s.New() {
		s.Channel, s.Test = in.Channel, in.Test
		if err := r.unfinished(ctx, &s, in.Caller); err != nil {
			// The call goes on without the offer: nothing of the report is lost, it
			// waits under its key until it expires.
			r.log.Warn("read an unfinished report", "err", err)
		}
	}
	var (
		next    Session
		prompts []Prompt
		effects []Effect
	)
	if turn <= s.Turn {
		next, prompts = s, r.m.Prompts(s)
	} else {
		next, prompts, effects = r.m.Step(s, EventFrom(in), r.now())
		next.Turn = turn
	}
	jobs, stopAlerts, err := r.jobs(in, hash, shard, next.Lang, effects)
	if err != nil {
		return channels.Outbound{}, false, err
	}
	o, err := r.commitCall(ctx, in, shard, keys, next, prompts, jobs, stopAlerts)
	if err != nil {
		return channels.Outbound{}, false, err
	}
	if s.Caller != "" && s.Answers[ansResume] != "" && next.Answers[ansResume] == "" {
		// The caller chose: continued (the call has it now) or went without it. Until
		// then it stays, for a call cut off again at the offer.
		if err := r.rdb.Del(ctx, r.resumeKey(s.Caller)).Err(); err != nil {
			r.log.Warn("forget an unfinished report taken up", "err", err)
		}
	}
	r.observe(in.Channel, r.now().Sub(start), "ok")
	return o, len(jobs) > 0 && r.m.Waiting(next), nil
}

// commitCall saves a call's session after a turn and returns what the call is told.
func (r *Runner) commitCall(ctx context.Context, in channels.Inbound, shard int, keys Keys, next Session,
	prompts []Prompt, jobs []EffectJob, stopAlerts string) (channels.Outbound, error) {
	o, _ := Localize(r.b, next, prompts)
	o.ID = in.ID
	o.Channel, o.Contact, o.From, o.Test = in.Channel, in.Contact, in.To, in.Test
	ttl, langTTL := r.ttls(in.Channel, next)
	if _, err := (Commit{
		Keys: keys, Session: next, TTL: ttl, LangTTL: langTTL, Effects: jobs,
		InboxKey: r.in.StreamKey(shard), Attempts: keys.Tag + "attempts", OutboxKey: OutboxKey(r.cfg.Prefix, shard),
		EffectKey: EffectsKey(r.cfg.Prefix, shard), Sealer: r.cfg.Sealer, StopAlerts: stopAlerts,
	}).Save(ctx, r.rdb); err != nil {
		return channels.Outbound{}, err
	}
	return o, nil
}

// awaitLater waits, within the turn's deadline, for the answer a call waits for, and
// returns what the call is told with it. ok is false when it did not come in time:
// the caller hears "one moment" and the next turn asks again.
func (r *Runner) awaitLater(ctx context.Context, in channels.Inbound, shard int, keys Keys) (channels.Outbound, bool) {
	until := time.Now().Add(700 * time.Millisecond)
	if d, ok := ctx.Deadline(); ok {
		// Leave the rest of the turn's time for the commit and the answer.
		until = d.Add(-300 * time.Millisecond)
	}
	// The answer most often comes within a few milliseconds: looked for soon, then
	// every 15 ms (each look reads the session).
	wait := 4 * time.Millisecond
	for time.Now().Before(until) {
		if sleep(ctx, wait); ctx.Err() != nil {
			return channels.Outbound{}, false
		}
		wait = 15 * time.Millisecond
		s, err := LoadSession(ctx, r.rdb, keys, r.cfg.Sealer)
		if err != nil {
			return channels.Outbound{}, false
		}
		if len(s.Later) == 0 {
			if r.m.Waiting(s) {
				continue
			}
			return channels.Outbound{}, false
		}
		prompts := s.Later
		s.Later = nil
		o, err := r.commitCall(ctx, in, shard, keys, s, prompts, nil, "")
		if err != nil {
			// Said at the next turn instead.
			return channels.Outbound{}, false
		}
		return o, true
	}
	return channels.Outbound{}, false
}

// The number a call comes from, in the data of a call's case effects, and its contact
// key as an SMS from that number has it.
const (
	DataCaller    = "_caller"
	DataCallerKey = "_caller_key"
)

// ResumeFor is how long an unfinished report waits for its caller to call back.
const ResumeFor = 30 * time.Minute

func (r *Runner) resumeKey(caller string) string { return ResumeKey(r.cfg.Prefix, caller) }

// ResumeKey is where an unfinished report waits for the caller whose hash is caller.
func ResumeKey(prefix, caller string) string { return prefix + "resume:" + caller }

// CallerHash is the keyed hash that names a calling number's keys (Session.Caller).
func CallerHash(hash func(channels.Channel, string) string, number string) string {
	return hash(channels.Voice, "caller:"+number)
}

// keepUnfinished keeps, sealed under the caller's hash, an unfinished report of a call
// that ended, for ResumeFor.
func (r *Runner) keepUnfinished(ctx context.Context, s Session) error {
	u, ok := s.Unfinished()
	if !ok {
		return nil
	}
	data, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("encode unfinished report: %w", err)
	}
	key := r.resumeKey(s.Caller)
	if r.cfg.Sealer != nil {
		if data, err = r.cfg.Sealer.Seal(data, []byte(key)); err != nil {
			return fmt.Errorf("seal unfinished report: %w", err)
		}
	}
	return r.rdb.Set(ctx, key, data, ResumeFor).Err()
}

// unfinished marks a new call with its caller's hash, when the number is a real one,
// and gives it the report that caller left unfinished, if any.
func (r *Runner) unfinished(ctx context.Context, s *Session, caller string) error {
	if !RealNumber(caller) {
		return nil
	}
	s.Caller = CallerHash(r.hash, caller)
	key := r.resumeKey(s.Caller)
	data, err := r.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.cfg.Sealer != nil {
		if data, err = r.cfg.Sealer.Open(data, []byte(key)); err != nil {
			return fmt.Errorf("open unfinished report: %w", err)
		}
	}
	var u Session
	if err := json.Unmarshal(data, &u); err != nil {
		return fmt.Errorf("decode unfinished report: %w", err)
	}
	s.Lang, s.Answers = u.Lang, u.Answers
	return nil
}

// withheld are the numbers Twilio gives for a caller who hid theirs (or that it could
// not read).
var withheld = map[string]bool{"+266696687": true, "+7378742833": true, "+2562533": true, "+8656696": true}

// RealNumber reports whether a call's From is a number someone can call from again:
// E.164, and not one of the placeholders for a withheld number ("Anonymous",
// "Restricted", "+266696687"…).
func RealNumber(from string) bool {
	if withheld[from] || len(from) < 8 || len(from) > 16 || from[0] != '+' || from[1] == '0' {
		return false
	}
	for _, c := range from[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
