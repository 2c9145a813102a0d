package ref

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestGuard walks an injected clock through the limits: 3 wrong references per contact
// in 10 minutes, 5 in all per hour.
func TestGuard(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 10, 2, 0, 0, time.UTC)
		g := NewGuard(rdb, prefix, func() time.Time { return now }, 3, 10*time.Minute, 5, time.Hour)
		steps := []struct {
			name    string
			advance time.Duration
			contact string
			fail    bool // a wrong reference after the check
			ok      bool
			retry   time.Duration
		}{
			{"first try", 0, "a", true, true, 0},
			{"second", time.Minute, "a", true, true, 0},
			{"third", time.Minute, "a", true, true, 0},
			{"after 3 failures the contact waits for its window to end", time.Minute, "a", false, false, 5 * time.Minute},
			{"still inside the window", 4 * time.Minute, "a", false, false, time.Minute},
			{"another contact is not held up", 0, "b", true, true, 0},
			{"the window rolls over", time.Minute, "a", true, true, 0},
			{"the hotline has had its 5 in the hour: everyone waits", 0, "c", false, false, 50 * time.Minute},
			{"even a contact under its own limit", 10 * time.Minute, "b", false, false, 40 * time.Minute},
			{"a new hour", 40 * time.Minute, "c", false, true, 0},
		}
		for _, s := range steps {
			now = now.Add(s.advance)
			ok, retry, err := g.Allow(ctx, s.contact)
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			if ok != s.ok || retry != s.retry {
				t.Errorf("%s: Allow = %v, %v; want %v, %v", s.name, ok, retry, s.ok, s.retry)
			}
			if s.fail {
				if err := g.Failed(ctx, s.contact); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
			}
		}
		// No counter is left without an expiry.
		for _, key := range scanKeys(t, rdb, prefix+"ref-guard:*") {
			if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 0 {
				t.Errorf("%s: TTL %v, want one", key, ttl)
			}
		}
	})
}

// TestGuardBothFull: when both windows are full, the wait is until the later one ends.
func TestGuardBothFull(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 10, 55, 0, 0, time.UTC)
		g := NewGuard(rdb, prefix, func() time.Time { return now }, 1, 2*time.Hour, 1, time.Hour)
		if err := g.Failed(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		ok, retry, err := g.Allow(ctx, "a")
		if err != nil || ok || retry != 65*time.Minute {
			t.Errorf("Allow = %v, %v, %v; want false, 1h5m0s (the contact's window)", ok, retry, err)
		}
	})
}

func TestGuardDefaults(t *testing.T) {
	t.Parallel()
	g := NewGuard(nil, "p:", nil, 0, 0, -1, 0)
	if g.contact != (limit{DefaultPerContact, DefaultPerContactWindow}) || g.global != (limit{DefaultGlobal, DefaultGlobalWindow}) {
		t.Errorf("limits %+v and %+v, want the defaults", g.contact, g.global)
	}
	if g.now == nil {
		t.Error("no clock")
	}
}

// TestGuardRedisDown: a guard that cannot count refuses.
func TestGuardRedisDown(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	g := NewGuard(rdb, "p:", nil, 0, 0, 0, 0)
	if ok, _, err := g.Allow(context.Background(), "a"); ok || err == nil {
		t.Errorf("Allow without Redis = %v, %v; want false and an error", ok, err)
	}
	if err := g.Failed(context.Background(), "a"); err == nil {
		t.Error("Failed without Redis: want an error")
	}
}
