package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// Dead letters are kept a week (they hold addresses and texts), the newest 10,000 of a
// shard at most.
const (
	deadTTL  = 7 * 24 * time.Hour
	deadKept = 10000
)

// DeadLetter is a message set aside (bury), as its shard's list holds it (JSON).
type DeadLetter struct {
	Out      channels.Outbound `json:"out"`
	Attempts int               `json:"attempts"`
	Error    string            `json:"error"`
	At       time.Time         `json:"at"`
	// Outcome says why: dead (tries exhausted), failed (refused for good by the
	// provider), no_sender, or the contact's refusal: blocked (the bot), opted_out
	// (at the provider). Empty in letters set aside before it was recorded.
	Outcome string `json:"outcome,omitempty"`
}

// Refused reports whether the letter is a contact's refusal: nothing to mend, and
// sending it again would fail the same way.
func (d DeadLetter) Refused() bool { return refused(d.Outcome) }

func refused(outcome string) bool { return outcome == "blocked" || outcome == "opted_out" }

// ReplayWithin is how long after it was set aside a letter can be replayed: its
// pieces' sent-marks (sentTTL) must still be there, or pieces the contact already
// received would go again. Twelve hours are kept for the tries before it died.
const ReplayWithin = sentTTL - 12*time.Hour

// Replayable reports whether the letter can go again at now: not a contact's refusal,
// and young enough that nothing already sent goes twice.
func (d DeadLetter) Replayable(now time.Time) bool {
	return !d.Refused() && now.Sub(d.At) < ReplayWithin
}

// ErrTooOld is a letter older than ReplayWithin: replaying it could send again what
// the contact already received.
var ErrTooOld = errors.New("dead letter too old to replay: pieces already sent could go twice")

// ParseDeadLetter reads a dead letter as DeadLetters returns it.
func ParseDeadLetter(raw string) (DeadLetter, error) {
	var d DeadLetter
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		return d, fmt.Errorf("decode outbox dead letter: %w", err)
	}
	if d.Out.ID == "" {
		return d, errors.New("decode outbox dead letter: no message in it")
	}
	return d, nil
}

// DeadKey is the list of a shard's dead letters, newest first.
func DeadKey(prefix string, shard int) string { return channels.Tag(prefix, shard) + "outbox:dead" }

// RefusedKey counts the letters of DeadKey that are a contact's refusal, so that the
// letters someone must look at are counted without reading them.
func RefusedKey(prefix string, shard int) string {
	return channels.Tag(prefix, shard) + "outbox:dead:refused"
}

// settleScript takes one dead letter (ARGV[1]) off its list and, when ARGV[2] holds a
// message, puts that back on its lane (KEYS[2]) marked as read again, so that its
// sent-marks are checked. A refusal's count (KEYS[3]) follows the letter (ARGV[3]);
// a route alert's failure count (KEYS[4], when given) forgets a replayed letter. 0
// when the letter is not there (replayed, discarded or expired already).
var settleScript = redis.NewScript(`
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
if ARGV[3] == '1' and tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then
  redis.call('DECR', KEYS[3])
end
if ARGV[2] ~= '' then
  redis.call('XADD', KEYS[2], '*', 'm', ARGV[2], 'r', '1')
  if KEYS[4] then redis.call('HINCRBY', KEYS[4], 'failed', -1) end
end
return 1
`)

// ReplayDead puts a shard's dead letter (raw, as DeadLetters returned it) back on its
// lane, once: false when it is no longer there. The message gets a fresh set of tries;
// its pieces the provider accepted before are not sent again, as long as their
// sent-marks last (three days), since it is read as a message that may be partly sent.
// A WhatsApp reply past its window is held as any other.
func (o *Outbox) ReplayDead(ctx context.Context, shard int, raw string) (bool, error) {
	d, err := ParseDeadLetter(raw)
	if err != nil {
		return false, err
	}
	if !d.Refused() && !d.Replayable(o.now()) {
		return false, ErrTooOld
	}
	out, _ := json.Marshal(d.Out)
	reply, bulk, _, dead, _ := o.keys(shard)
	lane := reply
	keys := []string{dead, lane, RefusedKey(o.cfg.Prefix, shard)}
	if d.Out.Lane == channels.LaneBulk {
		keys[1] = bulk
	}
	if d.Out.Alert != "" {
		keys = append(keys, channels.AlertKey(o.cfg.Prefix, shard, d.Out.Alert))
	}
	return o.settle(ctx, keys, raw, string(out), d.Refused())
}

// DiscardDead drops a shard's dead letter for good: false when it is no longer there.
func (o *Outbox) DiscardDead(ctx context.Context, shard int, raw string) (bool, error) {
	d, err := ParseDeadLetter(raw)
	refusal := err == nil && d.Refused()
	reply, _, _, dead, _ := o.keys(shard)
	return o.settle(ctx, []string{dead, reply, RefusedKey(o.cfg.Prefix, shard)}, raw, "", refusal)
}

func (o *Outbox) settle(ctx context.Context, keys []string, raw, out string, refusal bool) (bool, error) {
	r := "0"
	if refusal {
		r = "1"
	}
	n, err := settleScript.Run(ctx, o.rdb, keys, raw, out, r).Int()
	if err != nil {
		return false, fmt.Errorf("settle outbox dead letter: %w", err)
	}
	return n == 1, nil
}

// PurgeDead drops a contact's dead letters from their shard, for an erasure (DELETE):
// a letter keeps their address and what they were sent for a week. It returns how
// many went.
func (o *Outbox) PurgeDead(ctx context.Context, shard int, ch channels.Channel, contact string) (int, error) {
	letters, err := o.DeadLetters(ctx, shard)
	if err != nil {
		return 0, fmt.Errorf("purge outbox dead letters: %w", err)
	}
	n := 0
	for _, raw := range letters {
		if d, err := ParseDeadLetter(raw); err != nil || d.Out.Channel != ch || d.Out.Contact != contact {
			continue
		}
		gone, err := o.DiscardDead(ctx, shard, raw)
		if err != nil {
			return n, fmt.Errorf("purge outbox dead letters: %w", err)
		}
		if gone {
			n++
		}
	}
	return n, nil
}
