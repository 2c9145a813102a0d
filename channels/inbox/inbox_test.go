package inbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/channels/stream"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// holder takes a shard's lease under a token of its own, as a runner process would,
// and returns a reader of the shard for it.
func holder(t *testing.T, rdb redis.UniversalClient, b *Inbox, prefix string, shard int, token string) *stream.Reader {
	t.Helper()
	lease := channels.Tag(prefix, shard) + "lease"
	if err := rdb.Set(context.Background(), lease, token, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	rd := b.Reader(shard, lease, token, 100, 10*time.Millisecond)
	if err := rd.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	return rd
}

func next(t *testing.T, b *Inbox, rd *stream.Reader) []Entry {
	t.Helper()
	es, err := rd.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []Entry
	for _, e := range es {
		out = append(out, b.Decode(e))
	}
	return out
}

func msg(id, contact, text string) channels.Inbound {
	return channels.Inbound{ID: id, Channel: channels.SMS, Contact: contact, Text: text,
		Received: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
}

func TestEnqueueDedupesAndKeepsOrderPerShard(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		b := New(rdb, Config{Prefix: prefix, Shards: 4}, quiet)
		contact := "+15005550006"
		shard := channels.ShardOf(channels.SMS, contact, 4)
		rd := holder(t, rdb, b, prefix, shard, "first")
		for i := range 5 {
			id := fmt.Sprintf("SM%032d", i)
			isNew, err := b.Enqueue(ctx, msg(id, contact, fmt.Sprint("text ", i)))
			if err != nil || !isNew {
				t.Fatalf("enqueue %d: new=%v err=%v", i, isNew, err)
			}
			// The provider retries: the same ID is taken but not queued again.
			isNew, err = b.Enqueue(ctx, msg(id, contact, "retry"))
			if err != nil || isNew {
				t.Fatalf("retry %d: new=%v err=%v", i, isNew, err)
			}
		}
		got := next(t, b, rd)
		if len(got) != 5 {
			t.Fatalf("read %d entries, want 5", len(got))
		}
		for i, e := range got {
			if want := fmt.Sprint("text ", i); e.Msg.Text != want {
				t.Errorf("entry %d text %q, want %q", i, e.Msg.Text, want)
			}
		}
		// Unacknowledged, they come back as pending to the next holder of the shard;
		// the first holder can read nothing more.
		rdb.Del(ctx, channels.Tag(prefix, shard)+"lease")
		again := next(t, b, holder(t, rdb, b, prefix, shard, "second"))
		if len(again) != 5 || again[0].StreamID != got[0].StreamID {
			t.Fatalf("pending re-read: %d entries", len(again))
		}
		if _, err := b.Enqueue(ctx, msg(fmt.Sprintf("SM%032d", 99), contact, "late")); err != nil {
			t.Fatal(err)
		}
		if _, err := rd.Next(ctx); !errors.Is(err, stream.ErrLeaseLost) {
			t.Errorf("stale holder read: %v, want ErrLeaseLost", err)
		}
	})
}

func TestFailMovesToDeadLettersAfterMaxAttempts(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		b := New(rdb, Config{Prefix: prefix, Shards: 2, MaxAttempts: 3}, quiet)
		m := msg("SM00000000000000000000000000000001", "+15005550006", "poison")
		shard := channels.ShardOf(m.Channel, m.Contact, 2)
		rd := holder(t, rdb, b, prefix, shard, "tok")
		if _, err := b.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		es := next(t, b, rd)
		for i := 1; i <= 3; i++ {
			dead, err := b.Fail(ctx, shard, channels.Tag(prefix, shard)+"lease", "tok", es[0], errors.New("boom"))
			if err != nil {
				t.Fatal(err)
			}
			if dead != (i == 3) {
				t.Fatalf("attempt %d: dead=%v", i, dead)
			}
		}
		rd.Again()
		if pending := next(t, b, rd); len(pending) != 0 {
			t.Errorf("dead letter still pending: %d", len(pending))
		}
		letters, err := b.DeadLetters(ctx, shard)
		if err != nil || len(letters) != 1 {
			t.Fatalf("dead letters: %v, %v", letters, err)
		}
		if n, _ := b.Backlog(ctx, shard); n != 0 {
			t.Errorf("backlog %d after dead-lettering, want 0 (entries hold text)", n)
		}
	})
}

