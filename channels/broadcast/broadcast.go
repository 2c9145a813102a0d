package broadcast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// Config sets up Broadcasts.
type Config struct {
	Prefix string
	Shards int
	// Hash names a contact without its address (the same hash the outbox uses).
	Hash   func(ch channels.Channel, contact string) string
	Sealer Sealer
	// Langs are the languages an alert must be written in.
	Langs []string
	// Render makes the message a subscriber reads from an alert's text in their
	// language: who it is from, the route, how to stop alerts.
	Render func(lang, route, text string) string
	// Budget reports whether a rendered alert is short enough to publish.
	Budget func(message string) error
	// Routes reports whether a route exists.
	Routes func(route string) bool
	// Batch is how many subscribers one step of a fan-out queues; Backlog is how many
	// alert messages a shard's bulk lane may hold before the fan-out waits for the
	// outbox. A short lane keeps Redis small and lets a cancel take effect at once.
	Batch, Backlog int
	// NewID names an alert.
	NewID func() string
}

// Broadcasts keeps subscriptions, publishes alerts and fans them out.
type Broadcasts struct {
	rdb redis.UniversalClient
	cfg Config
	now func() time.Time
	log *slog.Logger

	mu   sync.Mutex
	live map[string]liveEntry
}

type liveEntry struct {
	live bool
	at   time.Time
}

// New returns Broadcasts over rdb.
func New(rdb redis.UniversalClient, cfg Config, now func() time.Time, log *slog.Logger) *Broadcasts {
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = 4 * cfg.Batch
	}
	return &Broadcasts{rdb: rdb, cfg: cfg, now: now, log: log, live: map[string]liveEntry{}}
}

// Alert is a warning for everyone on a route, in each language.
type Alert struct {
	ID      string            `json:"id"`
	Route   string            `json:"route"`
	Texts   map[string]string `json:"texts"`
	Created time.Time         `json:"created"`
	Expires time.Time         `json:"expires"`
	// Cancelled is set when a supervisor withdrew it: what was not sent is not sent.
	Cancelled time.Time `json:"cancelled,omitzero"`
	By        string    `json:"by,omitempty"`
}

// Counts is how far an alert's delivery has gone, summed over the shards. Delivered
// and Undelivered come from providers' reports (SMS and WhatsApp; Telegram gives none).
type Counts struct {
	Queued      int64 `json:"queued"`
	Sent        int64 `json:"sent"`
	Delivered   int64 `json:"delivered"`
	Undelivered int64 `json:"undelivered"`
	Failed      int64 `json:"failed"`
	Held        int64 `json:"held"`
	Dropped     int64 `json:"dropped"`
	// Shards is how many shards have started the fan-out, Done how many finished it.
	Shards int `json:"shards_started"`
	Done   int `json:"shards_done"`
}

// The largest lifetime an alert may have: a warning is about conditions now.
const MaxLifetime = 30 * 24 * time.Hour

// ErrInvalid wraps what is wrong with an alert someone tried to publish.
var ErrInvalid = errors.New("invalid alert")

// retryWithin is how far apart a publish and its retry may put an alert's end.
const retryWithin = 10 * time.Minute

// ErrConflict means an alert with that ID exists with other content.
var ErrConflict = errors.New("another alert has that id")

func (b *Broadcasts) alertKey(id string) string { return b.cfg.Prefix + "bcast:" + id }
func (b *Broadcasts) activeKey() string         { return b.cfg.Prefix + "bcasts" }
func (b *Broadcasts) stateKey(shard int, id string) string {
	return channels.Tag(b.cfg.Prefix, shard) + "bcast:" + id
}
func (b *Broadcasts) todoKey(shard int, id string) string { return b.stateKey(shard, id) + ":todo" }

// StateKey is the key of an alert's counts in a shard, for the outbox to count what
// it sent.
func StateKey(prefix string, shard int, id string) string {
	return channels.Tag(prefix, shard) + "bcast:" + id
}

