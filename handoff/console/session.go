package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/handoff/accounts"
)

// Session is an operator logged in to the console. The browser holds only a random
// token; Redis holds this under the token's hash, so that a dump of Redis logs nobody
// in.
type Session struct {
	Operator string        `json:"op"`
	Name     string        `json:"name"`
	Role     accounts.Role `json:"role"`
	// CSRF is the token every change must carry (a header the page's script sets):
	// a page of another site can make the browser send the cookie, not read this.
	CSRF    string    `json:"csrf"`
	Created time.Time `json:"created"`
	// Langs are the hotline languages the operator reads (from the account); Lang is
	// the one the console speaks to them, when they chose one.
	Langs []string `json:"langs,omitempty"`
	Lang  string   `json:"lang,omitempty"`
	// Presence is "available" or "away": who is told when someone new waits.
	Presence string `json:"presence,omitempty"`
}

// Presences an operator can be in.
const (
	Available = "available"
	Away      = "away"
)

// SessionConfig bounds a console session.
type SessionConfig struct {
	// Idle ends a session nobody used for that long (a laptop left open).
	Idle time.Duration
	// Max ends any session that old, used or not.
	Max time.Duration
}

// DefaultSessions are an operator's shift, not longer: 30 minutes idle, 12 hours in all.
func DefaultSessions() SessionConfig {
	return SessionConfig{Idle: 30 * time.Minute, Max: 12 * time.Hour}
}

// Sessions keeps console sessions in Redis.
type Sessions struct {
	rdb    redis.UniversalClient
	prefix string
	cfg    SessionConfig
	now    func() time.Time
}

// NewSessions returns the session store under prefix.
func NewSessions(rdb redis.UniversalClient, prefix string, cfg SessionConfig, now func() time.Time) *Sessions {
	if cfg.Idle <= 0 || cfg.Max <= 0 {
		cfg = DefaultSessions()
	}
	return &Sessions{rdb: rdb, prefix: prefix, cfg: cfg, now: now}
}

// ErrNoSession is a token that names no live session.
var ErrNoSession = errors.New("no console session")

func (s *Sessions) key(token string) string {
	sum := sha256.Sum256([]byte(token))
	return s.prefix + "console:session:" + hex.EncodeToString(sum[:])
}

// Start opens a session for an operator who logged in and returns its token, for the
// cookie.
func (s *Sessions) Start(ctx context.Context, op, name string, role accounts.Role, langs []string) (token string, sess Session, err error) {
	token, err = random(32)
	if err != nil {
		return "", Session{}, err
	}
	csrf, err := random(32)
	if err != nil {
		return "", Session{}, err
	}
	sess = Session{Operator: op, Name: name, Role: role, CSRF: csrf, Created: s.now(), Langs: langs, Presence: Available}
	b, _ := json.Marshal(sess)
	if err := s.rdb.Set(ctx, s.key(token), b, s.cfg.Idle).Err(); err != nil {
		return "", Session{}, fmt.Errorf("start console session: %w", err)
	}
	return token, sess, nil
}

// Get returns the session a token names, and keeps it alive for another idle period.
func (s *Sessions) Get(ctx context.Context, token string) (Session, error) {
	if len(token) < 40 || len(token) > 64 {
		return Session{}, ErrNoSession
	}
	k := s.key(token)
	b, err := s.rdb.Get(ctx, k).Bytes()
	if errors.Is(err, redis.Nil) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("read console session: %w", err)
	}
	var sess Session
	if err := json.Unmarshal(b, &sess); err != nil {
		return Session{}, ErrNoSession
	}
	left := s.cfg.Max - s.now().Sub(sess.Created)
	if left <= 0 {
		s.rdb.Del(ctx, k)
		return Session{}, ErrNoSession
	}
	if err := s.rdb.Expire(ctx, k, min(s.cfg.Idle, left)).Err(); err != nil {
		return Session{}, fmt.Errorf("keep console session: %w", err)
	}
	return sess, nil
}

// Update changes a live session (its language, its presence) and keeps it alive.
func (s *Sessions) Update(ctx context.Context, token string, f func(*Session)) (Session, error) {
	sess, err := s.Get(ctx, token)
	if err != nil {
		return Session{}, err
	}
	f(&sess)
	b, _ := json.Marshal(sess)
	// KEEPTTL: Get just set how long it lives.
	if err := s.rdb.SetArgs(ctx, s.key(token), b, redis.SetArgs{KeepTTL: true, Mode: "XX"}).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return Session{}, fmt.Errorf("update console session: %w", err)
	}
	return sess, nil
}

// End closes a session (logging out).
func (s *Sessions) End(ctx context.Context, token string) error {
	return s.rdb.Del(ctx, s.key(token)).Err()
}

// CSRFMatches checks a change's token against its session's, in constant time.
func (sess Session) CSRFMatches(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) == 1
}

func random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// presence is where each operator's presence is kept for the others to see: a hash
// of operator → presence, with when it was last said (a closed laptop says nothing).
func (s *Sessions) presence() string { return s.prefix + "console:presence" }

type seenPresence struct {
	Presence string    `json:"p"`
	At       time.Time `json:"at"`
}

// SetPresence records that op is on duty now, available or away.
func (s *Sessions) SetPresence(ctx context.Context, op, presence string) error {
	b, _ := json.Marshal(seenPresence{presence, s.now()})
	if err := s.rdb.HSet(ctx, s.presence(), op, b).Err(); err != nil {
		return fmt.Errorf("record presence: %w", err)
	}
	return nil
}

// presenceFresh is how long a presence holds without a page that says it again (an
// open page says it every 15 seconds).
const presenceFresh = 2 * time.Minute

// Presences are the operators with a console open now, and whether they are
// available.
func (s *Sessions) Presences(ctx context.Context) (map[string]string, error) {
	all, err := s.rdb.HGetAll(ctx, s.presence()).Result()
	if err != nil {
		return nil, fmt.Errorf("read presence: %w", err)
	}
	out := make(map[string]string, len(all))
	for op, raw := range all {
		var p seenPresence
		if json.Unmarshal([]byte(raw), &p) == nil && s.now().Sub(p.At) < presenceFresh {
			out[op] = p.Presence
		}
	}
	return out, nil
}
