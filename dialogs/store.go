package dialogs

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
	"github.com/hotline-org/hotline/channels/stream"
)

// Keys names a contact's keys in its shard. Contact is the contact's HMAC, never the
// address itself: keys show up in monitoring and slow logs.
type Keys struct {
	Tag     string
	Session string
	Lang    string
	// Window is set on WhatsApp only: the contact's 24-hour window and held replies.
	Window channels.WindowKeys
}

// KeysFor returns the keys of a contact's conversation.
func KeysFor(prefix string, shard int, ch channels.Channel, contactHash string) Keys {
	tag := channels.Tag(prefix, shard)
	k := Keys{
		Tag:     tag,
		Session: tag + "session:" + string(ch) + ":" + contactHash,
		Lang:    tag + "lang:" + string(ch) + ":" + contactHash,
	}
	if ch == channels.WhatsApp {
		k.Window = channels.WindowKeysFor(prefix, shard, contactHash)
	}
	return k
}

// Sealer encrypts what a session and an effect carry (a report's answers are personal
// data); cases/keyring.Ring is one. aad binds a value to its key.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// LoadSession reads a session (opened with sealer when it is not nil) and, when it has
// expired, the language the contact chose before, and on WhatsApp how many replies are
// held for the contact; one round trip.
func LoadSession(ctx context.Context, rdb redis.UniversalClient, k Keys, sealer Sealer) (Session, error) {
	var hm *redis.SliceCmd
	var lang *redis.StringCmd
	var held *redis.IntCmd
	_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		hm = p.HMGet(ctx, k.Session, "v", "d")
		lang = p.Get(ctx, k.Lang)
		if k.Window.Held != "" {
			held = p.LLen(ctx, k.Window.Held)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Session{}, fmt.Errorf("load session: %w", err)
	}
	s, err := decodeSession(hm.Val(), lang.Val(), sealer, []byte(k.Session))
	if held != nil {
		s.Held = int(held.Val())
	}
	return s, err
}

func decodeSession(vals []any, lang string, sealer Sealer, aad []byte) (Session, error) {
	if len(vals) == 2 && vals[0] != nil && vals[1] != nil {
		var s Session
		v, verr := strconv.ParseInt(vals[0].(string), 10, 64)
		if verr != nil {
			return Session{}, fmt.Errorf("decode session version: %w", verr)
		}
		data := []byte(vals[1].(string))
		var err error
		if len(data) > 0 && data[0] != '{' && sealer != nil {
			// Sealed (a JSON session, written before sealing, starts with '{').
			data, err = sealer.Open(data, aad)
		}
		if err == nil {
			err = json.Unmarshal(data, &s)
		}
		if err != nil {
			// A session this version cannot read (written by another release) must not
			// block the contact for good: start afresh, keeping the version so that the
			// save replaces it.
			return Session{Version: v, Resumed: lang != "", Lang: lang}, ErrUndecodable
		}
		s.Version = v
		return s, nil
	}
	var s Session
	if lang != "" {
		s.Lang, s.Resumed = lang, true
	}
	return s, nil
}

// Errors a commit can meet. ErrLeaseLost means another process now holds the shard:
// this one must stop working it. ErrVersion means the session changed under the turn.
var (
	ErrLeaseLost = stream.ErrLeaseLost
	ErrVersion   = errors.New("session version changed")
	// ErrUndecodable comes with a fresh session in place of one that could not be read.
	ErrUndecodable = errors.New("session could not be decoded; started afresh")
	// ErrCommitted means the inbound entry's turn was committed already, by an earlier
	// call whose answer was lost: nothing was written, and the turn is done.
	ErrCommitted = errors.New("turn committed already")
)

// committedFor is how long the mark that an inbound entry was committed is kept: far
// longer than a client's retries and the runner's, and short enough that marks do not
// pile up.
const committedFor = 10 * time.Minute

// commitScript is the whole of a turn's writes, atomic on the shard's slot: it checks
// the lease token and the session version, saves the session (or deletes it with the
// remembered language, TTL -1, when the contact asked to be forgotten), releases the replies
// held for a WhatsApp contact outside their window (before this turn's, and marked so
// that pieces already sent are skipped), queues replies and effects, and acknowledges
// (and deletes, since it holds message text) the inbound entry. A turn that stops the
// contact's route alerts forgets their subscriber details (KEYS[11]) here, in the
// same step that releases held replies: an alert held for them must not go out after
// they asked to stop. (The effect then takes them off the routes.)
//
// A commit that acknowledges an inbound entry also leaves a short-lived mark that the
// entry was committed (KEYS[12]), written in the same script so that it exists exactly
// when the commit does. A call whose answer was lost (the connection cut as Redis
// stopped) and that is tried again, by the client or by the runner after a version
// conflict, finds the mark and is told -1: committed again, over the session the first
// call left, the turn would be taken twice. The entry missing from the stream is not
// proof of that: a failover or a crash can lose the entry's last writes while the
// commit never happened, and skipping it would lose the message; without the mark the
// turn is committed (at worst answered twice, never lost).
var commitScript = redis.NewScript(`
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('LEASE')
end
if ARGV[8] ~= '' and redis.call('EXISTS', KEYS[12]) == 1 then
  return -1
end
local v = redis.call('HGET', KEYS[2], 'v') or '0'
if v ~= ARGV[2] then return redis.error_reply('VERSION') end
local nv = tonumber(v) + 1
if tonumber(ARGV[4]) < 0 then
  redis.call('DEL', KEYS[2], KEYS[3])
else
  redis.call('HSET', KEYS[2], 'v', nv, 'd', ARGV[3])
  if tonumber(ARGV[4]) > 0 then
    redis.call('EXPIRE', KEYS[2], ARGV[4])
  else
    redis.call('PERSIST', KEYS[2])
  end
  if ARGV[5] ~= '' then redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[6]) end
end
if ARGV[10] ~= '' then
  redis.call('SET', KEYS[8], ARGV[10], 'PX', ARGV[11])
  for _, m in ipairs(redis.call('LRANGE', KEYS[9], 0, -1)) do
    redis.call('XADD', KEYS[4], '*', 'm', m, 'h', '1')
  end
  redis.call('DEL', KEYS[9], KEYS[10])
end
if ARGV[12] ~= '' then redis.call('HDEL', KEYS[11], ARGV[12]) end
local i = 13
for _ = 1, tonumber(ARGV[9]) do
  redis.call('XADD', KEYS[4], '*', 'm', ARGV[i]); i = i + 1
end
local ne = tonumber(ARGV[i]); i = i + 1
for _ = 1, ne do
  redis.call('XADD', KEYS[5], '*', 'm', ARGV[i]); i = i + 1
end
if ARGV[8] ~= '' then
  redis.call('XACK', KEYS[6], ARGV[7], ARGV[8])
  redis.call('XDEL', KEYS[6], ARGV[8])
  redis.call('HDEL', KEYS[7], ARGV[8])
  redis.call('SET', KEYS[12], '1', 'PX', ARGV[i])
end
return nv
`)

