package ratelimit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config says what a Limiter counts and how it names clients.
type Config struct {
	// Name is what is limited ("login", "simulator"): part of every key, so that two
	// limits never share a count.
	Name string
	Rate Rate
	// Key names clients in Redis by HMAC (the hotline's lookup key). An address is
	// personal data, and its plain hash is no disguise: all of IPv4 is 2^32 guesses.
	Key []byte
	// Now is the clock the windows are read from; nil uses time.Now.
	Now func() time.Time
}

// Limiter counts each client's requests in fixed windows of its rate. A window's
// count is one key, so a client costs one small key at a time, and a burst of
// at most twice the rate is possible across a window's edge: enough against floods,
// which is what this is for.
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
	cfg    Config
}

// New returns a limiter keeping its counts under prefix+"ratelimit:"+cfg.Name+":".
func New(rdb redis.UniversalClient, prefix string, cfg Config) (*Limiter, error) {
	if cfg.Name == "" || strings.ContainsAny(cfg.Name, "{}:") {
		return nil, fmt.Errorf("rate limit: name %q must be a plain word", cfg.Name)
	}
	if cfg.Rate.N < 0 || !cfg.Rate.Off() && (cfg.Rate.Per < minPer || cfg.Rate.Per > maxPer) {
		return nil, fmt.Errorf("rate limit %s: rate %v out of range", cfg.Name, cfg.Rate)
	}
	if len(cfg.Key) < 16 {
		return nil, errors.New("rate limit " + cfg.Name + ": a key of at least 16 bytes is needed to name clients")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{rdb: rdb, prefix: prefix + "ratelimit:" + cfg.Name + ":", cfg: cfg}, nil
}

// Rate is the limit's rate.
func (l *Limiter) Rate() Rate { return l.cfg.Rate }

// expirySlack keeps a window's count a little past its end, so that a replica whose
// clock is behind still finds it rather than starting the window again.
const expirySlack = 5 * time.Second

// Allow counts one request of client (an IP address, or any other name of who asks)
// and reports whether it is within the rate; if not, retryAfter is when the window
// ends. Refused requests count too: a client that keeps asking stays refused to the
// end of the window, not longer.
func (l *Limiter) Allow(ctx context.Context, client string) (ok bool, retryAfter time.Duration, err error) {
	if l.cfg.Rate.Off() {
		return true, 0, nil
	}
	now := l.cfg.Now()
	per := l.cfg.Rate.Per.Milliseconds()
	window := now.UnixMilli() / per
	end := time.UnixMilli((window + 1) * per)
	key := l.prefix + l.name(client) + ":" + strconv.FormatInt(window, 36)
	var n *redis.IntCmd
	// One key per call, so one transaction works on a Cluster too; the expiry is set
	// with the count, so that no count outlives its window if the process dies.
	_, err = l.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n = p.Incr(ctx, key)
		p.PExpire(ctx, key, end.Sub(now)+expirySlack)
		return nil
	})
	if err != nil {
		return false, 0, fmt.Errorf("rate limit %s: %w", l.cfg.Name, err)
	}
	if n.Val() > int64(l.cfg.Rate.N) {
		return false, max(end.Sub(now), time.Millisecond), nil
	}
	return true, 0, nil
}

// name is how client appears in Redis: an HMAC of the client as counted.
func (l *Limiter) name(client string) string {
	m := hmac.New(sha256.New, l.cfg.Key)
	m.Write([]byte("ratelimit:" + Counted(client)))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// Counted is a client as counted: an IPv6 client usually holds a whole /64, so the /64
// is one client; IPv4 and its IPv6-mapped form are one. Anything that is not an
// address (an operator's name) is itself. The login throttle counts addresses the
// same way.
func Counted(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return s
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		a = netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a.String()
}
