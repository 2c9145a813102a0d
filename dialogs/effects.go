package dialogs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/stream"
)

// EffectJob is an effect queued by a turn, with what a worker needs to do it and to
// send its result back to the conversation.
type EffectJob struct {
	ID      string            `json:"id"`
	Kind    string            `json:"kind"`
	Data    map[string]string `json:"data,omitempty"`
	Channel channels.Channel  `json:"ch"`
	Contact string            `json:"contact"`
	// To is the hotline's address the contact wrote to: route alerts come from it.
	To    string    `json:"to,omitempty"`
	Hash  string    `json:"hash"`
	Shard int       `json:"shard"`
	Lang  string    `json:"lang,omitempty"`
	Test  bool      `json:"test,omitempty"`
	At    time.Time `json:"at"`
	// Sealed holds Data encrypted (bound to ID) while the job waits in Redis.
	Sealed []byte `json:"sealed,omitempty"`
}

// seal moves Data into Sealed when there is a sealer.
func (j *EffectJob) seal(s Sealer) error {
	if s == nil || len(j.Data) == 0 {
		return nil
	}
	b, err := json.Marshal(j.Data)
	if err != nil {
		return fmt.Errorf("encode effect data: %w", err)
	}
	if j.Sealed, err = s.Seal(b, []byte(j.ID)); err != nil {
		return fmt.Errorf("seal effect data: %w", err)
	}
	j.Data = nil
	return nil
}

// open moves Sealed back into Data.
func (j *EffectJob) open(s Sealer) error {
	if j.Sealed == nil {
		return nil
	}
	if s == nil {
		return errors.New("effect data is sealed and no key ring is configured")
	}
	b, err := s.Open(j.Sealed, []byte(j.ID))
	if err != nil {
		return fmt.Errorf("open effect data: %w", err)
	}
	j.Sealed = nil
	return json.Unmarshal(b, &j.Data)
}

// EffectHandler does one kind of effect. It must be idempotent: a job may run again
// after a crash. A non-nil result goes back to the conversation as an event.
type EffectHandler func(ctx context.Context, job EffectJob) (*channels.EffectResult, error)

// Requeuer puts an effect's result into the contact's inbound queue.
type Requeuer interface {
	Requeue(ctx context.Context, in channels.Inbound) error
}

const effectsGroup = "effects"

// Effects runs queued effects for the shards this process holds.
type Effects struct {
	rdb      redis.UniversalClient
	prefix   string
	handlers map[string]EffectHandler
	results  Requeuer
	now      func() time.Time
	log      *slog.Logger
	// MaxAttempts before a job is set aside as a dead letter.
	MaxAttempts int
	// Backoff is the wait before the n-th retry of a job.
	Backoff func(n int) time.Duration
	// Sealer opens the data of jobs the runner sealed.
	Sealer Sealer
}

// NewEffects returns an effect worker with a handler per effect kind.
func NewEffects(rdb redis.UniversalClient, prefix string, handlers map[string]EffectHandler, results Requeuer, now func() time.Time, log *slog.Logger) *Effects {
	return &Effects{rdb: rdb, prefix: prefix, handlers: handlers, results: results, now: now, log: log,
		// About ten minutes of retries: a database or Redis node failing over must not
		// turn a family's report or a request for a person into a dead letter.
		MaxAttempts: 50,
		Backoff: func(n int) time.Duration {
			return min(time.Duration(1<<min(n, 6))*250*time.Millisecond, 15*time.Second)
		}}
}

// EffectsKey is the key of a shard's effect stream.
func EffectsKey(prefix string, shard int) string { return channels.Tag(prefix, shard) + "effects" }

// RunShard works a shard's effects while token holds its lease. A failing job is
// retried in place, after a backoff, so that a contact's effects keep their order.
func (e *Effects) RunShard(ctx context.Context, shard int, token string) error {
	key := EffectsKey(e.prefix, shard)
	rd := stream.NewReader(e.rdb, LeaseKey(e.prefix, shard), token, effectsGroup, "s"+itoa(shard), []string{key}, 16, 2*time.Second)
	if err := rd.Prepare(ctx); err != nil {
		return err
	}
	attempts := map[string]int{}
	for ctx.Err() == nil {
		batch, err := rd.Next(ctx)
		if errors.Is(err, ErrLeaseLost) {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			e.log.Warn("read effects", "shard", shard, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		for _, m := range batch {
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			err := e.handle(hctx, key, m)
			cancel()
			if err != nil {
				attempts[m.ID]++
				n := attempts[m.ID]
				if n >= e.MaxAttempts {
					e.deadLetter(ctx, shard, key, m, err)
					delete(attempts, m.ID)
				} else {
					e.log.Warn("effect failed, will retry", "shard", shard, "entry", m.ID, "attempt", n, "err", err)
					sleep(ctx, e.Backoff(n))
				}
				rd.Again()
				break
			}
			delete(attempts, m.ID)
		}
	}
	return nil
}

func (e *Effects) handle(ctx context.Context, key string, m stream.Entry) error {
	raw := m.Values["m"]
	var job EffectJob
	if err := json.Unmarshal([]byte(raw), &job); err != nil {
		e.log.Error("undecodable effect dropped", "entry", m.ID, "err", err)
		return e.ack(ctx, key, m.ID)
	}
	if err := job.open(e.Sealer); err != nil {
		// A key that left the ring too early: keep the job (it fails, then becomes a
		// dead letter) rather than run it without its data.
		return fmt.Errorf("effect %s: %w", job.ID, err)
	}
	h, ok := e.handlers[job.Kind]
	if !ok {
		// A newer release may have queued it while this one holds the shard: keep it
		// (as a failure, then a dead letter) rather than lose it.
		return fmt.Errorf("no handler for effect kind %q", job.Kind)
	}
	res, err := h(ctx, job)
	if err != nil {
		return fmt.Errorf("effect %s %s: %w", job.Kind, job.ID, err)
	}
	if res != nil {
		res.Kind = job.Kind
		if err := e.results.Requeue(ctx, channels.Inbound{ID: job.ID + ":r", Channel: job.Channel,
			Contact: job.Contact, Effect: res, Received: e.now(), Test: job.Test}); err != nil {
			return fmt.Errorf("return result of %s: %w", job.ID, err)
		}
	}
	return e.ack(ctx, key, m.ID)
}

func (e *Effects) ack(ctx context.Context, key, id string) error {
	_, err := e.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, key, effectsGroup, id)
		p.XDel(ctx, key, id)
		return nil
	})
	return err
}

func (e *Effects) deadLetter(ctx context.Context, shard int, key string, m stream.Entry, cause error) {
	e.log.Error("effect moved to dead letters", "shard", shard, "entry", m.ID, "err", cause)
	dead := channels.Tag(e.prefix, shard) + "effects:dead"
	letter, _ := json.Marshal(map[string]any{"entry": m.ID, "job": m.Values["m"], "error": cause.Error(), "at": e.now()})
	if _, err := e.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, dead, letter)
		p.LTrim(ctx, dead, 0, 9999)
		p.Expire(ctx, dead, 7*24*time.Hour)
		p.XAck(ctx, key, effectsGroup, m.ID)
		p.XDel(ctx, key, m.ID)
		return nil
	}); err != nil {
		e.log.Error("could not move effect to dead letters", "entry", m.ID, "err", err)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
