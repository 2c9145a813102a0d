package stream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestStaleClaimIsNotStranded: a read that a stale holder issued under the shard's
// consumer name takes entries after the new holder finished its pending read. The new
// holder must still get them.
func TestStaleClaimIsNotStranded(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		key, lease := prefix+"{s3}:inbox", prefix+"{s3}:lease"
		rdb.Set(ctx, lease, "new", time.Minute)
		rd := NewReader(rdb, lease, "new", "runner", "s3", []string{key}, 10, 20*time.Millisecond)
		if err := rd.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		if es, err := rd.Next(ctx); err != nil || len(es) != 0 {
			t.Fatalf("empty shard: %v, %v", es, err)
		}
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{"m", "hello"}})
		// The stale holder's blocking read, issued long ago, is served now.
		if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "runner", Consumer: "s3",
			Streams: []string{key, ">"}, Count: 10, Block: -1}).Err(); err != nil {
			t.Fatal(err)
		}
		var got []Entry
		for range 3 {
			es, err := rd.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got = es; len(got) > 0 {
				break
			}
		}
		if len(got) != 1 || got[0].Values["m"] != "hello" {
			t.Fatalf("new holder got %+v, want the stranded entry", got)
		}
	})
}

func TestReadIsFencedByTheLease(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		key, lease := prefix+"{s1}:outbox", prefix+"{s1}:lease"
		rdb.Set(ctx, lease, "current", time.Minute)
		stale := NewReader(rdb, lease, "old", "sender", "s1", []string{key, prefix + "{s1}:outbox:bulk"}, 10, 10*time.Millisecond)
		if err := stale.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: key, Values: []any{"m", "x"}})
		if _, err := stale.Next(ctx); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("stale read: %v, want ErrLeaseLost", err)
		}
		n, _ := rdb.XPending(ctx, key, "sender").Result()
		if n.Count != 0 {
			t.Errorf("a stale reader claimed %d entries", n.Count)
		}
		cur := NewReader(rdb, lease, "current", "sender", "s1", []string{key, prefix + "{s1}:outbox:bulk"}, 10, 10*time.Millisecond)
		if es, err := cur.Next(ctx); err != nil || len(es) != 1 {
			t.Fatalf("current holder: %v, %v", es, err)
		}
	})
}

func TestNewer(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"2-0", "1-0", true}, {"10-0", "9-9", true}, {"1-10", "1-9", true}, {"1-1", "1-1", false}, {"0-0", "1-0", false},
	}
	for _, c := range cases {
		if got := newer(c.a, c.b); got != c.want {
			t.Errorf("newer(%s, %s) = %v", c.a, c.b, got)
		}
	}
}
