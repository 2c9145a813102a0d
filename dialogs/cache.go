package dialogs

import (
	"strconv"
	"sync"
	"time"

	"github.com/hotline-org/hotline/channels"
)

// sessionCache keeps, for one shard and one tenure of its lease, the chat sessions
// the runner last saved, sealed as they are in Redis: a contact's next turn then
// starts without reading its session back. It needs no invalidation to stay correct:
// every commit checks the session's version, so a session changed under it (an
// operator took the conversation, it expired) fails with ErrVersion, the entry goes,
// and the turn is tried again from Redis. Versions only grow while a session exists,
// and only the runner creates chat sessions, so a cached version never matches a
// different session. The cache dies with the tenure: another holder may have changed
// anything meanwhile. Voice sessions (written by call turns, which hold no lease)
// and WhatsApp ones (whose held replies are counted at load) are never kept.
type sessionCache struct {
	// A shard's contacts take their turns side by side, each its own entry: the
	// lock guards the map, never a turn.
	mu      sync.Mutex
	max     int
	maxAge  time.Duration
	entries map[string]cachedSession
}

type cachedSession struct {
	version int64
	data    string
	at      time.Time
}

// cacheSize bounds a shard's cache: a few thousand conversations in their last
// minutes, under 2 MiB of sealed sessions.
const (
	cacheSize   = 4096
	cacheMaxAge = 10 * time.Minute
)

func newSessionCache() *sessionCache {
	return &sessionCache{max: cacheSize, maxAge: cacheMaxAge, entries: map[string]cachedSession{}}
}

// cacheable reports whether a channel's sessions may be kept.
func cacheable(ch channels.Channel) bool {
	return ch != channels.Voice && ch != channels.WhatsApp
}

// get returns a kept session's stored form, as LoadSession reads it.
func (c *sessionCache) get(key string, now time.Time) ([]any, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	if now.Sub(e.at) > c.maxAge || now.Before(e.at) {
		delete(c.entries, key)
		return nil, false
	}
	return []any{strconv.FormatInt(e.version, 10), e.data}, true
}

func (c *sessionCache) put(key string, version int64, data []byte, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		// Any one goes (map order is random): the cache only saves a read.
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = cachedSession{version: version, data: string(data), at: now}
}

func (c *sessionCache) drop(key string) {
	if c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.entries, key)
	}
}
