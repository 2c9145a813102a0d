package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/coalesce"
	"github.com/hotline-org/hotline/channels/stream"
)

// Group is the consumer group of every shard stream. The consumer name is the shard, not
// the process, so that a new lease holder re-reads what a dead holder left pending.
const Group = "runner"

// seenTTL is how long a provider message ID is remembered. Providers retry for minutes
// at most (Twilio within 15 s, Telegram a little longer); a day is a wide margin.
const seenTTL = 24 * time.Hour

// enqueueTimeout bounds the Redis call of a webhook before it spools instead.
const enqueueTimeout = 2 * time.Second

// enqueueScript records the provider ID and appends the message only if the ID is new:
// one round trip, and a retried webhook is never queued twice. When ARGV[3] (the
// contact's limit) is above 0 it also counts the new message in the contact's window
// (KEYS[3], which expires with the window) and, past the limit, marks the entry with
// how far past it is (field 'thr'): the message is kept, and the runner decides.
var enqueueScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return false end
local limit = tonumber(ARGV[3])
if limit > 0 then
  local n = redis.call('INCR', KEYS[3])
  if n == 1 or redis.call('PTTL', KEYS[3]) < 0 then redis.call('PEXPIRE', KEYS[3], ARGV[4]) end
  if n > limit then
    return redis.call('XADD', KEYS[2], '*', 'm', ARGV[2], 'thr', tostring(n - limit))
  end
