package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// Limit is how fast a provider lets a channel send: Telegram takes about one message a
// second per chat and thirty a second overall. Zero values mean no limit.
type Limit struct {
	PerContact time.Duration // least time between two messages to one contact
	PerSecond  int           // most messages in any one second for the whole deployment
}

// contactScript answers how many milliseconds are left before the next send to a
// contact may start, 0 when it may. The key is the contact's hash under its shard's
// tag, so it is never an address.
var contactScript = redis.NewScript(`
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local now, gap = tonumber(ARGV[1]), tonumber(ARGV[2])
if now - last < gap then return gap - (now - last) end
return 0
`)

// globalScript takes a place in the channel's sliding second, shared by every process:
// 0 when one more fits (the place is ARGV[3]'s), else the milliseconds until the oldest
// place leaves the window. A count per calendar second would let a whole second's worth
// through on each side of a second's turn.
var globalScript = redis.NewScript(`
local now, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1000)
if redis.call('ZCARD', KEYS[1]) >= cap then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + 1001 - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], 2000)
return 0
`)

func (r *shardRun) contactKey(out channels.Outbound) string {
	return r.tag + "rate:" + string(out.Channel) + ":" + r.o.cfg.Hash(out.Channel, out.Contact)
}

func (r *shardRun) globalKey(out channels.Outbound) string {
	return r.o.cfg.Prefix + "rate:" + string(out.Channel)
}

// wait blocks until the channel's limits let one more message go to the contact, and
// takes its place in the overall count under the name place.
func (r *shardRun) wait(ctx context.Context, out channels.Outbound, place string) error {
	lim, ok := r.o.cfg.Limits[out.Channel]
	if !ok {
		return nil
	}
	for ctx.Err() == nil {
		ms, err := r.reserve(ctx, lim, out, place)
		if err != nil {
			return err
		}
		if ms <= 0 {
			return nil
		}
		sleep(ctx, time.Duration(ms)*time.Millisecond)
	}
	return ctx.Err()
}

// reserve answers 0 when a send may start now (its overall place taken), else how many
// milliseconds to wait first.
func (r *shardRun) reserve(ctx context.Context, lim Limit, out channels.Outbound, place string) (int64, error) {
	now := r.o.now().UnixMilli()
	if lim.PerContact > 0 {
		ms, err := contactScript.Run(ctx, r.o.rdb, []string{r.contactKey(out)}, now, lim.PerContact.Milliseconds()).Int64()
		if err != nil {
			return 0, fmt.Errorf("contact rate: %w", err)
		}
		if ms > 0 {
			return ms, nil
		}
	}
	if lim.PerSecond > 0 {
		ms, err := globalScript.Run(ctx, r.o.rdb, []string{r.globalKey(out)}, now, lim.PerSecond, place).Int64()
		if err != nil {
			return 0, fmt.Errorf("channel rate: %w", err)
		}
		return ms, nil
	}
	return 0, nil
}

// stamp records that a send allowed by wait has ended (accepted or not: a refused
// request counts at the provider too).
func (r *shardRun) stamp(ctx context.Context, out channels.Outbound, place string) error {
	lim, ok := r.o.cfg.Limits[out.Channel]
	if !ok {
		return nil
	}
	// The marks move to when the provider answered: the request reached it some time
	// after it was allowed, and its limits count arrivals. The contact's mark is set
	// here, not when the send was allowed, so that a send the overall cap held back
	// does not cost the contact a second as well.
	now := r.o.now().UnixMilli()
	if lim.PerContact > 0 {
		if err := r.o.rdb.Set(ctx, r.contactKey(out), now, 2*lim.PerContact).Err(); err != nil {
			return fmt.Errorf("contact rate: %w", err)
		}
	}
	if lim.PerSecond > 0 {
		if err := r.o.rdb.ZAddXX(ctx, r.globalKey(out), redis.Z{Score: float64(now), Member: place}).Err(); err != nil {
			return fmt.Errorf("channel rate: %w", err)
		}
	}
	return nil
}
