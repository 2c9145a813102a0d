package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// startScript takes the shard's subscribers of a route as they are now, once per
// alert, into the alert's to-do set, and only while the caller holds the shard. A
// subscription that ended is left out; one made later does not get this alert.
var startScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('LEASE') end
if redis.call('HSETNX', KEYS[2], 'started', ARGV[2]) == 0 then return 0 end
redis.call('ZUNIONSTORE', KEYS[4], 1, KEYS[3])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[2])
redis.call('PEXPIREAT', KEYS[4], ARGV[3])
redis.call('PEXPIREAT', KEYS[2], ARGV[3])
if redis.call('ZCARD', KEYS[4]) == 0 then redis.call('HSET', KEYS[2], 'done', ARGV[2]) end
return 1
`)

// queueScript moves subscribers from the to-do set into the bulk lane, each at most
// once: a member is queued only by the call that removes it. ARGV holds the holder's
// token and the time, then pairs of member and message ("" drops the member: nobody
// to send to). The last batch marks the shard done.
var queueScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return redis.error_reply('LEASE') end
local q, d = 0, 0
for i = 3, #ARGV, 2 do
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    if ARGV[i+1] ~= '' then
      redis.call('XADD', KEYS[3], '*', 'm', ARGV[i+1])
      q = q + 1
    else
      d = d + 1
    end
  end
end
if q > 0 then redis.call('HINCRBY', KEYS[4], 'queued', q) end
if d > 0 then redis.call('HINCRBY', KEYS[4], 'dropped', d) end
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('HSET', KEYS[4], 'done', ARGV[2]) end
return q
`)

// ErrLeaseLost means another process holds the shard now.
var ErrLeaseLost = errors.New("shard lease lost")

// RunShard fans out the live alerts to a shard's subscribers while token holds the
// shard's lease (leaseKey), feeding the shard's bulk lane no faster than the outbox
// empties it, and ends subscriptions whose time is up.
func (b *Broadcasts) RunShard(ctx context.Context, shard int, leaseKey, token string) error {
	var nextSweep time.Time
	for ctx.Err() == nil {
		if now := b.now(); !now.Before(nextSweep) {
			nextSweep = now.Add(time.Hour)
			if n, err := b.Sweep(ctx, shard); err != nil {
				b.log.Warn("sweep subscriptions", "shard", shard, "err", err)
			} else if n > 0 {
				b.log.Info("subscriptions ended", "shard", shard, "count", n)
			}
		}
		st, err := b.step(ctx, shard, leaseKey, token)
		if errors.Is(err, ErrLeaseLost) {
			return nil
		}
		switch {
		case err != nil:
			if ctx.Err() == nil {
				b.log.Warn("fan out alerts", "shard", shard, "err", err)
			}
			sleep(ctx, time.Second)
		case st == idle:
			// New alerts are looked for four times a second: a warning should not
			// wait, and the look is one small read per shard.
			sleep(ctx, 250*time.Millisecond)
		case st == waiting:
			// The outbox empties a full lane in a fraction of a second when the
			// provider is fast: look again soon.
			sleep(ctx, 50*time.Millisecond)
		}
	}
	return nil
}

// progress is how a round of fan-out went.
type progress int

const (
	idle    progress = iota // nothing to send
	waiting                 // subscribers left, the bulk lane full
	busy                    // a batch queued: go on at once
)

// step does one round of work on every live alert.
func (b *Broadcasts) step(ctx context.Context, shard int, leaseKey, token string) (st progress, err error) {
	ids, err := b.rdb.ZRangeByScore(ctx, b.activeKey(), &redis.ZRangeBy{Min: fmt.Sprint(b.now().UnixMilli()), Max: "+inf"}).Result()
	if err != nil {
		return idle, fmt.Errorf("list alerts: %w", err)
	}
	for _, id := range ids {
		done, err := b.rdb.HGet(ctx, b.stateKey(shard, id), "done").Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return idle, fmt.Errorf("alert %s: %w", id, err)
		}
		if done != "" {
			continue
		}
		a, err := b.Get(ctx, id)
		if errors.Is(err, ErrNotFound) || err == nil && !a.Cancelled.IsZero() {
			continue
		}
		if err != nil {
			return idle, err
		}
		p, err := b.feed(ctx, shard, leaseKey, token, a)
		if errors.Is(err, ErrLeaseLost) {
			return idle, err
		}
		if err != nil {
			// One alert failing must not hold up the others.
			b.log.Warn("fan out alert", "alert", a.ID, "shard", shard, "err", err)
			continue
		}
		st = max(st, p)
	}
	return st, nil
}

