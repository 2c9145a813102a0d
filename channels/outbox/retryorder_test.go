package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/outbox"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/channels/twilio"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

// stoppedClock is a clock that moves only when the test says.
type stoppedClock struct {
	mu sync.Mutex
	t  time.Time
	// moved is closed when the clock is set; sleepers counts those waiting in sleep.
	moved    chan struct{}
	sleepers int
}

func (c *stoppedClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stoppedClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
	if c.moved != nil {
		close(c.moved)
	}
	c.moved = make(chan struct{})
}

// sleep waits until the clock has moved on by d, as a sleep on this clock does.
func (c *stoppedClock) sleep(ctx context.Context, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	until := c.t.Add(d)
	c.sleepers++
	defer func() { c.sleepers-- }()
	for c.t.Before(until) {
		if c.moved == nil {
			c.moved = make(chan struct{})
		}
		moved := c.moved
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			c.mu.Lock()
			return
		case <-moved:
		}
		c.mu.Lock()
	}
}

func (c *stoppedClock) asleep() int { c.mu.Lock(); defer c.mu.Unlock(); return c.sleepers }

// orderRig is an outbox on a stopped clock, whose retries wait one second.
type orderRig struct {
	rdb    redis.UniversalClient
	prefix string
	api    *twiliotest.Server
	clock  *stoppedClock
	start  time.Time
	ob     *outbox.Outbox
	mu     sync.Mutex
	retry  int
}

// tune, when given, changes the rig's configuration before the outbox is made.
func newOrderRig(t *testing.T, rdb redis.UniversalClient, prefix string, tune ...func(*orderRig, *outbox.Config)) *orderRig {
	// On a whole second and a half, so that due times fall on clean milliseconds.
	start := time.Now().Truncate(time.Second).Add(500 * time.Millisecond)
	g := &orderRig{rdb: rdb, prefix: prefix, api: twiliotest.New(t, sid, token), clock: &stoppedClock{t: start}, start: start}
	sender := twilio.NewSender(twilio.SenderConfig{AccountSID: sid, AuthToken: token, APIURL: g.api.URL(), From: "+15005550001"})
	cfg := outbox.Config{Prefix: prefix, Backoff: func(int) time.Duration { return time.Second }, Block: 20 * time.Millisecond,
		// The clock stands still: a wait is a short real pause, not the time asked.
		Sleep: func(ctx context.Context, _ time.Duration) {
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Millisecond):
			}
		}}
	for _, f := range tune {
		f(g, &cfg)
	}
	g.ob = outbox.New(rdb, map[channels.Channel]channels.Sender{channels.SMS: sender}, cfg,
		g.clock.now, quiet, func(r outbox.Result) {
			if r.Outcome == "retry" {
				g.mu.Lock()
				g.retry++
				g.mu.Unlock()
			}
		})
	return g
}

func (g *orderRig) queue(t *testing.T, id, text string) {
	t.Helper()
	g.queueTo(t, id, "+15005550006", text)
}

func (g *orderRig) queueTo(t *testing.T, id, to, text string) {
	t.Helper()
	b, _ := json.Marshal(reply(id, to, text))
	if err := g.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: channels.Tag(g.prefix, 0) + "outbox", Values: []any{"m", b}}).Err(); err != nil {
		t.Fatal(err)
	}
}

func (g *orderRig) waiting(t *testing.T, n int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d messages waiting for a retry", n), func() bool {
		return g.rdb.ZCard(context.Background(), channels.Tag(g.prefix, 0)+"outbox:retry").Val() == n
	})
}

func (g *orderRig) retries() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.retry
}

func (g *orderRig) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lease := channels.Tag(g.prefix, 0) + "lease"
	if err := g.rdb.Set(ctx, lease, "tok", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	go func() { defer close(done); g.ob.RunShard(ctx, 0, lease, "tok") }()
	t.Cleanup(func() { cancel(); <-done })
}

