package ref

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of NewGuard: 5 wrong references per contact per hour, 200 over the whole
// hotline per hour.
//
// A contact is cheap to change (a new SIM, a new Telegram account), so the global limit is
// what bounds guessing. With fixed windows, at most twice a limit fits in any window
// (the end of one and the start of the next); a year of guessing at the global limit is
// about 1.75 million tries against 31⁹ ≈ 2.6 × 10¹³ references, so with 100,000 live
// references about 1 chance in 150 of hitting any one. A global limit that keeps being
// reached is an attack: alert on it.
const (
	DefaultPerContact       = 5
	DefaultPerContactWindow = time.Hour
	DefaultGlobal           = 200
	DefaultGlobalWindow     = time.Hour
)

// Guard throttles wrong references, so that a reference cannot be found by guessing: call
// Allow before a lookup by reference and Failed when the reference matched no case. A
// reference that does not parse (ErrLength, ErrBadChar, ErrCheck) is a typo, caught
// without a lookup, and need not count.
//
// Failures are counted in fixed windows named by the injected clock:
//
//	<prefix>ref-guard:c:<contact hash>:<window start, Unix ms>
//	<prefix>ref-guard:all:<window start, Unix ms>
//
// Each command touches a single key, so the keys need no hash tag on a Redis Cluster. A
// counter expires two windows after it is made. Allow and Failed are separate steps, so
// lookups running at the same moment can overshoot the global limit by a few; one
// contact's turns run one at a time, so its own limit holds exactly.
type Guard struct {
	rdb     redis.UniversalClient
	prefix  string
	now     func() time.Time
	contact limit
	global  limit
}

// limit is at most n failures in each window.
type limit struct {
	n      int64
	window time.Duration
}

// NewGuard returns a Guard allowing perContact failures per contact in each
// perContactWindow and global failures in all in each globalWindow. A limit or window of
// zero or less takes its default; now (time.Now when nil) places the windows.
func NewGuard(rdb redis.UniversalClient, prefix string, now func() time.Time,
	perContact int, perContactWindow time.Duration, global int, globalWindow time.Duration) *Guard {
	if now == nil {
		now = time.Now
	}
	return &Guard{
		rdb:     rdb,
		prefix:  prefix,
		now:     now,
		contact: newLimit(perContact, DefaultPerContact, perContactWindow, DefaultPerContactWindow),
		global:  newLimit(global, DefaultGlobal, globalWindow, DefaultGlobalWindow),
	}
}

func newLimit(n, defaultN int, window, defaultWindow time.Duration) limit {
	if n <= 0 {
		n = defaultN
	}
	if window <= 0 {
		window = defaultWindow
	}
	return limit{n: int64(n), window: window}
}

// Allow reports whether a contact may look up a case by reference now. When it may not,
// retryAfter is how long until the window that is full ends (the later one, when both
// are). On an error, ok is false: a guard that cannot count refuses.
func (g *Guard) Allow(ctx context.Context, contactHash string) (ok bool, retryAfter time.Duration, err error) {
	now := g.now()
	ck, cEnd := g.contactKey(contactHash, now)
	gk, gEnd := g.globalKey(now)
	pipe := g.rdb.Pipeline()
	c := pipe.Get(ctx, ck)
	a := pipe.Get(ctx, gk)
	_, _ = pipe.Exec(ctx) // each command's error is read below
	cn, err := count(c)
	if err != nil {
		return false, 0, fmt.Errorf("ref: guard: read contact failures: %w", err)
	}
	an, err := count(a)
	if err != nil {
		return false, 0, fmt.Errorf("ref: guard: read global failures: %w", err)
	}
	if cn >= g.contact.n {
		retryAfter = cEnd.Sub(now)
	}
	if an >= g.global.n {
		retryAfter = max(retryAfter, gEnd.Sub(now))
	}
	return retryAfter == 0, retryAfter, nil
}

// Failed counts a wrong reference against the contact and against the hotline.
func (g *Guard) Failed(ctx context.Context, contactHash string) error {
	now := g.now()
	ck, _ := g.contactKey(contactHash, now)
	gk, _ := g.globalKey(now)
	pipe := g.rdb.Pipeline()
	// SET NX PX first, so that a counter never lives without an expiry, even if the
	// connection drops between the two commands.
	pipe.SetArgs(ctx, ck, 0, redis.SetArgs{Mode: "NX", TTL: 2 * g.contact.window})
	pipe.Incr(ctx, ck)
	pipe.SetArgs(ctx, gk, 0, redis.SetArgs{Mode: "NX", TTL: 2 * g.global.window})
	pipe.Incr(ctx, gk)
	cmds, _ := pipe.Exec(ctx)
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) { // SET NX on a key that exists: nil
			return fmt.Errorf("ref: guard: count failure: %w", err)
		}
	}
	return nil
}

// contactKey returns the counter of a contact's window that holds now, and when it ends.
func (g *Guard) contactKey(contactHash string, now time.Time) (string, time.Time) {
	start := now.Truncate(g.contact.window)
	return g.prefix + "ref-guard:c:" + contactHash + ":" + strconv.FormatInt(start.UnixMilli(), 10),
		start.Add(g.contact.window)
}

// globalKey returns the hotline's counter of the window that holds now, and when it ends.
func (g *Guard) globalKey(now time.Time) (string, time.Time) {
	start := now.Truncate(g.global.window)
	return g.prefix + "ref-guard:all:" + strconv.FormatInt(start.UnixMilli(), 10), start.Add(g.global.window)
}

// count reads a counter; a missing one is 0.
func count(cmd *redis.StringCmd) (int64, error) {
	n, err := cmd.Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}
