package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/outbox"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/channels/telegram"
	"github.com/hotline-org/hotline/channels/telegram/telegramtest"
	"github.com/hotline-org/hotline/channels/twilio"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

const (
	sid   = "AC00000000000000000000000000000001"
	token = "0123456789abcdef0123456789abcdef"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type rig struct {
	rdb     redis.UniversalClient
	prefix  string
	api     *twiliotest.Server
	ob      *outbox.Outbox
	mu      sync.Mutex
	results []outbox.Result
}

// rigs runs f on a rig over a single Redis and on one over a Redis Cluster: every
// key a script or a transaction of the outbox touches at once must share a slot.
func rigs(t *testing.T, f func(t *testing.T, g *rig)) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		f(t, newRig(t, rdb, prefix))
	})
}

// newRig sends through the real Twilio client to the fake Twilio API, with retry
// waits lifted so that tests do not wait.
func newRig(t *testing.T, rdb redis.UniversalClient, prefix string) *rig {
	api := twiliotest.New(t, sid, token)
	g := &rig{rdb: rdb, prefix: prefix, api: api}
	sender := twilio.NewSender(twilio.SenderConfig{AccountSID: sid, AuthToken: token, APIURL: api.URL(), From: "+15005550001"})
	g.ob = outbox.New(rdb, map[channels.Channel]channels.Sender{channels.SMS: sender},
		outbox.Config{Prefix: prefix, MaxAttempts: 4, Backoff: func(int) time.Duration { return 10 * time.Millisecond },
			Block: 50 * time.Millisecond},
		time.Now, quiet, func(r outbox.Result) { g.mu.Lock(); g.results = append(g.results, r); g.mu.Unlock() })
	return g
}

func (g *rig) queue(t *testing.T, lane string, o channels.Outbound) {
	t.Helper()
	b, _ := json.Marshal(o)
	key := channels.Tag(g.prefix, 0) + "outbox" + lane
	if err := g.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: key, Values: []any{"m", b}}).Err(); err != nil {
		t.Fatal(err)
	}
}

func (g *rig) run(t *testing.T) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	lease := channels.Tag(g.prefix, 0) + "lease"
	if err := g.rdb.Set(ctx, lease, "tok", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	go func() { defer close(done); g.ob.RunShard(ctx, 0, lease, "tok") }()
	return func() { cancel(); <-done }
}

func (g *rig) outcomes() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := map[string]int{}
	for _, r := range g.results {
		m[r.Outcome]++
	}
	return m
}

func reply(id, to, text string) channels.Outbound {
	return channels.Outbound{ID: id, Channel: channels.SMS, Contact: to, Lang: "en", Parts: []string{text}, Lane: channels.LaneReply}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRepliesGoBeforeBulkAndEachPieceOnce(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		// A broadcast of 100 is queued first; a reply comes after it.
		for i := range 100 {
			o := reply(fmt.Sprint("bulk", i), fmt.Sprintf("+1500555%04d", 1000+i), "route alert")
			o.Lane = channels.LaneBulk
			g.queue(t, ":bulk", o)
		}
		// A process died after Twilio accepted this one and before acknowledging it: its
		// sent-mark is there, the entry still pending. It must not go out again.
		g.queue(t, "", reply("SM0:0", "+15005550007", "already sent"))
		ctx := context.Background()
		key := channels.Tag(g.prefix, 0) + "outbox"
		g.rdb.XGroupCreateMkStream(ctx, key, outbox.Group, "0")
		claimed, err := g.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: outbox.Group, Consumer: "s0",
			Streams: []string{key, ">"}, Count: 1}).Result()
		if err != nil || len(claimed[0].Messages) != 1 {
			t.Fatalf("claim: %v", err)
		}
		g.rdb.Set(ctx, channels.Tag(g.prefix, 0)+"sent:SM0:0/0", "1", time.Hour)
		g.queue(t, "", reply("SM1:0", "+15005550006", "hello"))
		stop := g.run(t)
		defer stop()
		msgs, err := g.api.WaitMessages(t.Context(), 101)
		if err != nil {
			t.Fatal(err)
		}
		// The reply takes one of the first sending slots, not a place behind the broadcast.
		for i, m := range msgs {
			if m.To == "+15005550006" {
				if i >= 16 {
					t.Errorf("the reply went out %dth, behind the broadcast", i+1)
				}
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
		if n := len(g.api.Messages()); n != 101 {
			t.Errorf("%d messages sent, want 101 (the one sent before the crash not again)", n)
		}
		if n, _ := g.rdb.XLen(ctx, key).Result(); n != 0 {
			t.Errorf("reply lane still holds %d entries", n)
		}
	})
}