end
return redis.call('XADD', KEYS[2], '*', 'm', ARGV[2])
`)

// failScript counts a failed attempt at an entry; past the limit it moves the entry to
// the shard's dead-letter list (which expires, since entries hold personal data) and
// acknowledges it so that the shard moves on. Only the lease holder (KEYS[4] holds
// ARGV[6]) may: a process that lost the shard without knowing would otherwise take
// away an entry that the new holder is working on.
var failScript = redis.NewScript(`
if redis.call('GET', KEYS[4]) ~= ARGV[6] then return redis.error_reply('LEASE') end
local n = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if n < tonumber(ARGV[3]) then return 0 end
redis.call('LPUSH', KEYS[3], ARGV[4])
redis.call('LTRIM', KEYS[3], 0, 9999)
redis.call('EXPIRE', KEYS[3], ARGV[5])
redis.call('XACK', KEYS[1], ARGV[2], ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`)

// Entry is one message read from a shard stream.
type Entry struct {
	StreamID string
	Msg      channels.Inbound
}

// Config sets up an Inbox.
type Config struct {
	Prefix      string        // key prefix, for tests and shared Redis servers
	Shards      int           // number of shards, fixed per deployment
	MaxAttempts int           // failed attempts before an entry becomes a dead letter
	DeadTTL     time.Duration // how long dead letters are kept
	Spool       *Spool        // where accepted messages wait while Redis is away; may be nil
	// ContactLimit is how many new messages a contact may send in each ContactWindow
	// (fixed windows of Now's clock) before the rest are marked OverLimit; 0 counts
	// nothing. Only what a person sends is counted: not calls, which run their own
	// turns, nor effect results, nor what the spool replays.
	ContactLimit  int
	ContactWindow time.Duration
	// Hash names a contact's counter: a keyed hash, never the address. Without it
	// nothing is counted.
	Hash func(channels.Channel, string) string
	Now  func() time.Time
}

// Inbox is the durable inbound queue: one Redis stream per shard.
type Inbox struct {
	rdb redis.UniversalClient
	cfg Config
	log *slog.Logger
}

// New returns an Inbox on rdb.
func New(rdb redis.UniversalClient, cfg Config, log *slog.Logger) *Inbox {
	if cfg.Shards <= 0 {
		cfg.Shards = channels.DefaultShards
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.DeadTTL <= 0 {
		cfg.DeadTTL = 7 * 24 * time.Hour
	}
	if cfg.ContactLimit < 0 || cfg.ContactWindow <= 0 || cfg.Hash == nil {
		cfg.ContactLimit = 0
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Inbox{rdb: rdb, cfg: cfg, log: log}
}

// ContactLimit is how many messages a contact may send in each window before the
// rest are marked; 0 when nothing is counted.
func (b *Inbox) ContactLimit() (n int, window time.Duration) {
	return b.cfg.ContactLimit, b.cfg.ContactWindow
}

// Shards is the number of shards.
func (b *Inbox) Shards() int { return b.cfg.Shards }

// StreamKey is the key of a shard's inbound stream.
func (b *Inbox) StreamKey(shard int) string { return channels.Tag(b.cfg.Prefix, shard) + "inbox" }

// Consumer is the consumer name used for a shard.
func Consumer(shard int) string { return "s" + strconv.Itoa(shard) }

// Enqueue makes an accepted message durable. While the spool holds messages, new ones
// join it behind them, so that replay keeps their order; when Redis fails, the message
// is spooled instead of refused, because a provider's retries would end before Redis
// returns. A new message from a person counts towards their limit in the same round
// trip; one over it is still kept (and answered 200: refusing would only make the
// provider retry it), marked for the runner.
func (b *Inbox) Enqueue(ctx context.Context, in channels.Inbound) (bool, error) {
	if sp := b.cfg.Spool; sp != nil {
		spooled, err := sp.AppendIfBusy(in)
		if err != nil {
			return false, err
		}
		if spooled {
			return true, nil
		}
	}
	// Twilio gives up after 15 s; a Redis that hangs rather than refuses must not take
	// that long to send the message to the spool.
	// It goes at once, never in line behind the shards' work (channels/coalesce): the
	// provider is waiting for the answer.
	actx, cancel := context.WithTimeout(coalesce.Now(ctx), enqueueTimeout)
	isNew, err := b.add(actx, in, in.Effect == nil && in.Channel != channels.Voice)
	cancel()
	if err == nil || b.cfg.Spool == nil {
		return isNew, err
	}
	b.log.Warn("redis unreachable, spooling message", "msg_id", in.ID, "err", err)
	if serr := b.cfg.Spool.Append(in); serr != nil {
		return false, fmt.Errorf("spool after redis error (%v): %w", err, serr)
	}
	return true, nil
}

// add appends a message whose ID is new; count says whether it counts towards its
// contact's limit.
func (b *Inbox) add(ctx context.Context, in channels.Inbound, count bool) (bool, error) {
	payload, err := json.Marshal(in)
	if err != nil {
		return false, fmt.Errorf("encode inbound %s: %w", in.ID, err)
	}
	shard := channels.ShardOf(in.Channel, in.Contact, b.cfg.Shards)
	tag := channels.Tag(b.cfg.Prefix, shard)
	seen := tag + "seen:" + string(in.Channel) + ":" + in.ID
	// Unused, the third key is the first again: a Cluster still wants it in the slot.
	counter, limit := seen, 0
	if count && b.cfg.ContactLimit > 0 {
		counter, limit = b.counterKey(tag, in.Channel, in.Contact), b.cfg.ContactLimit
	}
	res, err := enqueueScript.Run(ctx, b.rdb, []string{seen, tag + "inbox", counter},
		int(seenTTL/time.Second), payload, limit, b.cfg.ContactWindow.Milliseconds()).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("enqueue %s: %w", in.ID, err)
	}
	return res != nil, nil
}

// counterKey is where a contact's messages are counted in the current window. The
// window's number is in the name, so that the injected clock, not Redis's, says when
// a window ends, and one that ends is never counted into again.
func (b *Inbox) counterKey(tag string, ch channels.Channel, contact string) string {
	w := b.cfg.Now().UnixMilli() / b.cfg.ContactWindow.Milliseconds()
	return tag + "rate:" + string(ch) + ":" + b.cfg.Hash(ch, contact) + ":" + strconv.FormatInt(w, 10)
}

// Requeue appends a message behind what the shard already holds, de-duplicated on its
// ID like a provider's: an effect result returned twice (its worker died between the
// two steps) is handled once, so every reply ID is queued once.
func (b *Inbox) Requeue(ctx context.Context, in channels.Inbound) error {
	if _, err := b.add(ctx, in, false); err != nil {
		return fmt.Errorf("requeue %s: %w", in.ID, err)
	}
	return nil
}

// Reader returns a reader of a shard's stream for the holder (token) of its lease.
func (b *Inbox) Reader(shard int, leaseKey, token string, count int, block time.Duration) *stream.Reader {
	return stream.NewReader(b.rdb, leaseKey, token, Group, Consumer(shard), []string{b.StreamKey(shard)}, count, block)
}

// Decode turns a stream entry into an inbox entry. An entry that cannot be decoded
// comes back with an ID that says so, for the runner to set aside.
func (b *Inbox) Decode(e stream.Entry) Entry {
	out := Entry{StreamID: e.ID}
	if err := json.Unmarshal([]byte(e.Values["m"]), &out.Msg); err != nil {
		b.log.Error("undecodable inbox entry", "stream_id", e.ID, "err", err)
		out.Msg = channels.Inbound{ID: "undecodable:" + e.ID}
		return out
	}
	if v := e.Values["thr"]; v != "" {
		// A mark that cannot be read counts as over: the limit errs on the side of
		// the other contacts, and a message of danger gets its turn whatever.
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			n = 2
		}
		out.Msg.OverLimit = n
	}
	return out
}

// Fail records a failed attempt at an entry and reports whether it was moved to the
// dead letters, past the attempt limit. token must hold the shard's lease (leaseKey,
// as given to Reader); otherwise nothing is recorded and the error is
// stream.ErrLeaseLost.
func (b *Inbox) Fail(ctx context.Context, shard int, leaseKey, token string, e Entry, cause error) (dead bool, err error) {
	tag := channels.Tag(b.cfg.Prefix, shard)
	letter, _ := json.Marshal(DeadLetter{StreamID: e.StreamID, Msg: e.Msg, Error: cause.Error(), Attempts: b.cfg.MaxAttempts})
	n, err := failScript.Run(ctx, b.rdb, []string{tag + "inbox", tag + "attempts", tag + "dead", leaseKey},
		e.StreamID, Group, b.cfg.MaxAttempts, letter, int(b.cfg.DeadTTL/time.Second), token).Int()
	if err != nil {
		// Redis prefixes script errors with "ERR "; the embedded server does not.
		if strings.TrimPrefix(err.Error(), "ERR ") == "LEASE" {
			return false, stream.ErrLeaseLost
		}
		return false, fmt.Errorf("record failure of %s: %w", e.StreamID, err)
	}
	return n == 1, nil
}

// DeadLetters returns the dead letters of a shard, newest first, as stored JSON.
func (b *Inbox) DeadLetters(ctx context.Context, shard int) ([]string, error) {
	return b.rdb.LRange(ctx, channels.Tag(b.cfg.Prefix, shard)+"dead", 0, -1).Result()
}

// Backlog is how many entries a shard stream holds (handled entries are deleted).
func (b *Inbox) Backlog(ctx context.Context, shard int) (int64, error) {
	return b.rdb.XLen(ctx, b.StreamKey(shard)).Result()
}

// ReplaySpool moves spooled messages into Redis, in order; it returns how many moved.
func (b *Inbox) ReplaySpool(ctx context.Context) (int, error) {
	if b.cfg.Spool == nil {
		return 0, nil
	}
	n, err := b.cfg.Spool.Replay(ctx, func(ctx context.Context, in channels.Inbound) error {
		_, err := b.add(ctx, in, false)
		return err
	})
	if n > 0 {
		b.log.Info("replayed spooled messages", "count", n)
	}
	return n, err
}

// RunSpool replays the spool every interval until ctx ends.
func (b *Inbox) RunSpool(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if b.cfg.Spool.Pending() == 0 {
				continue
			}
			if _, err := b.ReplaySpool(ctx); err != nil {
				b.log.Warn("spool replay paused", "err", err)
			}
		}
	}
}

// Spooled is how many accepted messages wait in the local spool.
func (b *Inbox) Spooled() int {
	if b.cfg.Spool == nil {
		return 0
	}
	return b.cfg.Spool.Pending()
}

// AdoptSpools replays the spools that other processes left behind in dir (a process
// replaced during a Redis outage comes back under another name) and removes each once
// it is empty. A spool still locked by a live process is left to it.
func (b *Inbox) AdoptSpools(ctx context.Context, dir string) (int, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "spool-*.jsonl"))
	if err != nil {
		return 0, err
	}
	total := 0
	for _, p := range paths {
		if b.cfg.Spool != nil && p == b.cfg.Spool.path {
			continue
		}
		sp, err := OpenSpool(p)
		if err != nil {
			continue // in use by a live process, or unreadable: not ours to take
		}
		n, err := sp.Replay(ctx, func(ctx context.Context, in channels.Inbound) error {
			_, err := b.add(ctx, in, false)
			return err
		})
		total += n
		empty := err == nil && sp.Pending() == 0
		if empty {
			os.Remove(p)
		}
		sp.Close()
		if empty {
			os.Remove(p + ".lock")
		}
		if err != nil {
			return total, fmt.Errorf("adopt spool %s: %w", filepath.Base(p), err)
		}
		b.log.Warn("replayed a spool left by another process", "file", filepath.Base(p), "count", n)
	}
	return total, nil
}
