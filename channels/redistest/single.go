package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// defaultURL is used when REDIS_URL is not set.
const defaultURL = "redis://127.0.0.1:6379"

const (
	pingTimeout    = 5 * time.Second
	cleanupTimeout = 30 * time.Second
	scanCount      = 500
)

// Single connects to the Redis server at REDIS_URL (default redis://127.0.0.1:6379) and
// returns a client and a key prefix unique to this call, such as
// "t3f9c0a1b2d4e5f67:". The prefix holds no '{' or '}', so keys such as
// prefix+"{s7}:inbox" keep their hash tag. When the test ends, every key
// under the prefix is deleted and the client is closed.
//
// If Redis cannot be reached, the test fails when the environment has CI=true
// and is skipped otherwise.
func Single(t testing.TB) (rdb *redis.Client, prefix string) {
	t.Helper()
	raw := os.Getenv("REDIS_URL")
	if raw == "" {
		raw = defaultURL
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("redistest: REDIS_URL %q: %v", redact(raw), err)
		return nil, ""
	}
	rdb = redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		unavailable(t, "redistest: no Redis at %s (REDIS_URL): %v; start redis-server or set REDIS_URL", redact(raw), err)
		return nil, ""
	}
	prefix = newPrefix()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := deletePrefix(ctx, rdb, prefix); err != nil {
			t.Errorf("redistest: deleting keys under %q: %v", prefix, err)
		}
		if err := rdb.Close(); err != nil {
			t.Errorf("redistest: closing client: %v", err)
		}
	})
	return rdb, prefix
}

// inCI reports whether the environment variable CI is set to true.
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// unavailable fails the test in CI and skips it elsewhere.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf(format+" (CI=true: failing instead of skipping)", args...)
		return
	}
	t.Skipf(format, args...)
}

// newPrefix returns "t" followed by 16 random hex digits and a colon. It
// contains no hash tag braces and no glob metacharacters, so prefix+"*" is a
// safe SCAN pattern.
func newPrefix() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "t" + hex.EncodeToString(b[:]) + ":"
}

// deletePrefix removes every key that starts with prefix from one server (or
// one cluster node). Keys are unlinked one per command, in a pipeline, so that
// keys from different slots never meet in a single command.
func deletePrefix(ctx context.Context, rdb *redis.Client, prefix string) error {
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+"*", scanCount).Result()
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		if len(keys) > 0 {
			pipe := rdb.Pipeline()
			for _, k := range keys {
				pipe.Unlink(ctx, k)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return fmt.Errorf("unlink: %w", err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// redact hides a password in a Redis URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