// sent waits for the messages want to have been sent, in that order, first.
func (g *orderRig) sent(t *testing.T, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	msgs, err := g.api.WaitMessages(ctx, len(want))
	var got []string
	for _, m := range msgs {
		got = append(got, m.Body)
	}
	if err != nil {
		t.Fatalf("sent %q, want %q first", got, want)
	}
	got = got[:len(want)]
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("sent %q, want %q", got, want)
	}
}

// TestTheFailedMessageComesBackFirst: a contact's first message fails; two more for
// them wait behind it. When it is due, and they are not yet, it goes: not deferred
// once more behind them, which would put it after them.
func TestTheFailedMessageComesBackFirst(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		g := newOrderRig(t, rdb, prefix)
		g.api.FailNext(twiliotest.Failure{Status: 503, Code: 20503, Message: "unavailable"})
		g.queue(t, "SMo0:0", "first")
		g.run(t)
		g.waiting(t, 1)
		g.queue(t, "SMo1:0", "second")
		g.queue(t, "SMo2:0", "third")
		g.waiting(t, 3)
		g.clock.set(g.start.Add(time.Second)) // the first is due, the others a few ms later
		g.sent(t, "first")
		g.clock.set(g.start.Add(3 * time.Second))
		g.sent(t, "first", "second", "third")
	})
}

// TestTheFailedMessageStaysFirstAfterRetryAfter: the first message fails, then fails
// again with Retry-After while the two behind it wait with earlier due times; the
// pause over, all three come back at once, the two before it in the lane. It still
// goes first.
func TestTheFailedMessageStaysFirstAfterRetryAfter(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		g := newOrderRig(t, rdb, prefix)
		g.api.FailNext(twiliotest.Failure{Status: 503, Code: 20503, Message: "unavailable"},
			twiliotest.Failure{Status: 429, Code: 20429, Message: "too many", RetryAfter: "5"})
		g.queue(t, "SMp0:0", "first")
		g.run(t)
		g.waiting(t, 1)
		g.queue(t, "SMp1:0", "second")
		g.queue(t, "SMp2:0", "third")
		g.waiting(t, 3)
		g.clock.set(g.start.Add(time.Second))
		waitFor(t, "the second failure", func() bool { return g.retries() == 2 })
		g.waiting(t, 3)
		g.clock.set(g.start.Add(6 * time.Second)) // the pause is over; all three are due
		g.sent(t, "first")
		g.clock.set(g.start.Add(8 * time.Second))
		g.sent(t, "first", "second", "third")
	})
}

// TestARetryReadTwiceIsStillWaitedFor: a contact has two messages waiting for a
// retry. The first is read back, but another contact's 429 pauses sending before it
// goes, so it is read a second time when the pause ends (and fails again). A new
// message for the contact, read when the second is due but not yet back from the
// retry set, must wait behind it: the first being read twice does not make it go.
func TestARetryReadTwiceIsStillWaitedFor(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		g := newOrderRig(t, rdb, prefix, func(g *orderRig, cfg *outbox.Config) {
			// One contact at a time, in the order read: the 429 comes before the
			// contact's retry is tried. The loops sleep on the rig's clock, so that the
			// test knows when both wait out the pause.
			cfg.Concurrency = 1
			cfg.Sleep = g.clock.sleep
		})
		// A send to "hold" stops in the fake API until released: meanwhile the test
		// queues what must be read in the same batch as the first retry.
		arrived, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		g.api.OnMessage(func(m twiliotest.Message) {
			if m.Body == "hold" {
				close(arrived)
				<-release
			}
		})
		g.api.FailNext(twiliotest.Failure{Status: 503, Code: 20503, Message: "unavailable"})
		g.queue(t, "SMq0:0", "first")
		g.run(t)
		t.Cleanup(func() { once.Do(func() { close(release) }) })
		g.waiting(t, 1) // due at start+1s
		// The alert lane starts once the reply lane found nothing to read; it made its
		// stream then.
		waitFor(t, "the alert lane to start", func() bool {
			return rdb.Exists(context.Background(), channels.BulkKey(g.prefix, 0)).Val() == 1
		})
		g.queue(t, "SMq1:0", "second")
		g.waiting(t, 2) // due 1 ms after the first

		g.queueTo(t, "SMq2:0", "+15005550008", "hold")
		<-arrived
		g.queueTo(t, "SMq3:0", "+15005550007", "other")
		g.api.FailNext(twiliotest.Failure{Status: 429, Code: 20429, Message: "too many", RetryAfter: "1"},
			twiliotest.Failure{Status: 503, Code: 20503, Message: "unavailable"})
		g.clock.set(g.start.Add(time.Second)) // the first is due, the second not yet
		once.Do(func() { close(release) })
		// The other contact's 429 pauses both lanes; the first is left pending.
		waitFor(t, "both lanes to wait out the pause", func() bool { return g.clock.asleep() == 2 })

		// The pause over, the first is read again and fails again; the second, back
		// with it, waits behind it once more.
		g.clock.set(g.start.Add(2 * time.Second))
		g.sent(t, "hold", "other")
		g.waiting(t, 2) // the first due at start+3s, the second 1 ms later
		g.clock.set(g.start.Add(3 * time.Second))
		g.sent(t, "hold", "other", "first")

		// The second is due, but promotion runs only every 250 ms: it is still in the
		// retry set when the third is read.
		g.clock.set(g.start.Add(3*time.Second + 100*time.Millisecond))
		g.queue(t, "SMq4:0", "third")
		waitFor(t, "the third to be handled", func() bool {
			return len(g.api.Messages()) == 4 || rdb.ZCard(context.Background(), channels.Tag(g.prefix, 0)+"outbox:retry").Val() == 2
		})
		g.clock.set(g.start.Add(4 * time.Second))
		g.sent(t, "hold", "other", "first", "second", "third")
	})
}

