package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLeaseLost means another process holds the shard now: stop working it.
var ErrLeaseLost = errors.New("shard lease lost")

// readScript claims entries only while the caller's token still holds the lease. A
// blocking XREADGROUP cannot be fenced: Redis would hand new entries to a stale
// holder's waiting read, and the new holder, past its pending read, would never see
// them. So claiming never blocks; waiting is done with a plain XREAD, which claims
// nothing.
var readScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('LEASE') end
local a = {'XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', ARGV[4], 'STREAMS'}
for i = 2, #KEYS do table.insert(a, KEYS[i]) end
for i = 2, #KEYS do table.insert(a, ARGV[5]) end
return redis.call(unpack(a))
`)

// Entry is one stream entry.
type Entry struct {
	Stream string
	ID     string
	Values map[string]string
	// Redelivered marks an entry read again from the pending list: it may have been
	// partly handled before (by a process that died, or a failed attempt).
	Redelivered bool
}

// Reader reads one or more streams of a shard (all under the shard's hash tag) for a
// consumer group, in order: what was left pending first, then new entries.
type Reader struct {
	rdb      redis.UniversalClient
	lease    string
	token    string
	group    string
	consumer string
	keys     []string
	count    int
	block    time.Duration
	last     []string // per stream, the newest ID seen: XREAD waits for what follows
	pending  bool
	full     bool // the last batch was as large as asked for: more may wait already
}

// NewReader returns a Reader of keys for the lease holder token. It starts with the
// entries left pending by whoever held the shard before.
func NewReader(rdb redis.UniversalClient, leaseKey, token, group, consumer string, keys []string, count int, block time.Duration) *Reader {
	last := make([]string, len(keys))
	for i := range last {
		last[i] = "0-0"
	}
	return &Reader{rdb: rdb, lease: leaseKey, token: token, group: group, consumer: consumer, keys: keys,
		count: count, block: block, last: last, pending: true}
}

// Prepare creates the consumer groups, retrying until ctx ends: a shard whose group
// could not be made on a passing error must not stay unworked.
func (r *Reader) Prepare(ctx context.Context) error {
	wait := 100 * time.Millisecond
	for {
		var err error
		for _, k := range r.keys {
			e := r.rdb.XGroupCreateMkStream(ctx, k, r.group, "0").Err()
			if e != nil && !strings.Contains(e.Error(), "BUSYGROUP") {
				err = fmt.Errorf("create group %s on %s: %w", r.group, k, e)
			}
		}
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// Again makes the next Next re-read the pending entries, for an entry that failed and
// must be tried again before anything behind it.
func (r *Reader) Again() { r.pending = true }

// Next returns the next batch: pending entries while there are any, then new ones,
// waiting up to the block time for them. An empty batch means nothing came.
func (r *Reader) Next(ctx context.Context) ([]Entry, error) {
	if r.pending {
		es, err := r.claim(ctx, "0")
		if err != nil || len(es) > 0 {
			return es, err
		}
		r.pending = false
	}
	if r.full {
		// More is likely waiting: claim without asking first.
		es, err := r.claim(ctx, ">")
		if err != nil || len(es) > 0 {
			return es, err
		}
	}
	// Otherwise ask first: XREAD answers at once when anything newer than what we saw
	// is there, so a wake-up costs two round trips, not three.
	woke, err := r.wait(ctx)
	if err != nil || !woke {
		return nil, err
	}
	es, err := r.claim(ctx, ">")
	if err == nil && len(es) == 0 {
		// Something newer than what we saw is in the stream, yet nothing is new to the
		// group: it was claimed under our consumer name by a read that never came back
		// (a stale holder's). It is ours to handle: re-read the pending entries.
		r.pending = true
	}
	return es, err
}

// wait blocks until a stream has an entry newer than the newest seen, claiming none.
func (r *Reader) wait(ctx context.Context) (bool, error) {
	streams := append(append([]string{}, r.keys...), r.last...)
	res, err := r.rdb.XRead(ctx, &redis.XReadArgs{Streams: streams, Count: 1, Block: r.block}).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("wait on %s: %w", r.keys[0], err)
	}
	return len(res) > 0, nil
}

func (r *Reader) claim(ctx context.Context, id string) ([]Entry, error) {
	keys := append([]string{r.lease}, r.keys...)
	res, err := readScript.Run(ctx, r.rdb, keys, r.token, r.group, r.consumer, r.count, id).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		if strings.TrimPrefix(err.Error(), "ERR ") == "LEASE" {
			return nil, ErrLeaseLost
		}
		return nil, fmt.Errorf("read %s: %w", r.keys[0], err)
	}
	var out, gone []Entry
	streams, _ := res.([]any)
	for _, s := range streams {
		pair, _ := s.([]any)
		if len(pair) != 2 {
			continue
		}
		name, _ := pair[0].(string)
		msgs, _ := pair[1].([]any)
		for _, m := range msgs {
			mp, _ := m.([]any)
			if len(mp) != 2 {
				continue
			}
			e := Entry{Stream: name, Values: map[string]string{}, Redelivered: id == "0"}
			e.ID, _ = mp[0].(string)
			fields, _ := mp[1].([]any)
			if fields == nil {
				// Deleted after it was claimed (handled, then trimmed): only its
				// pending record is left, which must go or it comes back forever.
				gone = append(gone, e)
				continue
			}
			for i := 0; i+1 < len(fields); i += 2 {
				k, _ := fields[i].(string)
				v, _ := fields[i+1].(string)
				e.Values[k] = v
			}
			out = append(out, e)
			r.seen(name, e.ID)
		}
	}
	r.full = len(out)+len(gone) >= r.count
	for _, e := range gone {
		if err := r.rdb.XAck(ctx, e.Stream, r.group, e.ID).Err(); err != nil {
			return nil, fmt.Errorf("drop pending record of deleted entry: %w", err)
		}
	}
	return out, nil
}

func (r *Reader) seen(stream, id string) {
	for i, k := range r.keys {
		if k == stream && newer(id, r.last[i]) {
			r.last[i] = id
		}
	}
}

// newer compares stream IDs "ms-seq".
func newer(a, b string) bool {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	if len(am) != len(bm) {
		return len(am) > len(bm)
	}
	if am != bm {
		return am > bm
	}
	if len(as) != len(bs) {
		return len(as) > len(bs)
	}
	return as > bs
}
