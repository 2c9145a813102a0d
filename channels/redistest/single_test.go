package redistest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestPrefixHasNoHashTagOrGlob(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		p := newPrefix()
		if strings.ContainsAny(p, "{}*?[]\\") || !strings.HasPrefix(p, "t") || !strings.HasSuffix(p, ":") {
			t.Fatalf("bad prefix %q", p)
		}
		if seen[p] {
			t.Fatalf("prefix %q repeated", p)
		}
		seen[p] = true
	}
}

func TestSingleDeletesPrefixOnCleanup(t *testing.T) {
	outer, outerPrefix := Single(t)
	ctx := context.Background()
	keep := outerPrefix + "{s1}:keep"
	if err := outer.Set(ctx, keep, "x", 0).Err(); err != nil {
		t.Fatal(err)
	}

	var prefix string
	var keys []string
	t.Run("inner", func(t *testing.T) {
		rdb, p := Single(t)
		if p == outerPrefix {
			t.Fatalf("two calls returned the same prefix %q", p)
		}
		prefix = p
		// More keys than one SCAN page, of several types.
		pipe := rdb.Pipeline()
		for i := range 1200 {
			k := fmt.Sprintf("%s{s%d}:k%d", p, i%16, i)
			keys = append(keys, k)
			pipe.Set(ctx, k, i, 0)
		}
		keys = append(keys, p+"{s7}:inbox", p+"{s7}:session")
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: p + "{s7}:inbox", Values: []string{"a", "b"}})
		pipe.HSet(ctx, p+"{s7}:session", "v", 1)
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if t.Failed() {
		return
	}
	n, err := outer.Exists(ctx, keys...).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d keys under %q survived the cleanup", n, prefix)
	}
	if left, _, err := outer.Scan(ctx, 0, prefix+"*", 10000).Result(); err != nil || len(left) != 0 {
		t.Errorf("SCAN %s* after cleanup: %v, %v", prefix, left, err)
	}
	if got, err := outer.Get(ctx, keep).Result(); err != nil || got != "x" {
		t.Errorf("another test's key: got %q, %v; want it untouched", got, err)
	}
}

// recorder stands in for *testing.T to see whether a helper skips or fails.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
}

func closedPortURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "redis://" + addr
}

func TestSingleUnreachable(t *testing.T) {
	t.Setenv("REDIS_URL", closedPortURL(t))
	for _, tc := range []struct {
		ci         string
		wantFailed bool
	}{{"", false}, {"false", false}, {"true", true}} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			rdb, _ := Single(r)
			if rdb != nil {
				t.Fatal("got a client for an unreachable Redis")
			}
			if r.failed != tc.wantFailed || r.skipped == tc.wantFailed {
				t.Fatalf("failed=%v skipped=%v, want failed=%v", r.failed, r.skipped, tc.wantFailed)
			}
			if !strings.Contains(r.msg, "no Redis at") {
				t.Errorf("message %q does not say what is missing", r.msg)
			}
		})
	}
}
