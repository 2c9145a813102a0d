package dialogs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/inbox"
	"github.com/hotline-org/hotline/locales"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func fixedNow() time.Time { return time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC) }

func plainHash(ch channels.Channel, contact string) string { return string(ch) + "-" + contact[1:] }

type rig struct {
	rdb    redis.UniversalClient
	prefix string
	in     *inbox.Inbox
	runner *Runner
}

func newRig(t *testing.T, rdb redis.UniversalClient, prefix string, shards int) *rig {
	t.Helper()
	b, err := locales.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	in := inbox.New(rdb, inbox.Config{Prefix: prefix, Shards: shards}, quiet)
	r := NewRunner(rdb, in, newMachine(t, b.Languages()), b, RunnerConfig{Prefix: prefix, Block: 50 * time.Millisecond},
		plainHash, fixedNow, quiet, nil)
	return &rig{rdb: rdb, prefix: prefix, in: in, runner: r}
}

func (g *rig) lease(t *testing.T, shard int, holder string) string {
	t.Helper()
	tok, err := acquireScript.Run(context.Background(), g.rdb,
		[]string{LeaseKey(g.prefix, shard), channels.Tag(g.prefix, shard) + "fence"}, holder, 60000).Text()
	if err != nil {
		t.Fatalf("acquire lease %d: %v", shard, err)
	}
	return tok
}

func (g *rig) replies(t *testing.T, shard int) []channels.Outbound {
	t.Helper()
	msgs, err := g.rdb.XRange(context.Background(), OutboxKey(g.prefix, shard), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []channels.Outbound
	for _, m := range msgs {
		var o channels.Outbound
		if err := jsonUnmarshal(m.Values["m"], &o); err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

// TestCommitChecksLeaseAndVersion: a turn by a process that lost its lease, or over a
// session that changed under it, writes nothing.
func TestCommitChecksLeaseAndVersion(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		g := newRig(t, rdb, prefix, 4)
		shard := 1
		old := g.lease(t, shard, "a")
		rdb.Del(ctx, LeaseKey(prefix, shard)) // a's lease expired…
		current := g.lease(t, shard, "b")     // …and b took the shard
		keys := KeysFor(prefix, shard, channels.SMS, "h1")
		c := Commit{Keys: keys, LeaseKey: LeaseKey(prefix, shard), Session: Session{Owner: OwnerBot},
			TTL: 60, LangTTL: 60, InboxKey: g.in.StreamKey(shard), InboxGrp: inbox.Group,
			Attempts: keys.Tag + "attempts", OutboxKey: OutboxKey(prefix, shard), EffectKey: EffectsKey(prefix, shard),
			Outbound: []channels.Outbound{{ID: "x:0", Parts: []string{"hi"}}}}
		c.Token = old
		if _, err := c.Save(ctx, rdb); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("stale holder: err %v, want ErrLeaseLost", err)
		}
		c.Token = current
		v, err := c.Save(ctx, rdb)
		if err != nil || v != 1 {
			t.Fatalf("current holder: v=%d err=%v", v, err)
		}
		// Saving again from version 0 means the turn read a session that is gone.
		if _, err := c.Save(ctx, rdb); !errors.Is(err, ErrVersion) {
			t.Fatalf("stale version: err %v, want ErrVersion", err)
		}
		if n := len(g.replies(t, shard)); n != 1 {
			t.Errorf("%d replies queued, want 1 (refused commits queue nothing)", n)
		}
		s, err := LoadSession(ctx, rdb, keys, nil)
		if err != nil || s.Version != 1 {
			t.Errorf("loaded version %d, err %v", s.Version, err)
		}
		// A bot-owned session expires; one in the queue for a person does not.
		if ttl := rdb.TTL(ctx, keys.Session).Val(); ttl <= 0 {
			t.Errorf("bot session TTL %v, want > 0", ttl)
		}
		c.Session, c.TTL = s, 0
		c.Session.Owner = OwnerQueue
		if _, err := c.Save(ctx, rdb); err != nil {
			t.Fatal(err)
		}
		if ttl := rdb.TTL(ctx, keys.Session).Val(); ttl != -1 {
			t.Errorf("queued session TTL %v, want none", ttl)
		}
	})
}