// failAgainWithTheSecond runs the rig through this: "first" (IDs from sid) fails;
// "second", "third" and "fourth" wait behind it, due 1, 2 and 3 ms after it; the clock
// moves to when the first two are due, and the first fails again, the second back
// beside it.
func (g *orderRig) failAgainWithTheSecond(t *testing.T, sid string) {
	t.Helper()
	g.api.FailNext(twiliotest.Failure{Status: 503, Code: 20503, Message: "unavailable"},
		twiliotest.Failure{Status: 503, Code: 20503, Message: "unavailable"})
	g.queue(t, sid+"0:0", "first")
	g.run(t)
	g.waiting(t, 1) // due at start+1s
	for i, text := range []string{"second", "third", "fourth"} {
		g.queue(t, fmt.Sprintf("%s%d:0", sid, i+1), text)
	}
	g.waiting(t, 4)
	g.clock.set(g.start.Add(time.Second + time.Millisecond))
	waitFor(t, "the second failure", func() bool { return g.retries() == 2 })
	g.waiting(t, 4)
}

// TestAMessageBackWithTheFailedOneKeepsItsPlace: the first message fails; three wait
// behind it. The promotion that brings the first back takes only the second with it
// (the others are due a millisecond or two later), and the first fails again. The
// second must not be put behind the first's new due time, after the third and fourth,
// which stayed where they were: the contact reads all four in order.
func TestAMessageBackWithTheFailedOneKeepsItsPlace(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		g := newOrderRig(t, rdb, prefix)
		g.failAgainWithTheSecond(t, "SMr")
		g.clock.set(g.start.Add(3 * time.Second)) // all four are due
		g.sent(t, "first")
		g.clock.set(g.start.Add(5 * time.Second))
		g.sent(t, "first", "second", "third", "fourth")
	})
}

// TestANewMessageWaitsForThoseStillAway: as above, the first message fails again
// with only the second back beside it; a fifth is read before the third and fourth
// come back. It goes after them.
func TestANewMessageWaitsForThoseStillAway(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		g := newOrderRig(t, rdb, prefix)
		g.failAgainWithTheSecond(t, "SMt")
		g.queue(t, "SMt4:0", "fifth") // read before the next promotion
		g.waiting(t, 5)
		// The next promotion brings the third and fourth back, due long since, and
		// they wait behind the first once more.
		g.clock.set(g.start.Add(1300 * time.Millisecond))
		waitFor(t, "the third and fourth to come back", func() bool {
			return rdb.XLen(context.Background(), channels.Tag(g.prefix, 0)+"outbox").Val() == 0 &&
				rdb.ZCount(context.Background(), channels.Tag(g.prefix, 0)+"outbox:retry", "-inf",
					fmt.Sprint(g.start.Add(2*time.Second).UnixMilli())).Val() == 0
		})
		g.waiting(t, 5)
		g.clock.set(g.start.Add(5 * time.Second))
		g.sent(t, "first")
		g.clock.set(g.start.Add(7 * time.Second))
		g.sent(t, "first", "second", "third", "fourth", "fifth")
	})
}

