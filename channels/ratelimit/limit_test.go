package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels/redistest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

// backends runs f against a single Redis, a Redis Cluster and the embedded server the
// hotline runs without REDIS_URL.
func backends(t *testing.T, f func(t *testing.T, rdb redis.UniversalClient, prefix string)) {
	redistest.Backends(t, f)
	t.Run("embedded", func(t *testing.T) {
		mr := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		f(t, rdb, "t:")
	})
}

func newLimiter(t *testing.T, rdb redis.UniversalClient, prefix, name, rate string, c *clock) *Limiter {
	t.Helper()
	r, err := ParseRate(rate)
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(rdb, prefix, Config{Name: name, Rate: r, Key: testKey, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func allow(t *testing.T, l *Limiter, client string) (bool, time.Duration) {
	t.Helper()
	ok, wait, err := l.Allow(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	if ok != (wait == 0) {
		t.Fatalf("Allow(%s) = %v with retryAfter %v", client, ok, wait)
	}
	return ok, wait
}

// TestAllow: a client gets its rate in each window and is refused until the window
// ends; other clients, other limits and the next window are not affected; replicas
// share the count.
func TestAllow(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		c := &clock{t: time.Date(2026, 11, 27, 3, 0, 30, 0, time.UTC)}
		login := newLimiter(t, rdb, prefix, "login", "3/1m", c)
		replica := newLimiter(t, rdb, prefix, "login", "3/1m", c)
		sim := newLimiter(t, rdb, prefix, "simulator", "3/1m", c)
		for i := range 3 {
			l := login
			if i == 1 {
				l = replica
			}
			if ok, _ := allow(t, l, "192.0.2.7"); !ok {
				t.Fatalf("request %d refused", i+1)
			}
		}
		ok, wait := allow(t, replica, "192.0.2.7")
		if ok || wait != 30*time.Second {
			t.Fatalf("4th request: ok %v, retry after %v; want refused for the 30 s left of the minute", ok, wait)
		}
		// The IPv6-mapped form of the address is the same client.
		if ok, _ := allow(t, login, "::ffff:192.0.2.7"); ok {
			t.Errorf("the IPv6-mapped address escaped the count")
		}
		if ok, _ := allow(t, login, "192.0.2.8"); !ok {
			t.Errorf("another address was refused")
		}
		if ok, _ := allow(t, sim, "192.0.2.7"); !ok {
			t.Errorf("another limit shares the login's count")
		}
		c.add(29 * time.Second)
		if ok, wait := allow(t, login, "192.0.2.7"); ok || wait != time.Second {
			t.Errorf("a second before the window ends: ok %v, retry after %v", ok, wait)
		}
		c.add(time.Second)
		if ok, _ := allow(t, login, "192.0.2.7"); !ok {
			t.Errorf("refused in the next window")
		}
	})
}

// TestAllowIPv6: one /64 is one client, whatever the interface identifier.
func TestAllowIPv6(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Single(t)
	c := &clock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	l := newLimiter(t, rdb, prefix, "login", "2/10m", c)
	for _, a := range []string{"2001:db8:1:2::1", "2001:db8:1:2:aaaa:bbbb:cccc:dddd"} {
		if ok, _ := allow(t, l, a); !ok {
			t.Fatalf("%s refused", a)
		}
	}
	if ok, wait := allow(t, l, "2001:db8:1:2::ffff"); ok || wait != 10*time.Minute {
		t.Errorf("a third address of the same /64: ok %v, retry after %v", ok, wait)
	}
	if ok, _ := allow(t, l, "2001:db8:1:3::1"); !ok {
		t.Errorf("the next /64 was refused")
	}
}

// TestAllowAtOnce: requests that arrive together are counted one by one: exactly the
// rate gets through.
func TestAllowAtOnce(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		c := &clock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
		l := newLimiter(t, rdb, prefix, "simulator", "10/1m", c)
		var passed atomic.Int32
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				ok, _, err := l.Allow(context.Background(), "198.51.100.4")
				if err != nil {
					t.Error(err)
				}
				if ok {
					passed.Add(1)
				}
			})
		}
		wg.Wait()
		if n := passed.Load(); n != 10 {
			t.Errorf("%d of 40 requests at once passed, want 10", n)
		}
	})
}