// TestKilledWorkerLosesNothing: a worker takes a message and dies before committing;
// the next holder of the shard answers it, and the dead worker's late commit is refused.
func TestKilledWorkerLosesNothing(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		g := newRig(t, rdb, prefix, 4)
		contact := "+15005550006"
		shard := channels.ShardOf(channels.SMS, contact, 4)
		if _, err := g.in.Enqueue(ctx, channels.Inbound{ID: "SM1", Channel: channels.SMS, Contact: contact, Text: "hello"}); err != nil {
			t.Fatal(err)
		}
		deadTok := g.lease(t, shard, "dead")
		rd := g.in.Reader(shard, LeaseKey(prefix, shard), deadTok, 10, 10*time.Millisecond)
		if err := rd.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		batch, err := rd.Next(ctx)
		if err != nil || len(batch) != 1 {
			t.Fatalf("dead worker took %d, err %v", len(batch), err)
		}
		taken := []inbox.Entry{g.in.Decode(batch[0])}
		// The worker dies here. Its lease runs out; another process takes the shard.
		rdb.Del(ctx, LeaseKey(prefix, shard))
		tok := g.lease(t, shard, "alive")
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- g.runner.RunShard(runCtx, shard, tok) }()
		waitFor(t, func() bool { return len(g.replies(t, shard)) == 1 })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		out := g.replies(t, shard)[0]
		if out.ID != "SM1:0" || out.Contact != contact || len(out.Choices) != 4 {
			t.Errorf("reply %+v", out)
		}
		if err := g.runner.Handle(ctx, shard, deadTok, taken[0]); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("late commit of the dead worker: %v, want ErrLeaseLost", err)
		}
		if n, _ := g.in.Backlog(ctx, shard); n != 0 {
			t.Errorf("inbox still holds %d entries", n)
		}
	})
}

// TestLeasesShareAndRebalance: processes split the shards between them, and give some
// up when another joins, with no shard ever worked by two at once.
func TestLeasesShareAndRebalance(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		const shards = 8
		var mu sync.Mutex
		working := map[int]string{}
		work := func(id string) ShardWork {
			return func(ctx context.Context, shard int, token string) {
				mu.Lock()
				if other, ok := working[shard]; ok {
					t.Errorf("shard %d worked by %s and %s at once", shard, other, id)
				}
				working[shard] = id
				mu.Unlock()
				<-ctx.Done()
				mu.Lock()
				delete(working, shard)
				mu.Unlock()
			}
		}
		mk := func(id string) *Leases {
			return NewLeases(rdb, prefix, shards, id, 10*time.Second, work(id), time.Now, quiet)
		}
		a, b := mk("a"), mk("b")
		defer a.stopAll()
		defer b.stopAll()
		// Shards given back are released once their work has stopped, asynchronously:
		// tick until the processes settle.
		settle := func(ls []*Leases, ok func() bool) bool {
			deadline := time.Now().Add(10 * time.Second)
			for !ok() {
				if time.Now().After(deadline) {
					return false
				}
				for _, l := range ls {
					l.Tick(ctx)
				}
				time.Sleep(5 * time.Millisecond)
			}
			return true
		}
		if !settle([]*Leases{a, b}, func() bool { return len(a.Held()) == 4 && len(b.Held()) == 4 }) {
			t.Fatalf("two processes hold %v and %v, want 4 each", a.Held(), b.Held())
		}
		c := mk("c")
		defer c.stopAll()
		if !settle([]*Leases{c, a, b}, func() bool {
			na, nb, nc := len(a.Held()), len(b.Held()), len(c.Held())
			return na+nb+nc == shards && na <= 3 && nb <= 3 && nc <= 3 && nc > 0
		}) {
			t.Fatalf("after c joined: %v %v %v", a.Held(), b.Held(), c.Held())
		}
		// c leaves: its shards are released and taken by the others.
		c.stopAll()
		if !settle([]*Leases{a, b}, func() bool { return len(a.Held())+len(b.Held()) == shards }) {
			t.Fatalf("after c left: %v %v", a.Held(), b.Held())
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func jsonUnmarshal(v any, dst any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("stream value %T", v)
	}
	return json.Unmarshal([]byte(s), dst)
}

// TestWhatsAppMessageReleasesHeldReplies: replies held while a WhatsApp contact's
// window was closed go out, in order and before the new reply, in the turn of their
// next message; the window opens, and the template marker goes.
func TestWhatsAppMessageReleasesHeldReplies(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		g := newRig(t, rdb, prefix, 4)
		contact := "whatsapp:+15005550006"
		shard := channels.ShardOf(channels.WhatsApp, contact, 4)
		w := KeysFor(prefix, shard, channels.WhatsApp, plainHash(channels.WhatsApp, contact)).Window
		for _, id := range []string{"op1", "op2"} {
			b, _ := json.Marshal(channels.Outbound{ID: id, Channel: channels.WhatsApp, Contact: contact, Parts: []string{id}})
			if err := rdb.RPush(ctx, w.Held, b).Err(); err != nil {
				t.Fatal(err)
			}
		}
		rdb.Set(ctx, w.Nudged, "1", time.Hour)
		at := fixedNow().Add(-time.Second)
		if _, err := g.in.Enqueue(ctx, channels.Inbound{ID: "SMwa", Channel: channels.WhatsApp, Contact: contact,
			Text: "ok", Received: at}); err != nil {
			t.Fatal(err)
		}
		tok := g.lease(t, shard, "a")
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- g.runner.RunShard(runCtx, shard, tok) }()
		waitFor(t, func() bool { return len(g.replies(t, shard)) == 3 })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		msgs, _ := rdb.XRange(ctx, OutboxKey(prefix, shard), "-", "+").Result()
		out := g.replies(t, shard)
		if out[0].ID != "op1" || out[1].ID != "op2" || out[2].ID != "SMwa:0" {
			t.Errorf("outbox order %s, %s, %s; want op1, op2, then the reply", out[0].ID, out[1].ID, out[2].ID)
		}
		if msgs[0].Values["h"] != "1" || msgs[2].Values["h"] != nil {
			t.Errorf("held marks %v, %v: released replies must be marked, the new one not", msgs[0].Values["h"], msgs[2].Values["h"])
		}
		if want := at.Add(channels.WhatsAppWindow - channels.WindowMargin); !out[2].Until.Equal(want) {
			t.Errorf("reply until %v, want %v", out[2].Until, want)
		}
		if n := rdb.Exists(ctx, w.Held, w.Nudged).Val(); n != 0 {
			t.Errorf("%d of held list and template marker left, want none", n)
		}
		if v, _ := rdb.Get(ctx, w.Seen).Int64(); v != at.UnixMilli() {
			t.Errorf("seen %d, want %d", v, at.UnixMilli())
		}
	})
}