// feed queues one batch of an alert's subscribers if the bulk lane has room.
func (b *Broadcasts) feed(ctx context.Context, shard int, leaseKey, token string, a Alert) (progress, error) {
	state, todo := b.stateKey(shard, a.ID), b.todoKey(shard, a.ID)
	keep := a.Expires.Add(7 * 24 * time.Hour).UnixMilli()
	_, err := startScript.Run(ctx, b.rdb, []string{leaseKey, state, b.routeKey(shard, a.Route), todo},
		token, b.now().UnixMilli(), keep).Result()
	if err != nil {
		return idle, leaseErr(err)
	}
	bulk := channels.BulkKey(b.cfg.Prefix, shard)
	n, err := b.rdb.XLen(ctx, bulk).Result()
	if err != nil {
		return idle, fmt.Errorf("bulk lane length: %w", err)
	}
	if n >= int64(b.cfg.Backlog) {
		return waiting, nil
	}
	members, err := b.rdb.ZRange(ctx, todo, 0, int64(b.cfg.Batch-1)).Result()
	if err != nil {
		return idle, fmt.Errorf("alert %s: %w", a.ID, err)
	}
	if len(members) == 0 {
		return idle, b.rdb.HSet(ctx, state, "done", b.now().UnixMilli()).Err()
	}
	sealed, err := b.rdb.HMGet(ctx, b.infoKey(shard), members...).Result()
	if err != nil {
		return idle, fmt.Errorf("alert %s: subscribers: %w", a.ID, err)
	}
	args := []any{token, b.now().UnixMilli()}
	for i, h := range members {
		msg := ""
		if v, ok := sealed[i].(string); ok {
			msg, err = b.message(a, h, v)
			if err != nil {
				// A key gone from the ring: this one cannot be reached; the rest can.
				b.log.Error("subscriber unreadable; alert not sent to them", "alert", a.ID, "shard", shard, "err", err)
				msg = ""
			}
		}
		args = append(args, h, msg)
	}
	if _, err := queueScript.Run(ctx, b.rdb, []string{leaseKey, todo, bulk, state}, args...).Result(); err != nil {
		return idle, leaseErr(err)
	}
	return busy, nil
}

// message is the outbound message of alert a for the subscriber h, as JSON.
func (b *Broadcasts) message(a Alert, h, sealed string) (string, error) {
	plain, err := b.cfg.Sealer.Open([]byte(sealed), []byte("sub:"+h))
	if err != nil {
		return "", fmt.Errorf("open subscriber: %w", err)
	}
	var s Subscriber
	if err := json.Unmarshal(plain, &s); err != nil {
		return "", fmt.Errorf("decode subscriber: %w", err)
	}
	lang := s.Lang
	text := a.Texts[lang]
	if text == "" {
		// A language added after the alert was written: English, not nothing.
		lang, text = "en", a.Texts["en"]
	}
	out := channels.Outbound{
		ID: channels.AlertMessageID(a.ID, h), Channel: s.Channel, Contact: s.Contact, From: s.From, Lang: lang,
		Parts: []string{b.cfg.Render(lang, a.Route, text)}, Lane: channels.LaneBulk, Test: s.Test,
		Expires: a.Expires, Alert: a.ID,
	}
	if s.Channel == channels.WhatsApp {
		// Free text only inside the contact's 24-hour window: the outbox checks it,
		// and outside it holds the alert and sends the approved template instead.
		out.Until = a.Created
	}
	raw, err := json.Marshal(out)
	return string(raw), err
}

func leaseErr(err error) error {
	if strings.TrimPrefix(err.Error(), "ERR ") == "LEASE" {
		return ErrLeaseLost
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
