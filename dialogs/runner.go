package dialogs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/inbox"
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
	return &Runner{rdb: rdb, in: in, m: m, b: b, cfg: cfg, hash: hash, now: now, log: log, observe: observe}
}

// LeaseKey is the key of a shard's lease.
func LeaseKey(prefix string, shard int) string { return channels.Tag(prefix, shard) + "lease" }

// OutboxKey is the key of a shard's reply lane.
func OutboxKey(prefix string, shard int) string { return channels.Tag(prefix, shard) + "outbox" }

// SayKey is where what a call must still hear waits (the answer to an effect that came
// back between two of the call's turns): a call has no outbox, Twilio asks for what to
// say.
func SayKey(prefix string, shard int, callHash string) string {
	return channels.Tag(prefix, shard) + "say:" + callHash
}

// RunShard works one shard while this process holds its lease (token). It first takes
// back what a previous holder left pending, then waits for new entries. It returns when
// ctx ends (after finishing the turn in hand) or when the lease is lost.
func (r *Runner) RunShard(ctx context.Context, shard int, token string) error {
	rd := r.in.Reader(shard, LeaseKey(r.cfg.Prefix, shard), token, int(r.cfg.Batch), r.cfg.Block)
	if err := rd.Prepare(ctx); err != nil {
		return err
	}
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
		for _, se := range batch {
			e := r.in.Decode(se)
			if ctx.Err() != nil {
				return nil
			}
			// A turn in hand is finished even when shutdown begins: it is a few
			// milliseconds of Redis work, and leaving it would only replay it.
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err := r.handleWithRetry(tctx, shard, token, e)
			cancel()
			if errors.Is(err, ErrLeaseLost) {
				r.log.Warn("lease lost, leaving shard", "shard", shard)
				return err
			}
			if err != nil {
				dead, ferr := r.in.Fail(ctx, shard, e, err)
				r.log.Error("turn failed", "shard", shard, "entry", e.StreamID, "dead_letter", dead, "err", err)
				if ferr != nil {
					r.log.Error("record turn failure", "shard", shard, "err", ferr)
				}
				r.observe(e.Msg.Channel, 0, "failed")
				// Re-read from the pending list so that the failed entry is tried again
				// before anything behind it: a contact's messages keep their order.
				rd.Again()
				sleep(ctx, 200*time.Millisecond)
				break
			}
		}
	}
	return nil
}

func (r *Runner) handleWithRetry(ctx context.Context, shard int, token string, e inbox.Entry) error {
	var err error
	for range 3 {
		if err = r.Handle(ctx, shard, token, e); !errors.Is(err, ErrVersion) {
			return err
		}
	}
	return err
}

