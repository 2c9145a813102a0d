package outbox

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// Limit is how fast a provider lets a channel send: Telegram takes about one message a
// second per chat and thirty a second overall. Zero values mean no limit.
type Limit struct {
	PerContact time.Duration // least time between two messages to one contact
	PerSecond  int           // most messages a second for the whole deployment
}

// contactScript reserves the next send to a contact: it answers 0 and records now when
// the contact's gap has passed, else how many milliseconds are left. The key is the
// contact's hash under its shard's tag, so it is never an address.
var contactScript = redis.NewScript(`
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local now, gap = tonumber(ARGV[1]), tonumber(ARGV[2])
if now - last < gap then return gap - (now - last) end
redis.call('SET', KEYS[1], now, 'PX', gap * 2)
return 0
`)

// globalScript counts sends in the current second across all processes: 0 when one
// more fits, else the milliseconds until the next second.
var globalScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], 2000) end
if n > tonumber(ARGV[2]) then return 1000 - (tonumber(ARGV[1]) % 1000) end
return 0
`)

// wait blocks until the channel's limits let one more message go to the contact.
func (r *shardRun) wait(ctx context.Context, out channels.Outbound) error {
	lim, ok := r.o.cfg.Limits[out.Channel]
	if !ok {
		return nil
	}
	for ctx.Err() == nil {
		ms, err := r.reserve(ctx, lim, out)
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

func (r *shardRun) reserve(ctx context.Context, lim Limit, out channels.Outbound) (int64, error) {
	now := r.o.now().UnixMilli()
	if lim.PerContact > 0 {
		key := r.tag + "rate:" + string(out.Channel) + ":" + r.o.cfg.Hash(out.Channel, out.Contact)
		ms, err := contactScript.Run(ctx, r.o.rdb, []string{key}, now, lim.PerContact.Milliseconds()).Int64()
		if err != nil {
			return 0, fmt.Errorf("contact rate: %w", err)
		}
		if ms > 0 {
			return ms, nil
		}
	}
	if lim.PerSecond > 0 {
		key := r.o.cfg.Prefix + "rate:" + string(out.Channel) + ":" + strconv.FormatInt(now/1000, 10)
		ms, err := globalScript.Run(ctx, r.o.rdb, []string{key}, now, lim.PerSecond).Int64()
		if err != nil {
			return 0, fmt.Errorf("channel rate: %w", err)
		}
		return ms, nil
	}
	return 0, nil
}
