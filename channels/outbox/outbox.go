package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/stream"
)

// Group is the consumer group of the outbound streams; the consumer is the shard.
const Group = "sender"

// sentTTL is how long a sent-mark is kept: longer than any retry or replay can take.
const sentTTL = 72 * time.Hour

// promoteScript moves retries that are due back into their lane, in the order they
// were deferred, keeping how many attempts each has had and when each was due. A
// member is "attempts message" (see retryMember).
var promoteScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, 64)
for i = 1, #due, 2 do
  local m = due[i]
  local a, out = string.match(m, '^(%d+) (.*)$')
  redis.call('XADD', KEYS[2], '*', 'm', out, 'a', a, 'd', due[i + 1])
  redis.call('ZREM', KEYS[1], m)
end
return #due / 2
`)

// retried is a message as the retry set keeps it: with where it was first queued, in
// a key of the message's own, which a process of an older version reading it (a
// rolling upgrade, a rollback) ignores rather than failing to decode the message.
type retried struct {
	channels.Outbound
	Origin string `json:"origin,omitempty"`
}

// retryMember is q's member in the retry set.
func retryMember(q queued) string {
	b, _ := json.Marshal(retried{Outbound: q.out, Origin: q.origin})
	return strconv.Itoa(q.attempt) + " " + string(b)
}

// markAckScript records that a message's last piece was sent and acknowledges it in
// one round trip: the sent-mark comes first, so a crash cannot ack an unmarked send.
// A route alert's message is counted in its alert's counts (KEYS[3]) at the same time.
var markAckScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[1])
redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
redis.call('XDEL', KEYS[2], ARGV[3])
if KEYS[3] then redis.call('HINCRBY', KEYS[3], 'sent', 1) end
return 1
`)

// Result is how one outbound message ended, for metrics.
type Result struct {
	Channel  channels.Channel
	Outcome  string // sent, retry, failed, opted_out, dead
	Code     int
	Duration time.Duration
}

// Config sets up an Outbox.
type Config struct {
	Prefix      string
	MaxAttempts int                       // tries before a message is a dead letter
	Backoff     func(n int) time.Duration // wait before the n-th retry
	Block       time.Duration             // how long one read waits for replies
	// Limits paces channels whose provider limits how fast it takes messages.
	Limits map[channels.Channel]Limit
	// Hash names a contact in rate-limit keys; it must not return the address.
	Hash func(ch channels.Channel, contact string) string
	// Events, when set, hears of a contact the channel cannot reach any more (a user
	// who blocked the bot), so that the conversation can end quietly.
	Events channels.Enqueuer
	// Shards is the deployment's shard count, to find a reported message's shard.
	Shards int
	// Concurrency is how many contacts of one shard are sent to at once. A provider
	// call takes tens to hundreds of milliseconds; one at a time, a shard could send
	// only a few messages a second.
	Concurrency int
	// WhatsAppTemplate says an approved template is configured: a reply held outside
	// a contact's 24-hour window brings one, asking them to write. Without it, held
	// replies wait until the contact writes of their own accord.
	WhatsAppTemplate bool
	// Live, when set, says whether a route alert may still go out (not withdrawn); a
	// message of an alert that is not live is dropped.
	Live func(ctx context.Context, alert string) (bool, error)
	// Sleep waits (a test's clock moves faster); nil is the real sleep.
	Sleep func(ctx context.Context, d time.Duration)
	// LeaseTTL is how long a shard's lease outlives its holder's last renewal. A
	// message read longer ago than a quarter of it is sent only after the lease is
	// checked again: a process that stalled (a pause, a starved CPU) while another
	// took the shard over and sent the message must not send it a second time. 0
	// checks nothing.
	LeaseTTL time.Duration
}

// Outbox sends the outbound messages of the shards this process holds.
type Outbox struct {
	rdb     redis.UniversalClient
	senders map[channels.Channel]channels.Sender
	cfg     Config
	now     func() time.Time
	log     *slog.Logger
	report  func(Result)
	health  health
}

