package dialogs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// TestShardRunnerKeepsTheSessionsItSaved: a contact's next turn starts from the
// session the runner saved, not from a read of Redis. Shown by spoiling the stored
// session while keeping its version: a runner that read it back would start the
// conversation afresh; this one goes on where the contact was, like a contact whose
// session nobody touched, and its save mends what was spoiled.
func TestShardRunnerKeepsTheSessionsItSaved(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		g := newRig(t, rdb, prefix, 4)
		c, send := g.conversation(t, "+15005550205", "hello", "1")
		// A second contact in the same shard, worked by the same runner, whose session
		// nobody touches.
		other := ""
		for n := 300; other == ""; n++ {
			if a := fmt.Sprintf("+15005550%d", n); channels.ShardOf(channels.SMS, a, 4) == c.Shard {
				other = a
			}
		}
		control := Conv{Channel: channels.SMS, Shard: c.Shard, Contact: plainHash(channels.SMS, other)}
		sendControl := g.sender(t, other)
		sendControl("SMcontrol0", "hello")
		sendControl("SMcontrol1", "1")
		g.settle(t, c)
		key := KeysFor(prefix, c.Shard, c.Channel, c.Contact).Session
		if err := rdb.HSet(ctx, key, "d", "spoiled").Err(); err != nil {
			t.Fatal(err)
		}
		sendControl("SMcontrol", "2")
		send("SMcached", "2")
		g.settle(t, c)
		want, got := g.session(t, control), g.session(t, c)
		if got.At != want.At || got.Lang != want.Lang || got.Version != want.Version {
			t.Errorf("after the turn: at %v, %q, version %d; want %v, %q, version %d as for an untouched contact",
				got.At, got.Lang, got.Version, want.At, want.Lang, want.Version)
		}
	})
}

// TestKeptSessionNeverHidesAChange: an operator takes a conversation while its session
// is kept by the shard's runner. The contact's next message goes to the operator, and
// the bot says nothing: the version the commit checks makes the runner read the
// change. Given back to the bot, the conversation is the bot's again at once.
func TestKeptSessionNeverHidesAChange(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		g := newRig(t, rdb, prefix, 4)
		c, send := g.conversation(t, "+15005550103", "hello", "1") // at the main menu
		if _, err := g.runner.Claim(ctx, c, "op1"); err != nil {
			t.Fatal(err)
		}
		before := len(g.replies(t, c.Shard))
		send("SMafterclaim", "1")
		g.settle(t, c)
		if n := len(g.replies(t, c.Shard)) - before; n != 0 {
			t.Errorf("the bot answered %d times after an operator took the conversation", n)
		}
		if kinds := strings.Join(g.effectKinds(t, c.Shard), " "); strings.Count(kinds, EffectHandoffInbound) != 1 {
			t.Errorf("effects %v: want the message forwarded to the operator once", kinds)
		}
		if _, err := g.runner.Release(ctx, c, "op1"); err != nil {
			t.Fatal(err)
		}
		before = len(g.replies(t, c.Shard))
		send("SMafterrelease", "hello")
		g.settle(t, c)
		waitFor(t, func() bool { return len(g.replies(t, c.Shard)) > before })
		if s := g.session(t, c); s.Owner != OwnerBot {
			t.Errorf("owner %q after the hand-back and a message, want the bot", s.Owner)
		}
	})
}

func TestSessionCacheBounds(t *testing.T) {
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	c := newSessionCache()
	c.max = 2
	c.put("a", 1, []byte("x"), now)
	c.put("b", 1, []byte("y"), now)
	c.put("c", 1, []byte("z"), now)
	if len(c.entries) != 2 {
		t.Errorf("%d entries kept, want at most 2", len(c.entries))
	}
	if _, ok := c.get("c", now); !ok {
		t.Error("the entry just kept is not there")
	}
	if _, ok := c.get("c", now.Add(cacheMaxAge+time.Second)); ok {
		t.Error("an entry older than the age limit is still used")
	}
	c.put("d", 2, []byte("w"), now)
	if _, ok := c.get("d", now.Add(-time.Second)); ok {
		t.Error("an entry from the future (a clock that went back) is used")
	}
	var none *sessionCache
	none.put("a", 1, nil, now)
	none.drop("a")
	if _, ok := none.get("a", now); ok {
		t.Error("no cache holds something")
	}
	if cacheable(channels.Voice) || cacheable(channels.WhatsApp) || !cacheable(channels.SMS) || !cacheable(channels.Telegram) {
		t.Error("cacheable channels wrong")
	}
}
