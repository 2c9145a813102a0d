package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// Group is the consumer group of the outbound streams; the consumer is the shard.
const Group = "sender"

// sentTTL is how long a sent-mark is kept: longer than any retry or replay can take.
const sentTTL = 72 * time.Hour

// item is an outbound message as it waits in the retry set.
type item struct {
	Out     channels.Outbound `json:"out"`
	Attempt int               `json:"attempt"`
}

// promoteScript moves retries that are due back into the reply lane.
var promoteScript = redis.NewScript(`
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 32)
for _, m in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'm', m)
  redis.call('ZREM', KEYS[1], m)
end
return #due
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
}

// Outbox sends the outbound messages of the shards this process holds.
type Outbox struct {
	rdb     redis.UniversalClient
	senders map[channels.Channel]channels.Sender
	cfg     Config
	now     func() time.Time
	log     *slog.Logger
	report  func(Result)
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
	if report == nil {
		report = func(Result) {}
	}
	return &Outbox{rdb: rdb, senders: senders, cfg: cfg, now: now, log: log, report: report}
}

func (o *Outbox) keys(shard int) (reply, bulk, retry, dead, tag string) {
	tag = channels.Tag(o.cfg.Prefix, shard)
	return tag + "outbox", tag + "outbox:bulk", tag + "outbox:retry", tag + "outbox:dead", tag
}

// RunShard sends a shard's messages until ctx ends: waiting replies first, bulk only
// when no reply waits, and due retries moved back into the reply lane.
func (o *Outbox) RunShard(ctx context.Context, shard int) error {
	reply, bulk, retry, _, _ := o.keys(shard)
	for _, k := range []string{reply, bulk} {
		if err := o.rdb.XGroupCreateMkStream(ctx, k, Group, "0").Err(); err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
			return fmt.Errorf("outbox group %s: %w", k, err)
		}
	}
	consumer := "s" + strconv.Itoa(shard)
	pending := true
	var pauseUntil time.Time
	for ctx.Err() == nil {
		if wait := pauseUntil.Sub(o.now()); wait > 0 {
			sleep(ctx, wait)
			continue
		}
		if err := promoteScript.Run(ctx, o.rdb, []string{retry, reply}, o.now().UnixMilli()).Err(); err != nil && ctx.Err() == nil {
			o.log.Warn("promote retries", "shard", shard, "err", err)
		}
		msgs, stream, err := o.read(ctx, consumer, reply, bulk, pending)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			o.log.Warn("read outbox", "shard", shard, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		if pending && len(msgs) == 0 {
			pending = false
			continue
		}
		for _, m := range msgs {
			// A message in hand is finished even at shutdown: it may be half sent.
			pause, err := o.handle(context.WithoutCancel(ctx), shard, stream, m)
			if err != nil {
				o.log.Error("outbox bookkeeping failed", "shard", shard, "err", err)
				pending = true
				sleep(ctx, time.Second)
				break
			}
			if pause > 0 {
				pauseUntil = o.now().Add(pause)
				break
			}
			if ctx.Err() != nil {
				return nil
			}
		}
	}
	return nil
}

// read takes pending entries of both lanes first (what a previous holder left), then
// new replies, then new bulk messages only when no reply waits.
func (o *Outbox) read(ctx context.Context, consumer, reply, bulk string, pending bool) ([]redis.XMessage, string, error) {
	if pending {
		for _, k := range []string{reply, bulk} {
			res, err := o.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: Group, Consumer: consumer,
				Streams: []string{k, "0"}, Count: 32, Block: -1}).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return nil, "", err
			}
			if len(res) > 0 && len(res[0].Messages) > 0 {
				return res[0].Messages, k, nil
			}
		}
		return nil, "", nil
	}
	res, err := o.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: Group, Consumer: consumer,
		Streams: []string{reply, ">"}, Count: 32, Block: -1}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", err
	}
	if len(res) > 0 && len(res[0].Messages) > 0 {
		return res[0].Messages, reply, nil
	}
	res, err = o.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: Group, Consumer: consumer,
		Streams: []string{bulk, ">"}, Count: 8, Block: -1}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", err
	}
	if len(res) > 0 && len(res[0].Messages) > 0 {
		return res[0].Messages, bulk, nil
	}
	// Nothing waits: block on the reply lane, so that a reply goes out the moment it
	// is committed.
	res, err = o.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: Group, Consumer: consumer,
		Streams: []string{reply, ">"}, Count: 32, Block: o.cfg.Block}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", err
	}
	if len(res) > 0 {
		return res[0].Messages, reply, nil
	}
	return nil, reply, nil
}

// handle sends one queued message, piece by piece. Each piece is marked sent as soon as
// the provider accepts it: a crash between the two is the only way a piece goes twice.
// It returns how long the whole shard must pause when the provider asked for it.
func (o *Outbox) handle(ctx context.Context, shard int, stream string, m redis.XMessage) (time.Duration, error) {
	_, _, retryKey, deadKey, tag := o.keys(shard)
	raw, _ := m.Values["m"].(string)
	var it item
	if err := json.Unmarshal([]byte(raw), &it); err != nil || it.Out.ID == "" {
		// The runner queues a bare Outbound; the retry set queues an item.
		var out channels.Outbound
		if err2 := json.Unmarshal([]byte(raw), &out); err2 != nil || out.ID == "" {
			o.log.Error("undecodable outbound dropped", "shard", shard, "entry", m.ID)
			return 0, o.ack(ctx, stream, m.ID)
		}
		it = item{Out: out}
	}
	out := it.Out
	sender, ok := o.senders[out.Channel]
	if !ok {
		o.log.Error("no sender for channel, message set aside", "channel", out.Channel, "msg_id", out.ID)
		return 0, o.bury(ctx, stream, m.ID, deadKey, it, "no sender for channel "+string(out.Channel))
	}
	for _, p := range sender.Render(out) {
		mark := tag + "sent:" + out.ID + "/" + strconv.Itoa(p.Seq)
		if n, err := o.rdb.Exists(ctx, mark).Result(); err != nil {
			return 0, fmt.Errorf("check sent-mark: %w", err)
		} else if n == 1 {
			continue
		}
		start := o.now()
		err := sender.Send(ctx, out, p)
		if err == nil {
			if err := o.rdb.Set(ctx, mark, "1", sentTTL).Err(); err != nil {
				return 0, fmt.Errorf("mark sent: %w", err)
			}
			o.report(Result{Channel: out.Channel, Outcome: "sent", Duration: o.now().Sub(start)})
			continue
		}
		var se *channels.SendError
		if !errors.As(err, &se) {
			se = &channels.SendError{Message: err.Error()}
		}
		switch {
		case se.OptedOut:
			o.report(Result{Channel: out.Channel, Outcome: "opted_out", Code: se.Code})
			o.log.Warn("recipient opted out at the provider; not retried", "msg_id", out.ID, "code", se.Code)
			return 0, o.bury(ctx, stream, m.ID, deadKey, it, se.Error())
		case se.Permanent:
			o.report(Result{Channel: out.Channel, Outcome: "failed", Code: se.Code})
			o.log.Error("permanent send failure", "msg_id", out.ID, "status", se.Status, "code", se.Code)
			return 0, o.bury(ctx, stream, m.ID, deadKey, it, se.Error())
		}
		it.Attempt++
		if it.Attempt >= o.cfg.MaxAttempts {
			o.report(Result{Channel: out.Channel, Outcome: "dead", Code: se.Code})
			o.log.Error("send retries exhausted", "msg_id", out.ID, "attempts", it.Attempt, "status", se.Status)
			return 0, o.bury(ctx, stream, m.ID, deadKey, it, se.Error())
		}
		wait := o.cfg.Backoff(it.Attempt)
		if se.RetryAfter > wait {
			wait = se.RetryAfter
		}
		o.report(Result{Channel: out.Channel, Outcome: "retry", Code: se.Code})
		o.log.Warn("send failed, will retry", "msg_id", out.ID, "attempt", it.Attempt, "status", se.Status,
			"code", se.Code, "wait_ms", wait.Milliseconds())
		b, _ := json.Marshal(it)
		if _, err := o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, retryKey, redis.Z{Score: float64(o.now().Add(wait).UnixMilli()), Member: b})
			p.XAck(ctx, stream, Group, m.ID)
			p.XDel(ctx, stream, m.ID)
			return nil
		}); err != nil {
			return 0, fmt.Errorf("schedule retry: %w", err)
		}
		// A provider that says "slow down" means it for every message, not this one.
		if se.RetryAfter > 0 {
			return se.RetryAfter, nil
		}
		return 0, nil
	}
	return 0, o.ack(ctx, stream, m.ID)
}

func (o *Outbox) ack(ctx context.Context, stream, id string) error {
	_, err := o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, stream, Group, id)
		p.XDel(ctx, stream, id)
		return nil
	})
	return err
}

// bury sets a message aside where operators can see it, and acknowledges it.
func (o *Outbox) bury(ctx context.Context, stream, id, deadKey string, it item, reason string) error {
	letter, _ := json.Marshal(map[string]any{"out": it.Out, "attempts": it.Attempt, "error": reason, "at": o.now()})
	_, err := o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, deadKey, letter)
		p.LTrim(ctx, deadKey, 0, 9999)
		p.Expire(ctx, deadKey, 7*24*time.Hour)
		p.XAck(ctx, stream, Group, id)
		p.XDel(ctx, stream, id)
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
