package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels/ratelimit"
)

// ThrottleConfig says how many failed logins are let through in a sliding window.
type ThrottleConfig struct {
	// PerAccount failures within Window lock the account (for everyone) until the
	// oldest of them leaves the window.
	PerAccount int
	// PerAddress failures from one client address (an IPv6 /64) within Window lock
	// that address out of every account.
	PerAddress int
	// PerAccountAll tries at one account from every address within Window stop it
	// everywhere: far above PerAccount, it only slows guessing spread over many
	// addresses (a stranger needs that many tries to lock its owner out).
	PerAccountAll int
	Window        time.Duration
	// Key names addresses and login names in Redis by HMAC (the hotline's lookup key).
	// Without it they are named by plain SHA-256, which hides little: every IPv4
	// address can be hashed and matched in minutes.
	Key []byte
}

// DefaultThrottle is 5 failures per account and 20 per address in 15 minutes.
func DefaultThrottle() ThrottleConfig {
	return ThrottleConfig{PerAccount: 5, PerAddress: 20, PerAccountAll: 100, Window: 15 * time.Minute}
}

// Throttle counts failed logins in Redis, so that every replica sees them. Each
// failure is a member of a sorted set scored by the time it happened, read against
// the injected clock; Redis's own expiry only collects sets that have gone quiet.
type Throttle struct {
	rdb    redis.UniversalClient
	prefix string
	cfg    ThrottleConfig
	now    func() time.Time
}

// NewThrottle returns a throttle keeping its counts under prefix+"login:". A zero
// field of cfg takes its DefaultThrottle value.
func NewThrottle(rdb redis.UniversalClient, prefix string, cfg ThrottleConfig, now func() time.Time) (*Throttle, error) {
	if cfg.PerAccount < 0 || cfg.PerAddress < 0 || cfg.PerAccountAll < 0 || cfg.Window < 0 {
		return nil, fmt.Errorf("login throttle: negative limit or window in %+v", cfg)
	}
	def := DefaultThrottle()
	if cfg.PerAccount == 0 {
		cfg.PerAccount = def.PerAccount
	}
	if cfg.PerAddress == 0 {
		cfg.PerAddress = def.PerAddress
	}
	if cfg.Window == 0 {
		cfg.Window = def.Window
	}
	if cfg.PerAccountAll == 0 {
		cfg.PerAccountAll = def.PerAccountAll
	}
	return &Throttle{rdb: rdb, prefix: prefix, cfg: cfg, now: now}, nil
}

// accountKey names an account's failures from one address. Per address, so that a
// stranger who knows a login name cannot lock its owner out from elsewhere (the
// address's own limit, and the password's length, bound guessing). The name as typed
// is hashed: it may be anything (an unknown name counts like a known one, so that the
// answer does not tell which exist) and must neither grow the key nor land in Redis as
// typed.
func (t *Throttle) accountKey(account, addr string) string {
	return t.prefix + "login:account:" + t.hash(strings.ToLower(strings.TrimSpace(account))+"|"+ratelimit.Counted(addr))
}

// addressKey names a client address's failures.
func (t *Throttle) addressKey(addr string) string {
	return t.prefix + "login:addr:" + t.hash(ratelimit.Counted(addr))
}

// hash is how a name or an address appears in a key: 128 bits of its HMAC under
// the configured key, or of its SHA-256 without one.
func (t *Throttle) hash(s string) string {
	if len(t.cfg.Key) == 0 {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:16])
	}
	m := hmac.New(sha256.New, t.cfg.Key)
	m.Write([]byte("login:" + s))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// allKey names an account's tries from every address.
func (t *Throttle) allKey(account string) string {
	return t.prefix + "login:all:" + t.hash(strings.ToLower(strings.TrimSpace(account)))
}