// New returns an Outbox sending through one Sender per channel. report (may be nil)
// hears how each message ended.
func New(rdb redis.UniversalClient, senders map[channels.Channel]channels.Sender, cfg Config,
	now func() time.Time, log *slog.Logger, report func(Result)) *Outbox {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Backoff == nil {
		cfg.Backoff = func(n int) time.Duration {
			return min(time.Second<<min(n-1, 8), 2*time.Minute)
		}
	}
	if cfg.Block <= 0 {
		cfg.Block = time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Hash == nil {
		cfg.Limits = nil // no way to name a contact without its address: pace nothing
	}
	if report == nil {
		report = func(Result) {}
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	return &Outbox{rdb: rdb, senders: senders, cfg: cfg, now: now, log: log, report: report}
}

func (o *Outbox) keys(shard int) (reply, bulk, retry, dead, tag string) {
	tag = channels.Tag(o.cfg.Prefix, shard)
	return tag + "outbox", channels.BulkKey(o.cfg.Prefix, shard), tag + "outbox:retry", tag + "outbox:dead", tag
}

// queued is one message read from a lane.
type queued struct {
	stream  string
	id      string
	out     channels.Outbound
	attempt int
	// promoted marks a message back from the retry set; due is when it was due there
	// (Unix ms; 0 when not known), which orders it among its contact's retries.
	promoted bool
	due      int64
	// origin is the ID the message had when it was first queued in its lane: the
	// contact's messages go in the order of their origins, however often each was
	// deferred and brought back meanwhile.
	origin string
	// raw is the message as it was queued, while out is unchanged: its sent-marks
	// hold it without encoding it again.
	raw string
	// read is when the message was read from its lane.
	read time.Time
	// again is set for a message read again after a crash or a pause: some of its
	// pieces may have gone out already. A first read cannot have sent-marks, since
	// every outbound ID is queued once (turns commit once; effect results are
	// de-duplicated), so their check is skipped.
	again bool
}

// shardRun is the state of one lane's sending loop in a shard.
type shardRun struct {
	o     *Outbox
	shard int
	lane  channels.Lane
	// lanes is the stream this loop reads; retry where its failed messages wait.
	stream, retry, dead string
	tag                 string
	// peer is the shard's reply loop, seen from its bulk loop: alerts wait while
	// replies are in hand.
	peer *shardRun
	// pause is shared by the shard's two loops: a provider's "slow down" heard by
	// either holds both (Telegram's applies to the whole bot).
	pause *pause
	// run is the loop's own context: an alert not yet started is left for the next
	// holder when it ends, rather than sent late by a process that lost the shard.
	run context.Context
	// lease and token are the shard's lease and this holder's token, checked before
	// sending a message read long ago.
	lease, token string
	// busy counts the reply batches in hand; the bulk loop starts no send meanwhile.
	busy atomic.Int32
	// ready is closed once the reply loop has read what was left pending: alerts wait
	// until replies a crash interrupted are on their way.
	ready     chan struct{}
	readyOnce sync.Once
	mu        sync.Mutex
	blocked   map[string]time.Time // contact → due time of its last deferred message
	// head is, per blocked contact, when the message that failed (the first of those
	// deferred) is due, in Unix ms. The retry set gives messages back in order of due
	// time: one due at or after the head comes back behind it, and goes, though the
	// last deferred is not due yet. One due before it (deferred before the head failed
	// again) must wait behind it once more.
	head map[string]int64
	// away holds, per contact, the outbound IDs of their messages this loop moved to
	// the retry set and has not finished with (sent, set aside, dropped or held): a new
	// message waits behind them even once their time is due, since the retries come
	// back only at the next promotion (or, on a clock that jumped, long after their due
	// time). Keyed by ID, not counted: a message read again (left pending by a pause)
	// is still one message away. blocked, head and away keep a contact only while some
	// of its messages are away or not yet due.
	away        map[string]map[string]awayMsg
	nextPromote time.Time
	stalled     bool // a message was left pending by a pause: re-read pending
}

// RunShard sends a shard's messages while token holds the shard's lease (leaseKey):
// several contacts at once, each contact's messages in order, due retries moved back
// in. Replies and route alerts have loops of their own, so that no alert waits in
// front of a reply; alerts take only the provider capacity replies leave (see wait).
func (o *Outbox) RunShard(ctx context.Context, shard int, leaseKey, token string) error {
	reply, bulk, retry, dead, tag := o.keys(shard)
	p := &pause{}
	r := &shardRun{o: o, shard: shard, lane: channels.LaneReply, stream: reply, retry: retry, dead: dead, tag: tag,
		lease: leaseKey, token: token,
		blocked: map[string]time.Time{}, head: map[string]int64{}, away: map[string]map[string]awayMsg{}, ready: make(chan struct{}), pause: p}
	b := &shardRun{o: o, shard: shard, lane: channels.LaneBulk, stream: bulk, retry: bulk + ":retry", dead: dead, tag: tag,
		lease: leaseKey, token: token,
		blocked: map[string]time.Time{}, head: map[string]int64{}, away: map[string]map[string]awayMsg{}, peer: r, pause: p}
	consumer := "s" + strconv.Itoa(shard)
	rr := stream.NewReader(o.rdb, leaseKey, token, Group, consumer, []string{reply}, 64, o.cfg.Block)
	// Few alert messages at a time: a batch is sent before the next is read, and a
	// withdrawn alert should stop soon.
	br := stream.NewReader(o.rdb, leaseKey, token, Group, consumer, []string{bulk}, o.cfg.Concurrency, o.cfg.Block)
	errs := make(chan error, 1)
	go func() {
		select {
		case <-r.ready:
		case <-ctx.Done():
		}
		errs <- b.loop(ctx, br)
	}()
	err := r.loop(ctx, rr)
	if berr := <-errs; err == nil {
		err = berr
	}
	return err
}

// loop works one lane until ctx ends or the lease is lost.
func (r *shardRun) loop(ctx context.Context, rd *stream.Reader) error {
	o, shard := r.o, r.shard
	r.run = ctx
	defer r.markReady()
	if err := rd.Prepare(ctx); err != nil {
		return err
	}
	for ctx.Err() == nil {
		if wait := r.paused(); wait > 0 {
			o.cfg.Sleep(ctx, wait)
			rd.Again()
			continue
		}
		if now := o.now(); !now.Before(r.nextPromote) {
			r.nextPromote = now.Add(250 * time.Millisecond)
			r.sweep(now)
			if err := promoteScript.Run(ctx, o.rdb, []string{r.retry, r.stream}, now.UnixMilli()).Err(); err != nil && ctx.Err() == nil {
				o.log.Warn("promote retries", "shard", shard, "err", err)
			}
		}
		entries, err := rd.Next(ctx)
		if len(entries) == 0 {
			r.markReady()
		}
		if errors.Is(err, stream.ErrLeaseLost) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			o.log.Warn("read outbox", "shard", shard, "err", err)
			o.cfg.Sleep(ctx, time.Second)
			continue
		}
		batch, err := r.decode(ctx, entries)
		if err != nil {
			o.log.Error("outbox bookkeeping failed", "shard", shard, "err", err)
			o.cfg.Sleep(ctx, time.Second)
			rd.Again()
			continue
		}
		// Messages in hand are finished even at shutdown: some may be half sent.
		r.busy.Add(1)
		err = r.send(context.WithoutCancel(ctx), batch)
		r.busy.Add(-1)
		if err != nil {
			o.log.Error("outbox bookkeeping failed", "shard", shard, "err", err)
			o.cfg.Sleep(ctx, time.Second)
			rd.Again()
			continue
		}
		r.mu.Lock()
		stalled := r.stalled
		r.stalled = false
		r.mu.Unlock()
		if stalled {
			rd.Again()
		}
	}
	return nil
}

func (r *shardRun) isStalled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stalled
}

