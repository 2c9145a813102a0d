package ref

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// IdempotencyTTL is how long ReserveFor remembers which reference it gave for a key: far
// longer than any effect is retried (minutes), short enough that Redis does not keep a
// list of references for long.
const IdempotencyTTL = 24 * time.Hour

// maxAttempts bounds the draws of one reservation. A draw collides with one of a million
// references already given with a chance of 1 in 26 million; eight in a row mean that
// the random source is broken, not that the space is full.
const maxAttempts = 8

// errExhausted: every draw of a reservation was already taken.
var errExhausted = errors.New("ref: every reference drawn was already reserved; is the random source broken?")

// Reserver gives out references that are unique, by reserving each one in Redis before
// anyone sees it. The database enforces uniqueness too; Redis is what lets the bot give a
// reference at once, before the case is written.
//
// Keys, under the deployment's prefix:
//
//	<prefix>ref:<compact>       owner; never expires        the reservation (SET NX)
//	<prefix>ref-for:<key>       compact reference; 1 day    which reference a key got (SET NX GET)
//
// With WithKeyHash, the reservation's key holds a keyed hash of the reference instead:
// a reference is a bearer secret, and a SCAN of Redis should not list them.
//
// Every command touches a single key, so the keys carry no hash tag: they spread over the
// slots of a Redis Cluster, and no script has to gather them in one. ReserveFor orders its
// two writes so that it needs no script either.
type Reserver struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time // not used yet: no reservation depends on the clock

	mu   sync.Mutex // rand need not be safe for concurrent use
	rand io.Reader
	hash func(compact string) string
}

// WithKeyHash makes reservation keys name a reference by hash(compact form), never in
// clear; it returns s. Set it before the first reservation, for the deployment's life.
func (s *Reserver) WithKeyHash(hash func(compact string) string) *Reserver {
	s.hash = hash
	return s
}

// NewReserver returns a Reserver that keeps its keys under prefix and draws references
// from rand (crypto/rand when nil). now (time.Now when nil) is accepted for symmetry with
// NewGuard; reservations never expire, so nothing reads it today.
func NewReserver(rdb redis.UniversalClient, prefix string, rand io.Reader, now func() time.Time) *Reserver {
	if now == nil {
		now = time.Now
	}
	return &Reserver{rdb: rdb, prefix: prefix, now: now, rand: rand}
}

// Reserve draws a fresh reference and reserves it for owner (for instance a session or a
// case), drawing again in the rare event that it was already taken.
func (s *Reserver) Reserve(ctx context.Context, owner string) (Ref, error) {
	if owner == "" {
		return Ref{}, errors.New("ref: reserve: empty owner")
	}
	return s.reserve(ctx, owner)
}

// ReserveFor reserves a reference for an idempotency key, such as the ID of the inbound
// message whose turn asked for it, and returns the same reference whenever it is called
// again with that key within IdempotencyTTL: effects are retried, and a family must not be
// given two references for one report.
//
// It first reserves a fresh reference (owner: key), then records it under the key with
// SET NX GET. If an earlier call got there first, that call's reference is returned and the
// fresh one is released unseen. So the key never names a reference that is not reserved,
// whatever fails when; the worst a failure leaves is a reservation that nobody holds,
// which costs one key and harms nothing.
func (s *Reserver) ReserveFor(ctx context.Context, key string) (Ref, error) {
	if key == "" {
		return Ref{}, errors.New("ref: reserve: empty idempotency key")
	}
	fresh, err := s.reserve(ctx, key)
	if err != nil {
		return Ref{}, err
	}
	old, err := s.rdb.SetArgs(ctx, s.prefix+"ref-for:"+key, fresh.Compact(),
		redis.SetArgs{Mode: "NX", Get: true, TTL: IdempotencyTTL}).Result()
	switch {
	case errors.Is(err, redis.Nil): // the key was new: the fresh reference is the one
		return fresh, nil
	case err != nil:
		return Ref{}, fmt.Errorf("ref: record reference for idempotency key: %w", err)
	}
	// An error here leaves the fresh reference reserved and unused, which is harmless.
	_ = s.rdb.Del(ctx, s.refKey(fresh)).Err()
	earlier, err := Parse(old)
	if err != nil {
		return Ref{}, fmt.Errorf("ref: idempotency key holds no reference: %w", err)
	}
	return earlier, nil
}

// reserve draws references until one is free and reserves it for owner.
func (s *Reserver) reserve(ctx context.Context, owner string) (Ref, error) {
	for range maxAttempts {
		s.mu.Lock()
		r, err := New(s.rand)
		s.mu.Unlock()
		if err != nil {
			return Ref{}, err
		}
		ok, err := s.rdb.SetNX(ctx, s.refKey(r), owner, 0).Result()
		if err != nil {
			return Ref{}, fmt.Errorf("ref: reserve: %w", err)
		}
		if ok {
			return r, nil
		}
	}
	return Ref{}, errExhausted
}

func (s *Reserver) refKey(r Ref) string {
	if s.hash != nil {
		return s.prefix + "ref:" + s.hash(r.Compact())
	}
	return s.prefix + "ref:" + r.Compact()
}

// Reserved reports whether r was given out: a case whose report is still on its way to
// the database is known by its reservation.
func (s *Reserver) Reserved(ctx context.Context, r Ref) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.refKey(r)).Result()
	if err != nil {
		return false, fmt.Errorf("ref: reserved: %w", err)
	}
	return n == 1, nil
}
