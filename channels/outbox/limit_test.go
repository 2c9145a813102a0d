package outbox

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
)

// TestPacing checks the reservations with an injected clock: one message a second to
// a chat, and a cap per second for the whole channel, shared through Redis.
func TestPacing(t *testing.T) {
	rdb, prefix := redistest.Single(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	o := New(rdb, nil, Config{Prefix: prefix, Hash: func(ch channels.Channel, c string) string { return "h-" + c }},
		func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	r := &shardRun{o: o, tag: channels.Tag(prefix, 0)}
	chat := func(id string) channels.Outbound { return channels.Outbound{Channel: channels.Telegram, Contact: id} }
	perChat := Limit{PerContact: time.Second}
	steps := []struct {
		name    string
		advance time.Duration
		to      string
		want    int64
	}{
		{"first message goes", 0, "1", 0},
		{"second to the same chat waits a second", 0, "1", 1000},
		{"another chat is not held up", 0, "2", 0},
		{"after 400 ms, 600 ms are left", 400 * time.Millisecond, "1", 600},
		{"after the gap it goes", 600 * time.Millisecond, "1", 0},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		got, err := r.reserve(ctx, perChat, chat(s.to))
		if err != nil {
			t.Fatal(err)
		}
		if got != s.want {
			t.Errorf("%s: wait %d ms, want %d", s.name, got, s.want)
		}
	}
	overall := Limit{PerSecond: 2}
	now = now.Add(250 * time.Millisecond).Truncate(time.Second).Add(250 * time.Millisecond)
	var waits []int64
	for i := range 3 {
		w, err := r.reserve(ctx, overall, chat(string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
	}
	if waits[0] != 0 || waits[1] != 0 || waits[2] != 750 {
		t.Errorf("overall cap of 2/s: waits %v, want [0 0 750]", waits)
	}
}
