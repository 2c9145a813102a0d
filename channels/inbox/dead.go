package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// DeadLetter is an inbound message set aside after MaxAttempts failed turns (Fail), as
// its shard's list holds it (JSON).
type DeadLetter struct {
	StreamID string           `json:"stream_id"`
	Msg      channels.Inbound `json:"msg"`
	Error    string           `json:"error"`
	// Attempts is how many turns failed on it; 0 in letters set aside before it was
	// recorded.
	Attempts int `json:"attempts,omitempty"`
}

// Replayable reports whether the letter holds a message to handle again: one whose
// stream entry could not even be decoded holds nothing.
func (d DeadLetter) Replayable() bool { return d.Msg.Channel != "" && d.Msg.ID != "" }

// ParseDeadLetter reads a dead letter as DeadLetters returns it.
func ParseDeadLetter(raw string) (DeadLetter, error) {
	var d DeadLetter
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		return d, fmt.Errorf("decode inbox dead letter: %w", err)
	}
	return d, nil
}

// DeadKey is the list of a shard's dead letters, newest first.
func DeadKey(prefix string, shard int) string { return channels.Tag(prefix, shard) + "dead" }

// settleScript takes one dead letter (ARGV[1]) off its list and, when ARGV[2] holds a
// message, appends that to the shard's stream again, past the provider-ID check (the
// ID was seen: it is this very message). 0 when the letter is not there.
var settleScript = redis.NewScript(`
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
if ARGV[2] ~= '' then redis.call('XADD', KEYS[2], '*', 'm', ARGV[2]) end
return 1
`)

// ReplayDead hands a shard's dead letter (raw, as DeadLetters returned it) to the
// runner again, once: false when it is no longer there. It is handled behind what the
// shard holds now, so after the contact's later messages. The turn that failed never
// committed, so nothing of it was sent.
func (b *Inbox) ReplayDead(ctx context.Context, shard int, raw string) (bool, error) {
	d, err := ParseDeadLetter(raw)
	if err != nil {
		return false, err
	}
	if !d.Replayable() {
		return false, errors.New("replay inbox dead letter: it holds no message (its entry could not be read)")
	}
	m, err := json.Marshal(d.Msg)
	if err != nil {
		return false, fmt.Errorf("replay inbox dead letter: %w", err)
	}
	return b.settle(ctx, shard, raw, string(m))
}

// DiscardDead drops a shard's dead letter for good: false when it is no longer there.
func (b *Inbox) DiscardDead(ctx context.Context, shard int, raw string) (bool, error) {
	return b.settle(ctx, shard, raw, "")
}

func (b *Inbox) settle(ctx context.Context, shard int, raw, m string) (bool, error) {
	n, err := settleScript.Run(ctx, b.rdb, []string{DeadKey(b.cfg.Prefix, shard), b.StreamKey(shard)}, raw, m).Int()
	if err != nil {
		return false, fmt.Errorf("settle inbox dead letter: %w", err)
	}
	return n == 1, nil
}

// PurgeDead drops a contact's dead letters from their shard, for an erasure (DELETE):
// a letter keeps what they wrote, in the clear, for days. It returns how many went.
func (b *Inbox) PurgeDead(ctx context.Context, shard int, ch channels.Channel, contact string) (int, error) {
	letters, err := b.DeadLetters(ctx, shard)
	if err != nil {
		return 0, fmt.Errorf("purge inbox dead letters: %w", err)
	}
	n := 0
	for _, raw := range letters {
		if d, err := ParseDeadLetter(raw); err != nil || d.Msg.Channel != ch || d.Msg.Contact != contact {
			continue
		}
		gone, err := b.DiscardDead(ctx, shard, raw)
		if err != nil {
			return n, fmt.Errorf("purge inbox dead letters: %w", err)
		}
		if gone {
			n++
		}
	}
	return n, nil
}
