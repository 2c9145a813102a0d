package coalesce

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels/redistest"
)

// slowScript keeps Redis busy for tens of milliseconds, so that the flight it takes
// is still under way while the test queues commands behind it.
var slowScript = redis.NewScript(`local n = 0 for i = 1, tonumber(ARGV[1]) do n = n + i end return 1`)

// echoScript answers its argument, or LEASE when told to fail, as the hotline's
// fenced scripts do.
var echoScript = redis.NewScript(`
if ARGV[2] == 'fail' then return redis.error_reply('LEASE') end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]`)

// pipelines counts the pipelines a client sends and the commands in each.
type pipelines struct {
	mu    sync.Mutex
	sizes []int
}

func (p *pipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (p *pipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (p *pipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if n := cmds[0].Name(); n == "hello" || n == "client" {
			// A new connection introducing itself, not a caller's work.
			return next(ctx, cmds)
		}
		p.mu.Lock()
		p.sizes = append(p.sizes, len(cmds))
		p.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (p *pipelines) seen() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.sizes...)
}

// holdFlight starts the slow script and returns once it holds the hook's only
// flight; wait ends it.
func holdFlight(t *testing.T, h *Hook, rdb redis.UniversalClient, key string) (wait func()) {
	t.Helper()
	// Loaded first: a NOSCRIPT answer would end the flight before the script runs.
	if err := slowScript.Load(context.Background(), rdb).Err(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- slowScript.Run(context.Background(), rdb, []string{key}, 20_000_000).Err() }()
	eventually(t, "the slow script to take the flight", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.flying == 1
	})
	return func() {
		if err := <-done; err != nil {
			t.Errorf("slow script: %v", err)
		}
	}
}

// queued waits until n callers wait in the hook's queue.
func queued(t *testing.T, h *Hook, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d callers to queue", n), func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.queue) == n
	})
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func TestCommandsIssuedTogetherShareOnePipeline(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		h := Add(rdb, 1)
		p := &pipelines{}
		rdb.AddHook(p)
		// Loaded first, so that the batch is the scripts and nothing else.
		if err := echoScript.Load(ctx, rdb).Err(); err != nil {
			t.Fatal(err)
		}
		// A hash tag: on a Cluster, the slow script and the others go to one node.
		tag := prefix + "{c}:"
		wait := holdFlight(t, h, rdb, tag+"slow")

		const n = 8
		got := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				fail := ""
				if i%2 == 1 {
					fail = "fail"
				}
				got[i], errs[i] = echoScript.Run(ctx, rdb, []string{fmt.Sprintf("%s%d", tag, i)}, fmt.Sprint("v", i), fail).Text()
			})
		}
		queued(t, h, n)
		wait()
		wg.Wait()

		if sizes := p.seen(); len(sizes) != 1 || sizes[0] != n {
			t.Errorf("pipelines sent = %v, want one of %d commands", sizes, n)
		}
		// Each caller gets its own reply or error, never a neighbour's.
		for i := range n {
			if i%2 == 1 {
				if errs[i] == nil || strings.TrimPrefix(errs[i].Error(), "ERR ") != "LEASE" {
					t.Errorf("caller %d: err = %v, want LEASE", i, errs[i])
				}
				continue
			}
			if errs[i] != nil || got[i] != fmt.Sprint("v", i) {
				t.Errorf("caller %d: %q, %v", i, got[i], errs[i])
			}
		}

		// A command alone goes at once, as it would without the hook.
		if err := rdb.Set(ctx, tag+"alone", "1", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if sizes := p.seen(); len(sizes) != 1 {
			t.Errorf("a lone command went as a pipeline: %v", sizes)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.flying != 0 || len(h.queue) != 0 {
			t.Errorf("after the work: %d flights, %d queued; want none", h.flying, len(h.queue))
		}
	})
}

func TestACallerThatGivesUpWhileQueuedSendsNothing(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		h := Add(rdb, 1)
		tag := prefix + "{c}:"
		wait := holdFlight(t, h, rdb, tag+"slow")

		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- rdb.Set(ctx, tag+"late", "1", time.Minute).Err() }()
		queued(t, h, 1)
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		wait()
		n, err := rdb.Exists(context.Background(), tag+"late").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Error("a command given up in the queue was sent all the same")
		}
	})
}

