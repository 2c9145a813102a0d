package web

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

const (
	// historyCap bounds one simulated conversation in Redis: a tester who loops a menu
	// for hours must not grow a list without end.
	historyCap = 500
	// historyTTL lets abandoned simulator conversations disappear on their own; each
	// bot message renews it.
	historyTTL = 24 * time.Hour
)

// message is one bot message as the page shows it. N is its position in the whole
// conversation, which stays stable when the list is trimmed, so that a page polling
// with after=N never skips or repeats a message because older ones were dropped.
type message struct {
	N        int64             `json:"n"`
	ID       string            `json:"id"`
	Text     string            `json:"text"`
	Choices  []channels.Choice `json:"choices,omitempty"`
	Lang     string            `json:"lang,omitempty"`
	Segments int               `json:"segments"`
	At       time.Time         `json:"at"`
}

// stored is a message before Redis gives it its position. Its JSON must start with
// `{"id":` because the append script splices `"n":…,` in front of it.
type stored struct {
	ID       string            `json:"id"`
	Text     string            `json:"text"`
	Choices  []channels.Choice `json:"choices,omitempty"`
	Lang     string            `json:"lang,omitempty"`
	Segments int               `json:"segments"`
	At       time.Time         `json:"at"`
}

// appendScript numbers the record after the last one kept, appends it, trims the list
// and renews its TTL in one atomic round trip. Positions restart at 0 only when the
// list has expired.
const appendScript = `
local last = redis.call('LINDEX', KEYS[1], -1)
local n = 0
if last then
  local m = string.match(last, '^{"n":(%d+),')
  if m then n = tonumber(m) + 1 else n = redis.call('LLEN', KEYS[1]) end
end
redis.call('RPUSH', KEYS[1], '{"n":' .. string.format('%d', n) .. ',' .. string.sub(ARGV[1], 2))
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return n
`

// readScript returns the next position to ask for, then the records from position
// ARGV[1] on. A position before the oldest kept record reads from the oldest; one past
// the newest means the list expired and started again, so it reads from the start.
const readScript = `
local first = redis.call('LINDEX', KEYS[1], 0)
if not first then return {'0'} end
local base = tonumber(string.match(first, '^{"n":(%d+),') or '0')
local len = redis.call('LLEN', KEYS[1])
local from = tonumber(ARGV[1]) - base
if from < 0 or from > len then from = 0 end
local out = redis.call('LRANGE', KEYS[1], from, -1)
table.insert(out, 1, string.format('%d', base + from + #out))
return out
`

// history is the per-contact list of bot messages that the page polls.
type history struct {
	rdb    redis.UniversalClient
	prefix string
	append *redis.Script
	read   *redis.Script
}

func newHistory(rdb redis.UniversalClient, prefix string) *history {
	return &history{
		rdb:    rdb,
		prefix: prefix,
		append: redis.NewScript(appendScript),
		read:   redis.NewScript(readScript),
	}
}

func (h *history) key(contact string) string { return h.prefix + "web:" + contact }

func (h *history) add(ctx context.Context, contact string, m stored) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode simulator message %s: %w", m.ID, err)
	}
	err = h.append.Run(ctx, h.rdb, []string{h.key(contact)},
		raw, historyCap, historyTTL.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("append simulator message %s: %w", m.ID, err)
	}
	return nil
}

// since returns the messages from position after on, once each: the outbox delivers at
// least once, so a piece may have been appended twice. A page must still drop an ID it
// already showed in an earlier answer.
func (h *history) since(ctx context.Context, contact string, after int64) (msgs []message, next int64, err error) {
	vals, err := h.read.Run(ctx, h.rdb, []string{h.key(contact)}, after).StringSlice()
	if err != nil {
		return nil, 0, fmt.Errorf("read simulator messages: %w", err)
	}
	if len(vals) == 0 {
		return nil, 0, fmt.Errorf("read simulator messages: empty script reply")
	}
	next, err = strconv.ParseInt(vals[0], 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("read simulator messages: position %q: %w", vals[0], err)
	}
	msgs = make([]message, 0, len(vals)-1)
	seen := make(map[string]bool, len(vals)-1)
	for _, raw := range vals[1:] {
		var m message
		// Only the append script writes here; a record it did not write must not stop
		// the page of the conversation for a day, so it is passed over.
		if err := json.Unmarshal([]byte(raw), &m); err != nil || seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		msgs = append(msgs, m)
	}
	return msgs, next, nil
}
