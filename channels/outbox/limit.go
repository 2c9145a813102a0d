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
//
// Replies (ARGV[4] = 'reply') may fill the second; they are also counted in KEYS[2].
// Route alerts (bulk) only take what replies leave: they stop short of the cap by as
// many places as replies took in the last second, and by a tenth of the cap at least
// (one at least, from a cap of 2), so that a reply arriving in the middle of a
// broadcast finds a place at once.
var globalScript = redis.NewScript(`
local now, cap = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 1000)
local n = redis.call('ZCARD', KEYS[1])
local room = cap
if ARGV[4] ~= 'reply' then
  local replies = redis.call('ZCARD', KEYS[2])
  local keep = math.floor(cap / 10)
  if keep < 1 and cap >= 2 then keep = 1 end
  room = cap - math.max(replies, keep)
  if room < 1 and replies == 0 then room = 1 end
end
if n >= room then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #oldest == 0 then return 10 end
  return math.max(1, tonumber(oldest[2]) + 1001 - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], 2000)
if ARGV[4] == 'reply' then
  redis.call('ZADD', KEYS[2], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[2], 2000)
end
return 0
`)

func (r *shardRun) contactKey(out channels.Outbound) string {
	return r.tag + "rate:" + string(out.Channel) + ":" + r.o.cfg.Hash(out.Channel, out.Contact)
}

// globalKeys are the channel's sliding second and its replies' share, in one slot.
func (r *shardRun) globalKeys(out channels.Outbound) []string {
	k := r.o.cfg.Prefix + "{rate:" + string(out.Channel) + "}"
	return []string{k, k + ":reply"}
}

// wait blocks until the channel's limits let one more message go to the contact, and
// takes its place in the overall count under the name place.
func (r *shardRun) wait(ctx context.Context, out channels.Outbound, place string, lane channels.Lane) error {
	lim, ok := r.o.cfg.Limits[out.Channel]
	if !ok {
		return nil
	}
	for ctx.Err() == nil {
		ms, err := r.reserve(ctx, lim, out, place, lane)
		if err != nil {
			return err
		}
		if ms <= 0 {
			return nil
		}
		r.o.cfg.Sleep(ctx, time.Duration(ms)*time.Millisecond)
	}
	return ctx.Err()
}

// reserve answers 0 when a send may start now (its overall place taken), else how many
// milliseconds to wait first.
func (r *shardRun) reserve(ctx context.Context, lim Limit, out channels.Outbound, place string, lane channels.Lane) (int64, error) {
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
		if lane == "" {
			lane = channels.LaneReply
		}
		ms, err := globalScript.Run(ctx, r.o.rdb, r.globalKeys(out), now, lim.PerSecond, place, string(lane)).Int64()
		if err != nil {
			return 0, fmt.Errorf("channel rate: %w", err)
		}
		return ms, nil
	}
	return 0, nil
}

// stamp records that a send allowed by wait has ended (accepted or not: a refused
// request counts at the provider too).
func (r *shardRun) stamp(ctx context.Context, out channels.Outbound, place string, lane channels.Lane) error {
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
		keys := r.globalKeys(out)
		if err := r.o.rdb.ZAddXX(ctx, keys[0], redis.Z{Score: float64(now), Member: place}).Err(); err != nil {
			return fmt.Errorf("channel rate: %w", err)
		}
		if lane != channels.LaneBulk {
			if err := r.o.rdb.ZAddXX(ctx, keys[1], redis.Z{Score: float64(now), Member: place}).Err(); err != nil {
				return fmt.Errorf("channel rate: %w", err)
			}
		}
	}
	return nil
}