// markReady lets the bulk loop start (the reply loop has one; the bulk loop none).
func (r *shardRun) markReady() {
	if r.ready != nil {
		r.readyOnce.Do(func() { close(r.ready) })
	}
}

// pause is until when a provider asked a shard's loops to wait.
type pause struct {
	mu    sync.Mutex
	until time.Time
}

func (p *pause) set(until time.Time) {
	p.mu.Lock()
	if until.After(p.until) {
		p.until = until
	}
	p.mu.Unlock()
}

func (r *shardRun) paused() time.Duration {
	r.pause.mu.Lock()
	defer r.pause.mu.Unlock()
	return r.pause.until.Sub(r.o.now())
}

// leave leaves a message pending for later (a pause, or a bulk loop told to stop).
func (r *shardRun) leave() (bool, error) {
	r.mu.Lock()
	r.stalled = true
	r.mu.Unlock()
	return false, nil
}

// decode turns stream entries into queued messages; one that cannot be read is
// dropped with a log line (it would fail the same way forever).
func (r *shardRun) decode(ctx context.Context, entries []stream.Entry) ([]queued, error) {
	var batch []queued
	for _, e := range entries {
		q := queued{stream: e.Stream, id: e.ID, origin: e.ID, again: e.Redelivered, raw: e.Values["m"], read: r.o.now()}
		var m retried
		err := json.Unmarshal([]byte(q.raw), &m)
		if q.out = m.Outbound; m.Origin != "" {
			q.origin = m.Origin
		}
		if err != nil || q.out.ID == "" {
			r.o.log.Error("undecodable outbound dropped", "shard", r.shard, "entry", e.ID)
			if err := r.o.ack(ctx, e.Stream, e.ID); err != nil {
				return nil, err
			}
			continue
		}
		if a, ok := e.Values["a"]; ok {
			q.attempt, _ = strconv.Atoi(a)
			q.promoted = true
			// A score as Redis writes it ("1764262531123", or another server's 1.7e+12).
			d, _ := strconv.ParseFloat(e.Values["d"], 64)
			q.due = int64(d)
		}
		// A retried message may have had pieces accepted before the one that failed, a
		// held one pieces sent before the window closed, and a dead letter put back
		// (ReplayDead) either.
		q.again = q.again || q.attempt > 0 || e.Values["h"] != "" || e.Values["r"] != ""
		batch = append(batch, q)
	}
	return batch, nil
}