func TestRetriesUntilAcceptedAndObeysRetryAfter(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		g.api.FailNext(twiliotest.Failure{Status: 500, Code: 20500, Message: "internal"},
			twiliotest.Failure{Status: 429, Code: 20429, Message: "too many", RetryAfter: "1"})
		g.queue(t, "", reply("SM2:0", "+15005550006", "hello"))
		start := time.Now()
		stop := g.run(t)
		defer stop()
		if _, err := g.api.WaitMessages(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		// Retry-After said one second: sending sooner would disobey the provider.
		if waited := time.Since(start); waited < time.Second {
			t.Errorf("sent after %v, before the 1s Retry-After", waited)
		}
		waitFor(t, "outcomes", func() bool { o := g.outcomes(); return o["retry"] == 2 && o["sent"] == 1 })
	})
}

func TestPermanentFailuresAreSetAsideNotRetried(t *testing.T) {
	cases := []struct {
		name    string
		fail    twiliotest.Failure
		outcome string
	}{
		{"invalid number", twiliotest.Failure{Status: 400, Code: 21211, Message: "The 'To' number +1500555 is not valid"}, "failed"},
		{"opted out", twiliotest.Failure{Status: 400, Code: 21610, Message: "Attempt to send to unsubscribed recipient"}, "opted_out"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rigs(t, func(t *testing.T, g *rig) {
				g.api.FailNext(c.fail)
				g.queue(t, "", reply("SM3:0", "+15005550006", "hello"))
				g.queue(t, "", reply("SM4:0", "+15005550007", "next"))
				stop := g.run(t)
				defer stop()
				// The two contacts are sent to at once: either may meet the failure.
				if _, err := g.api.WaitMessages(t.Context(), 1); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "dead letter", func() bool {
					d, _ := g.ob.DeadLetters(context.Background(), 0)
					return len(d) == 1
				})
				time.Sleep(100 * time.Millisecond)
				if n := len(g.api.Messages()); n != 1 {
					t.Errorf("%d messages accepted, want 1: the failed one was retried", n)
				}
				if o := g.outcomes(); o[c.outcome] != 1 || o["retry"] != 0 {
					t.Errorf("outcomes %v", o)
				}
			})
		})
	}
}

// TestAContactsMessagesStayInOrderAcrossRetries: when a message must wait for a retry,
// the contact's later messages wait behind it, while other contacts are not held up.
func TestAContactsMessagesStayInOrderAcrossRetries(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		g.api.FailNext(twiliotest.Failure{Status: 503, Message: "unavailable"})
		for i := range 3 {
			g.queue(t, "", reply(fmt.Sprint("SMa", i, ":0"), "+15005550006", fmt.Sprint("a", i)))
		}
		stop := g.run(t)
		defer stop()
		msgs, err := g.api.WaitMessages(t.Context(), 3)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range msgs {
			got = append(got, m.Body)
		}
		if fmt.Sprint(got) != "[a0 a1 a2]" {
			t.Errorf("sent in order %v, want [a0 a1 a2]", got)
		}
	})
}

// TestManyContactsAreSentToAtOnce: a provider call takes a while; contacts of one shard
// must not wait for each other's calls. The fake API holds each request until four are
// in flight together (or a deadline passes), so sending one at a time fails the test.
func TestManyContactsAreSentToAtOnce(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		var mu sync.Mutex
		inflight, most := 0, 0
		together := make(chan struct{})
		var once sync.Once
		g.api.OnMessage(func(twiliotest.Message) {
			mu.Lock()
			inflight++
			most = max(most, inflight)
			if inflight == 4 {
				once.Do(func() { close(together) })
			}
			mu.Unlock()
			select {
			case <-together:
			case <-time.After(2 * time.Second):
			}
			mu.Lock()
			inflight--
			mu.Unlock()
		})
		for i := range 40 {
			g.queue(t, "", reply(fmt.Sprint("SMc", i, ":0"), fmt.Sprintf("+1500555%04d", i), "hello"))
		}
		stop := g.run(t)
		defer stop()
		if _, err := g.api.WaitMessages(t.Context(), 40); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if most < 4 {
			t.Errorf("at most %d sends in flight at once, want at least 4", most)
		}
	})
}

