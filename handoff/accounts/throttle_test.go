package accounts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels/redistest"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newThrottle(t *testing.T, cfg ThrottleConfig) (*Throttle, *clock) {
	t.Helper()
	rdb, prefix := redistest.Single(t)
	c := &clock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	th, err := NewThrottle(rdb, prefix, cfg, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return th, c
}

func allowed(t *testing.T, th *Throttle, account, addr string) (bool, time.Duration) {
	t.Helper()
	ok, wait, err := th.Allowed(context.Background(), account, addr)
	if err != nil {
		t.Fatal(err)
	}
	if ok != (wait == 0) {
		t.Fatalf("Allowed(%s, %s) = %v with retryAfter %v", account, addr, ok, wait)
	}
	return ok, wait
}

func fail(t *testing.T, th *Throttle, account, addr string) {
	t.Helper()
	if err := th.Failed(context.Background(), account, addr); err != nil {
		t.Fatal(err)
	}
}

// TestThrottleLocksAnAccount: five failures lock the account for everyone until the
// oldest leaves the window; a good login clears the count.
func TestThrottleLocksAnAccount(t *testing.T) {
	t.Parallel()
	th, c := newThrottle(t, ThrottleConfig{})
	start := c.t
	for i := range 5 {
		if ok, _ := allowed(t, th, "ana", "192.0.2.1"); !ok {
			t.Fatalf("refused after %d failures", i)
		}
		fail(t, th, "ana", "192.0.2.1")
		c.t = c.t.Add(time.Minute)
	}
	// Now 5 minutes in: the first failure leaves the window at 15 minutes.
	if ok, wait := allowed(t, th, "ana", "192.0.2.1"); ok || wait != 10*time.Minute {
		t.Errorf("after 5 failures: allowed %v, retry after %v; want refused for 10m", ok, wait)
	}
	if ok, _ := allowed(t, th, "ANA ", "198.51.100.7"); !ok {
		t.Error("the account from another address refused: a stranger could lock its owner out")
	}
	if ok, _ := allowed(t, th, "ANA ", "192.0.2.1"); ok {
		t.Error("the account name as typed differently from the same address: allowed")
	}
	if ok, _ := allowed(t, th, "omar", "192.0.2.1"); !ok {
		t.Error("another account from the same address refused after 5 failures (the address limit is 20)")
	}
	c.t = start.Add(15*time.Minute - time.Millisecond)
	if ok, wait := allowed(t, th, "ana", "192.0.2.1"); ok || wait != time.Millisecond {
		t.Errorf("just before the window ends: allowed %v, %v", ok, wait)
	}
	c.t = start.Add(15 * time.Minute)
	if ok, _ := allowed(t, th, "ana", "192.0.2.1"); !ok {
		t.Error("refused once the first failure has left the window")
	}
	// One more failure: five in the window again, the oldest now at minute 1.
	fail(t, th, "ana", "192.0.2.1")
	if ok, wait := allowed(t, th, "ana", "192.0.2.1"); ok || wait != time.Minute {
		t.Errorf("a sixth failure: allowed %v, %v; want refused for 1m", ok, wait)
	}

	if err := th.Succeeded(context.Background(), "ana", "192.0.2.1", ""); err != nil {
		t.Fatal(err)
	}
	if ok, _ := allowed(t, th, "ana", "192.0.2.1"); !ok {
		t.Error("refused after a good login reset the account")
	}
	for range 4 {
		fail(t, th, "ana", "192.0.2.1")
	}
	if ok, _ := allowed(t, th, "ana", "192.0.2.1"); !ok {
		t.Error("4 failures after the reset locked the account")
	}
}

// TestThrottleLocksAnAddress: 20 failures from one address, each on another account,
// lock that address (and its IPv6 /64) out of every account, not other addresses; a
// good login does not clear an address's count.
func TestThrottleLocksAnAddress(t *testing.T) {
	t.Parallel()
	th, c := newThrottle(t, ThrottleConfig{})
	for i := range 20 {
		if ok, _ := allowed(t, th, "guess", "2001:db8:1:2::a"); !ok {
			t.Fatalf("refused after %d failures", i)
		}
		fail(t, th, "guess"+string(rune('a'+i)), "2001:db8:1:2::a")
		c.t = c.t.Add(10 * time.Second)
	}
	for _, addr := range []string{"2001:db8:1:2::a", "2001:db8:1:2:ffff::1", "2001:DB8:1:2::b"} {
		if ok, wait := allowed(t, th, "ana", addr); ok || wait != 15*time.Minute-200*time.Second {
			t.Errorf("from %s after 20 failures in its /64: allowed %v, %v", addr, ok, wait)
		}
	}
	if ok, _ := allowed(t, th, "ana", "2001:db8:1:3::a"); !ok {
		t.Error("another /64 refused")
	}
	if err := th.Succeeded(context.Background(), "ana", "2001:db8:1:2::a", ""); err != nil {
		t.Fatal(err)
	}
	if ok, _ := allowed(t, th, "ana", "2001:db8:1:2::a"); ok {
		t.Error("a good login on one account cleared the address's count")
	}
	// IPv4 and its IPv6-mapped form are one address.
	for range 20 {
		fail(t, th, "x", "::ffff:192.0.2.9")
	}
	if ok, _ := allowed(t, th, "y", "192.0.2.9"); ok {
		t.Error("an IPv4 address counted apart from its mapped form")
	}
}