// send works a batch: one goroutine per contact (bounded), each contact's messages in
// the order they were queued.
func (r *shardRun) send(ctx context.Context, batch []queued) error {
	var order []string
	groups := map[string][]queued{}
	for _, q := range batch {
		k := contactKey(q.out)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], q)
	}
	r.mu.Lock()
	for k, qs := range groups {
		// A message back from the retry set was queued before any new one for the
		// contact read with it (the new one came while it was away, and sits before it
		// in the stream only because it was put back later): it goes first. The one
		// that failed goes before those deferred behind it, which can come back
		// with it though due before it (it failed again, with a longer wait, while
		// they were away). Those go in the order they were first queued: some may have
		// come back with the one that failed, and been put behind it, while later ones
		// stayed in the retry set.
		h, failed := r.head[k]
		rank := func(q queued) int {
			switch {
			case failed && q.promoted && q.due == h:
				return 0
			case q.promoted:
				return 1
			}
			return 2
		}
		slices.SortStableFunc(qs, func(a, b queued) int {
			ra, rb := rank(a), rank(b)
			switch {
			case ra != rb:
				return ra - rb
			case ra != 1: // new ones are in the order they were queued already
				return 0
			case originBefore(a.origin, b.origin):
				return -1
			case originBefore(b.origin, a.origin):
				return 1
			}
			return 0
		})
	}
	r.mu.Unlock()
	if len(order) == 1 {
		// One contact (most reads of a shard): no goroutine to start, nor a stack to
		// grow from scratch.
		return r.sendGroup(ctx, groups[order[0]])
	}
	sem := make(chan struct{}, r.o.cfg.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for _, k := range order {
		sem <- struct{}{}
		wg.Add(1)
		go func(qs []queued) {
			defer func() { <-sem; wg.Done() }()
			if err := r.sendGroup(ctx, qs); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(groups[k])
	}
	wg.Wait()
	return firstErr
}

func (r *shardRun) sendGroup(ctx context.Context, qs []queued) error {
	for i, q := range qs {
		contact := contactKey(q.out)
		r.mu.Lock()
		due, blocked := r.blocked[contact]
		h, failed := r.head[contact]
		// Deferred before the message that failed failed again (with a longer wait):
		// it is back first, yet must go after it.
		early := failed && q.promoted && q.due < h
		if blocked && !q.promoted && len(r.away[contact]) == 0 && !r.o.now().Before(due) {
			// Nothing of theirs is away any more (see finish).
			delete(r.blocked, contact)
			delete(r.head, contact)
			blocked = false
		}
		if blocked && failed && q.promoted && !early {
			// The message that failed, or one back from the retry set behind it:
			// deferring it again, behind those still away, would put it after later
			// messages.
			blocked = false
		}
		if !blocked && r.earlierAway(contact, q, r.o.now()) {
			// Queued after one still away (they came back from the retry set in
			// different promotions): it waits behind it.
			// (Something of theirs is away: blocked holds when the last of it is due.)
			blocked = true
		}
		r.mu.Unlock()
		if blocked {
			// An earlier message to this contact waits for a retry: this one waits
			// behind it, so that the contact reads them in order.
			if err := r.deferAll(ctx, qs[i:], due.Add(time.Millisecond), false); err != nil {
				return err
			}
			return nil
		}
		done, err := r.sendOne(ctx, q)
		if err != nil {
			return err
		}
		if done {
			r.finish(contact, q.out.ID)
			continue
		}
		if r.isStalled() {
			// Paused by the provider: this message and the rest stay pending and are
			// read again, in order, when the pause ends.
			return nil
		}
		// q failed for now and was deferred; what follows for the contact waits too.
		r.mu.Lock()
		due = r.blocked[contact]
		r.mu.Unlock()
		if err := r.deferAll(ctx, qs[i+1:], due.Add(time.Millisecond), false); err != nil {
			return err
		}
		return nil
	}
	return nil
}

// sendOne sends a message's pieces not yet marked sent. done is false when the message
// was deferred for a retry (or left pending during a pause).
func (r *shardRun) sendOne(ctx context.Context, q queued) (done bool, err error) {
	o := r.o
	sender, ok := o.senders[q.out.Channel]
	if !ok {
		o.log.Error("no sender for channel, message set aside", "channel", q.out.Channel, "msg_id", q.out.ID)
		return true, r.bury(ctx, q, "no_sender", "no sender for channel "+string(q.out.Channel))
	}
	if drop, err := r.stale(ctx, q.out); err != nil || drop {
		if err != nil {
			return false, err
		}
		o.report(Result{Channel: q.out.Channel, Outcome: "dropped"})
		return true, r.count(ctx, q, "dropped", o.ack(ctx, q.stream, q.id))
	}
	pieces := sender.Render(q.out)
	marks := make([]string, len(pieces))
	for i, p := range pieces {
		marks[i] = r.tag + "sent:" + q.out.ID + "/" + strconv.Itoa(p.Seq)
	}
	sent := make([]bool, len(pieces))
	if q.again && len(marks) > 0 {
		// One round trip for all marks; on the Cluster they share the shard's slot.
		vals, err := o.rdb.MGet(ctx, marks...).Result()
		if err != nil {
			return false, fmt.Errorf("check sent-marks: %w", err)
		}
		for i, v := range vals {
			sent[i] = v != nil
		}
	}
	for i, p := range pieces {
		if sent[i] {
			continue
		}
		if !q.out.Until.IsZero() && o.now().After(q.out.Until) {
			// WhatsApp refuses free text outside its 24-hour window (and counts the
			// attempt against the sender): never try. The contact may have written
			// since this reply was made; if not, it waits for them.
			open, err := o.hold(ctx, q.out, q.stream, q.id, false)
			if err != nil {
				return false, err
			}
			if open.IsZero() {
				return true, nil
			}
			q.out.Until, q.raw = open, ""
		}
		if wait := r.paused(); wait > 0 {
			return r.leave()
		}
		waitCtx := ctx
		if r.lane == channels.LaneBulk {
			// An alert piece not yet started when the shard is given up stays pending
			// for the next holder: only a send already under way is finished.
			waitCtx = r.run
			for r.peer != nil && r.peer.busy.Load() > 0 && waitCtx.Err() == nil {
				// Replies in hand go first; an alert's send starts when none is.
				o.cfg.Sleep(waitCtx, 2*time.Millisecond)
			}
			if waitCtx.Err() != nil {
				return r.leave()
			}
		}
		place := q.out.ID + "/" + strconv.Itoa(p.Seq) + "/" + strconv.Itoa(q.attempt)
		if err := r.wait(waitCtx, q.out, place, r.lane); err != nil {
			if r.lane == channels.LaneBulk && waitCtx.Err() != nil {
				return r.leave()
			}
			return false, err
		}
		// Checked after the pacing wait, which can be long: as near the send as can be.
		if held, err := r.stillHeld(ctx, q); err != nil || !held {
			if err != nil {
				return false, err
			}
			// Another process holds the shard now and has read this message again:
			// it is theirs to send. Left pending; the next read finds the lease gone.
			o.log.Warn("shard lost while a message waited; left to its new holder", "shard", r.shard, "msg_id", q.out.ID)
			return r.leave()
		}
		start := o.now()
		err := sender.Send(ctx, q.out, p)
		if err := r.stamp(ctx, q.out, place, r.lane); err != nil {
			// The send happened: go on; the next wait is only a little short.
			o.log.Warn("rate mark", "shard", r.shard, "err", err)
		}
		if err == nil {
			o.report(Result{Channel: q.out.Channel, Outcome: "sent", Duration: o.now().Sub(start)})
			o.noteSent(ctx, q.out.Channel)
			if i == len(pieces)-1 {
				keys := []string{marks[i], q.stream}
				if q.out.Alert != "" {
					keys = append(keys, channels.AlertKey(o.cfg.Prefix, r.shard, q.out.Alert))
				}
				if err := markAckScript.Run(ctx, o.rdb, keys,
					int(o.markTTL(q.out)/time.Second), Group, q.id, markValue(q)).Err(); err != nil {
					return false, fmt.Errorf("mark sent: %w", err)
				}
				return true, nil
			}
			if err := o.rdb.Set(ctx, marks[i], markValue(q), o.markTTL(q.out)).Err(); err != nil {
				return false, fmt.Errorf("mark sent: %w", err)
			}
			continue
		}
		return r.failed(ctx, q, err)
	}
	// Every piece was sent before (a message read again after a crash).
	return true, o.ack(ctx, q.stream, q.id)
}

// stillHeld reports whether this loop may send q: at once when q was read recently,
// else only once the shard's lease is found still to be this holder's. A token is
// never given out twice, so while it holds the lease nobody else has held the shard
// since q was read, and nobody else can have sent it. (A stall between this check and
// the send is not covered: the check narrows that window to the send itself.)
func (r *shardRun) stillHeld(ctx context.Context, q queued) (bool, error) {
	ttl := r.o.cfg.LeaseTTL
	if ttl <= 0 || r.token == "" || r.o.now().Sub(q.read) < ttl/4 {
		return true, nil
	}
	tok, err := r.o.rdb.Get(ctx, r.lease).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check lease before a late send: %w", err)
	}
	return tok == r.token, nil
}