// TestKeysHideTheClient: Redis holds no address, in clear or by its plain hash, and
// every count expires with its window.
func TestKeysHideTheClient(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Single(t)
	c := &clock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	l := newLimiter(t, rdb, prefix, "login", "5/10m", c)
	const addr = "203.0.113.42"
	allow(t, l, addr)
	allow(t, l, "operator:ana")
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys %v, want one per client", keys)
	}
	sum := sha256.Sum256([]byte(addr))
	plain := hex.EncodeToString(sum[:])[:16]
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix+"ratelimit:login:") || strings.Contains(k, addr) || strings.Contains(k, plain) ||
			strings.Contains(k, "ana") {
			t.Errorf("key %q names the client", k)
		}
		ttl, err := rdb.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > 10*time.Minute+expirySlack {
			t.Errorf("key %q expires in %v, want within the window", k, ttl)
		}
	}
	// Another key names the same client otherwise: a copy of one deployment's Redis
	// does not match another's.
	other, err := New(rdb, prefix, Config{Name: "login", Rate: l.Rate(), Key: []byte("another key, 32 bytes long......"), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	if other.name(addr) == l.name(addr) {
		t.Errorf("the key does not enter the client's name")
	}
}

// TestAllowRedisDown: an error, never a silent pass, so that the caller decides.
func TestAllowRedisDown(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1, so every command fails at once.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	l := newLimiter(t, rdb, "x:", "simulator", "30/1m", &clock{t: time.Now()})
	if ok, _, err := l.Allow(context.Background(), "192.0.2.1"); err == nil || ok {
		t.Fatalf("Allow with Redis away = %v, %v; want an error", ok, err)
	}
	off := newLimiter(t, rdb, "x:", "simulator", "off", &clock{t: time.Now()})
	if ok, _, err := off.Allow(context.Background(), "192.0.2.1"); err != nil || !ok {
		t.Errorf("a limit that is off asked Redis: %v, %v", ok, err)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	r := Rate{N: 3, Per: time.Minute}
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"no name", Config{Rate: r, Key: testKey}},
		{"name with a hash tag", Config{Name: "{s1}", Rate: r, Key: testKey}},
		{"no key", Config{Name: "login", Rate: r}},
		{"short key", Config{Name: "login", Rate: r, Key: []byte("short")}},
		{"negative rate", Config{Name: "login", Rate: Rate{N: -1, Per: time.Minute}, Key: testKey}},
		{"no window", Config{Name: "login", Rate: Rate{N: 3}, Key: testKey}},
	} {
		if _, err := New(nil, "", tt.cfg); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want Rate
		bad  bool
	}{
		{in: "30/1m", want: Rate{30, time.Minute}},
		{in: " 60 / 10m ", want: Rate{60, 10 * time.Minute}},
		{in: "1/1s", want: Rate{1, time.Second}},
		{in: "100/24h", want: Rate{100, 24 * time.Hour}},
		{in: "off", want: Rate{}},
		{in: "", bad: true},
		{in: "30", bad: true},
		{in: "0/1m", bad: true},
		{in: "-1/1m", bad: true},
		{in: "30/m", bad: true},
		{in: "30/500ms", bad: true},
		{in: "30/25h", bad: true},
		{in: "30/1m/2", bad: true},
		{in: "thirty/1m", bad: true},
	} {
		got, err := ParseRate(tt.in)
		if tt.bad != (err != nil) || got != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v", tt.in, got, err)
		}
		if err == nil {
			if back, err := ParseRate(got.String()); err != nil || back != got {
				t.Errorf("ParseRate(%q).String() = %q does not read back", tt.in, got.String())
			}
		}
	}
}
