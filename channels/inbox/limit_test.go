package inbox

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/stream"
)

// clock is a test clock that moves only when told.
type clock struct{ at atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.at.Store(time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) now() time.Time          { return time.Unix(0, c.at.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.at.Add(int64(d)) }

func hashed(ch channels.Channel, contact string) string {
	return "h" + string(ch) + strings.TrimPrefix(contact, "+")
}

// limited is an inbox that lets a contact send limit messages a minute.
func limited(rdb redis.UniversalClient, prefix string, limit int, c *clock) *Inbox {
	return New(rdb, Config{Prefix: prefix, Shards: 4, ContactLimit: limit, ContactWindow: time.Minute,
		Hash: hashed, Now: c.now}, quiet)
}

func overOf(t *testing.T, b *Inbox, rd *stream.Reader) []string {
	t.Helper()
	var got []string
	for _, e := range next(t, b, rd) {
		got = append(got, fmt.Sprintf("%s:%d", e.Msg.Text, e.Msg.OverLimit))
	}
	return got
}

// allBackends is backends and the in-process server the hotline embeds without
// REDIS_URL: the count runs in the enqueue script, which must work on all three.
func allBackends(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient, prefix string)) {
	backends(t, f)
	t.Run("embedded", func(t *testing.T) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { rdb.Close() })
		f(t, rdb, "t:")
	})
}

// TestContactLimitMarksWhatComesOver: past the limit, a contact's new messages are
// still queued, in order, marked with how far over they came; a provider's retry is
// neither queued nor counted again; another contact has a count of their own; and a
// new window starts the count afresh.
func TestContactLimitMarksWhatComesOver(t *testing.T) {
	allBackends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		c := newClock()
		b := limited(rdb, prefix, 3, c)
		flooder, other := "+15005550006", "+15005550007"
		send := func(id int, contact, text string) bool {
			t.Helper()
			isNew, err := b.Enqueue(ctx, msg(fmt.Sprintf("SM%032d", id), contact, text))
			if err != nil {
				t.Fatal(err)
			}
			return isNew
		}
		for i := range 5 {
			if !send(i, flooder, fmt.Sprint("f", i)) {
				t.Fatalf("message %d taken as a retry", i)
			}
			// Twilio retries every message: the retry is neither queued nor counted.
			if send(i, flooder, "retry") {
				t.Fatalf("retry of %d queued", i)
			}
		}
		send(10, other, "o0")
		shard := channels.ShardOf(channels.SMS, flooder, 4)
		rd := holder(t, rdb, b, prefix, shard, "a")
		got := overOf(t, b, rd)
		if want := "[f0:0 f1:0 f2:0 f3:1 f4:2]"; fmt.Sprint(got) != want {
			t.Errorf("flooder's entries %v, want %s", got, want)
		}
		oshard := channels.ShardOf(channels.SMS, other, 4)
		if oshard != shard {
			if got := overOf(t, b, holder(t, rdb, b, prefix, oshard, "b")); fmt.Sprint(got) != "[o0:0]" {
				t.Errorf("other contact's entries %v, want [o0:0]", got)
			}
		}

		// The next window: counted from zero again.
		c.advance(time.Minute)
		send(5, flooder, "f5")
		if got := overOf(t, b, rd); fmt.Sprint(got) != "[f5:0]" {
			t.Errorf("first message of a new window %v, want [f5:0]", got)
		}

		// The counters are named by the keyed hash, never the number, and expire.
		keys, err := scanAll(ctx, rdb, prefix+"*rate:*")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			t.Fatal("no counter keys")
		}
		for _, k := range keys {
			if strings.Contains(k, "+15005550006") {
				t.Errorf("counter key %q holds the number", k)
			}
			if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Minute {
				t.Errorf("counter %q expires in %v, want within the window", k, ttl)
			}
		}
	})
}

