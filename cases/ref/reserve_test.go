package ref

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestReserve(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := NewReserver(rdb, prefix, nil, nil)
		r, err := s.Reserve(ctx, "session-1")
		if err != nil {
			t.Fatal(err)
		}
		owner, err := rdb.Get(ctx, prefix+"ref:"+r.Compact()).Result()
		if err != nil || owner != "session-1" {
			t.Errorf("reservation key holds %q, %v; want the owner", owner, err)
		}
		if ttl, _ := rdb.TTL(ctx, prefix+"ref:"+r.Compact()).Result(); ttl != -1 {
			t.Errorf("reservation TTL %v, want none: references stay unique for good", ttl)
		}
		if _, err := s.Reserve(ctx, ""); err == nil {
			t.Error("Reserve with no owner: want an error")
		}
	})
}

// TestReserveCollision: a reference that is taken is never given again; Reserve draws
// again, and gives up when the random source keeps giving taken ones.
func TestReserveCollision(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		seed := [32]byte{3}
		var got []Ref
		for i := range maxAttempts {
			// Every Reserver draws the same references in the same order.
			s := NewReserver(rdb, prefix, rand.NewChaCha8(seed), nil)
			r, err := s.Reserve(ctx, fmt.Sprint("owner-", i))
			if err != nil {
				t.Fatalf("reserver %d: %v", i, err)
			}
			got = append(got, r)
		}
		want := drawn(t, seed, maxAttempts)
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("reserver %d got %s, want draw %d, %s", i, got[i], i+1, want[i])
			}
		}
		s := NewReserver(rdb, prefix, rand.NewChaCha8(seed), nil)
		if r, err := s.Reserve(ctx, "one too many"); !errors.Is(err, errExhausted) {
			t.Errorf("after %d taken draws: %s, %v; want errExhausted", maxAttempts, r, err)
		}
	})
}

// drawn returns the first n references a random source seeded with seed gives.
func drawn(t *testing.T, seed [32]byte, n int) []Ref {
	t.Helper()
	rnd := rand.NewChaCha8(seed)
	var refs []Ref
	for range n {
		r, err := New(rnd)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	return refs
}

// TestReserveConcurrent: callers at the same moment never get the same reference, even
// when every one of them draws the same candidates in the same order.
func TestReserveConcurrent(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		shared := NewReserver(rdb, prefix, nil, nil)
		var (
			mu   sync.Mutex
			seen = map[Ref]int{}
			wg   sync.WaitGroup
		)
		keep := func(r Ref, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			seen[r]++
		}
		for i := range 20 { // one Reserver, crypto/rand, shared by many callers
			wg.Go(func() {
				for j := range 10 {
					keep(shared.Reserve(ctx, fmt.Sprint("crypto-", i, "-", j)))
				}
			})
		}
		for i := range maxAttempts { // a Reserver each, all drawing the same sequence
			wg.Go(func() {
				s := NewReserver(rdb, prefix, rand.NewChaCha8([32]byte{4}), nil)
				keep(s.Reserve(ctx, fmt.Sprint("same-seed-", i)))
			})
		}
		wg.Wait()
		if want := 20*10 + maxAttempts; len(seen) != want {
			t.Errorf("%d distinct references, want %d", len(seen), want)
		}
		for r, n := range seen {
			if n > 1 {
				t.Errorf("%s given %d times", r, n)
			}
		}
	})
}

// TestReserveFor: an effect retried with the same key gets the same reference, even when
// the retries run at the same moment, and leaves no other reservation behind.
func TestReserveFor(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := NewReserver(rdb, prefix, nil, nil)
		first, err := s.ReserveFor(ctx, "SM-inbound-1")
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.ReserveFor(ctx, "SM-inbound-1")
		if err != nil || again != first {
			t.Errorf("ReserveFor again = %s, %v; want %s", again, err, first)
		}
		other, err := s.ReserveFor(ctx, "SM-inbound-2")
		if err != nil || other == first {
			t.Errorf("ReserveFor another key = %s, %v; want a new reference", other, err)
		}
		if owner, _ := rdb.Get(ctx, prefix+"ref:"+first.Compact()).Result(); owner != "SM-inbound-1" {
			t.Errorf("reservation owner %q, want the idempotency key", owner)
		}
		if ttl, _ := rdb.TTL(ctx, prefix+"ref-for:SM-inbound-1").Result(); ttl <= 0 || ttl > IdempotencyTTL {
			t.Errorf("idempotency key TTL %v, want up to %v", ttl, IdempotencyTTL)
		}

		// Retries at the same moment, on Reservers of their own.
		const retries = 16
		got := make([]Ref, retries)
		var wg sync.WaitGroup
		for i := range retries {
			wg.Go(func() {
				r, err := NewReserver(rdb, prefix, nil, nil).ReserveFor(ctx, "SM-inbound-3")
				if err != nil {
					t.Error(err)
				}
				got[i] = r
			})
		}
		wg.Wait()
		for i, r := range got {
			if r != got[0] {
				t.Errorf("retry %d got %s, retry 0 got %s", i, r, got[0])
			}
		}
		// The references drawn by the retries that lost were released.
		if n := len(scanKeys(t, rdb, prefix+"ref:*")); n != 3 {
			t.Errorf("%d reservations, want 3 (one per key)", n)
		}

		if _, err := s.ReserveFor(ctx, ""); err == nil {
			t.Error("ReserveFor with no key: want an error")
		}
	})
}

// TestKeyHashKeepsReferencesOutOfKeys: with a key hash, no Redis key spells a
// reference, and Reserved still finds it.
func TestKeyHashKeepsReferencesOutOfKeys(t *testing.T) {
	backends(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		s := NewReserver(rdb, prefix, nil, nil).WithKeyHash(func(c string) string { return fmt.Sprintf("h%x", c) })
		r, err := s.ReserveFor(ctx, "SM1:e0")
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range scanKeys(t, rdb, prefix+"ref:*") {
			if strings.Contains(k, r.Compact()) {
				t.Errorf("key %s spells the reference", k)
			}
		}
		if ok, err := s.Reserved(ctx, r); err != nil || !ok {
			t.Errorf("Reserved = %v, %v", ok, err)
		}
	})
}