// failed decides what a failed send means: set aside for good, or deferred.
func (r *shardRun) failed(ctx context.Context, q queued, err error) (bool, error) {
	o := r.o
	var se *channels.SendError
	if !errors.As(err, &se) {
		se = &channels.SendError{Message: err.Error()}
	}
	switch {
	case se.Blocked:
		o.report(Result{Channel: q.out.Channel, Outcome: "blocked", Code: se.Code})
		o.log.Warn("recipient blocked the bot; conversation ends", "msg_id", q.out.ID)
		if o.cfg.Events != nil {
			if _, err := o.cfg.Events.Enqueue(ctx, channels.Inbound{ID: q.out.ID + ":blocked", Channel: q.out.Channel,
				Contact: q.out.Contact, Received: o.now(), Test: q.out.Test,
				Effect: &channels.EffectResult{Kind: channels.EventBlocked, OK: true}}); err != nil {
				return false, fmt.Errorf("report blocked contact: %w", err)
			}
		}
		return true, r.bury(ctx, q, "blocked", se.Error())
	case se.OptedOut:
		o.report(Result{Channel: q.out.Channel, Outcome: "opted_out", Code: se.Code})
		o.log.Warn("recipient opted out at the provider; not retried", "msg_id", q.out.ID, "code", se.Code)
		if o.cfg.Events != nil {
			// The provider took their STOP before we saw it: the conversation must know
			// too, and their route alerts end.
			if _, err := o.cfg.Events.Enqueue(ctx, channels.Inbound{ID: q.out.ID + ":optout", Channel: q.out.Channel,
				Contact: q.out.Contact, Received: o.now(), Test: q.out.Test,
				Effect: &channels.EffectResult{Kind: channels.EventOptedOut, OK: true}}); err != nil {
				return false, fmt.Errorf("report opted-out contact: %w", err)
			}
		}
		return true, r.bury(ctx, q, "opted_out", se.Error())
	case se.Permanent:
		o.report(Result{Channel: q.out.Channel, Outcome: "failed", Code: se.Code})
		o.log.Error("permanent send failure", "msg_id", q.out.ID, "status", se.Status, "code", se.Code)
		return true, r.bury(ctx, q, "failed", se.Error())
	}
	// Not this contact's doing: the provider or the way to it fails.
	o.noteFailed(ctx, q.out.Channel)
	q.attempt++
	if q.attempt >= o.cfg.MaxAttempts {
		o.report(Result{Channel: q.out.Channel, Outcome: "dead", Code: se.Code})
		o.log.Error("send retries exhausted", "msg_id", q.out.ID, "attempts", q.attempt, "status", se.Status)
		return true, r.bury(ctx, q, "dead", se.Error())
	}
	wait := o.cfg.Backoff(q.attempt)
	if se.RetryAfter > wait {
		wait = se.RetryAfter
	}
	if se.RetryAfter > 0 {
		// A provider that says "slow down" means it for every message, not this one.
		r.pause.set(o.now().Add(se.RetryAfter))
	}
	o.report(Result{Channel: q.out.Channel, Outcome: "retry", Code: se.Code})
	o.log.Warn("send failed, will retry", "msg_id", q.out.ID, "attempt", q.attempt, "status", se.Status,
		"code", se.Code, "wait_ms", wait.Milliseconds())
	return false, r.deferAll(ctx, []queued{q}, o.now().Add(wait), true)
}

