package inbox

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/stream"
)

// TestFailByAFormerHolderDoesNothing: a process that lost the shard's lease without
// knowing fails a turn. It must not count the attempt, nor move the entry to the dead
// letters while the new holder works on it: the new holder still reads it, and only
// its own failures count.
func TestFailByAFormerHolderDoesNothing(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		b := New(rdb, Config{Prefix: prefix, Shards: 2, MaxAttempts: 1}, quiet)
		m := msg("SM00000000000000000000000000000021", "+15005550006", "where is the boat")
		shard := channels.ShardOf(m.Channel, m.Contact, 2)
		lease := channels.Tag(prefix, shard) + "lease"
		old := holder(t, rdb, b, prefix, shard, "old")
		if _, err := b.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		es := next(t, b, old)
		if len(es) != 1 {
			t.Fatalf("read %d entries", len(es))
		}
		cur := holder(t, rdb, b, prefix, shard, "new") // the lease moved on
		dead, err := b.Fail(ctx, shard, lease, "old", es[0], errors.New("boom"))
		if !errors.Is(err, stream.ErrLeaseLost) || dead {
			t.Fatalf("former holder's fail: dead=%v err=%v, want ErrLeaseLost", dead, err)
		}
		if letters, _ := b.DeadLetters(ctx, shard); len(letters) != 0 {
			t.Errorf("%d dead letters from a former holder", len(letters))
		}
		if n, _ := rdb.HLen(ctx, channels.Tag(prefix, shard)+"attempts").Result(); n != 0 {
			t.Errorf("a former holder's attempt was counted")
		}
		again := next(t, b, cur)
		if len(again) != 1 || again[0].StreamID != es[0].StreamID {
			t.Fatalf("new holder read %+v, want the entry", again)
		}
		if dead, err := b.Fail(ctx, shard, lease, "new", again[0], errors.New("boom")); err != nil || !dead {
			t.Fatalf("holder's fail: dead=%v err=%v", dead, err)
		}
	})
}