func TestScriptsNotYetLoadedLoadFromABatch(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		h := Add(rdb, 1)
		tag := prefix + "{c}:"
		// New to this server: its EVALSHA answers NOSCRIPT inside the pipeline, and
		// each caller's Run must then send the script itself.
		fresh := redis.NewScript(fmt.Sprintf("-- %s\nreturn ARGV[1]", prefix))
		wait := holdFlight(t, h, rdb, tag+"slow")
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				v, err := fresh.Run(ctx, rdb, []string{tag + "k"}, fmt.Sprint(i)).Text()
				if err == nil && v != fmt.Sprint(i) {
					err = fmt.Errorf("got %q", v)
				}
				errs[i] = err
			})
		}
		queued(t, h, n)
		wait()
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
		}
	})
}

func TestWhatMayShareAPipeline(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		cmd  redis.Cmder
		want bool
	}{
		{redis.NewCmd(ctx, "evalsha", "abc", 1, "k"), true},
		{redis.NewStatusCmd(ctx, "set", "k", "v"), true},
		{redis.NewCmd(ctx, "xadd", "s", "*", "m", "x"), true},
		// Blocking reads wait in Redis: behind them a pipeline would wait too.
		{redis.NewXStreamSliceCmd(ctx, "xread", "block", 1000, "streams", "s", "$"), false},
		{redis.NewXStreamSliceCmd(ctx, "xreadgroup", "group", "g", "c", "streams", "s", ">"), false},
		{redis.NewStringSliceCmd(ctx, "blpop", "l", 1), false},
		{redis.NewStatusCmd(ctx, "select", 1), false},
		{redis.NewStatusCmd(ctx, "client", "setname", "x"), false},
	} {
		if got := batchable(c.cmd); got != c.want {
			t.Errorf("batchable(%v) = %v, want %v", c.cmd.Args(), got, c.want)
		}
	}
}

// TestNilRepliesReachTheirCaller: a key that is not there answers redis.Nil whether
// the command went alone, led a queue of one, or rode in a pipeline (code such as
// SET NX GET tells "new" from "taken" by it).
func TestNilRepliesReachTheirCaller(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		h := Add(rdb, 1)
		tag := prefix + "{c}:"
		setNXGet := func(k string) error {
			_, err := rdb.SetArgs(ctx, tag+k, "v", redis.SetArgs{Mode: "NX", Get: true, TTL: time.Minute}).Result()
			return err
		}
		if err := setNXGet("alone"); !errors.Is(err, redis.Nil) {
			t.Errorf("alone: err = %v, want redis.Nil", err)
		}
		for _, n := range []int{1, 3} {
			wait := holdFlight(t, h, rdb, tag+"slow")
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { errs[i] = setNXGet(fmt.Sprintf("queued-%d-%d", n, i)) })
			}
			queued(t, h, n)
			wait()
			wg.Wait()
			for i, err := range errs {
				if !errors.Is(err, redis.Nil) {
					t.Errorf("%d queued, caller %d: err = %v, want redis.Nil", n, i, err)
				}
			}
		}
	})
}

// TestNowNeverWaitsInLine: a webhook's command goes at once even while every flight
// is taken, where another caller's waits.
func TestNowNeverWaitsInLine(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		h := Add(rdb, 1)
		tag := prefix + "{c}:"
		h.mu.Lock()
		h.flying = 1 // every flight taken, as by a long pipeline
		h.mu.Unlock()

		// Bounded: were it to wait in line, it would wait for good (nothing lands).
		nctx, cancel := context.WithTimeout(Now(ctx), 5*time.Second)
		defer cancel()
		if err := rdb.Set(nctx, tag+"now", "1", time.Minute).Err(); err != nil {
			t.Fatalf("a command that must not wait: %v", err)
		}
		errc := make(chan error, 1)
		go func() { errc <- rdb.Set(ctx, tag+"queued", "1", time.Minute).Err() }()
		queued(t, h, 1)

		h.land() // the flight lands: the queued caller leads
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.flying != 0 || len(h.queue) != 0 {
			t.Errorf("after the work: %d flights, %d queued; want none", h.flying, len(h.queue))
		}
	})
}