// scanAll lists the keys matching pattern on every master of a Cluster, or on the one
// server.
func scanAll(ctx context.Context, rdb redis.UniversalClient, pattern string) ([]string, error) {
	var keys []string
	scan := func(ctx context.Context, c *redis.Client) error {
		it := c.Scan(ctx, 0, pattern, 100).Iterator()
		for it.Next(ctx) {
			keys = append(keys, it.Val())
		}
		return it.Err()
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return scan(ctx, c)
		})
		return keys, err
	}
	return keys, scan(ctx, rdb.(*redis.Client))
}

// TestContactLimitCountsOnlyWhatPeopleSend: calls, effect results and what the spool
// replays are never counted nor marked; with the limit off, nothing is.
func TestContactLimitCountsOnlyWhatPeopleSend(t *testing.T) {
	allBackends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		c := newClock()
		spool, err := OpenSpool(filepath.Join(t.TempDir(), "spool.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		defer spool.Close()
		b := New(rdb, Config{Prefix: prefix, Shards: 1, ContactLimit: 1, ContactWindow: time.Minute, Hash: hashed, Now: c.now,
			Spool: spool}, quiet)
		contact := "+15005550006"
		// Spooled while Redis was away: replayed later, uncounted.
		for i := range 3 {
			if err := spool.Append(msg(fmt.Sprintf("SMspool%d", i), contact, fmt.Sprint("spooled", i))); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := b.ReplaySpool(ctx); err != nil || n != 3 {
			t.Fatalf("replayed %d, err %v", n, err)
		}
		call := channels.Inbound{ID: "CA1:ended", Channel: channels.Voice, Contact: "CA1", Effect: &channels.EffectResult{Kind: channels.EventCallEnded}}
		for i := range 3 {
			if _, err := b.Enqueue(ctx, channels.Inbound{ID: fmt.Sprint("CA", i), Channel: channels.Voice, Contact: contact, Text: "1"}); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Enqueue(ctx, channels.Inbound{ID: fmt.Sprint("SM", i, ":blocked"), Channel: channels.SMS, Contact: contact,
				Effect: &channels.EffectResult{Kind: channels.EventBlocked}}); err != nil {
				t.Fatal(err)
			}
			if err := b.Requeue(ctx, channels.Inbound{ID: fmt.Sprint("SM", i, ":e0:r"), Channel: channels.SMS, Contact: contact,
				Effect: &channels.EffectResult{Kind: "case.saved", OK: true}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.Enqueue(ctx, call); err != nil {
			t.Fatal(err)
		}
		// Only now the first counted message, within the limit of 1; the second is over.
		for i := range 2 {
			if _, err := b.Enqueue(ctx, msg(fmt.Sprintf("SMlive%d", i), contact, fmt.Sprint("live", i))); err != nil {
				t.Fatal(err)
			}
		}
		var over []string
		for _, e := range next(t, b, holder(t, rdb, b, prefix, 0, "a")) {
			if e.Msg.OverLimit > 0 {
				over = append(over, e.Msg.ID)
			}
		}
		if fmt.Sprint(over) != "[SMlive1]" {
			t.Errorf("marked %v, want only [SMlive1]", over)
		}

		// Off: nothing counted, nothing marked.
		off := New(rdb, Config{Prefix: prefix + "off:", Shards: 1, Hash: hashed, Now: c.now}, quiet)
		for i := range 3 {
			if _, err := off.Enqueue(ctx, msg(fmt.Sprintf("SMoff%d", i), contact, "x")); err != nil {
				t.Fatal(err)
			}
		}
		for _, e := range next(t, off, holder(t, rdb, off, prefix+"off:", 0, "b")) {
			if e.Msg.OverLimit != 0 {
				t.Errorf("limit off: %s marked %d", e.Msg.ID, e.Msg.OverLimit)
			}
		}
		if keys, _ := scanAll(ctx, rdb, prefix+"off:*rate:*"); len(keys) != 0 {
			t.Errorf("limit off left counters %v", keys)
		}
	})
}