// TestThrottleLimitsAreConfigurable: tests (and deployments) lift or lower them.
func TestThrottleLimitsAreConfigurable(t *testing.T) {
	t.Parallel()
	th, _ := newThrottle(t, ThrottleConfig{PerAccount: 1, PerAddress: 1000, Window: time.Second})
	fail(t, th, "ana", "192.0.2.1")
	if ok, wait := allowed(t, th, "ana", "192.0.2.1"); ok || wait != time.Second {
		t.Errorf("one failure with a limit of 1: allowed %v, %v", ok, wait)
	}
	if _, err := NewThrottle(nil, "", ThrottleConfig{PerAccount: -1}, time.Now); err == nil {
		t.Error("a negative limit was accepted")
	}
}

// TestAttemptsAtOnce: sixty tries sent at once for one account from one address get
// five password checks, not sixty (each is counted before it is checked).
func TestAttemptsAtOnce(t *testing.T) {
	t.Parallel()
	// The address's own limit out of the way (an attempt counted there late could
	// otherwise be refused by it).
	th, _ := newThrottle(t, ThrottleConfig{PerAddress: 1000})
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		passed int
	)
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, _, _, err := th.Attempt(context.Background(), "ana", "192.0.2.1")
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if passed != 5 {
		t.Errorf("%d of 60 tries at once went on to the password check, want 5", passed)
	}
	if ok, _, _, _ := th.Attempt(context.Background(), "ana", "198.51.100.7"); !ok {
		t.Error("the same account from another address refused")
	}
}

// TestAttemptsAsTheLoginMakesThem: the login's own calls. Five tries at one account
// from one address, the sixth waits; good logins from one office address do not use
// up its limit; an account is stopped everywhere only after many tries from many
// addresses.
func TestAttemptsAsTheLoginMakesThem(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	th, c := newThrottle(t, ThrottleConfig{})
	for i := range 5 {
		if ok, _, _, err := th.Attempt(ctx, "ana", "192.0.2.1"); !ok || err != nil {
			t.Fatalf("try %d refused: %v", i+1, err)
		}
		c.t = c.t.Add(time.Minute)
	}
	if ok, wait, _, _ := th.Attempt(ctx, "ana", "192.0.2.1"); ok || wait != 11*time.Minute {
		t.Errorf("a sixth try (counted too): allowed %v, wait %v; want 11m", ok, wait)
	}
	// Thirty colleagues log in from one office address: all get in.
	for i := range 30 {
		ok, _, ticket, err := th.Attempt(ctx, fmt.Sprintf("op%02d", i), "203.0.113.9")
		if !ok || err != nil {
			t.Fatalf("colleague %d refused: %v", i+1, err)
		}
		if err := th.Succeeded(ctx, fmt.Sprintf("op%02d", i), "203.0.113.9", ticket); err != nil {
			t.Fatal(err)
		}
	}
	// A hundred tries at one account, each from its own address: the account stops.
	refused := 0
	for i := range 101 {
		if ok, _, _, _ := th.Attempt(ctx, "sam", fmt.Sprintf("198.51.%d.%d", i/200, i%200+1)); !ok {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d of 101 tries from as many addresses refused, want the last one", refused)
	}
}

// TestThrottleKeysHideAddresses: with a key, Redis names neither an address nor a
// login name in clear or by its plain hash, and the counts still hold.
func TestThrottleKeysHideAddresses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, prefix := redistest.Single(t)
	c := &clock{t: time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)}
	th, err := NewThrottle(rdb, prefix, ThrottleConfig{PerAccount: 1, Key: []byte("0123456789abcdef0123456789abcdef")}, c.now)
	if err != nil {
		t.Fatal(err)
	}
	const addr, account = "203.0.113.42", "ana"
	if ok, _, _, err := th.Attempt(ctx, account, addr); !ok || err != nil {
		t.Fatalf("first try: %v %v", ok, err)
	}
	if ok, _, _, err := th.Attempt(ctx, account, addr); ok || err != nil {
		t.Fatalf("second try with a limit of one: %v %v", ok, err)
	}
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 {
		t.Fatalf("keys %v, want the account's, the address's and the account's from everywhere", keys)
	}
	plain := func(s string) string { sum := sha256.Sum256([]byte(s)); return hex.EncodeToString(sum[:16]) }
	for _, k := range keys {
		for _, clear := range []string{addr, account, plain(addr), plain(account), plain(account + "|" + addr)} {
			if strings.Contains(k, clear) {
				t.Errorf("key %q holds %q", k, clear)
			}
		}
	}
}