// Commit is everything one turn writes.
type Commit struct {
	Keys      Keys
	LeaseKey  string // empty to skip the lease check (a synchronous voice turn holds none)
	Token     string
	Session   Session
	TTL       int64 // seconds; 0 keeps the session until it is handed back to the bot
	LangTTL   int64
	Outbound  []channels.Outbound
	Effects   []EffectJob
	StreamID  string // the inbound entry to acknowledge; empty when there is none
	InboxKey  string
	InboxGrp  string
	Attempts  string
	OutboxKey string
	EffectKey string
	// Seen, when set, is when a WhatsApp contact wrote: it opens their window and
	// releases the replies held for them.
	Seen time.Time
	// Sealer, when set, encrypts the session.
	Sealer Sealer
	// StopAlerts, when set, is the contact hash whose route alert details go now.
	StopAlerts string
}

// Save runs the commit script and returns the session's new version. It returns
// ErrCommitted, and writes nothing, when StreamID's turn was committed already.
func (c Commit) Save(ctx context.Context, rdb redis.UniversalClient) (int64, error) {
	v, _, err := c.save(ctx, rdb)
	return v, err
}

// save is Save that also returns the session as it was stored (sealed), for the
// runner's cache.
func (c Commit) save(ctx context.Context, rdb redis.UniversalClient) (int64, []byte, error) {
	data, err := json.Marshal(c.Session)
	if err != nil {
		return 0, nil, fmt.Errorf("encode session: %w", err)
	}
	if c.Sealer != nil {
		if data, err = c.Sealer.Seal(data, []byte(c.Keys.Session)); err != nil {
			return 0, nil, fmt.Errorf("seal session: %w", err)
		}
	}
	ttl, lang := c.TTL, c.Session.Lang
	if c.Session.Erase {
		// The contact was forgotten: the session and the remembered language go.
		ttl, lang = -1, ""
	}
	args := []any{c.Token, strconv.FormatInt(c.Session.Version, 10), data, ttl, lang, c.LangTTL,
		c.InboxGrp, c.StreamID, len(c.Outbound), "", 0, c.StopAlerts}
	if !c.Seen.IsZero() && c.Keys.Window.Seen != "" {
		// The mark outlives the window a little, so that a late check still finds it.
		args[9], args[10] = strconv.FormatInt(c.Seen.UnixMilli(), 10), (channels.WhatsAppWindow + time.Hour).Milliseconds()
	}
	for _, o := range c.Outbound {
		b, err := json.Marshal(o)
		if err != nil {
			return 0, nil, fmt.Errorf("encode outbound %s: %w", o.ID, err)
		}
		args = append(args, b)
	}
	args = append(args, len(c.Effects))
	for _, e := range c.Effects {
		b, err := json.Marshal(e)
		if err != nil {
			return 0, nil, fmt.Errorf("encode effect %s: %w", e.ID, err)
		}
		args = append(args, b)
	}
	args = append(args, committedFor.Milliseconds())
	keys := []string{c.LeaseKey, c.Keys.Session, c.Keys.Lang, c.OutboxKey, c.EffectKey, c.InboxKey, c.Attempts,
		c.Keys.Window.Seen, c.Keys.Window.Held, c.Keys.Window.Nudged, c.Keys.Tag + "subs:info", c.Keys.Session}
	if c.StreamID != "" {
		keys[11] = c.Keys.Tag + "done:" + c.StreamID
	}
	for i := 7; i < 10; i++ {
		if keys[i] == "" {
			// Unused on this channel; a Cluster still wants every key in the slot.
			keys[i] = c.Keys.Session
		}
	}
	if c.LeaseKey == "" {
		// Every key must name the shard's slot on a Cluster, even one left unread: the
		// script skips the lease check when the token is empty.
		keys[0] = c.Keys.Tag + "lease"
		args[0] = ""
	}
	v, err := commitScript.Run(ctx, rdb, keys, args...).Int64()
	if err != nil {
		// Redis prefixes script errors with "ERR "; the embedded server does not.
		switch strings.TrimPrefix(err.Error(), "ERR ") {
		case "LEASE":
			return 0, nil, ErrLeaseLost
		case "VERSION":
			return 0, nil, ErrVersion
		}
		return 0, nil, fmt.Errorf("commit turn: %w", err)
	}
	if v < 0 {
		return 0, nil, ErrCommitted
	}
	return v, data, nil
}
