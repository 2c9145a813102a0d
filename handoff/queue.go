package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/dialogs"
)

// Priorities of waiting conversations: lower waits less.
const (
	PriorityDistress = 0
	PriorityMissing  = 1
	PriorityOther    = 2
)

// Entry is a conversation waiting for a person. It names the conversation by its
// contact hash: the queue is an index, the session is the truth.
type Entry struct {
	Key      string           `json:"key"`
	Channel  channels.Channel `json:"channel"`
	Shard    int              `json:"shard"`
	Contact  string           `json:"contact"` // the contact's hash, not the address
	Lang     string           `json:"lang"`
	Priority int              `json:"priority"`
	Since    time.Time        `json:"since"`
	LastAt   time.Time        `json:"last_at"`
	Messages int              `json:"messages"`
	Test     bool             `json:"test,omitempty"`
	Position int              `json:"position"`
	// Operator holds the conversation, once one took it: it has left the waiting list.
	Operator string `json:"operator,omitempty"`
	// Team is the language team a conversation was handed to ("ar"): those who read
	// it see it first.
	Team string `json:"team,omitempty"`
	// ClaimedAt is when the operator who holds it took it; FirstReplyAt and
	// LastReplyAt when a person first and last answered (the console's timers).
	ClaimedAt    time.Time `json:"claimed_at,omitzero"`
	FirstReplyAt time.Time `json:"first_reply_at,omitzero"`
	LastReplyAt  time.Time `json:"last_reply_at,omitzero"`
}

// Unanswered reports whether the contact wrote after a person last answered: the
// next-response timer runs from LastAt.
func (e Entry) Unanswered() bool { return e.LastAt.After(e.LastReplyAt) }

// Queue is the index of conversations waiting for a person, ordered by priority, then
// by how long they have waited.
type Queue struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
	// seal, when set, encrypts the messages kept for a person: what a contact wrote
	// is personal data.
	seal dialogs.Sealer
}

// WithSealer encrypts the messages kept for a person under the data keys.
func (q *Queue) WithSealer(s dialogs.Sealer) *Queue {
	q.seal = s
	return q
}

// NewQueue returns the queue under prefix.
func NewQueue(rdb redis.UniversalClient, prefix string, now func() time.Time) *Queue {
	return &Queue{rdb: rdb, prefix: prefix, now: now}
}

func (q *Queue) order() string   { return q.prefix + "handoff:queue" }
func (q *Queue) entries() string { return q.prefix + "handoff:entries" }
func (q *Queue) held() string    { return q.prefix + "handoff:held" }

// score orders by priority first, then arrival: a distress call that came later still
// goes before a question that came earlier.
func score(priority int, since time.Time) float64 {
	return float64(priority)*1e13 + float64(since.UnixMilli())
}

// Add puts a conversation in the queue (again, idempotently: a retried effect keeps its
// original place) and returns its position, from 1.
func (q *Queue) Add(ctx context.Context, e Entry) (int, error) {
	existing, err := q.get(ctx, e.Key)
	if err != nil {
		return 0, err
	}
	if existing != nil {
		e.Since, e.Messages = existing.Since, existing.Messages
		// A distress call asking for a person stays a distress call in the queue.
		e.Priority = min(e.Priority, existing.Priority)
	}
	e.Operator = ""
	b, _ := json.Marshal(e)
	_, err = q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, q.entries(), e.Key, b)
		p.Del(ctx, q.removedKey(e.Key))
		p.ZRem(ctx, q.held(), e.Key) // handed back to the queue by whoever held it
		// LT: a conversation already waiting moves up when it becomes a distress call, never down.
		p.ZAddLT(ctx, q.order(), redis.Z{Score: score(e.Priority, e.Since), Member: e.Key})
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("queue %s: %w", e.Key, err)
	}
	rank, err := q.rdb.ZRank(ctx, q.order(), e.Key).Result()
	if err != nil {
		return 0, fmt.Errorf("queue position %s: %w", e.Key, err)
	}
	return int(rank) + 1, nil
}

// maxKept is how many messages of a waiting contact are kept for the operator.
const maxKept = 200

