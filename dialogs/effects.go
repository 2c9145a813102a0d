package dialogs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// EffectJob is an effect queued by a turn, with what a worker needs to do it and to
// send its result back to the conversation.
type EffectJob struct {
	ID      string            `json:"id"`
	Kind    string            `json:"kind"`
	Data    map[string]string `json:"data,omitempty"`
	Channel channels.Channel  `json:"ch"`
	Contact string            `json:"contact"`
	Hash    string            `json:"hash"`
	Shard   int               `json:"shard"`
	Lang    string            `json:"lang,omitempty"`
	Test    bool              `json:"test,omitempty"`
	At      time.Time         `json:"at"`
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
}

// NewEffects returns an effect worker with a handler per effect kind.
func NewEffects(rdb redis.UniversalClient, prefix string, handlers map[string]EffectHandler, results Requeuer, now func() time.Time, log *slog.Logger) *Effects {
	return &Effects{rdb: rdb, prefix: prefix, handlers: handlers, results: results, now: now, log: log,
		MaxAttempts: 8,
		Backoff: func(n int) time.Duration {
			return min(time.Duration(1<<min(n, 6))*250*time.Millisecond, 15*time.Second)
		}}
}

// EffectsKey is the key of a shard's effect stream.
func EffectsKey(prefix string, shard int) string { return channels.Tag(prefix, shard) + "effects" }

// RunShard works a shard's effects until ctx ends. A failing job is retried in place,
// after a backoff, so that a contact's effects keep their order.
func (e *Effects) RunShard(ctx context.Context, shard int) error {
	key := EffectsKey(e.prefix, shard)
	if err := e.rdb.XGroupCreateMkStream(ctx, key, effectsGroup, "0").Err(); err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("effects group for shard %d: %w", shard, err)
	}
	consumer := "s" + itoa(shard)
	pending := true
	attempts := map[string]int{}
	for ctx.Err() == nil {
		id := ">"
		block := 2 * time.Second
		if pending {
			id, block = "0", -1
		}
		res, err := e.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: effectsGroup, Consumer: consumer,
			Streams: []string{key, id}, Count: 16, Block: block}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			if ctx.Err() != nil {
				return nil
			}
			e.log.Warn("read effects", "shard", shard, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		var msgs []redis.XMessage
		if len(res) > 0 {
			msgs = res[0].Messages
		}
		if pending && len(msgs) == 0 {
			pending = false
			continue
		}
		for _, m := range msgs {
			if err := e.handle(context.WithoutCancel(ctx), key, m); err != nil {
				attempts[m.ID]++
				n := attempts[m.ID]
				if n >= e.MaxAttempts {
					e.deadLetter(ctx, shard, key, m, err)
					delete(attempts, m.ID)
				} else {
					e.log.Warn("effect failed, will retry", "shard", shard, "entry", m.ID, "attempt", n, "err", err)
					sleep(ctx, e.Backoff(n))
				}
				pending = true
				break
			}
			delete(attempts, m.ID)
		}
	}
	return nil
}

func (e *Effects) handle(ctx context.Context, key string, m redis.XMessage) error {
	raw, _ := m.Values["m"].(string)
	var job EffectJob
	if err := json.Unmarshal([]byte(raw), &job); err != nil {
		e.log.Error("undecodable effect dropped", "entry", m.ID, "err", err)
		return e.ack(ctx, key, m.ID)
	}
	h, ok := e.handlers[job.Kind]
	if !ok {
		e.log.Error("no handler for effect, dropped", "kind", job.Kind, "entry", m.ID)
		return e.ack(ctx, key, m.ID)
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

func (e *Effects) deadLetter(ctx context.Context, shard int, key string, m redis.XMessage, cause error) {
	e.log.Error("effect moved to dead letters", "shard", shard, "entry", m.ID, "err", cause)
	dead := channels.Tag(e.prefix, shard) + "effects:dead"
	letter, _ := json.Marshal(map[string]any{"entry": m.ID, "job": m.Values["m"], "error": cause.Error(), "at": e.now()})
	if _, err := e.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, dead, letter)
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