// Handle runs one turn for an inbox entry: two round trips (load, commit).
func (r *Runner) Handle(ctx context.Context, shard int, token string, e inbox.Entry) error {
	start := r.now()
	in := e.Msg
	if in.Contact == "" {
		return fmt.Errorf("entry %s has no contact", e.StreamID)
	}
	hash := r.hash(in.Channel, in.Contact)
	keys := KeysFor(r.cfg.Prefix, shard, in.Channel, hash)
	s, err := LoadSession(ctx, r.rdb, keys, r.cfg.Sealer)
	if errors.Is(err, ErrUndecodable) {
		r.log.Error("session unreadable, starting afresh", "shard", shard, "contact", ShortHash(hash))
	} else if err != nil {
		return err
	}
	if s.New() {
		s.Channel, s.Test = in.Channel, in.Test
	}
	next, prompts, effects := r.m.Step(s, EventFrom(in), r.now())
	if in.Effect == nil && !in.Received.IsZero() {
		next.LastSeen = in.Received
	}
	var outs []channels.Outbound
	if o, ok := Localize(r.b, next, prompts); ok {
		o.ID = in.ID + ":0"
		o.Channel, o.Contact, o.From, o.Lane, o.Test = in.Channel, in.Contact, in.To, channels.LaneReply, in.Test
		if in.Channel == channels.WhatsApp && !next.LastSeen.IsZero() {
			o.Until = next.LastSeen.Add(channels.WhatsAppWindow - channels.WindowMargin)
		}
		outs = append(outs, o)
	}
	var jobs []EffectJob
	stopAlerts := ""
	for i, ef := range effects {
		if ef.Kind == EffectAlertsUnsubscribe && ef.Data["route"] == "" || ef.Kind == EffectErase {
			stopAlerts = hash
		}
		job := EffectJob{ID: in.ID + ":e" + strconv.Itoa(i), Kind: ef.Kind, Data: ef.Data,
			Channel: in.Channel, Contact: in.Contact, To: in.To, Hash: hash, Shard: shard, Lang: next.Lang, Test: in.Test, At: r.now()}
		if err := job.seal(r.cfg.Sealer); err != nil {
			return err
		}
		jobs = append(jobs, job)
	}
	ttl := int64(0)
	if next.Owner == OwnerBot {
		ttl = int64(r.cfg.ChatTTL / time.Second)
		if in.Channel == channels.Voice {
			ttl = int64(r.cfg.VoiceTTL / time.Second)
		}
	}
	outbox := OutboxKey(r.cfg.Prefix, shard)
	if in.Channel == channels.Voice {
		// Said at the call's next turn, not sent.
		outbox = SayKey(r.cfg.Prefix, shard, hash)
	}
	_, err = Commit{
		Keys: keys, LeaseKey: LeaseKey(r.cfg.Prefix, shard), Token: token, Session: next, TTL: ttl,
		LangTTL: int64(r.cfg.LangTTL / time.Second), Outbound: outs, Effects: jobs, StreamID: e.StreamID,
		InboxKey: r.in.StreamKey(shard), InboxGrp: inbox.Group, Attempts: keys.Tag + "attempts",
		OutboxKey: outbox, EffectKey: EffectsKey(r.cfg.Prefix, shard),
		Seen: seen(in), Sealer: r.cfg.Sealer, StopAlerts: stopAlerts,
	}.Save(ctx, r.rdb)
	if err != nil {
		return err
	}
	if in.Channel == channels.Voice && in.Effect != nil && in.Effect.Kind == channels.EventCallEnded {
		// Nobody will hear it now.
		if err := r.rdb.Del(ctx, outbox).Err(); err != nil {
			r.log.Warn("drop what an ended call was to hear", "err", err)
		}
	}
	d := r.now().Sub(start)
	r.observe(in.Channel, d, "ok")
	if !r.log.Enabled(ctx, slog.LevelDebug) {
		return nil
	}
	r.log.Debug("turn", "shard", shard, "contact", ShortHash(hash), "msg_id", in.ID, "at", next.At.Flow+"."+next.At.Step,
		"owner", next.Owner, "replies", len(outs), "effects", len(jobs), "ms", d.Milliseconds())
	return nil
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

// Turn runs one turn of a call now and returns what to say: Twilio waits for the
// answer. turn is the number its action URL carries: a turn already taken (Twilio
// asking again after a lost answer) is not taken twice, the question is said again.
// What earlier effects left for the call to hear comes first. It holds no lease: a
// call's turns come one at a time, and the session's version check keeps it whole.
func (r *Runner) Turn(ctx context.Context, in channels.Inbound, turn int) (channels.Outbound, error) {
	shard := channels.ShardOf(in.Channel, in.Contact, r.in.Shards())
	hash := r.hash(in.Channel, in.Contact)
	keys := KeysFor(r.cfg.Prefix, shard, in.Channel, hash)
	say := SayKey(r.cfg.Prefix, shard, hash)
	var err error
	for range 3 {
		var o channels.Outbound
		if o, err = r.voiceTurn(ctx, in, turn, shard, hash, keys, say); !errors.Is(err, ErrVersion) {
			return o, err
		}
	}
	return channels.Outbound{}, err
}

func (r *Runner) voiceTurn(ctx context.Context, in channels.Inbound, turn, shard int, hash string, keys Keys, say string) (channels.Outbound, error) {
	start := r.now()
	s, err := LoadSession(ctx, r.rdb, keys, r.cfg.Sealer)
	if errors.Is(err, ErrUndecodable) {
		r.log.Error("session unreadable, starting afresh", "shard", shard, "contact", ShortHash(hash))
	} else if err != nil {
		return channels.Outbound{}, err
	}
	if s.New() {
		s.Channel, s.Test = in.Channel, in.Test
	}
	waiting, err := r.rdb.XRange(ctx, say, "-", "+").Result()
	if err != nil {
		return channels.Outbound{}, fmt.Errorf("read what the call is to hear: %w", err)
	}
	var (
		next    Session
		prompts []Prompt
		effects []Effect
	)
	if turn > 0 && turn <= s.Turn {
		next, prompts = s, r.m.Prompts(s)
	} else {
		next, prompts, effects = r.m.Step(s, EventFrom(in), r.now())
		next.Turn = turn
	}
	o, _ := Localize(r.b, next, prompts)
	o.ID = in.ID
	o.Channel, o.Contact, o.From, o.Test = in.Channel, in.Contact, in.To, in.Test
	var before []channels.Utterance
	for _, m := range waiting {
		var w channels.Outbound
		if raw, ok := m.Values["m"].(string); ok && json.Unmarshal([]byte(raw), &w) == nil {
			before = append(before, w.Speech...)
		}
	}
	o.Speech = append(before, o.Speech...)
	var jobs []EffectJob
	stopAlerts := ""
	for i, ef := range effects {
		if ef.Kind == EffectAlertsUnsubscribe && ef.Data["route"] == "" || ef.Kind == EffectErase {
			stopAlerts = hash
		}
		job := EffectJob{ID: in.ID + ":e" + strconv.Itoa(i), Kind: ef.Kind, Data: ef.Data,
			Channel: in.Channel, Contact: in.Contact, To: in.To, Hash: hash, Shard: shard, Lang: next.Lang, Test: in.Test, At: r.now()}
		if err := job.seal(r.cfg.Sealer); err != nil {
			return channels.Outbound{}, err
		}
		jobs = append(jobs, job)
	}
	ttl := int64(0)
	if next.Owner == OwnerBot {
		ttl = int64(r.cfg.VoiceTTL / time.Second)
	}
	if _, err := (Commit{
		Keys: keys, Session: next, TTL: ttl, LangTTL: int64(r.cfg.LangTTL / time.Second), Effects: jobs,
		InboxKey: r.in.StreamKey(shard), Attempts: keys.Tag + "attempts", OutboxKey: say,
		EffectKey: EffectsKey(r.cfg.Prefix, shard), Sealer: r.cfg.Sealer, StopAlerts: stopAlerts,
	}).Save(ctx, r.rdb); err != nil {
		return channels.Outbound{}, err
	}
	if len(waiting) > 0 {
		ids := make([]string, len(waiting))
		for i, m := range waiting {
			ids[i] = m.ID
		}
		if err := r.rdb.XDel(ctx, say, ids...).Err(); err != nil {
			// Said now; heard again at worst.
			r.log.Warn("forget what the call heard", "err", err)
		}
	}
	r.observe(in.Channel, r.now().Sub(start), "ok")
	return o, nil
}