// check says what is wrong with an alert, all at once.
func (b *Broadcasts) check(a Alert) error {
	var bad []string
	if b.cfg.Routes != nil && !b.cfg.Routes(a.Route) {
		bad = append(bad, fmt.Sprintf("route %q is not a route of the content", a.Route))
	}
	now := b.now()
	switch {
	case a.Expires.IsZero():
		bad = append(bad, "expires is required: when the warning stops being true")
	case !a.Expires.After(now):
		bad = append(bad, "expires is in the past")
	case a.Expires.Sub(now) > MaxLifetime:
		bad = append(bad, fmt.Sprintf("expires is more than %d days away; publish a new alert later instead", int(MaxLifetime.Hours()/24)))
	}
	for _, l := range b.cfg.Langs {
		if strings.TrimSpace(a.Texts[l]) == "" {
			bad = append(bad, "no text in "+l+" (every subscriber reads the alert in their own language)")
		}
	}
	for _, l := range slices.Sorted(maps.Keys(a.Texts)) {
		if !slices.Contains(b.cfg.Langs, l) {
			bad = append(bad, "text in "+l+", which the hotline does not speak")
			continue
		}
		if b.cfg.Budget != nil && strings.TrimSpace(a.Texts[l]) != "" {
			if err := b.cfg.Budget(b.cfg.Render(l, a.Route, strings.TrimSpace(a.Texts[l]))); err != nil {
				bad = append(bad, l+": "+err.Error())
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(bad, "; "))
	}
	return nil
}

// Publish records an alert and starts its delivery. An alert with an ID already
// published with the same content is returned as it is (a client's retry); other
// content under that ID is ErrConflict.
func (b *Broadcasts) Publish(ctx context.Context, a Alert) (Alert, error) {
	for l, t := range a.Texts {
		a.Texts[l] = strings.TrimSpace(t)
	}
	if err := b.check(a); err != nil {
		return Alert{}, err
	}
	if a.ID == "" {
		a.ID = b.cfg.NewID()
	}
	if !validID(a.ID) {
		return Alert{}, fmt.Errorf("%w: id must be 1 to 64 letters, digits, dashes or underscores", ErrInvalid)
	}
	a.Created = b.now().UTC()
	a.Expires = a.Expires.UTC()
	raw, _ := json.Marshal(a)
	keep := a.Expires.Sub(b.now()) + 7*24*time.Hour
	ok, err := b.rdb.SetNX(ctx, b.alertKey(a.ID), raw, keep).Result()
	if err != nil {
		return Alert{}, fmt.Errorf("publish: %w", err)
	}
	if !ok {
		old, err := b.Get(ctx, a.ID)
		if err != nil {
			return Alert{}, err
		}
		// A retry of "expires in 12 hours" computes its end a little later: the same
		// alert, as long as the retry comes soon.
		if d := old.Expires.Sub(a.Expires).Abs(); old.Route != a.Route || !maps.Equal(old.Texts, a.Texts) || d > retryWithin {
			return Alert{}, ErrConflict
		}
		if old.Cancelled.IsZero() {
			// The first attempt may have stopped before the alert was set going.
			if err := b.rdb.ZAddNX(ctx, b.activeKey(), redis.Z{Score: float64(old.Expires.UnixMilli()), Member: old.ID}).Err(); err != nil {
				return Alert{}, fmt.Errorf("publish: %w", err)
			}
		}
		return old, nil
	}
	if err := b.rdb.ZAdd(ctx, b.activeKey(), redis.Z{Score: float64(a.Expires.UnixMilli()), Member: a.ID}).Err(); err != nil {
		return Alert{}, fmt.Errorf("publish: %w", err)
	}
	// Alerts that ended a day ago leave the list of those in force.
	if err := b.rdb.ZRemRangeByScore(ctx, b.activeKey(), "-inf", fmt.Sprint(b.now().Add(-24*time.Hour).UnixMilli())).Err(); err != nil {
		b.log.Warn("trim ended alerts", "err", err)
	}
	b.log.Info("route alert published", "alert", a.ID, "route", a.Route, "expires", a.Expires)
	return a, nil
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// ErrNotFound means no alert has that ID (or it ended over a week ago).
var ErrNotFound = errors.New("no such alert")

// Get reads an alert.
func (b *Broadcasts) Get(ctx context.Context, id string) (Alert, error) {
	raw, err := b.rdb.Get(ctx, b.alertKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Alert{}, ErrNotFound
	}
	if err != nil {
		return Alert{}, fmt.Errorf("read alert %s: %w", id, err)
	}
	var a Alert
	if err := json.Unmarshal(raw, &a); err != nil {
		return Alert{}, fmt.Errorf("read alert %s: %w", id, err)
	}
	return a, nil
}

// Cancel withdraws an alert: messages not yet sent are dropped (within a second).
func (b *Broadcasts) Cancel(ctx context.Context, id string) (Alert, error) {
	a, err := b.Get(ctx, id)
	if err != nil {
		return Alert{}, err
	}
	if a.Cancelled.IsZero() {
		a.Cancelled = b.now().UTC()
		raw, _ := json.Marshal(a)
		if err := b.rdb.Set(ctx, b.alertKey(id), raw, redis.KeepTTL).Err(); err != nil {
			return Alert{}, fmt.Errorf("cancel %s: %w", id, err)
		}
	}
	// Also when it was cancelled before: a first attempt may have stopped here.
	if err := b.rdb.ZRem(ctx, b.activeKey(), id).Err(); err != nil {
		return Alert{}, fmt.Errorf("cancel %s: %w", id, err)
	}
	b.mu.Lock()
	delete(b.live, id)
	b.mu.Unlock()
	b.log.Info("route alert cancelled", "alert", id)
	return a, nil
}

// Active lists the alerts still being delivered or in force, newest first.
func (b *Broadcasts) Active(ctx context.Context) ([]Alert, error) {
	ids, err := b.rdb.ZRangeByScore(ctx, b.activeKey(), &redis.ZRangeBy{Min: fmt.Sprint(b.now().UnixMilli()), Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	var out []Alert
	for _, id := range ids {
		a, err := b.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y Alert) int { return y.Created.Compare(x.Created) })
	return out, nil
}

// Live reports whether an alert's messages may still go: published, not cancelled, not
// expired. The answer is kept a second, since the outbox asks for every message.
func (b *Broadcasts) Live(ctx context.Context, id string) (bool, error) {
	now := b.now()
	b.mu.Lock()
	e, ok := b.live[id]
	b.mu.Unlock()
	if ok && now.Sub(e.at) < time.Second {
		return e.live, nil
	}
	a, err := b.Get(ctx, id)
	live := err == nil && a.Cancelled.IsZero() && now.Before(a.Expires)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	b.mu.Lock()
	if len(b.live) > 1000 {
		clear(b.live)
	}
	b.live[id] = liveEntry{live: live, at: now}
	b.mu.Unlock()
	return live, nil
}

// Status sums an alert's counts over every shard.
func (b *Broadcasts) Status(ctx context.Context, id string) (Counts, error) {
	cmds := make([]*redis.MapStringStringCmd, b.cfg.Shards)
	_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for s := range b.cfg.Shards {
			cmds[s] = p.HGetAll(ctx, b.stateKey(s, id))
		}
		return nil
	})
	if err != nil {
		return Counts{}, fmt.Errorf("alert status: %w", err)
	}
	var c Counts
	for _, cmd := range cmds {
		m := cmd.Val()
		c.Queued += atoi(m["queued"])
		c.Sent += atoi(m["sent"])
		c.Delivered += atoi(m["delivered"])
		c.Undelivered += atoi(m["undelivered"])
		c.Failed += atoi(m["failed"])
		c.Held += atoi(m["held"])
		c.Dropped += atoi(m["dropped"])
		if m["started"] != "" {
			c.Shards++
		}
		if m["done"] != "" {
			c.Done++
		}
	}
	return c, nil
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64) // a count not yet made is "", zero
	return n
}
