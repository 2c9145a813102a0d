package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// Sealer encrypts what is kept about a subscriber: their address is personal data.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Subscriber is who gets a route's alerts, and how.
type Subscriber struct {
	Channel channels.Channel `json:"ch"`
	Contact string           `json:"to"`
	From    string           `json:"from,omitempty"`
	Lang    string           `json:"lang"`
	Test    bool             `json:"test,omitempty"`
}

// keys of one shard. A subscriber's address is kept once, sealed, in the shard's info
// hash; each route has a sorted set of subscriber hashes scored by when the
// subscription ends; the shard remembers which routes it has, so that "stop all" and
// the sweep can find them.
func (b *Broadcasts) infoKey(shard int) string {
	return channels.SubsKey(b.cfg.Prefix, shard)
}
func (b *Broadcasts) routesKey(shard int) string {
	return channels.Tag(b.cfg.Prefix, shard) + "subs:routes"
}
func (b *Broadcasts) routeKey(shard int, route string) string {
	return channels.Tag(b.cfg.Prefix, shard) + "subs:r:" + route
}

// Subscribe records that s gets route's alerts until until (a later Subscribe moves
// the end; the language is the latest one).
func (b *Broadcasts) Subscribe(ctx context.Context, s Subscriber, route string, until time.Time) error {
	shard := channels.ShardOf(s.Channel, s.Contact, b.cfg.Shards)
	h := b.cfg.Hash(s.Channel, s.Contact)
	plain, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	sealed, err := b.cfg.Sealer.Seal(plain, []byte("sub:"+h))
	if err != nil {
		return fmt.Errorf("subscribe: seal: %w", err)
	}
	// One slot, one transaction: no subscription without its address.
	_, err = b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, b.infoKey(shard), h, sealed)
		p.ZAdd(ctx, b.routeKey(shard, route), redis.Z{Score: float64(until.UnixMilli()), Member: h})
		p.SAdd(ctx, b.routesKey(shard), route)
		return nil
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	return nil
}

// unsubscribeScript takes a subscriber hash (ARGV[1]) off route sets and, when none
// of the shard's routes keeps them, forgets their details (KEYS[1]). KEYS[2] is the
// shard's set of routes, KEYS[3..] its route sets; ARGV[2] is '*' for every one, else
// the index in KEYS of the one to leave. Only subscriptions ending by ARGV[3] go (the
// sweep must not end one renewed meanwhile), and the details stay if a route was added
// since the caller listed them (ARGV[4], the count it saw): a subscription to it may
// be on its way.
var unsubscribeScript = redis.NewScript(`
local h = ARGV[1]
local removed = 0
for i = 3, #KEYS do
  if ARGV[2] == '*' or tonumber(ARGV[2]) == i then
    local sc = redis.call('ZSCORE', KEYS[i], h)
    if sc and (ARGV[3] == '+inf' or tonumber(sc) <= tonumber(ARGV[3])) then
      removed = removed + redis.call('ZREM', KEYS[i], h)
    end
  end
end
if redis.call('SCARD', KEYS[2]) ~= tonumber(ARGV[4]) then return removed end
for i = 3, #KEYS do
  if redis.call('ZSCORE', KEYS[i], h) then return removed end
end
redis.call('HDEL', KEYS[1], h)
return removed
`)

// Unsubscribe stops route's alerts for a contact; route "" stops them all. It reports
// how many subscriptions ended.
func (b *Broadcasts) Unsubscribe(ctx context.Context, ch channels.Channel, contact, route string) (int, error) {
	shard := channels.ShardOf(ch, contact, b.cfg.Shards)
	return b.unsubscribe(ctx, shard, b.cfg.Hash(ch, contact), route, "+inf")
}