// Message is something a waiting contact wrote, kept for the person who answers; or,
// in the same transcript, what an operator answered or noted.
type Message struct {
	At time.Time `json:"at"`
	// From is "" for the contact, "operator:<id>" for a reply, "note:<id>" for an
	// internal note (never sent).
	From      string `json:"from,omitempty"`
	Text      string `json:"text,omitempty"`
	Media     string `json:"media,omitempty"` // where the voice note, picture or file is (first of them)
	MediaType string `json:"media_type,omitempty"`
	Location  string `json:"location,omitempty"` // "lat,lon" of a shared location
	// Also is what the bot answered the message: kept after it, in the same write.
	Also *Message `json:"-"`
}

// FromBot marks what the bot said in a transcript.
const FromBot = "bot"

func (q *Queue) messagesKey(key string) string { return q.prefix + "handoff:msgs:" + key }

// Touch keeps a new message from a waiting contact for the operator. A message the same
// job already kept (a retried effect) is not kept twice.
func (q *Queue) Touch(ctx context.Context, key, jobID string, m Message, missing Entry) error {
	e, err := q.get(ctx, key)
	if err != nil {
		return err
	}
	if e == nil {
		// The queue is an index; the session says the contact waits. Put them back
		// rather than drop what they wrote.
		if _, err := q.Add(ctx, missing); err != nil {
			return err
		}
		e = &missing
	}
	lines := [][]byte{}
	for l := &m; l != nil; l = l.Also {
		b, err := q.sealed(key, *l)
		if err != nil {
			return err
		}
		lines = append(lines, b)
	}
	marker := q.prefix + "handoff:kept:" + jobID
	if n, err := q.rdb.Exists(ctx, marker).Result(); err != nil || n == 1 {
		return err
	}
	e.Messages++
	e.LastAt = m.At
	eb, _ := json.Marshal(e)
	_, err = q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, b := range lines {
			p.RPush(ctx, q.messagesKey(key), b)
		}
		p.LTrim(ctx, q.messagesKey(key), -maxKept, -1)
		p.Expire(ctx, q.messagesKey(key), 30*24*time.Hour)
		p.HSet(ctx, q.entries(), key, eb)
		// Marked only with the write, so that a failed write is retried, not skipped.
		p.Set(ctx, marker, "1", 24*time.Hour)
		return nil
	})
	if err != nil {
		return fmt.Errorf("keep message for %s: %w", key, err)
	}
	return nil
}

// sealed is a message as kept, sealed when the queue has a sealer.
func (q *Queue) sealed(key string, m Message) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil || q.seal == nil {
		return b, err
	}
	if b, err = q.seal.Seal(b, []byte(q.messagesKey(key))); err != nil {
		return nil, fmt.Errorf("seal message for %s: %w", key, err)
	}
	return b, nil
}

// Append adds an operator's reply or note to a conversation's transcript; a reply
// also moves the conversation's response timers. A conversation closed or erased
// meanwhile (Remove) gets back neither its entry nor its transcript: what an operator
// wrote to a contact who asked to be forgotten must not stay behind for a month.
func (q *Queue) Append(ctx context.Context, key string, m Message) error {
	b, err := q.sealed(key, m)
	if err != nil {
		return err
	}
	list := q.messagesKey(key)
	// The line first, then the entry, which says whether the conversation is still
	// there. Remove marks the conversation removed before it drops the entry and the
	// transcript, so whichever way the two interleave, a line pushed after the
	// transcript went is found and dropped here. (The keys are in different slots on a
	// Cluster: no one script holds them all.)
	_, err = q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, list, b)
		p.LTrim(ctx, list, -maxKept, -1)
		p.Expire(ctx, list, 30*24*time.Hour)
		return nil
	})
	if err != nil {
		return fmt.Errorf("add to the transcript of %s: %w", key, err)
	}
	for range 5 {
		raw, err := q.rdb.HGet(ctx, q.entries(), key).Result()
		if errors.Is(err, redis.Nil) {
			return q.dropIfRemoved(ctx, key)
		}
		if err != nil {
			return fmt.Errorf("read queue entry %s: %w", key, err)
		}
		if !strings.HasPrefix(m.From, "operator:") {
			return nil
		}
		var e Entry
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return fmt.Errorf("decode queue entry %s: %w", key, err)
		}
		if e.FirstReplyAt.IsZero() || e.FirstReplyAt.Before(e.ClaimedAt) {
			e.FirstReplyAt = m.At
		}
		e.LastReplyAt = m.At
		eb, _ := json.Marshal(e)
		n, err := swapEntryScript.Run(ctx, q.rdb, []string{q.entries()}, key, raw, eb).Int()
		switch {
		case err != nil:
			return fmt.Errorf("move the reply timers of %s: %w", key, err)
		case n == 0:
			return q.dropIfRemoved(ctx, key)
		case n == 1:
			return nil
		}
		// Changed since it was read (a message kept, a claim): read it again.
	}
	return fmt.Errorf("move the reply timers of %s: the entry kept changing", key)
}