// deferAll moves messages to the retry set, due one after another from due, and marks
// their contact as waiting until the last is due. counted is set for a message that
// failed: the head of what its contact waits for.
func (r *shardRun) deferAll(ctx context.Context, qs []queued, due time.Time, counted bool) error {
	if len(qs) == 0 {
		return nil
	}
	_, err := r.o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, q := range qs {
			at := due.Add(time.Duration(i) * time.Millisecond)
			p.ZAdd(ctx, r.retry, redis.Z{Score: float64(at.UnixMilli()), Member: retryMember(q)})
			p.XAck(ctx, q.stream, Group, q.id)
			p.XDel(ctx, q.stream, q.id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("defer for retry: %w", err)
	}
	last := due.Add(time.Duration(len(qs)-1) * time.Millisecond)
	r.mu.Lock()
	contact := contactKey(qs[0].out)
	if last.After(r.blocked[contact]) {
		r.blocked[contact] = last
	}
	if counted {
		r.head[contact] = due.UnixMilli()
	}
	ids := r.away[contact]
	if ids == nil {
		ids = map[string]awayMsg{}
		r.away[contact] = ids
	}
	for i, q := range qs {
		// One already away (deferred once more) stays one.
		ids[q.out.ID] = awayMsg{origin: q.origin, due: due.Add(time.Duration(i) * time.Millisecond)}
	}
	r.mu.Unlock()
	return nil
}

// awayMsg is a message in the retry set: where it was first queued, and when it is due.
type awayMsg struct {
	origin string
	due    time.Time
}

// lostAfter is how long past its due time a message away may stay away before the
// contact's later messages stop waiting for it. A message comes back within a
// promotion of its due time, or soon after a provider's pause ends; this is for one
// that never does (its retry entry removed by hand), which must not hold a contact's
// replies forever.
const lostAfter = 10 * time.Minute

// earlierAway reports whether a message of the contact queued before q is away: q
// must not overtake it. The caller holds r.mu.
func (r *shardRun) earlierAway(contact string, q queued, now time.Time) bool {
	for id, m := range r.away[contact] {
		if id != q.out.ID && originBefore(m.origin, q.origin) && now.Sub(m.due) < lostAfter {
			return true
		}
	}
	return false
}

// originBefore orders two stream IDs ("ms-seq") of one lane.
func originBefore(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	ams, _ := strconv.ParseUint(am, 10, 64)
	bms, _ := strconv.ParseUint(bm, 10, 64)
	if ams != bms {
		return ams < bms
	}
	aseq, _ := strconv.ParseUint(as, 10, 64)
	bseq, _ := strconv.ParseUint(bs, 10, 64)
	return aseq < bseq
}

// contactKey names a contact in a loop's blocked, head and away.
func contactKey(out channels.Outbound) string {
	return string(out.Channel) + "\x00" + out.Contact
}

// finish notes that a message of contact is done with (sent, set aside, dropped or
// held). Once none of theirs is away and the last is due, they wait for nothing and
// are forgotten. The last to be finished is normally read after its due time; the
// time is checked all the same, for a message finished while a copy of it is away
// (a carrier's failure report queues one) or a clock that went back: sweep forgets
// such a contact later.
func (r *shardRun) finish(contact, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ids, ok := r.away[contact]; ok {
		delete(ids, id)
		if len(ids) > 0 {
			return
		}
		delete(r.away, contact)
	}
	if due, ok := r.blocked[contact]; ok && !r.o.now().Before(due) {
		delete(r.blocked, contact)
		delete(r.head, contact)
	}
}

// sweep forgets the contacts that wait for nothing any more, so that one that never
// writes again is not kept until the loop ends.
func (r *shardRun) sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for contact, due := range r.blocked {
		if len(r.away[contact]) == 0 && !now.Before(due) {
			delete(r.blocked, contact)
			delete(r.head, contact)
		}
	}
}

// stale reports whether a message must not go any more: a route alert past its end or
// withdrawn.
func (r *shardRun) stale(ctx context.Context, out channels.Outbound) (bool, error) {
	if !out.Expires.IsZero() && !r.o.now().Before(out.Expires) {
		return true, nil
	}
	if out.Alert == "" {
		return false, nil
	}
	if r.o.cfg.Live != nil {
		live, err := r.o.cfg.Live(ctx, out.Alert)
		if err != nil {
			return false, fmt.Errorf("is alert %s live: %w", out.Alert, err)
		}
		if !live {
			return true, nil
		}
	}
	// They may have asked to stop since it was queued or held (STOP ALERTS, STOP,
	// DELETE forget their details at once): then it does not go.
	if _, h := channels.AlertOfMessage(out.ID); h != "" {
		ok, err := r.o.rdb.HExists(ctx, channels.SubsKey(r.o.cfg.Prefix, r.shard), h).Result()
		if err != nil {
			return false, fmt.Errorf("is %s still subscribed: %w", out.ID, err)
		}
		return !ok, nil
	}
	return false, nil
}

// count adds one to a route alert's count of what (once err, the bookkeeping it
// follows, is nil).
func (r *shardRun) count(ctx context.Context, q queued, what string, err error) error {
	if err != nil || q.out.Alert == "" {
		return err
	}
	if err := r.o.rdb.HIncrBy(ctx, channels.AlertKey(r.o.cfg.Prefix, r.shard, q.out.Alert), what, 1).Err(); err != nil {
		return fmt.Errorf("count %s: %w", what, err)
	}
	return nil
}

func (o *Outbox) ack(ctx context.Context, stream, id string) error {
	_, err := o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, stream, Group, id)
		p.XDel(ctx, stream, id)
		return nil
	})
	return err
}

