package dialogs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// conversation starts a shard worker and brings contact's conversation to where texts
// leave it; it returns the conversation's name and a function that sends one more.
func (g *rig) conversation(t *testing.T, contact string, texts ...string) (Conv, func(id, text string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	shard := channels.ShardOf(channels.SMS, contact, g.in.Shards())
	tok := g.lease(t, shard, "worker")
	done := make(chan error, 1)
	go func() { done <- g.runner.RunShard(ctx, shard, tok) }()
	t.Cleanup(func() { cancel(); <-done })
	send := g.sender(t, contact)
	c := Conv{Channel: channels.SMS, Shard: shard, Contact: plainHash(channels.SMS, contact)}
	for i, text := range texts {
		send(fmt.Sprintf("SMsetup%d", i), text)
	}
	g.settle(t, c)
	return c, send
}

// sender returns a function that queues an SMS from contact, as its provider would.
func (g *rig) sender(t *testing.T, contact string) func(id, text string) {
	return func(id, text string) {
		if _, err := g.in.Enqueue(context.Background(), channels.Inbound{ID: id, Channel: channels.SMS, Contact: contact,
			To: "+15005550000", Text: text, Received: fixedNow()}); err != nil {
			t.Fatal(err)
		}
	}
}

// settle waits until the shard has taken every inbound message.
func (g *rig) settle(t *testing.T, c Conv) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n, err := g.rdb.XLen(context.Background(), g.in.StreamKey(c.Shard)).Result()
		if err == nil && n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the shard did not take its messages")
}

func (g *rig) session(t *testing.T, c Conv) Session {
	t.Helper()
	s, err := LoadSession(context.Background(), g.rdb, KeysFor(g.prefix, c.Shard, c.Channel, c.Contact), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// effectKinds lists the kinds of the effects queued on a shard, in order.
func (g *rig) effectKinds(t *testing.T, shard int) []string {
	t.Helper()
	msgs, err := g.rdb.XRange(context.Background(), EffectsKey(g.prefix, shard), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, m := range msgs {
		var j EffectJob
		if err := jsonUnmarshal(m.Values["m"], &j); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, j.Kind)
	}
	return kinds
}

// TestFiftyClaimsOneOperator: fifty operators click "take" on one waiting conversation
// at once; one has it, the others are told it is taken, and the contact hears once
// that a person is there. The same operator clicking again changes nothing.
func TestFiftyClaimsOneOperator(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		g := newRig(t, rdb, prefix, 4)
		c, _ := g.conversation(t, "+15005550101", "hello", "1", "4") // English, then a person
		if s := g.session(t, c); s.Owner != OwnerQueue {
			t.Fatalf("owner %q, want the queue", s.Owner)
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
			others  int
		)
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				op := fmt.Sprintf("op%02d", i)
				_, err := g.runner.Claim(context.Background(), c, op)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					winners = append(winners, op)
				case errors.Is(err, ErrTaken):
					others++
				default:
					t.Errorf("%s: %v", op, err)
				}
			}()
		}
		wg.Wait()
		if len(winners) != 1 || others != 49 {
			t.Fatalf("winners %v, taken %d", winners, others)
		}
		if _, err := g.runner.Claim(context.Background(), c, winners[0]); err != nil {
			t.Errorf("the winner again: %v", err)
		}
		if s := g.session(t, c); s.Owner != Operator(winners[0]) {
			t.Errorf("owner %q, want %s", s.Owner, winners[0])
		}
		joined := 0
		for _, o := range g.replies(t, c.Shard) {
			if strings.Contains(strings.Join(o.Parts, " "), "A person from our team is here") {
				joined++
			}
		}
		if joined != 1 {
			t.Errorf("the contact was told %d times that a person is there", joined)
		}
		if kinds := g.effectKinds(t, c.Shard); strings.Count(strings.Join(kinds, " "), EffectHandoffClaimed) != 1 {
			t.Errorf("effects %v: want one %s", kinds, EffectHandoffClaimed)
		}
	})
}

// TestBotSilentOnceClaimed: messages keep coming while an operator takes the
// conversation from the bot; every one is either answered by the bot before the take
// or goes to the operator after it, never both, and the bot says nothing after it.
func TestBotSilentOnceClaimed(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		g := newRig(t, rdb, prefix, 4)
		c, send := g.conversation(t, "+15005550102", "hello", "1") // at the main menu
		before := len(g.replies(t, c.Shard))
		const n = 40
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			for i := range n {
				send(fmt.Sprintf("SMflow%02d", i), "HELP")
				time.Sleep(time.Millisecond)
			}
		}()
		time.Sleep(15 * time.Millisecond)
		if _, err := g.runner.Claim(context.Background(), c, "op1"); err != nil {
			t.Fatal(err)
		}
		<-sent
		g.settle(t, c)
		var answered int
		claimed := false
		for _, o := range g.replies(t, c.Shard)[before:] {
			text := strings.Join(o.Parts, " ")
			switch {
			case strings.Contains(text, "A person from our team is here"):
				claimed = true
			case claimed:
				t.Errorf("the bot spoke after the operator took over: %q", text)
			default:
				answered++
			}
		}
		forwarded := strings.Count(strings.Join(g.effectKinds(t, c.Shard), " "), EffectHandoffInbound)
		if !claimed || answered+forwarded != n {
			t.Errorf("claimed %v; %d answered by the bot + %d for the operator, want %d", claimed, answered, forwarded, n)
		}
		t.Logf("%d answered by the bot before the take, %d for the operator after it", answered, forwarded)
	})
}