func TestExhaustedRetriesBecomeDeadLetters(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		var fails []twiliotest.Failure
		for range 4 {
			fails = append(fails, twiliotest.Failure{Status: 503, Message: "unavailable"})
		}
		g.api.FailNext(fails...)
		g.queue(t, "", reply("SM5:0", "+15005550006", "hello"))
		stop := g.run(t)
		defer stop()
		waitFor(t, "dead letter", func() bool {
			d, _ := g.ob.DeadLetters(context.Background(), 0)
			return len(d) == 1
		})
		if n := len(g.api.Messages()); n != 0 {
			t.Errorf("%d sent", n)
		}
	})
}

const tplSID = "HX0123456789abcdef0123456789abcdef"

// whatsApp makes the rig send WhatsApp through the real Twilio client, with a
// template configured.
func (g *rig) whatsApp() {
	g.ob = outbox.New(g.rdb, map[channels.Channel]channels.Sender{channels.WhatsApp: twilio.NewSender(twilio.SenderConfig{
		AccountSID: sid, AuthToken: token, APIURL: g.api.URL(), From: "whatsapp:+15005550001",
		Templates: map[string]string{"": tplSID}})},
		outbox.Config{Prefix: g.prefix, Block: 50 * time.Millisecond, Shards: 1, WhatsAppTemplate: true,
			Hash: func(ch channels.Channel, c string) string { return "h" + c[len(c)-4:] }}, time.Now, quiet,
		func(r outbox.Result) { g.mu.Lock(); g.results = append(g.results, r); g.mu.Unlock() })
}

func waReply(id, to string, until time.Time) channels.Outbound {
	o := reply(id, "whatsapp:"+to, "reply "+id)
	o.Channel, o.Until = channels.WhatsApp, until
	return o
}

// TestNoFreeTextOutsideTheWindow: a WhatsApp reply whose 24-hour window closed while it
// waited (retries, an outage) is never sent as free text: it is held for the contact,
// and one template (not one per reply) asks them to write. A contact who wrote since
// the reply was made has an open window, and gets it.
func TestNoFreeTextOutsideTheWindow(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		g.whatsApp()
		ctx := context.Background()
		now := time.Now()
		w := channels.WindowKeysFor(g.prefix, 0, "h0007")
		// This contact wrote a minute ago, after their reply was made.
		if err := g.rdb.Set(ctx, w.Seen, now.Add(-time.Minute).UnixMilli(), time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		g.queue(t, "", waReply("SMw1:0", "+15005550006", now.Add(-time.Minute)))
		g.queue(t, "", waReply("SMw2:0", "+15005550006", now.Add(-time.Minute)))
		g.queue(t, "", waReply("SMw3:0", "+15005550007", now.Add(-time.Minute)))
		g.queue(t, "", waReply("SMw4:0", "+15005550008", now.Add(time.Hour)))
		stop := g.run(t)
		defer stop()
		msgs, err := g.api.WaitMessages(t.Context(), 3)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "held", func() bool { return g.outcomes()["held"] == 2 })
		time.Sleep(100 * time.Millisecond)
		msgs = g.api.Messages()
		got := map[string]string{}
		for _, m := range msgs {
			got[m.To] += m.Body + m.ContentSid + ";"
		}
		want := map[string]string{
			"whatsapp:+15005550006": tplSID + ";",    // held, one template for both
			"whatsapp:+15005550007": "reply SMw3:0;", // wrote since: window open
			"whatsapp:+15005550008": "reply SMw4:0;", // inside its window
		}
		if len(msgs) != 3 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("sent %v\nwant %v", got, want)
		}
		held, err := g.rdb.LRange(ctx, channels.WindowKeysFor(g.prefix, 0, "h0006").Held, 0, -1).Result()
		if err != nil || len(held) != 2 {
			t.Fatalf("held %d messages (%v), want 2", len(held), err)
		}
		var first channels.Outbound
		if err := json.Unmarshal([]byte(held[0]), &first); err != nil || first.ID != "SMw1:0" {
			t.Errorf("held first %q (%v), want SMw1:0 in order", first.ID, err)
		}
		if o := g.outcomes(); o["template"] != 1 || o["dead"] != 0 || o["failed"] != 0 {
			t.Errorf("outcomes %v", o)
		}
		// Messages held and released (as a contact's next message releases them, marked
		// "h") go out once the window is open, skipping pieces already sent.
		if err := g.rdb.Set(ctx, channels.WindowKeysFor(g.prefix, 0, "h0006").Seen, time.Now().UnixMilli(), time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		for _, h := range held {
			if err := g.rdb.XAdd(ctx, &redis.XAddArgs{Stream: channels.Tag(g.prefix, 0) + "outbox", Values: []any{"m", h, "h", "1"}}).Err(); err != nil {
				t.Fatal(err)
			}
		}
		msgs, err = g.api.WaitMessages(t.Context(), 5)
		if err != nil {
			t.Fatal(err)
		}
		if msgs[3].Body != "reply SMw1:0" || msgs[4].Body != "reply SMw2:0" {
			t.Errorf("released %q, %q; want SMw1:0 then SMw2:0", msgs[3].Body, msgs[4].Body)
		}
	})
}