// bury sets a message aside where operators can see it, and acknowledges it. outcome
// says why (see DeadLetter); a contact's refusal (blocked, opted_out) is counted apart,
// since nobody has anything to mend.
func (r *shardRun) bury(ctx context.Context, q queued, outcome, reason string) error {
	letter, _ := json.Marshal(DeadLetter{Out: q.out, Attempts: q.attempt, Error: reason, At: r.o.now(), Outcome: outcome})
	_, err := r.o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if q.out.Alert != "" {
			p.HIncrBy(ctx, channels.AlertKey(r.o.cfg.Prefix, r.shard, q.out.Alert), "failed", 1)
		}
		p.LPush(ctx, r.dead, letter)
		p.LTrim(ctx, r.dead, 0, deadKept-1)
		p.Expire(ctx, r.dead, deadTTL)
		if refused(outcome) {
			refusedKey := RefusedKey(r.o.cfg.Prefix, r.shard)
			p.Incr(ctx, refusedKey)
			p.Expire(ctx, refusedKey, deadTTL)
		}
		p.XAck(ctx, q.stream, Group, q.id)
		p.XDel(ctx, q.stream, q.id)
		return nil
	})
	return err
}

// DeadLetters returns a shard's failed outbound messages, newest first, as JSON.
func (o *Outbox) DeadLetters(ctx context.Context, shard int) ([]string, error) {
	_, _, _, dead, _ := o.keys(shard)
	return o.rdb.LRange(ctx, dead, 0, -1).Result()
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// holdScript holds a WhatsApp reply outside its contact's window, unless the contact
// wrote since it was made (ARGV[9] = '1' skips that check: the provider said closed).
// It sends one template per NudgeEvery asking them to write, and acknowledges the
// reply's entry when it has one, and counts a route alert's hold (KEYS[6], when set).
// It returns the time the contact last wrote when their window is open, -1 when held,
// -2 when held and a template queued.
var holdScript = redis.NewScript(`
if ARGV[9] ~= '1' then
  local seen = tonumber(redis.call('GET', KEYS[1]) or '0')
  if seen + tonumber(ARGV[2]) > tonumber(ARGV[1]) then return seen end
end
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
local r = -1
if ARGV[4] ~= '' and redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[6]) then
  redis.call('XADD', KEYS[4], '*', 'm', ARGV[4])
  r = -2
end
if ARGV[8] ~= '' then
  redis.call('XACK', KEYS[5], ARGV[7], ARGV[8])
  redis.call('XDEL', KEYS[5], ARGV[8])
end
if KEYS[6] then redis.call('HINCRBY', KEYS[6], 'held', 1) end
return r
`)

// hold keeps out for its contact until they write (see holdScript); stream and id name
// its outbox entry, empty when it has none. It returns when the contact's window now
// closes if it is open after all, else zero.
func (o *Outbox) hold(ctx context.Context, out channels.Outbound, stream, id string, force bool) (time.Time, error) {
	if o.cfg.Hash == nil || o.cfg.Shards <= 0 {
		return time.Time{}, fmt.Errorf("hold %s: contact hash or shard count not configured", out.ID)
	}
	shard := channels.ShardOf(out.Channel, out.Contact, o.cfg.Shards)
	w := channels.WindowKeysFor(o.cfg.Prefix, shard, o.cfg.Hash(out.Channel, out.Contact))
	reply, bulk, _, _, _ := o.keys(shard)
	if stream == "" {
		stream = reply
	}
	// The template a route alert brings goes with the alerts: thousands of them must
	// not stand in front of replies.
	tplLane, tplStream := channels.LaneReply, reply
	if out.Alert != "" {
		tplLane, tplStream = channels.LaneBulk, bulk
	}
	var tpl []byte
	if o.cfg.WhatsAppTemplate {
		tpl, _ = json.Marshal(channels.Outbound{ID: out.ID + ":tpl", Channel: out.Channel, Contact: out.Contact,
			From: out.From, Lang: out.Lang, Lane: tplLane, Test: out.Test, Template: true})
	}
	held, _ := json.Marshal(out)
	f := ""
	if force {
		f = "1"
	}
	window := channels.WhatsAppWindow - channels.WindowMargin
	keys := []string{w.Seen, w.Held, w.Nudged, tplStream, stream}
	if out.Alert != "" {
		// Counted with the hold, so that a crash cannot lose the count.
		keys = append(keys, channels.AlertKey(o.cfg.Prefix, shard, out.Alert))
	}
	n, err := holdScript.Run(ctx, o.rdb, keys,
		o.now().UnixMilli(), window.Milliseconds(), held, string(tpl), channels.HeldFor.Milliseconds(),
		channels.NudgeEvery.Milliseconds(), Group, id, f).Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("hold %s: %w", out.ID, err)
	}
	if n >= 0 {
		return time.UnixMilli(n).Add(window), nil
	}
	o.report(Result{Channel: out.Channel, Outcome: "held"})
	if n == -2 {
		o.report(Result{Channel: out.Channel, Outcome: "template"})
	}
	o.log.Info("reply held until the contact writes: outside the 24-hour window", "msg_id", out.ID, "template", n == -2)
	return time.Time{}, nil
}

// markTTL is how long a message's sent-marks are kept: sentTTL, or for a route alert
// until a little after it ends, when nothing of it may be sent again anyway. An alert
// to 100,000 people would otherwise keep 60 MiB of marks for three days.
func (o *Outbox) markTTL(out channels.Outbound) time.Duration {
	if out.Expires.IsZero() {
		return sentTTL
	}
	return min(sentTTL, max(out.Expires.Sub(o.now())+time.Hour, time.Hour))
}

