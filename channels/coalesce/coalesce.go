package coalesce

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Hook is a go-redis hook that lets at most Flights commands of the listed kinds be
// on their way to Redis at once; what is issued while they are holds on in a queue,
// and the next of those callers to go takes the whole queue with it as one pipeline.
// A command alone goes at once, as without the hook, so a quiet process waits for
// nothing; a busy one spends one write and one read on many commands, where each
// round trip costs a loopback system call on both sides.
//
// Every command keeps its own reply and error (a script's LEASE error goes to its
// caller only). A caller whose context ends while its command waits in the queue
// gets the context's error and its command is never sent; once taken into a
// pipeline, the command is waited for, and the pipeline waits no longer than the
// earliest deadline among its commands.
//
// go-redis copies a client's hooks into its transactions (Watch) and its dedicated
// connections (Conn): a command of theirs that waits in line is sent on the client's
// pipeline connection, not theirs. The hotline uses neither; code that does should
// give it a client without this hook.
type Hook struct {
	pipe    func(ctx context.Context, cmds []redis.Cmder) error
	flights int

	mu     sync.Mutex
	flying int
	queue  []*call
}

type call struct {
	ctx   context.Context
	cmd   redis.Cmder
	wake  chan bool // true: lead batch as the next pipeline; false: done
	batch []*call   // set before wake gets true: the queue as it was, c first
}

// New returns a Hook that sends pipelines through pipe (a client's Pipelined) and
// lets flights of them, or of lone commands, be under way at once.
func New(pipe func(ctx context.Context, fn func(redis.Pipeliner) error) ([]redis.Cmder, error), flights int) *Hook {
	if flights < 1 {
		flights = 1
	}
	return &Hook{flights: flights, pipe: func(ctx context.Context, cmds []redis.Cmder) error {
		_, err := pipe(ctx, func(p redis.Pipeliner) error {
			for _, c := range cmds {
				p.Process(ctx, c)
			}
			return nil
		})
		return err
	}}
}

// Add installs h on a client.
func Add(rdb redis.UniversalClient, flights int) *Hook {
	h := New(rdb.Pipelined, flights)
	rdb.AddHook(h)
	return h
}

func (h *Hook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *Hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

type nowKey struct{}

// Now returns a context whose commands go at once, never waiting in line: for a
// caller that someone outside is timing (a webhook), at the cost of a round trip of
// its own.
func Now(ctx context.Context) context.Context { return context.WithValue(ctx, nowKey{}, true) }

func (h *Hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !batchable(cmd) || ctx.Value(nowKey{}) != nil {
			return next(ctx, cmd)
		}
		h.mu.Lock()
		if h.flying < h.flights {
			h.flying++
			h.mu.Unlock()
			err := next(ctx, cmd)
			h.land()
			return err
		}
		c := &call{ctx: ctx, cmd: cmd, wake: make(chan bool, 1)}
		h.queue = append(h.queue, c)
		h.mu.Unlock()
		var lead bool
		select {
		case lead = <-c.wake:
		case <-ctx.Done():
			if h.leave(c) {
				cmd.SetErr(ctx.Err())
				return ctx.Err()
			}
			// Already taken into a pipeline: its reply is coming.
			lead = <-c.wake
		}
		if !lead {
			return cmd.Err()
		}
		return h.lead(c, next)
	}
}

// lead sends c.batch as one pipeline, then hands the flight on. It returns c's error.
func (h *Hook) lead(c *call, next redis.ProcessHook) error {
	defer h.land()
	if len(c.batch) == 1 {
		// Alone after all: as without the hook. The error is only returned, not set
		// on the command (the client sets it), so it must be passed on as it is.
		return next(c.ctx, c.cmd)
	}
	ctx := context.Background()
	var deadline time.Time
	cmds := make([]redis.Cmder, len(c.batch))
	for i, b := range c.batch {
		cmds[i] = b.cmd
		if d, ok := b.ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
			deadline = d
		}
	}
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	// Each command holds its own result; the pipeline's error is only the first.
	h.pipe(ctx, cmds)
	for _, b := range c.batch[1:] {
		b.wake <- false
	}
	return c.cmd.Err()
}

// land ends a flight. If callers wait, the first of them leads them all as the next
// one; they leave the queue now, so that none can give up once taken.
func (h *Hook) land() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.queue) == 0 {
		h.flying--
		return
	}
	head := h.queue[0]
	head.batch, h.queue = h.queue, nil
	head.wake <- true
}

// leave takes c out of the queue, reporting false when a leader took it already.
func (h *Hook) leave(c *call) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, q := range h.queue {
		if q == c {
			h.queue = append(h.queue[:i], h.queue[i+1:]...)
			return true
		}
	}
	return false
}

// batchable names the commands that may share a pipeline: the hotline's scripts and
// plain reads and writes of keys. Blocking reads (XREAD BLOCK), transactions and
// anything that changes the connection never do.
func batchable(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "evalsha", "eval", "evalsha_ro", "eval_ro",
		"get", "set", "del", "exists", "expire", "pexpire",
		"hget", "hmget", "hset", "hdel", "hgetall", "hincrby",
		"xadd", "xack", "xdel", "zadd", "zrem", "incr":
		return true
	}
	return false
}