// TestRefusedOutsideTheWindowIsHeld: WhatsApp's clock said the window had closed
// (Twilio 63016) though ours did not: the message is held, not lost or retried.
func TestRefusedOutsideTheWindowIsHeld(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		g.whatsApp()
		ctx := context.Background()
		g.queue(t, "", waReply("SMr:0", "+15005550009", time.Now().Add(time.Hour)))
		stop := g.run(t)
		defer stop()
		if _, err := g.api.WaitMessages(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		mark := channels.Tag(g.prefix, 0) + "sent:SMr:0/0"
		waitFor(t, "sent-mark", func() bool { return g.rdb.Exists(ctx, mark).Val() == 1 })
		if err := g.ob.RecordDelivery(ctx, channels.DeliveryReport{Channel: channels.WhatsApp, Contact: "whatsapp:+15005550009",
			OutboundID: "SMr:0", Seq: 0, Status: "failed", Code: 63016}); err != nil {
			t.Fatal(err)
		}
		msgs, err := g.api.WaitMessages(t.Context(), 2)
		if err != nil {
			t.Fatal(err)
		}
		if msgs[1].ContentSid != tplSID || msgs[1].Body != "" {
			t.Errorf("after 63016 sent %+v, want the template", msgs[1])
		}
		if n := g.rdb.LLen(ctx, channels.WindowKeysFor(g.prefix, 0, "h0009").Held).Val(); n != 1 {
			t.Errorf("%d held, want 1", n)
		}
		if g.rdb.Exists(ctx, mark).Val() != 0 {
			t.Error("sent-mark kept: the refused piece would be skipped when released")
		}
	})
}

// recorder is a test inbox that keeps what the outbox reports back.
type recorder struct {
	mu  sync.Mutex
	got []channels.Inbound
}

func (r *recorder) Enqueue(_ context.Context, in channels.Inbound) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, in)
	return true, nil
}

func (r *recorder) all() []channels.Inbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]channels.Inbound(nil), r.got...)
}

// TestBlockedBotEndsTheConversation: Telegram answers 403 for a user who blocked the
// bot; the message is not retried and the conversation hears of it.
func TestBlockedBotEndsTheConversation(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		const token = "123456:TEST-token"
		tg := telegramtest.New(t, token)
		tg.FailNext(telegramtest.Failure{Status: 403, Description: "Forbidden: bot was blocked by the user"})
		sender, err := telegram.NewSender(telegram.SenderConfig{Token: token, APIURL: tg.URL()})
		if err != nil {
			t.Fatal(err)
		}
		events := &recorder{}
		g.ob = outbox.New(g.rdb, map[channels.Channel]channels.Sender{channels.Telegram: sender},
			outbox.Config{Prefix: g.prefix, Block: 50 * time.Millisecond, Events: events}, time.Now, quiet,
			func(r outbox.Result) { g.mu.Lock(); g.results = append(g.results, r); g.mu.Unlock() })
		o := reply("tg-1:0", "1111111", "hello")
		o.Channel = channels.Telegram
		g.queue(t, "", o)
		stop := g.run(t)
		defer stop()
		waitFor(t, "blocked event", func() bool { return len(events.all()) == 1 })
		ev := events.all()[0]
		if ev.Effect == nil || ev.Effect.Kind != channels.EventBlocked || ev.Contact != "1111111" || ev.Channel != channels.Telegram {
			t.Errorf("event %+v", ev)
		}
		if o := g.outcomes(); o["blocked"] != 1 || o["retry"] != 0 {
			t.Errorf("outcomes %v", o)
		}
	})
}