// markValue is what a sent-mark holds: the message itself, so that a provider's later
// report of a failed delivery can send it again without a copy kept elsewhere.
func markValue(q queued) string {
	if q.out.Alert != "" {
		// A route alert is not sent again on a carrier's failure report, and its mark
		// keeps no number in clear: just that it went.
		return "1"
	}
	if q.raw != "" {
		return q.raw
	}
	b, _ := json.Marshal(q.out)
	return string(b)
}

// redeliverScript queues a reported-undelivered message again: it forgets the piece's
// sent-mark (so that only that piece goes again) and re-adds the message, at most
// ARGV[2] times per piece.
var redeliverScript = redis.NewScript(`
local out = redis.call('GET', KEYS[1])
if not out or out == '1' then return 0 end
local n = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[1])
if n > tonumber(ARGV[2]) then return -1 end
redis.call('DEL', KEYS[1])
redis.call('XADD', KEYS[2], '*', 'm', out, 'a', n)
return 1
`)

// maxRedeliveries bounds how often a message a carrier failed to deliver is sent again.
const maxRedeliveries = 3

// RecordDelivery takes a provider's report on a sent message: it is counted, and a
// failure that may pass (a full queue, an unknown carrier error) is sent again.
func (o *Outbox) RecordDelivery(ctx context.Context, rep channels.DeliveryReport) error {
	o.report(Result{Channel: rep.Channel, Outcome: "status_" + rep.Status, Code: rep.Code})
	// An alert message in several parts gets a report per part: its first part's
	// counts for it.
	if alert, _ := channels.AlertOfMessage(rep.OutboundID); alert != "" && rep.Seq == 0 && o.cfg.Shards > 0 {
		field := ""
		switch rep.Status {
		case "delivered":
			field = "delivered"
		case "failed", "undelivered":
			field = "undelivered"
		}
		if field != "" {
			key := channels.AlertKey(o.cfg.Prefix, channels.ShardOf(rep.Channel, rep.Contact, o.cfg.Shards), alert)
			if err := o.rdb.HIncrBy(ctx, key, field, 1).Err(); err != nil {
				return fmt.Errorf("count %s of %s: %w", field, rep.OutboundID, err)
			}
		}
	}
	if rep.Status != "failed" && rep.Status != "undelivered" {
		return nil
	}
	if rep.Code == windowClosed && rep.Channel == channels.WhatsApp {
		return o.holdReported(ctx, rep)
	}
	if !retryableDelivery(rep.Code) {
		o.log.Warn("message not delivered", "msg_id", rep.OutboundID, "status", rep.Status, "code", rep.Code)
		return nil
	}
	if o.cfg.Shards <= 0 {
		return fmt.Errorf("redeliver %s: shard count not configured", rep.OutboundID)
	}
	tag := channels.Tag(o.cfg.Prefix, channels.ShardOf(rep.Channel, rep.Contact, o.cfg.Shards))
	mark := tag + "sent:" + rep.OutboundID + "/" + strconv.Itoa(rep.Seq)
	n, err := redeliverScript.Run(ctx, o.rdb, []string{mark, tag + "outbox", mark + ":redeliveries"},
		int(sentTTL/time.Second), maxRedeliveries).Int()
	if err != nil {
		return fmt.Errorf("redeliver %s: %w", rep.OutboundID, err)
	}
	switch n {
	case 1:
		o.log.Warn("message not delivered; sending again", "msg_id", rep.OutboundID, "code", rep.Code)
	case -1:
		o.log.Error("message not delivered after repeated tries", "msg_id", rep.OutboundID, "code", rep.Code)
	}
	return nil
}

// windowClosed is Twilio's error for free text outside WhatsApp's 24-hour window.
const windowClosed = 63016

// holdReported holds a message WhatsApp refused as outside the window (its clock and
// ours disagreed): the refused piece's sent-mark goes, so that it is sent again, with
// the pieces after it, when the contact writes.
func (o *Outbox) holdReported(ctx context.Context, rep channels.DeliveryReport) error {
	if o.cfg.Shards <= 0 {
		return fmt.Errorf("hold %s: shard count not configured", rep.OutboundID)
	}
	tag := channels.Tag(o.cfg.Prefix, channels.ShardOf(rep.Channel, rep.Contact, o.cfg.Shards))
	mark := tag + "sent:" + rep.OutboundID + "/" + strconv.Itoa(rep.Seq)
	v, err := o.rdb.Get(ctx, mark).Result()
	if errors.Is(err, redis.Nil) || v == "1" {
		o.log.Warn("refused outside the window; message no longer known", "msg_id", rep.OutboundID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("hold %s: %w", rep.OutboundID, err)
	}
	var out channels.Outbound
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		return fmt.Errorf("hold %s: decode: %w", rep.OutboundID, err)
	}
	if _, err := o.hold(ctx, out, "", "", true); err != nil {
		return err
	}
	// Only once it is held: a report that fails here is sent again by Twilio.
	if err := o.rdb.Del(ctx, mark).Err(); err != nil {
		return fmt.Errorf("hold %s: forget sent-mark: %w", rep.OutboundID, err)
	}
	return nil
}

// retryableDelivery reports whether a Twilio delivery error may pass on its own:
// 30001 queue overflow, 30008 unknown error, 30009 missing segment. Unreachable
// handsets (30003) are left to the carrier's own retries; unknown numbers, landlines
// and filtering (30005–30007) and WhatsApp's closed window (63016) are final.
func retryableDelivery(code int) bool {
	switch code {
	case 30001, 30008, 30009:
		return true
	}
	return false
}
