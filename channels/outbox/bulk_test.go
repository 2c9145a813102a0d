package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/outbox"
	"github.com/hotline-org/hotline/channels/twilio"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

// fastClock is a test's clock that runs speed times faster than the wall: the outbox
// sleeps through it, so a paced broadcast of ten seconds takes one.
type fastClock struct {
	start time.Time
	base  time.Time
	speed time.Duration
}

func newFastClock(speed time.Duration) *fastClock {
	return &fastClock{start: time.Now(), base: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC), speed: speed}
}

func (c *fastClock) now() time.Time { return c.base.Add(time.Since(c.start) * c.speed) }

func (c *fastClock) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d / c.speed)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// alertMsg is alert's message to subscriber i, who is subscribed (their details are
// in the shard) unless gone.
func (g *rig) alertMsg(t *testing.T, i int, alert string, expires time.Time, gone bool) channels.Outbound {
	t.Helper()
	o := reply(channels.AlertMessageID(alert, fmt.Sprint("h", i)), fmt.Sprintf("+1500777%04d", i), "Storm tonight. Stay ashore.")
	o.Lane, o.Alert, o.Expires = channels.LaneBulk, alert, expires
	if !gone {
		if err := g.rdb.HSet(context.Background(), channels.SubsKey(g.prefix, 0), fmt.Sprint("h", i), "sealed").Err(); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// TestBroadcastIsPacedAndRepliesGoFirst sends a route alert to 200 contacts at a
// provider limit of 20 a second, on a clock ten times faster than the wall, while a
// conversation goes on. Read from the times the fake Twilio received each request: no
// second holds more than the limit, the alert reaches everyone once, and the reply
// overtakes the alert messages still waiting.
func TestBroadcastIsPacedAndRepliesGoFirst(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		clk := newFastClock(10)
		const rate, n = 20, 200
		sender := twilio.NewSender(twilio.SenderConfig{AccountSID: sid, AuthToken: token, APIURL: g.api.URL(), From: "+15005550001"})
		g.ob = outbox.New(g.rdb, map[channels.Channel]channels.Sender{channels.SMS: sender},
			outbox.Config{Prefix: g.prefix, Block: 50 * time.Millisecond, Sleep: clk.sleep,
				Limits: map[channels.Channel]outbox.Limit{channels.SMS: {PerSecond: rate}},
				Hash:   func(_ channels.Channel, c string) string { return "h-" + c }},
			clk.now, quiet, nil)

		type arrival struct {
			to string
			at time.Time
		}
		var mu sync.Mutex
		var got []arrival
		g.api.OnMessage(func(m twiliotest.Message) {
			mu.Lock()
			got = append(got, arrival{m.To, clk.now()})
			mu.Unlock()
		})
		expires := clk.now().Add(24 * time.Hour)
		for i := range n {
			g.queue(t, ":bulk", g.alertMsg(t, i, "A1", expires, false))
		}
		stop := g.run(t)
		defer stop()

		// A third of the way in, a contact writes and is answered.
		waitFor(t, "a third of the alert sent", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= n/3 })
		mu.Lock()
		before := len(got)
		queued := clk.now()
		mu.Unlock()
		g.queue(t, "", reply("SM9:0", "+15005550099", "Main menu"))

		waitFor(t, "everything sent", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= n+1 })
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		if len(got) != n+1 {
			t.Fatalf("%d requests, want %d (each alert message once, and the reply)", len(got), n+1)
		}
		seen := map[string]bool{}
		replyAt := -1
		for i, a := range got {
			if seen[a.to] {
				t.Errorf("%s received twice", a.to)
			}
			seen[a.to] = true
			if a.to == "+15005550099" {
				replyAt = i
				if wait := a.at.Sub(queued); wait > time.Second {
					t.Errorf("the reply waited %v (on the test clock) behind the alert", wait)
				}
			}
		}
		// The reply overtakes: at most the sends already under way went between.
		if replyAt < 0 || replyAt-before > 16 {
			t.Errorf("the reply was request %d, %d after it was queued; want it ahead of the waiting alert messages", replyAt+1, replyAt-before)
		}
		// Never more than the limit in any second (one request of slack for a request
		// that reached the fake a little after its place was counted).
		times := make([]time.Time, len(got))
		for i, a := range got {
			times[i] = a.at
		}
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		for i := 0; i+rate+1 < len(times); i++ {
			if span := times[i+rate+1].Sub(times[i]); span < time.Second {
				t.Fatalf("requests %d to %d within %v: over %d a second", i+1, i+rate+2, span, rate)
			}
		}
		if took := times[len(times)-1].Sub(times[0]); took < time.Duration(n/rate-1)*time.Second {
			t.Errorf("%d messages in %v: faster than %d a second", n+1, took, rate)
		}
		counts, _ := g.rdb.HGetAll(context.Background(), channels.AlertKey(g.prefix, 0, "A1")).Result()
		if counts["sent"] != fmt.Sprint(n) {
			t.Errorf("alert counts %v, want sent=%d", counts, n)
		}
	})
}