// TestUndeliveredIsSentAgain: Twilio accepted a message, then reported it undelivered
// with an error that may pass; it goes out again, a bounded number of times, and a
// final error does not.
func TestUndeliveredIsSentAgain(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		g.ob = outbox.New(g.rdb, map[channels.Channel]channels.Sender{channels.SMS: twilio.NewSender(twilio.SenderConfig{
			AccountSID: sid, AuthToken: token, APIURL: g.api.URL(), From: "+15005550001"})},
			outbox.Config{Prefix: g.prefix, Block: 50 * time.Millisecond, Shards: 1}, time.Now, quiet,
			func(r outbox.Result) { g.mu.Lock(); g.results = append(g.results, r); g.mu.Unlock() })
		g.queue(t, "", reply("SMd:0", "+15005550006", "hello"))
		stop := g.run(t)
		defer stop()
		if _, err := g.api.WaitMessages(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		mark := channels.Tag(g.prefix, 0) + "sent:SMd:0/0"
		report := func(code int) {
			t.Helper()
			// A report comes after Twilio's answer, which the sent-mark follows at once.
			waitFor(t, "sent-mark", func() bool { return g.rdb.Exists(ctx, mark).Val() == 1 })
			if err := g.ob.RecordDelivery(ctx, channels.DeliveryReport{Channel: channels.SMS, Contact: "+15005550006",
				OutboundID: "SMd:0", Seq: 0, Status: "undelivered", Code: code}); err != nil {
				t.Fatal(err)
			}
		}
		report(30005) // unknown number: final
		time.Sleep(200 * time.Millisecond)
		if n := len(g.api.Messages()); n != 1 {
			t.Fatalf("%d sends after a final error, want 1", n)
		}
		for i := range 5 {
			report(30001) // queue overflow: may pass
			want := min(2+i, 4)
			if _, err := g.api.WaitMessages(t.Context(), want); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(200 * time.Millisecond)
		if n := len(g.api.Messages()); n != 4 {
			t.Errorf("%d sends, want 4: the first and three redeliveries at most", n)
		}
		if o := g.outcomes(); o["status_undelivered"] != 6 {
			t.Errorf("outcomes %v", o)
		}
	})
}

// gated holds the first send of message hold until open is closed; later sends of
// it, and every other, go at once.
type gated struct {
	channels.Sender
	hold    string
	once    sync.Once
	entered chan struct{}
	open    chan struct{}
}

func (g *gated) Send(ctx context.Context, o channels.Outbound, p channels.Piece) error {
	if o.ID == g.hold {
		first := false
		g.once.Do(func() { first = true })
		if first {
			close(g.entered)
			<-g.open
		}
	}
	return g.Sender.Send(ctx, o, p)
}

// TestAHolderThatStalledLeavesItsMessagesToTheNext: a process read two replies for a
// contact and stalled in the first send (a pause, a starved CPU) for longer than its
// lease lasts; another process took the shard, read both again and sent them. When the
// stalled one wakes, the send it was in goes (a duplicate the design allows: it was
// under way), but the second reply, read long ago, is not sent again.
func TestAHolderThatStalledLeavesItsMessagesToTheNext(t *testing.T) {
	rigs(t, func(t *testing.T, g *rig) {
		gate := &gated{hold: "a", entered: make(chan struct{}), open: make(chan struct{})}
		gate.Sender = twilio.NewSender(twilio.SenderConfig{AccountSID: sid, AuthToken: token, APIURL: g.api.URL(), From: "+15005550001"})
		const ttl = 200 * time.Millisecond
		g.ob = outbox.New(g.rdb, map[channels.Channel]channels.Sender{channels.SMS: gate},
			outbox.Config{Prefix: g.prefix, Block: 50 * time.Millisecond, LeaseTTL: ttl}, time.Now, quiet, nil)
		g.queue(t, "", reply("a", "+15005550100", "first"))
		g.queue(t, "", reply("b", "+15005550100", "second"))
		stop := g.run(t)
		defer stop()
		<-gate.entered
		lease := channels.Tag(g.prefix, 0) + "lease"
		if err := g.rdb.Set(context.Background(), lease, "next", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); g.ob.RunShard(ctx, 0, lease, "next") }()
		defer func() { cancel(); <-done }()
		count := func(body string) int {
			n := 0
			for _, m := range g.api.Messages() {
				if m.Body == body {
					n++
				}
			}
			return n
		}
		waitFor(t, "the new holder's sends", func() bool { return count("first") == 1 && count("second") == 1 })
		// The second reply is old in the stalled holder's hands: more than a quarter
		// of the lease since it was read.
		time.Sleep(ttl / 2)
		close(gate.open)
		waitFor(t, "the stalled send", func() bool { return count("first") == 2 })
		// Time for a second send of the second reply, were it to come.
		time.Sleep(2 * ttl)
		if n := count("second"); n != 1 {
			t.Errorf("the second reply was sent %d times, want once", n)
		}
	})
}
