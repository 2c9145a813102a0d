package outbox

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// HealthKey is the hash where every process's sends are summed up per channel: when a
// send was last accepted, and how many failed since then and when. One key for every
// channel, so that the service's health is read in one step; it is no index of
// anything, and losing it loses only a warning.
func HealthKey(prefix string) string { return prefix + "outbox:health" }

// healthTTL drops the summary of a channel nothing was sent through for a week.
const healthTTL = 7 * 24 * time.Hour

// okEvery bounds how often a process records accepted sends: a few a second would
// cost a Redis write each, and the health of a channel needs one a second at most.
const okEvery = time.Second

// health is what this process last recorded of each channel.
type health struct {
	mu sync.Mutex
	// okAt is when this process last recorded an accepted send; failed says it has
	// recorded a failure since, so that the next accepted send is recorded at once.
	okAt   map[channels.Channel]time.Time
	failed map[channels.Channel]bool
}

// noteSent records, at most once a second per channel (at once after a failure), that
// the provider accepted a send: the channel's run of failures ends.
func (o *Outbox) noteSent(ctx context.Context, ch channels.Channel) {
	now := o.now()
	h := &o.health
	h.mu.Lock()
	if !h.failed[ch] && now.Sub(h.okAt[ch]) < okEvery && !h.okAt[ch].After(now) {
		h.mu.Unlock()
		return
	}
	if h.okAt == nil {
		h.okAt = map[channels.Channel]time.Time{}
	}
	h.okAt[ch] = now
	delete(h.failed, ch)
	h.mu.Unlock()
	key, c := HealthKey(o.cfg.Prefix), string(ch)
	if _, err := o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, c+":ok", now.UnixMilli())
		p.HDel(ctx, key, c+":n", c+":since", c+":last")
		p.Expire(ctx, key, healthTTL)
		return nil
	}); err != nil {
		o.log.Warn("record send health", "channel", c, "err", err)
	}
}

// noteFailed records a send that failed for a reason not of one contact (the
// provider's error, a timeout, our credentials): the channel's run of failures grows.
func (o *Outbox) noteFailed(ctx context.Context, ch channels.Channel) {
	now := o.now()
	h := &o.health
	h.mu.Lock()
	if h.failed == nil {
		h.failed = map[channels.Channel]bool{}
	}
	h.failed[ch] = true
	h.mu.Unlock()
	key, c := HealthKey(o.cfg.Prefix), string(ch)
	if _, err := o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, key, c+":n", 1)
		p.HSetNX(ctx, key, c+":since", now.UnixMilli())
		p.HSet(ctx, key, c+":last", now.UnixMilli())
		p.Expire(ctx, key, healthTTL)
		return nil
	}); err != nil {
		o.log.Warn("record send health", "channel", c, "err", err)
	}
}

// SendHealth is how sends through one channel went lately, all processes together.
type SendHealth struct {
	// LastOK is when the provider last accepted a send (zero: none in the last week).
	LastOK time.Time
	// Failures is how many sends failed since then, for reasons not of one contact
	// (a contact's refusal, a bad number, are not counted); Since and Last are when the
	// first and the last of them failed.
	Failures    int
	Since, Last time.Time
}

// ParseHealth reads the hash at HealthKey (HGETALL), by channel.
func ParseHealth(fields map[string]string) map[channels.Channel]SendHealth {
	out := map[channels.Channel]SendHealth{}
	for k, v := range fields {
		c, field, ok := strings.Cut(k, ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		h := out[channels.Channel(c)]
		switch field {
		case "ok":
			h.LastOK = time.UnixMilli(n)
		case "n":
			h.Failures = int(n)
		case "since":
			h.Since = time.UnixMilli(n)
		case "last":
			h.Last = time.UnixMilli(n)
		default:
			continue
		}
		out[channels.Channel(c)] = h
	}
	return out
}

// Health reads how sends went lately, by channel.
func (o *Outbox) Health(ctx context.Context) (map[channels.Channel]SendHealth, error) {
	fields, err := o.rdb.HGetAll(ctx, HealthKey(o.cfg.Prefix)).Result()
	if err != nil {
		return nil, err
	}
	return ParseHealth(fields), nil
}