// TestStaleAlertMessagesAreDropped: an alert past its end, withdrawn, or to someone
// who has stopped alerts since it was queued, is not sent; a failure is counted.
func TestStaleAlertMessagesAreDropped(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		withdrawn := map[string]bool{"A2": true}
		sender := twilio.NewSender(twilio.SenderConfig{AccountSID: sid, AuthToken: token, APIURL: g.api.URL(), From: "+15005550001"})
		g.ob = outbox.New(g.rdb, map[channels.Channel]channels.Sender{channels.SMS: sender},
			outbox.Config{Prefix: g.prefix, Block: 50 * time.Millisecond, MaxAttempts: 1,
				Live: func(_ context.Context, id string) (bool, error) { return !withdrawn[id], nil }},
			time.Now, quiet, nil)
		g.queue(t, ":bulk", g.alertMsg(t, 1, "A1", time.Now().Add(-time.Minute), false)) // ended
		g.queue(t, ":bulk", g.alertMsg(t, 2, "A2", time.Now().Add(time.Hour), false))    // withdrawn
		g.queue(t, ":bulk", g.alertMsg(t, 5, "A3", time.Now().Add(time.Hour), true))     // they sent STOP ALERTS
		// Two messages to one contact go one after the other: the first is refused.
		refused, sent := g.alertMsg(t, 3, "A3", time.Now().Add(time.Hour), false), g.alertMsg(t, 4, "A3", time.Now().Add(time.Hour), false)
		sent.Contact = refused.Contact
		g.queue(t, ":bulk", refused)
		g.queue(t, ":bulk", sent)
		g.api.FailNext(twiliotest.Failure{Status: 400, Code: 21211, Message: "invalid To"})
		stop := g.run(t)
		defer stop()
		ctx := context.Background()
		waitFor(t, "all handled", func() bool {
			n, _ := g.rdb.XLen(ctx, channels.BulkKey(g.prefix, 0)).Result()
			return n == 0
		})
		stop()
		if msgs := g.api.Messages(); len(msgs) != 1 || msgs[0].To != "+15007770003" {
			t.Errorf("sent %+v, want only the live alert's second message", msgs)
		}
		for alert, want := range map[string]map[string]string{
			"A1": {"dropped": "1"}, "A2": {"dropped": "1"}, "A3": {"dropped": "1", "failed": "1", "sent": "1"},
		} {
			got, _ := g.rdb.HGetAll(ctx, channels.AlertKey(g.prefix, 0, alert)).Result()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s counts %v, want %v", alert, got, want)
			}
		}
	})
}

// TestOrderHoldsWhenARetryIsLate: a reply waiting for a retry is due, but the
// retries have not been read back yet (promotion runs on a tick; here the clock jumped
// an hour, as a paused VM's does): the contact's next reply still waits behind it.
func TestOrderHoldsWhenARetryIsLate(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		var skip atomic.Int64
		now := func() time.Time { return time.Now().Add(time.Duration(skip.Load())) }
		sender := twilio.NewSender(twilio.SenderConfig{AccountSID: sid, AuthToken: token, APIURL: g.api.URL(), From: "+15005550001"})
		g.ob = outbox.New(g.rdb, map[channels.Channel]channels.Sender{channels.SMS: sender},
			outbox.Config{Prefix: g.prefix, Block: 50 * time.Millisecond, MaxAttempts: 5,
				Backoff: func(int) time.Duration { return 30 * time.Second }},
			now, quiet, nil)
		g.api.FailNext(twiliotest.Failure{Status: 500, Code: 20500, Message: "internal"})
		g.queue(t, "", reply("SM1:0", "+15005550006", "first"))
		stop := g.run(t)
		defer stop()
		ctx := context.Background()
		waitFor(t, "the first deferred", func() bool {
			n, _ := g.rdb.ZCard(ctx, channels.Tag(g.prefix, 0)+"outbox:retry").Result()
			return n == 1
		})
		skip.Add(int64(time.Hour))
		g.queue(t, "", reply("SM2:0", "+15005550006", "second"))
		msgs, err := g.api.WaitMessages(t.Context(), 2)
		if err != nil {
			t.Fatal(err)
		}
		if msgs[0].Body != "first" || msgs[1].Body != "second" {
			t.Errorf("sent %q then %q, want first then second", msgs[0].Body, msgs[1].Body)
		}
	})
}

// TestLeaseLostStopsBothLoops: another process takes the shard (a long pause, a
// network blip): both loops stop, leaving what they had not started for the new
// holder, and the process goes on.
func TestLeaseLostStopsBothLoops(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		ctx := context.Background()
		lease := channels.Tag(g.prefix, 0) + "lease"
		if err := g.rdb.Set(ctx, lease, "tok", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- g.ob.RunShard(ctx, 0, lease, "tok") }()
		g.queue(t, "", reply("SM1:0", "+15005550006", "before"))
		if _, err := g.api.WaitMessages(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		if err := g.rdb.Set(ctx, lease, "someone-else", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		g.queue(t, ":bulk", g.alertMsg(t, 1, "A1", time.Now().Add(time.Hour), false))
		g.queue(t, "", reply("SM2:0", "+15005550006", "after"))
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunShard: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the loops did not stop when the lease went to another process")
		}
		if n := len(g.api.Messages()); n != 1 {
			t.Errorf("%d messages sent; the stale holder must send nothing after losing the lease", n)
		}
	})
}

// TestRetryComesBackBeforeNewerReplies: a reply waiting in the retry set comes back
// after a newer reply to the same contact was queued; read together, the older goes
// first.
func TestRetryComesBackBeforeNewerReplies(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		ctx := context.Background()
		older, _ := json.Marshal(reply("SM1:0", "+15005550006", "older"))
		if err := g.rdb.ZAdd(ctx, channels.Tag(g.prefix, 0)+"outbox:retry", redis.Z{Score: 1, Member: "1 " + string(older)}).Err(); err != nil {
			t.Fatal(err)
		}
		g.queue(t, "", reply("SM2:0", "+15005550006", "newer"))
		stop := g.run(t)
		defer stop()
		msgs, err := g.api.WaitMessages(t.Context(), 2)
		if err != nil {
			t.Fatal(err)
		}
		if msgs[0].Body != "older" || msgs[1].Body != "newer" {
			t.Errorf("sent %q then %q, want older then newer", msgs[0].Body, msgs[1].Body)
		}
	})
}
