package outbox

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
)

// TestPacing checks the reservations with an injected clock: one message a second to
// a chat, counted from when the last one ended, and a cap for the whole channel over
// any sliding second, shared through Redis.
func TestPacing(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
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
			got, err := r.reserve(ctx, perChat, chat(s.to), place, channels.LaneReply)
			if err != nil {
				t.Fatal(err)
			}
			if got != s.want {
				t.Errorf("%s: wait %d ms, want %d", s.name, got, s.want)
			}
			if got == 0 {
				now = now.Add(s.took)
				if err := r.stamp(ctx, chat(s.to), place, channels.LaneReply); err != nil {
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
			w, err := r.reserve(ctx, overall, chat(string(rune('a'+i))), fmt.Sprint("p", i), channels.LaneReply)
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
		if w, _ := r.reserve(ctx, overall, chat("c"), "p2", channels.LaneReply); w != 0 {
			t.Errorf("once the first left the window: wait %d, want 0", w)
		}
	})
}

// TestPacingLeavesRoomForReplies checks that route alerts take only the capacity
// replies leave: a tenth of the cap at least, and as much as replies used in the last
// second.
func TestPacingLeavesRoomForReplies(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
		o := New(rdb, nil, Config{Prefix: prefix, Hash: func(ch channels.Channel, c string) string { return "h-" + c }},
			func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		r := &shardRun{o: o, tag: channels.Tag(prefix, 0)}
		lim := Limit{PerSecond: 20}
		msg := func(i int) channels.Outbound {
			return channels.Outbound{ID: fmt.Sprint("m", i), Channel: channels.SMS, Contact: fmt.Sprint("+1555", i)}
		}
		took := func(lane channels.Lane, from, n int) (int, int64) {
			for i := from; i < from+n; i++ {
				w, err := r.reserve(ctx, lim, msg(i), fmt.Sprint("p", i), lane)
				if err != nil {
					t.Fatal(err)
				}
				if w > 0 {
					return i - from, w
				}
				now = now.Add(time.Millisecond)
			}
			return n, 0
		}
		// An alert alone: 18 of the 20 places, two kept for replies.
		if n, _ := took(channels.LaneBulk, 0, 20); n != 18 {
			t.Fatalf("bulk took %d places of 20, want 18", n)
		}
		// A reply still goes at once, and one more.
		if n, _ := took(channels.LaneReply, 100, 2); n != 2 {
			t.Fatalf("replies took %d places while bulk filled its share, want 2", n)
		}
		// The second is full now: a reply waits too.
		if n, w := took(channels.LaneReply, 200, 1); n != 0 || w <= 0 {
			t.Fatalf("reply in a full second: took %d, wait %d; want a wait", n, w)
		}
		// A second later, with 5 replies in the window, alerts leave them 5 places.
		now = now.Add(1100 * time.Millisecond)
		if n, _ := took(channels.LaneReply, 300, 5); n != 5 {
			t.Fatalf("replies took %d of 5", n)
		}
		if n, _ := took(channels.LaneBulk, 400, 20); n != 10 {
			t.Fatalf("bulk took %d places next to 5 replies, want 10 (20 - 5 used - 5 kept)", n)
		}
	})
}