// TestAPromotionReadInTwoBatchesKeepsTheOrder: the promotion that brings the first
// message back with the five behind it sits behind other traffic, so that a read (64
// entries) takes the first and two of them, the next read the other three. The first
// fails again: all five still go after it, in order.
func TestAPromotionReadInTwoBatchesKeepsTheOrder(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		g := newOrderRig(t, rdb, prefix)
		retryKey, streamKey := channels.Tag(g.prefix, 0)+"outbox:retry", channels.Tag(g.prefix, 0)+"outbox"
		g.api.FailNext(twiliotest.Failure{Status: 503, Code: 20503, Message: "unavailable"})
		g.queue(t, "SMs0:0", "first")
		g.run(t)
		g.waiting(t, 1)
		for i := 1; i <= 5; i++ {
			g.queue(t, fmt.Sprintf("SMs%d:0", i), fmt.Sprintf("f%d", i))
		}
		g.waiting(t, 6)
		g.api.FailNext(twiliotest.Failure{Status: 503, Code: 20503, Message: "unavailable"})
		// The promotion by hand, as promoteScript does it, in one transaction behind 61
		// messages for a channel the rig has no sender for (set aside at once, with no
		// call to the API, whose next answer is the first's failure).
		zs := rdb.ZRangeWithScores(ctx, retryKey, 0, -1).Val()
		if len(zs) != 6 {
			t.Fatalf("retry set %v", zs)
		}
		_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for i := range 61 {
				b, _ := json.Marshal(channels.Outbound{ID: fmt.Sprint("fill", i), Channel: channels.Telegram,
					Contact: "42", Parts: []string{"x"}, Lane: channels.LaneReply})
				p.XAdd(ctx, &redis.XAddArgs{Stream: streamKey, Values: []any{"m", b}})
			}
			for _, z := range zs {
				m := z.Member.(string)
				a, out, _ := strings.Cut(m, " ")
				p.XAdd(ctx, &redis.XAddArgs{Stream: streamKey,
					Values: []any{"m", out, "a", a, "d", strconv.FormatInt(int64(z.Score), 10)}})
				p.ZRem(ctx, retryKey, m)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the second failure", func() bool { return g.retries() == 2 })
		g.waiting(t, 6)
		g.clock.set(g.start.Add(1250 * time.Millisecond)) // a promotion: nothing is due
		g.clock.set(g.start.Add(3 * time.Second))
		g.sent(t, "first", "f1", "f2", "f3", "f4", "f5")
	})
}

// TestARetryDeferredByAnOlderVersionStillGoes: a retry set written before its
// messages carried where each was first queued still gives them back, in order,
// during an upgrade.
func TestARetryDeferredByAnOlderVersionStillGoes(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		g := newOrderRig(t, rdb, prefix)
		retryKey := channels.Tag(g.prefix, 0) + "outbox:retry"
		for i, text := range []string{"first", "second"} {
			b, _ := json.Marshal(reply(fmt.Sprintf("SMu%d:0", i), "+15005550006", text))
			at := g.start.Add(time.Second + time.Duration(i)*time.Millisecond)
			if err := rdb.ZAdd(context.Background(), retryKey, redis.Z{Score: float64(at.UnixMilli()), Member: "1 " + string(b)}).Err(); err != nil {
				t.Fatal(err)
			}
		}
		g.run(t)
		g.clock.set(g.start.Add(2 * time.Second))
		g.sent(t, "first", "second")
	})
}
