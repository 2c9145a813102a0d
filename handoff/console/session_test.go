package console

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/handoff/accounts"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// TestSessions: a session is found by its token only, kept alive by use up to its
// maximum age, ended by logging out; Redis never holds the token itself.
func TestSessions(t *testing.T) {
	redistest.Backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
		s := NewSessions(rdb, prefix, SessionConfig{Idle: time.Minute, Max: time.Hour}, func() time.Time { return now })
		token, sess, err := s.Start(ctx, "ana", "Ana", accounts.Operator, []string{"en"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, token)
		if err != nil || got.Operator != "ana" || got.Role != accounts.Operator || got.CSRF != sess.CSRF || len(got.CSRF) < 40 {
			t.Fatalf("get: %+v %v", got, err)
		}
		keys := keysUnder(t, rdb, prefix)
		if len(keys) == 0 {
			t.Fatal("no session key under the test's prefix")
		}
		for _, k := range keys {
			if strings.Contains(k, token) {
				t.Errorf("the token itself names a key: %s", k)
			}
			if v, _ := rdb.Get(ctx, k).Result(); strings.Contains(v, token) {
				t.Errorf("the token itself is stored under %s", k)
			}
		}
		if ttl := rdb.TTL(ctx, keys[0]).Val(); ttl <= 0 || ttl > time.Minute {
			t.Errorf("idle expiry %v, want up to a minute", ttl)
		}
		for _, bad := range []string{"", "short", token + "x", strings.Repeat("A", 43)} {
			if _, err := s.Get(ctx, bad); !errors.Is(err, ErrNoSession) {
				t.Errorf("token %q: %v", bad, err)
			}
		}
		if !got.CSRFMatches(sess.CSRF) || got.CSRFMatches("") || got.CSRFMatches(sess.CSRF+"x") {
			t.Error("CSRF check")
		}
		// Past its maximum age, used or not, it ends.
		now = now.Add(time.Hour + time.Second)
		if _, err := s.Get(ctx, token); !errors.Is(err, ErrNoSession) {
			t.Errorf("an old session: %v", err)
		}
		token, _, _ = s.Start(ctx, "ana", "Ana", accounts.Operator, []string{"en"})
		if err := s.End(ctx, token); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, token); !errors.Is(err, ErrNoSession) {
			t.Errorf("after logout: %v", err)
		}
	})
}

// keysUnder lists the keys under prefix; on a Cluster, KEYS answers for one node only,
// so every master is asked.
func keysUnder(t *testing.T, rdb redis.UniversalClient, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	c, ok := rdb.(*redis.ClusterClient)
	if !ok {
		keys, err := rdb.Keys(ctx, prefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	var mu sync.Mutex
	var keys []string
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		ks, err := m.Keys(ctx, prefix+"*").Result()
		mu.Lock()
		keys = append(keys, ks...)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