// Attempt counts a login attempt before its password is checked, and reports whether
// it may go on (and if not, for how long not). Counted first and checked after, in
// one step per key, so that tries sent all at once cannot all pass the check before
// any is counted. ticket names the attempt: a good login takes it back (Succeeded),
// so that colleagues logging in from one office address do not use up its limit.
func (t *Throttle) Attempt(ctx context.Context, account, addr string) (ok bool, retryAfter time.Duration, ticket string, err error) {
	now := t.now()
	ticket = strconv.FormatInt(now.UnixNano(), 36) + ":" + rand.Text()[:8]
	for _, k := range []struct {
		key   string
		limit int
	}{{t.accountKey(account, addr), t.cfg.PerAccount}, {t.addressKey(addr), t.cfg.PerAddress}, {t.allKey(account), t.cfg.PerAccountAll}} {
		var tries *redis.ZSliceCmd
		// One transaction per key: the two keys may live on different Cluster nodes.
		_, err := t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZRemRangeByScore(ctx, k.key, "-inf", strconv.FormatInt(now.Add(-t.cfg.Window).UnixMilli(), 10))
			p.ZAdd(ctx, k.key, redis.Z{Score: float64(now.UnixMilli()), Member: ticket})
			// One more than the limit is all it takes to know it is passed.
			p.ZRemRangeByRank(ctx, k.key, 0, int64(-k.limit-2))
			tries = p.ZRangeWithScores(ctx, k.key, 0, -1)
			p.PExpire(ctx, k.key, t.cfg.Window+time.Minute)
			return nil
		})
		if err != nil {
			return false, 0, "", fmt.Errorf("login throttle: %w", err)
		}
		if n := len(tries.Val()); n > k.limit {
			oldest := time.UnixMilli(int64(tries.Val()[n-k.limit].Score))
			retryAfter = max(retryAfter, min(max(oldest.Add(t.cfg.Window).Sub(now), time.Millisecond), t.cfg.Window))
		}
	}
	return retryAfter == 0, retryAfter, ticket, nil
}

// Allowed reports whether a login to account from addr may be tried now, and if not,
// how long until it may.
func (t *Throttle) Allowed(ctx context.Context, account, addr string) (ok bool, retryAfter time.Duration, err error) {
	now := t.now()
	from := strconv.FormatInt(now.Add(-t.cfg.Window).UnixMilli(), 10)
	pipe := t.rdb.Pipeline()
	acct := pipe.ZRangeByScoreWithScores(ctx, t.accountKey(account, addr), &redis.ZRangeBy{Min: "(" + from, Max: "+inf"})
	host := pipe.ZRangeByScoreWithScores(ctx, t.addressKey(addr), &redis.ZRangeBy{Min: "(" + from, Max: "+inf"})
	if _, err := pipe.Exec(ctx); err != nil {
		return false, 0, fmt.Errorf("login throttle: %w", err)
	}
	for _, c := range []struct {
		fails []redis.Z
		limit int
	}{{acct.Val(), t.cfg.PerAccount}, {host.Val(), t.cfg.PerAddress}} {
		if len(c.fails) < c.limit {
			continue
		}
		// Tries come back when all but limit-1 failures have left the window.
		oldest := time.UnixMilli(int64(c.fails[len(c.fails)-c.limit].Score))
		wait := min(max(oldest.Add(t.cfg.Window).Sub(now), time.Millisecond), t.cfg.Window)
		retryAfter = max(retryAfter, wait)
	}
	return retryAfter == 0, retryAfter, nil
}

// Failed counts a failed login to account from addr.
func (t *Throttle) Failed(ctx context.Context, account, addr string) error {
	now := t.now()
	for _, k := range []struct {
		key   string
		limit int
	}{{t.accountKey(account, addr), t.cfg.PerAccount}, {t.addressKey(addr), t.cfg.PerAddress}} {
		// One transaction per key: the two keys may live on different Cluster nodes.
		_, err := t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZRemRangeByScore(ctx, k.key, "-inf", strconv.FormatInt(now.Add(-t.cfg.Window).UnixMilli(), 10))
			p.ZAdd(ctx, k.key, redis.Z{Score: float64(now.UnixMilli()), Member: strconv.FormatInt(now.UnixNano(), 36) + ":" + rand.Text()[:8]})
			// Only the latest limit failures decide when tries come back.
			p.ZRemRangeByRank(ctx, k.key, 0, int64(-k.limit-1))
			p.PExpire(ctx, k.key, t.cfg.Window+time.Minute)
			return nil
		})
		if err != nil {
			return fmt.Errorf("login throttle: %w", err)
		}
	}
	return nil
}

// Succeeded clears an account's failures from addr after a good login, and takes the
// good try (ticket, from Attempt) back from the address's and the account's counts.
// The address keeps its failures: one account's password must not reset a guesser's
// budget for the others.
func (t *Throttle) Succeeded(ctx context.Context, account, addr, ticket string) error {
	if ticket != "" {
		if err := t.rdb.ZRem(ctx, t.addressKey(addr), ticket).Err(); err != nil {
			return fmt.Errorf("login throttle: %w", err)
		}
		if err := t.rdb.ZRem(ctx, t.allKey(account), ticket).Err(); err != nil {
			return fmt.Errorf("login throttle: %w", err)
		}
	}
	if err := t.rdb.Del(ctx, t.accountKey(account, addr)).Err(); err != nil {
		return fmt.Errorf("login throttle: %w", err)
	}
	return nil
}