func (b *Broadcasts) unsubscribe(ctx context.Context, shard int, h, route, until string) (int, error) {
	routes, err := b.rdb.SMembers(ctx, b.routesKey(shard)).Result()
	if err != nil {
		return 0, fmt.Errorf("unsubscribe: %w", err)
	}
	keys := []string{b.infoKey(shard), b.routesKey(shard)}
	which := "*"
	for _, r := range routes {
		keys = append(keys, b.routeKey(shard, r))
		if r == route {
			which = fmt.Sprint(len(keys))
		}
	}
	if route != "" && which == "*" {
		return 0, nil // not a route anyone here subscribed to
	}
	n, err := unsubscribeScript.Run(ctx, b.rdb, keys, h, which, until, len(routes)).Int()
	if err != nil {
		return 0, fmt.Errorf("unsubscribe: %w", err)
	}
	return n, nil
}

// SetLang makes a subscriber's alerts come in lang from now on (they changed language);
// someone with no subscription is left alone.
func (b *Broadcasts) SetLang(ctx context.Context, ch channels.Channel, contact, lang string) error {
	shard := channels.ShardOf(ch, contact, b.cfg.Shards)
	h := b.cfg.Hash(ch, contact)
	sealed, err := b.rdb.HGet(ctx, b.infoKey(shard), h).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("subscriber language: %w", err)
	}
	plain, err := b.cfg.Sealer.Open(sealed, []byte("sub:"+h))
	if err != nil {
		return fmt.Errorf("subscriber language: open: %w", err)
	}
	var s Subscriber
	if err := json.Unmarshal(plain, &s); err != nil {
		return fmt.Errorf("subscriber language: %w", err)
	}
	s.Lang = lang
	if plain, err = json.Marshal(s); err != nil {
		return fmt.Errorf("subscriber language: %w", err)
	}
	if sealed, err = b.cfg.Sealer.Seal(plain, []byte("sub:"+h)); err != nil {
		return fmt.Errorf("subscriber language: seal: %w", err)
	}
	// Only if still there: an unsubscribe in between must not bring the address back.
	if err := setIfExists.Run(ctx, b.rdb, []string{b.infoKey(shard)}, h, sealed).Err(); err != nil {
		return fmt.Errorf("subscriber language: %w", err)
	}
	return nil
}

var setIfExists = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
`)

// Subscribed lists the routes a contact gets alerts for, with when each ends.
func (b *Broadcasts) Subscribed(ctx context.Context, ch channels.Channel, contact string) (map[string]time.Time, error) {
	shard := channels.ShardOf(ch, contact, b.cfg.Shards)
	h := b.cfg.Hash(ch, contact)
	routes, err := b.rdb.SMembers(ctx, b.routesKey(shard)).Result()
	if err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	out := map[string]time.Time{}
	for _, r := range routes {
		ms, err := b.rdb.ZScore(ctx, b.routeKey(shard, r), h).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("subscriptions: %w", err)
		}
		out[r] = time.UnixMilli(int64(ms))
	}
	return out, nil
}

// Sweep ends a shard's subscriptions whose time is up, and forgets the addresses no
// subscription needs any more.
func (b *Broadcasts) Sweep(ctx context.Context, shard int) (int, error) {
	routes, err := b.rdb.SMembers(ctx, b.routesKey(shard)).Result()
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	now := b.now().UnixMilli()
	ended := 0
	for _, r := range routes {
		hs, err := b.rdb.ZRangeByScore(ctx, b.routeKey(shard, r), &redis.ZRangeBy{Min: "-inf", Max: fmt.Sprint(now), Count: 1000}).Result()
		if err != nil {
			return ended, fmt.Errorf("sweep: %w", err)
		}
		for _, h := range hs {
			n, err := b.unsubscribe(ctx, shard, h, r, fmt.Sprint(now))
			if err != nil {
				return ended, err
			}
			ended += n
		}
	}
	return ended, nil
}

// Count is how many subscriptions a route has now, over every shard.
func (b *Broadcasts) Count(ctx context.Context, route string) (int64, error) {
	now := fmt.Sprint(b.now().UnixMilli())
	cmds := make([]*redis.IntCmd, b.cfg.Shards)
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for s := range b.cfg.Shards {
			cmds[s] = p.ZCount(ctx, b.routeKey(s, route), now, "+inf")
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count subscribers: %w", err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}