// swapEntryScript replaces a queue entry (field ARGV[1]) by ARGV[3] only if it is still
// ARGV[2]: 1 done, -1 changed meanwhile, 0 gone (never written back: a removed
// conversation stays removed).
var swapEntryScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
if cur ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`)

// dropIfRemoved deletes the transcript of a conversation found without an entry when
// Remove took it out lately. One never indexed yet (an operator took a conversation
// over, and the effect that indexes it has not run) keeps it.
func (q *Queue) dropIfRemoved(ctx context.Context, key string) error {
	n, err := q.rdb.Exists(ctx, q.removedKey(key)).Result()
	if err == nil && n == 1 {
		err = q.rdb.Del(ctx, q.messagesKey(key)).Err()
	}
	if err != nil {
		return fmt.Errorf("drop the transcript of removed %s: %w", key, err)
	}
	return nil
}

// removedKey marks, for an hour, a conversation Remove took out of the queue; Add and
// Claimed bring it back.
func (q *Queue) removedKey(key string) string { return q.prefix + "handoff:removed:" + key }

// Messages returns what a waiting contact wrote since joining the queue, oldest first.
func (q *Queue) Messages(ctx context.Context, key string) ([]Message, error) {
	raw, err := q.rdb.LRange(ctx, q.messagesKey(key), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read kept messages of %s: %w", key, err)
	}
	out := make([]Message, 0, len(raw))
	for _, r := range raw {
		b := []byte(r)
		if q.seal != nil && len(b) > 0 && b[0] != '{' {
			// Sealed (one kept before sealing starts with '{').
			if b, err = q.seal.Open(b, []byte(q.messagesKey(key))); err != nil {
				// Sealed under a key no longer in the ring: said, not hidden.
				out = append(out, Message{Text: "[a message that can no longer be read: its key was retired]"})
				continue
			}
		}
		var m Message
		if json.Unmarshal(b, &m) == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// Claimed moves a conversation from the waiting list to those held by operator op
// (missing is its entry if it never waited); what the contact wrote stays for op.
func (q *Queue) Claimed(ctx context.Context, key, op string, missing Entry) error {
	e, err := q.get(ctx, key)
	if err != nil {
		return err
	}
	if e == nil {
		e = &missing
	}
	if e.Operator != op {
		e.ClaimedAt = q.now()
	}
	e.Operator, e.Position = op, 0
	b, _ := json.Marshal(e)
	_, err = q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, q.entries(), key, b)
		p.Del(ctx, q.removedKey(key))
		p.ZRem(ctx, q.order(), key)
		p.ZAdd(ctx, q.held(), redis.Z{Score: score(e.Priority, e.Since), Member: key})
		return nil
	})
	if err != nil {
		return fmt.Errorf("claim %s: %w", key, err)
	}
	return nil
}

// Held returns the conversations operators hold, most urgent first.
func (q *Queue) Held(ctx context.Context) ([]Entry, error) {
	keys, err := q.rdb.ZRange(ctx, q.held(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list held: %w", err)
	}
	return q.entriesOf(ctx, keys, false)
}

// Remove takes a conversation out of the queue; removing one that is not there is fine.
func (q *Queue) Remove(ctx context.Context, key string) error {
	// The mark goes first, on its own: a Cluster sends a pipeline's commands to their
	// nodes side by side, and Append must find it once the transcript is gone.
	if err := q.rdb.Set(ctx, q.removedKey(key), "1", time.Hour).Err(); err != nil {
		return fmt.Errorf("leave queue %s: %w", key, err)
	}
	_, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, q.held(), key)
		p.ZRem(ctx, q.order(), key)
		p.HDel(ctx, q.entries(), key)
		p.Del(ctx, q.messagesKey(key))
		return nil
	})
	if err != nil {
		return fmt.Errorf("leave queue %s: %w", key, err)
	}
	return nil
}

// List returns the waiting conversations in the order operators should take them.
func (q *Queue) List(ctx context.Context) ([]Entry, error) {
	keys, err := q.rdb.ZRange(ctx, q.order(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list queue: %w", err)
	}
	return q.entriesOf(ctx, keys, true)
}

// entriesOf reads the entries of keys, in order; positioned numbers them from 1.
func (q *Queue) entriesOf(ctx context.Context, keys []string, positioned bool) ([]Entry, error) {
	if len(keys) == 0 {
		return []Entry{}, nil
	}
	raw, err := q.rdb.HMGet(ctx, q.entries(), keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("list queue entries: %w", err)
	}
	out := make([]Entry, 0, len(keys))
	for i, r := range raw {
		s, ok := r.(string)
		if !ok {
			continue
		}
		var e Entry
		if json.Unmarshal([]byte(s), &e) == nil {
			if positioned {
				e.Position = i + 1
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// Len is how many conversations wait.
func (q *Queue) Len(ctx context.Context) (int64, error) { return q.rdb.ZCard(ctx, q.order()).Result() }

// Entry is a conversation's entry, waiting or held; nil when it has none.
func (q *Queue) Entry(ctx context.Context, key string) (*Entry, error) { return q.get(ctx, key) }

func (q *Queue) get(ctx context.Context, key string) (*Entry, error) {
	s, err := q.rdb.HGet(ctx, q.entries(), key).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read queue entry %s: %w", key, err)
	}
	var e Entry
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		return nil, fmt.Errorf("decode queue entry %s: %w", key, err)
	}
	return &e, nil
}

// EntryKey names a conversation in the queue.
func EntryKey(ch channels.Channel, contactHash string) string { return string(ch) + ":" + contactHash }

// EffectHandlers returns the handlers of the handoff effects that dialogs queue.
func (q *Queue) EffectHandlers() map[string]dialogs.EffectHandler {
	return map[string]dialogs.EffectHandler{
		dialogs.EffectHandoffEnqueue: func(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
			pos, err := q.Add(ctx, entryFor(job))
			if err != nil {
				return nil, err
			}
			return &channels.EffectResult{OK: true, Data: map[string]string{"position": strconv.Itoa(pos)}}, nil
		},
		dialogs.EffectHandoffLeave: func(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
			return nil, q.Remove(ctx, EntryKey(job.Channel, job.Hash))
		},
		dialogs.EffectHandoffClaimed: func(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
			return nil, q.Claimed(ctx, EntryKey(job.Channel, job.Hash), job.Data["operator"], entryFor(job))
		},
		dialogs.EffectHandoffVoicemail: func(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
			// Its own entry: the call's waiting for a person may end (hung up, taken,
			// unanswered) and the message must still wait for the team.
			e := entryFor(job)
			e.Key += ":voicemail"
			if job.Data["distress"] == "1" {
				e.Priority = PriorityDistress
			}
			return nil, q.Touch(ctx, e.Key, job.ID, Message{At: job.At, Media: job.Data["media"],
				MediaType: job.Data["media_type"]}, e)
		},
		dialogs.EffectHandoffInbound: func(ctx context.Context, job dialogs.EffectJob) (*channels.EffectResult, error) {
			m := Message{At: job.At, Text: job.Data["text"], Media: job.Data["media"], MediaType: job.Data["media_type"],
				Location: job.Data["location"]}
			if bot := job.Data["bot"]; bot != "" {
				m.Also = &Message{At: job.At, From: FromBot, Text: bot}
			}
			return nil, q.Touch(ctx, EntryKey(job.Channel, job.Hash), job.ID, m, entryFor(job))
		},
	}
}

func entryFor(job dialogs.EffectJob) Entry {
	return Entry{Key: EntryKey(job.Channel, job.Hash), Channel: job.Channel, Shard: job.Shard,
		Contact: job.Hash, Lang: job.Lang, Priority: PriorityOther, Since: job.At, LastAt: job.At, Test: job.Test,
		Team: job.Data["team"]}
}
