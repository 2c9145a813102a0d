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
}

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
func (s *Sessions) Start(ctx context.Context, op, name string, role accounts.Role) (token string, sess Session, err error) {
	token, err = random(32)
	if err != nil {
		return "", Session{}, err
	}
	csrf, err := random(32)
	if err != nil {
		return "", Session{}, err
	}
	sess = Session{Operator: op, Name: name, Role: role, CSRF: csrf, Created: s.now()}
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
