package dialogs

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/inbox"
)

// TestATurnCommittedIsNotTakenAgain: a turn's commit went through but its answer was
// lost (Redis stopped as it answered; the client tried again once it was back, and the
// runner, told the session had changed, runs the turn again). The second run finds its
// message handled and does nothing: one reply, one step of the conversation.
func TestATurnCommittedIsNotTakenAgain(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		g := newRig(t, rdb, prefix, 4)
		contact := "+15005550006"
		shard := channels.ShardOf(channels.SMS, contact, 4)
		tok := g.lease(t, shard, "a")
		e := g.readEntry(t, shard, tok, contact)
		for range 2 {
			if err := g.runner.Handle(ctx, shard, tok, e); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(g.replies(t, shard)); n != 1 {
			t.Errorf("%d replies queued for one message, want 1", n)
		}
		s, err := LoadSession(ctx, rdb, KeysFor(prefix, shard, channels.SMS, plainHash(channels.SMS, contact)), nil)
		if err != nil || s.Version != 1 {
			t.Errorf("session version %d (%v), want 1: the turn was taken once", s.Version, err)
		}
		if n, _ := g.in.Backlog(ctx, shard); n != 0 {
			t.Errorf("inbox holds %d entries", n)
		}
	})
}

// TestACommitTriedAgainIsToldItIsDone: the client sends the same commit again after
// the answer to the first was lost. The second writes nothing and says the turn is
// done, as an error the caller must handle: never a version a caller could keep. The
// mark that says so expires.
func TestACommitTriedAgainIsToldItIsDone(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		g := newRig(t, rdb, prefix, 4)
		shard := 2
		tok := g.lease(t, shard, "a")
		id := g.readOne(t, shard, tok, "+15005552000")
		c := g.commitOf(shard, tok, id)
		if v, err := c.Save(ctx, rdb); err != nil || v != 1 {
			t.Fatalf("first commit: %d, %v", v, err)
		}
		if v, err := c.Save(ctx, rdb); !errors.Is(err, ErrCommitted) || v != 0 {
			t.Fatalf("commit tried again: %d, %v; want ErrCommitted", v, err)
		}
		if n := len(g.replies(t, shard)); n != 1 {
			t.Errorf("%d replies queued, want 1", n)
		}
		if ttl := rdb.PTTL(ctx, channels.Tag(prefix, shard)+"done:"+id).Val(); ttl <= 0 {
			t.Errorf("the mark of a committed turn does not expire (PTTL %v)", ttl)
		}
	})
}

// TestAnEntryLostWithoutItsCommitIsStillTaken: a failover (or a crash with the last
// writes unsynced) lost the inbound entry that a runner had already read, and its
// turn was never committed. The entry's absence is not taken for a commit: the turn is
// taken, and the person answered.
func TestAnEntryLostWithoutItsCommitIsStillTaken(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		g := newRig(t, rdb, prefix, 4)
		contact := "+15005550011"
		shard := channels.ShardOf(channels.SMS, contact, 4)
		tok := g.lease(t, shard, "a")
		e := g.readEntry(t, shard, tok, contact)
		if err := rdb.XDel(ctx, g.in.StreamKey(shard), e.StreamID).Err(); err != nil {
			t.Fatal(err)
		}
		if err := g.runner.Handle(ctx, shard, tok, e); err != nil {
			t.Fatal(err)
		}
		if n := len(g.replies(t, shard)); n != 1 {
			t.Errorf("%d replies queued, want 1: the message was skipped", n)
		}
		s, err := LoadSession(ctx, rdb, KeysFor(prefix, shard, channels.SMS, plainHash(channels.SMS, contact)), nil)
		if err != nil || s.Version != 1 {
			t.Errorf("session version %d (%v), want 1: the turn was not taken", s.Version, err)
		}
		// Same at the commit itself: no mark, no "committed already".
		id := g.readOne(t, shard, tok, "+15005551000")
		if err := rdb.XDel(ctx, g.in.StreamKey(shard), id).Err(); err != nil {
			t.Fatal(err)
		}
		if v, err := g.commitOf(shard, tok, id).Save(ctx, rdb); err != nil || v != 1 {
			t.Errorf("commit of a lost entry: %d, %v; want version 1", v, err)
		}
	})
}

// readEntry queues a message from contact and reads it as the holder of shard (contact
// must fall in it).
func (g *rig) readEntry(t *testing.T, shard int, tok, contact string) inbox.Entry {
	t.Helper()
	ctx := context.Background()
	in := channels.Inbound{ID: "SM" + contact[1:], Channel: channels.SMS, Contact: contact, Text: "hello"}
	if got := channels.ShardOf(in.Channel, contact, g.in.Shards()); got != shard {
		t.Fatalf("contact %s is in shard %d, not %d", contact, got, shard)
	}
	if _, err := g.in.Enqueue(ctx, in); err != nil {
		t.Fatal(err)
	}
	rd := g.in.Reader(shard, LeaseKey(g.prefix, shard), tok, 10, 10*time.Millisecond)
	if err := rd.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		batch, err := rd.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, se := range batch {
			if e := g.in.Decode(se); e.Msg.ID == in.ID {
				return e
			}
		}
	}
	t.Fatalf("message from %s never read", contact)
	return inbox.Entry{}
}

// readOne queues a message in shard from a contact near the one given and returns its stream
// ID, read as the shard's holder.
func (g *rig) readOne(t *testing.T, shard int, tok, contact string) string {
	t.Helper()
	for i := 0; i < 1000; i++ {
		c := contact[:len(contact)-3] + fmt.Sprintf("%03d", i)
		if channels.ShardOf(channels.SMS, c, g.in.Shards()) == shard {
			return g.readEntry(t, shard, tok, c).StreamID
		}
	}
	t.Fatalf("no contact near %s in shard %d", contact, shard)
	return ""
}

// commitOf is a plain turn's commit that acknowledges the entry id.
func (g *rig) commitOf(shard int, tok, id string) Commit {
	keys := KeysFor(g.prefix, shard, channels.SMS, "h-"+id)
	return Commit{Keys: keys, LeaseKey: LeaseKey(g.prefix, shard), Token: tok, Session: Session{Owner: OwnerBot},
		TTL: 60, LangTTL: 60, StreamID: id, InboxKey: g.in.StreamKey(shard), InboxGrp: inbox.Group,
		Attempts: keys.Tag + "attempts", OutboxKey: OutboxKey(g.prefix, shard), EffectKey: EffectsKey(g.prefix, shard),
		Outbound: []channels.Outbound{{ID: id + ":0", Parts: []string{"hi"}}}}
}