// TestSpoolWhileRedisIsAway sends messages while Redis cannot be reached: they are all
// accepted into the spool, and replayed in order, once each, when Redis is back.
func TestSpoolWhileRedisIsAway(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		spool, err := OpenSpool(filepath.Join(t.TempDir(), "spool.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		// A client to a port where nothing listens stands for Redis being down.
		down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
		defer down.Close()
		away := New(down, Config{Prefix: prefix, Shards: 1, Spool: spool}, quiet)
		contact := "+15005550006"
		for i := range 4 {
			isNew, err := away.Enqueue(ctx, msg(fmt.Sprintf("SM%032d", i), contact, fmt.Sprint(i)))
			if err != nil || !isNew {
				t.Fatalf("enqueue while away %d: %v", i, err)
			}
		}
		// A provider retry of message 0 while still away is spooled again; replay
		// dedupes it.
		if _, err := away.Enqueue(ctx, msg(fmt.Sprintf("SM%032d", 0), contact, "0")); err != nil {
			t.Fatal(err)
		}
		if spool.Pending() != 5 {
			t.Fatalf("spool holds %d, want 5", spool.Pending())
		}
		// Redis is back: a new message still queues behind the spooled ones.
		back := New(rdb, Config{Prefix: prefix, Shards: 1, Spool: spool}, quiet)
		rd := holder(t, rdb, back, prefix, 0, "tok")
		if _, err := back.Enqueue(ctx, msg(fmt.Sprintf("SM%032d", 9), contact, "9")); err != nil {
			t.Fatal(err)
		}
		n, err := back.ReplaySpool(ctx)
		if err != nil || n != 6 {
			t.Fatalf("replayed %d, err %v; want 6", n, err)
		}
		es := next(t, back, rd)
		var got []string
		for _, e := range es {
			got = append(got, e.Msg.Text)
		}
		if fmt.Sprint(got) != "[0 1 2 3 9]" {
			t.Errorf("after replay: %v, want [0 1 2 3 9]", got)
		}
		if spool.Pending() != 0 {
			t.Errorf("spool still holds %d", spool.Pending())
		}
	})
}

func TestSpoolSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.jsonl")
	s, err := OpenSpool(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Append(msg(fmt.Sprint(i), "+1", "x")); err != nil {
			t.Fatal(err)
		}
	}
	s.Close() // the process stops
	reopened, err := OpenSpool(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	if reopened.Pending() != 3 {
		t.Fatalf("after reopen: %d pending, want 3", reopened.Pending())
	}
	// A replay that fails half-way keeps what was not handed over, in order.
	var taken []string
	n, err := reopened.Replay(context.Background(), func(_ context.Context, in channels.Inbound) error {
		if in.ID == "1" {
			return errors.New("redis went away again")
		}
		taken = append(taken, in.ID)
		return nil
	})
	if n != 1 || err == nil || fmt.Sprint(taken) != "[0]" || reopened.Pending() != 2 {
		t.Fatalf("partial replay: n=%d err=%v taken=%v pending=%d", n, err, taken, reopened.Pending())
	}
}

// TestSpoolTornLineDoesNotSwallowTheNext: a crash mid-write leaves half a line; the
// next accepted message must still be replayed.
func TestSpoolTornLineDoesNotSwallowTheNext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.jsonl")
	if err := os.WriteFile(path, []byte(`{"id":"torn","ch":"sms","fr`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenSpool(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(msg("SM-after", "+1", "after the crash")); err != nil {
		t.Fatal(err)
	}
	var got []string
	if _, err := s.Replay(context.Background(), func(_ context.Context, in channels.Inbound) error {
		got = append(got, in.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[SM-after]" {
		t.Errorf("replayed %v, want [SM-after]", got)
	}
}

func TestSpoolIsNotShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.jsonl")
	s, err := OpenSpool(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenSpool(path); err == nil {
		t.Fatal("a second process opened a spool in use")
	}
	s.Close()
	again, err := OpenSpool(path)
	if err != nil {
		t.Fatalf("after close: %v", err)
	}
	again.Close()
}

// TestAdoptSpoolLeftByAReplacedProcess: a process spooled messages during an outage and
// was replaced; the next process replays its file and removes it.
func TestAdoptSpoolLeftByAReplacedProcess(t *testing.T) {
	rdb, prefix := redistest.Single(t)
	ctx := context.Background()
	dir := t.TempDir()
	old, err := OpenSpool(filepath.Join(dir, "spool-old-pod.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := old.Append(msg(fmt.Sprintf("SM%032d", i), "+15005550006", fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	live, err := OpenSpool(filepath.Join(dir, "spool-live-pod.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if err := live.Append(msg("SMlive", "+15005550007", "x")); err != nil {
		t.Fatal(err)
	}
	b := New(rdb, Config{Prefix: prefix, Shards: 1}, quiet)
	if n, err := b.AdoptSpools(ctx, dir); err != nil || n != 0 {
		t.Fatalf("while the old process lives: adopted %d, err %v", n, err)
	}
	old.Close() // the old process is gone
	n, err := b.AdoptSpools(ctx, dir)
	if err != nil || n != 3 {
		t.Fatalf("adopted %d, err %v; want 3", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "spool-old-pod.jsonl")); !os.IsNotExist(err) {
		t.Errorf("adopted spool not removed: %v", err)
	}
	if live.Pending() != 1 {
		t.Errorf("a live process's spool was touched")
	}
	if l, _ := b.Backlog(ctx, 0); l != 3 {
		t.Errorf("backlog %d, want 3", l)
	}
}
