package dialogs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// TestContactsOfAShardTakeTurnsSideBySide: the messages of different contacts in one
// batch are taken side by side, each contact's in order. A hook holds each commit
// until a second one is on its way (at most a second, once): a runner taking them in
// a line has one at a time. One contact's first commit fails: that contact's turns
// wait and are taken again in order, and the others' do not wait for it.
func TestContactsOfAShardTakeTurnsSideBySide(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		const failing = "+15005550401"
		gate := &commitGate{sha: commitScript.Hash(), failing: plainHash(channels.SMS, failing), arrived: make(chan struct{})}
		rdb.AddHook(gate)
		g := newRig(t, rdb, prefix, 1)
		contacts := []string{failing, "+15005550402", "+15005550403"}
		id := func(contact string, n int) string { return fmt.Sprintf("SM%s-%d", contact[1:], n) }
		// All queued before the runner starts, so that one read takes them together.
		for n, text := range []string{"hello", "1", "2"} {
			for _, c := range contacts {
				if _, err := g.in.Enqueue(ctx, channels.Inbound{ID: id(c, n), Channel: channels.SMS, Contact: c,
					To: "+15005550000", Text: text, Received: fixedNow()}); err != nil {
					t.Fatal(err)
				}
			}
		}
		tok := g.lease(t, 0, "worker")
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- g.runner.RunShard(runCtx, 0, tok) }()
		g.settle(t, Conv{Channel: channels.SMS, Shard: 0})
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		gate.mu.Lock()
		most, refused := gate.most, gate.refused
		gate.mu.Unlock()
		if most < 2 {
			t.Errorf("at most %d commit on its way at once, want 2: the contacts took their turns in a line", most)
		}
		if refused != 1 {
			t.Errorf("%d commits refused, want 1", refused)
		}
		var order []string
		for _, o := range g.replies(t, 0) {
			order = append(order, o.ID)
		}
		for _, c := range contacts {
			var got []string
			for _, o := range order {
				if strings.HasPrefix(o, "SM"+c[1:]) {
					got = append(got, o)
				}
			}
			if want := []string{id(c, 0) + ":0", id(c, 1) + ":0", id(c, 2) + ":0"}; !slices.Equal(got, want) {
				t.Errorf("replies to %s: %q, want %q", c, got, want)
			}
		}
		// The contact whose turn failed was taken again after a pause; the others had
		// all their turns meanwhile.
		if first := slices.Index(order, id(failing, 0)+":0"); first != 6 {
			t.Errorf("replies in the order %q: the failed contact's first is at %d, want 6 (after the others')", order, first)
		}
	})
}

// commitGate is a go-redis hook on the runner's client. It holds each commit until
// another is on its way, for at most a second and only until it has seen two at once
// or waited once in vain; and it refuses the first commit of the session named failing.
type commitGate struct {
	sha     string
	failing string // contact hash whose first commit fails

	mu       sync.Mutex
	inFlight int
	most     int
	refused  int
	gaveUp   bool
	met      bool          // two were on their way at once
	arrived  chan struct{} // closed then
}

func (g *commitGate) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *commitGate) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (g *commitGate) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		if cmd.Name() != "evalsha" || len(args) < 5 || args[1] != g.sha {
			return next(ctx, cmd)
		}
		session, _ := args[4].(string) // the commit's keys: the lease, then the session
		g.mu.Lock()
		if strings.HasSuffix(session, ":"+g.failing) && g.refused == 0 {
			g.refused++
			g.mu.Unlock()
			err := errors.New("commit refused by the test")
			cmd.SetErr(err)
			return err
		}
		g.inFlight++
		g.most = max(g.most, g.inFlight)
		hold := !g.gaveUp && g.most < 2
		if g.inFlight == 2 && !g.met {
			g.met = true
			close(g.arrived)
		}
		g.mu.Unlock()
		if hold {
			select {
			case <-g.arrived:
			case <-time.After(time.Second):
				g.mu.Lock()
				g.gaveUp = true
				g.mu.Unlock()
			}
		}
		err := next(ctx, cmd)
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
		return err
	}
}