// TestOwnershipChanges: hand on, reply, give back and close, each only by whoever
// holds the conversation, each a no-op when repeated.
func TestOwnershipChanges(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		g := newRig(t, rdb, prefix, 4)
		c, _ := g.conversation(t, "+15005550103", "hello", "2", "4") // French, then a person
		r := g.runner
		if _, err := r.Claim(ctx, c, "a"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Transfer(ctx, c, "b", Operator("c")); !errors.Is(err, ErrNotYours) {
			t.Errorf("transfer by someone who does not hold it: %v", err)
		}
		if _, err := r.Transfer(ctx, c, "a", Operator("b")); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Reply(ctx, c, "a", "r1", "Bonjour"); !errors.Is(err, ErrNotYours) {
			t.Errorf("reply by the previous holder: %v", err)
		}
		if sent, err := r.Reply(ctx, c, "b", "r2", "  Bonjour, je m'appelle Léa.  "); err != nil || !sent {
			t.Fatal(err)
		}
		if _, err := r.Reply(ctx, c, "b", "r3", "   "); err == nil {
			t.Error("an empty reply was sent")
		}
		if _, err := r.Release(ctx, c, "a"); !errors.Is(err, ErrNotYours) {
			t.Errorf("release by the previous holder: %v", err)
		}
		s, err := r.Release(ctx, c, "b")
		if err != nil || s.Owner != OwnerBot || s.At != (Position{FlowMenu, "main"}) {
			t.Fatalf("released: %+v %v", s, err)
		}
		if _, err := r.Release(ctx, c, "b"); err != nil {
			t.Errorf("released twice: %v", err)
		}
		// Handed to a language team: it waits again, in the queue.
		if _, err := r.Claim(ctx, c, "e"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Transfer(ctx, c, "e", TeamPrefix); err == nil {
			t.Error("a transfer to a team without a language was taken")
		}
		if s, err := r.Transfer(ctx, c, "e", TeamPrefix+"ar"); err != nil || s.Owner != OwnerQueue {
			t.Fatalf("to the Arabic team: %+v %v", s, err)
		}
		if kinds := g.effectKinds(t, c.Shard); kinds[len(kinds)-1] != EffectHandoffEnqueue {
			t.Errorf("handed to a team, the last effect is %v", kinds)
		}
		// Taken again, and closed: the next message starts afresh.
		if _, err := r.Claim(ctx, c, "d"); err != nil {
			t.Fatal(err)
		}
		if s, err := r.Close(ctx, c, "d"); err != nil || s.Owner != OwnerBot || s.At != (Position{}) {
			t.Fatalf("closed: %+v %v", s, err)
		}
		var said []string
		for _, o := range g.replies(t, c.Shard) {
			said = append(said, o.ID+" "+strings.Join(o.Parts, " "))
		}
		all := strings.Join(said, "\n")
		for _, want := range []string{"op:r2 Bonjour, je m'appelle Léa.", "La personne de notre équipe a quitté la conversation",
			"Menu principal", "Cette conversation est terminée"} {
			if !strings.Contains(all, want) {
				t.Errorf("the contact was not told %q:\n%s", want, all)
			}
		}
		if _, err := r.Claim(ctx, Conv{Channel: channels.SMS, Shard: c.Shard, Contact: "nobody"}, "a"); !errors.Is(err, ErrNoConversation) {
			t.Errorf("claim of no conversation: %v", err)
		}
		if _, err := r.Claim(ctx, Conv{Channel: channels.Voice, Shard: c.Shard, Contact: c.Contact}, "a"); !errors.Is(err, ErrCall) {
			t.Errorf("claim of a call: %v", err)
		}
	})
}

// TestNothingToAContactWhoStopped: a contact who sends STOP while a person holds the
// conversation gets nothing more from that person (a reply is refused), and giving the
// conversation back says nothing to them either.
func TestNothingToAContactWhoStopped(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		g := newRig(t, rdb, prefix, 4)
		c, send := g.conversation(t, "+15005550104", "hello", "1", "4")
		if _, err := g.runner.Claim(ctx, c, "ana"); err != nil {
			t.Fatal(err)
		}
		send("SMstop", "STOP")
		g.settle(t, c)
		before := len(g.replies(t, c.Shard))
		if _, err := g.runner.Reply(ctx, c, "ana", "r-stop-1", "Are you still there?"); !errors.Is(err, ErrOptedOut) {
			t.Errorf("a reply after STOP: %v, want ErrOptedOut", err)
		}
		if _, err := g.runner.Release(ctx, c, "ana"); err != nil {
			t.Fatal(err)
		}
		if after := g.replies(t, c.Shard); len(after) != before {
			t.Errorf("sent after STOP: %+v", after[before:])
		}
		if !strings.Contains(strings.Join(g.effectKinds(t, c.Shard), " "), EffectHandoffLeave) {
			t.Error("given back without leaving the held list")
		}
	})
}
