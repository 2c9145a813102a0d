package inbox

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/stream"
)

// TestDeadLetterReplayedOnceOrDiscarded: a message set aside after its turns failed is
// read again, once, however often the replay is asked (its provider ID was seen, and
// that must not stop it); another is discarded and never read again.
func TestDeadLetterReplayedOnceOrDiscarded(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		b := New(rdb, Config{Prefix: prefix, Shards: 1, MaxAttempts: 1}, quiet)
		rd := holder(t, rdb, b, prefix, 0, "tok")
		bury(t, b, rd, prefix, msg("SM00000000000000000000000000000011", "+15005550006", "poison"),
			msg("SM00000000000000000000000000000012", "+15005550007", "junk"))
		letters, err := b.DeadLetters(ctx, 0)
		if err != nil || len(letters) != 2 {
			t.Fatalf("dead letters: %d, %v", len(letters), err)
		}
		byText := map[string]string{}
		for _, raw := range letters {
			d, err := ParseDeadLetter(raw)
			if err != nil || !d.Replayable() || d.Attempts != 1 || d.Error != "boom" {
				t.Fatalf("letter %+v (%v)", d, err)
			}
			byText[d.Msg.Text] = raw
		}
		for i := range 3 {
			if done, err := b.ReplayDead(ctx, 0, byText["poison"]); err != nil || done != (i == 0) {
				t.Fatalf("replay %d: %v %v", i, done, err)
			}
		}
		if done, err := b.DiscardDead(ctx, 0, byText["junk"]); err != nil || !done {
			t.Fatalf("discard: %v %v", done, err)
		}
		if done, _ := b.ReplayDead(ctx, 0, byText["junk"]); done {
			t.Error("a discarded letter was replayed")
		}
		es := next(t, b, rd)
		if len(es) != 1 || es[0].Msg.Text != "poison" || es[0].Msg.ID != "SM00000000000000000000000000000011" {
			t.Fatalf("read after the replay: %+v", es)
		}
		if left, _ := b.DeadLetters(ctx, 0); len(left) != 0 {
			t.Errorf("%d dead letters left", len(left))
		}
		// An entry that could not be read leaves nothing to replay.
		if _, err := b.ReplayDead(ctx, 0, `{"stream_id":"1-0","msg":{"id":"undecodable:1-0"},"error":"x"}`); err == nil {
			t.Error("replayed a letter that holds no message")
		}
	})
}

// TestErasurePurgesTheContactsDeadLetters: a contact's DELETE drops the messages of
// theirs set aside; another contact's stay.
func TestErasurePurgesTheContactsDeadLetters(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		b := New(rdb, Config{Prefix: prefix, Shards: 1, MaxAttempts: 1}, quiet)
		rd := holder(t, rdb, b, prefix, 0, "tok")
		bury(t, b, rd, prefix, msg("SM00000000000000000000000000000021", "+15005550006", "my son Ali"),
			msg("SM00000000000000000000000000000022", "+15005550006", "born 2001"),
			msg("SM00000000000000000000000000000023", "+15005550007", "junk"))
		if n, err := b.PurgeDead(ctx, 0, channels.SMS, "+15005550006"); err != nil || n != 2 {
			t.Fatalf("purged %d, %v; want 2", n, err)
		}
		letters, _ := b.DeadLetters(ctx, 0)
		if len(letters) != 1 {
			t.Fatalf("%d letters left, want 1", len(letters))
		}
		if d, _ := ParseDeadLetter(letters[0]); d.Msg.Contact != "+15005550007" {
			t.Errorf("the letter left is from %s", d.Msg.Contact)
		}
		if n, err := b.PurgeDead(ctx, 0, channels.Telegram, "+15005550007"); err != nil || n != 0 {
			t.Errorf("another channel's address: purged %d, %v; want 0", n, err)
		}
	})
}

// bury queues msgs in shard 0 of b (MaxAttempts 1), reads them as rd's holder ("tok")
// and fails each turn once, which makes each a dead letter.
func bury(t *testing.T, b *Inbox, rd *stream.Reader, prefix string, msgs ...channels.Inbound) {
	t.Helper()
	ctx := context.Background()
	for _, m := range msgs {
		if _, err := b.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range next(t, b, rd) {
		if dead, err := b.Fail(ctx, 0, channels.Tag(prefix, 0)+"lease", "tok", e, errors.New("boom")); err != nil || !dead {
			t.Fatalf("fail: %v %v", dead, err)
		}
	}
}
