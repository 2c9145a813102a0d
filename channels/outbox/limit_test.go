package outbox

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
)

// TestPacing checks the reservations with an injected clock: one message a second to
// a chat, counted from when the last one ended, and a cap for the whole channel over
// any sliding second, shared through Redis.
func TestPacing(t *testing.T) {
	rdb, prefix := redistest.Single(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	o := New(rdb, nil, Config{Prefix: prefix, Hash: func(ch channels.Channel, c string) string { return "h-" + c }},
		func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	r := &shardRun{o: o, tag: channels.Tag(prefix, 0)}
	o.cfg.Limits = map[channels.Channel]Limit{channels.Telegram: {PerContact: time.Second}}
	chat := func(id string) channels.Outbound {
		return channels.Outbound{ID: "m-" + id, Channel: channels.Telegram, Contact: id}
	}
	perChat := Limit{PerContact: time.Second}
	steps := []struct {
		name    string
		advance time.Duration
		to      string
		took    time.Duration // how long the send takes when it may go
		want    int64
	}{
		{"first message goes", 0, "1", 50 * time.Millisecond, 0},
		{"second to the same chat waits a second from the first's end", 0, "1", 0, 1000},
		{"another chat is not held up", 0, "2", 0, 0},
		{"after 400 ms, 600 ms are left", 400 * time.Millisecond, "1", 0, 600},
		{"after the gap it goes", 600 * time.Millisecond, "1", 0, 0},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		place := fmt.Sprint(i)
		got, err := r.reserve(ctx, perChat, chat(s.to), place)
		if err != nil {
			t.Fatal(err)
		}
		if got != s.want {
			t.Errorf("%s: wait %d ms, want %d", s.name, got, s.want)
		}
		if got == 0 {
			now = now.Add(s.took)
			if err := r.stamp(ctx, chat(s.to), place); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Two a second overall: the third waits for the first to leave the sliding second,
	// even across the turn of a calendar second.
	overall := Limit{PerSecond: 2}
	now = now.Truncate(time.Second).Add(1900 * time.Millisecond)
	var waits []int64
	for i := range 3 {
		w, err := r.reserve(ctx, overall, chat(string(rune('a'+i))), fmt.Sprint("p", i))
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
		now = now.Add(100 * time.Millisecond)
	}
	if waits[0] != 0 || waits[1] != 0 || waits[2] != 801 {
		t.Errorf("overall cap of 2/s: waits %v, want [0 0 801]", waits)
	}
	now = now.Add(801 * time.Millisecond)
	if w, _ := r.reserve(ctx, overall, chat("c"), "p2"); w != 0 {
		t.Errorf("once the first left the window: wait %d, want 0", w)
	}
}