// TestAnswersAreSealedInRedis: with a key ring, what a family types into a report or a
// note is not readable in Redis — neither in the session nor in the effect queued for
// it — and the runner and the effect worker still read it.
func TestAnswersAreSealedInRedis(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		spec, _ := keyring.Generate("k1")
		ring, _ := keyring.Parse(spec)
		g := newRig(t, rdb, prefix, 4)
		g.runner.cfg.Sealer = ring
		contact := "+15005550006"
		shard := channels.ShardOf(channels.SMS, contact, 4)
		keys := KeysFor(prefix, shard, channels.SMS, plainHash(channels.SMS, contact))
		start := Session{Channel: channels.SMS, Lang: "en", Owner: OwnerBot, At: Position{FlowFollowUp, "add"},
			Answers: map[string]string{ansRef: "HK7-QM4-XTN9", "e_name": "Amina Keita"}}
		if _, err := (Commit{Keys: keys, Session: start, TTL: 60, LangTTL: 60, InboxKey: g.in.StreamKey(shard),
			InboxGrp: inbox.Group, Attempts: keys.Tag + "attempts", OutboxKey: OutboxKey(prefix, shard),
			EffectKey: EffectsKey(prefix, shard), Sealer: ring}).Save(ctx, rdb); err != nil {
			t.Fatal(err)
		}
		if _, err := g.in.Enqueue(ctx, channels.Inbound{ID: "SMnote", Channel: channels.SMS, Contact: contact,
			Text: "He was seen in Zuwara", Received: fixedNow()}); err != nil {
			t.Fatal(err)
		}
		tok := g.lease(t, shard, "a")
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- g.runner.RunShard(runCtx, shard, tok) }()
		waitFor(t, func() bool { return rdb.XLen(ctx, EffectsKey(prefix, shard)).Val() == 1 })
		cancel()
		<-done

		raw, _ := rdb.HGet(ctx, keys.Session, "d").Result()
		jobs, _ := rdb.XRange(ctx, EffectsKey(prefix, shard), "-", "+").Result()
		for _, secret := range []string{"Amina", "Zuwara", "HK7"} {
			if strings.Contains(raw, secret) || strings.Contains(fmt.Sprint(jobs[0].Values), secret) {
				t.Errorf("%q readable in Redis", secret)
			}
		}
		s, err := LoadSession(ctx, rdb, keys, ring)
		if err != nil || s.Answers["e_name"] != "Amina Keita" || s.At != (Position{FlowFollowUp, "adding"}) {
			t.Errorf("session read back: %+v, %v", s, err)
		}
		if _, err := LoadSession(ctx, rdb, keys, nil); !errors.Is(err, ErrUndecodable) {
			t.Errorf("sealed session without the ring: %v, want ErrUndecodable", err)
		}

		got := make(chan map[string]string, 1)
		e := NewEffects(rdb, prefix, map[string]EffectHandler{EffectCaseNote: func(_ context.Context, j EffectJob) (*channels.EffectResult, error) {
			got <- j.Data
			return nil, nil
		}}, g.in, fixedNow, quiet)
		e.Sealer = ring
		runCtx, cancel = context.WithCancel(ctx)
		go func() { done <- e.RunShard(runCtx, shard, tok) }()
		select {
		case d := <-got:
			if d["text"] != "He was seen in Zuwara" || d["ref"] != "HK7-QM4-XTN9" {
				t.Errorf("effect data opened as %v", d)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("effect not run")
		}
		cancel()
		<-done
	})
}
