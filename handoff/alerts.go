package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/handoff/notify"
)

// EventEscalated tells a conversation that its alert went up a level unanswered: the
// bot tells the person honestly, and gives the rescue numbers again.
const EventEscalated = "alert.escalated"

// Sealer encrypts the contact address an alert keeps (to tell the person of an
// escalation); cases/keyring.Ring is one.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// AlertState is a distress alert as the hotline tracks it.
type AlertState struct {
	notify.Alert
	Contact string    `json:"-"`          // the address, opened from Sealed for the person's messages
	Sealed  []byte    `json:"sealed"`     // the contact address, sealed
	Shard   int       `json:"shard"`      // the conversation's shard
	AckedAt time.Time `json:"acked_at"`   // zero while nobody has acknowledged
	AckedBy string    `json:"acked_by"`   // who acknowledged
	Log     []string  `json:"deliveries"` // what each delivery did, in order
	Next    time.Time `json:"next_level"` // when it goes up a level if unacknowledged
}

// Alerts raises distress alerts, delivers them to the duty operators' notifiers, and
// escalates them (duty, then backup, then supervisors, the last repeated) until someone
// acknowledges. Delivery and escalation run in Tick, once per deployment at a time, so
// that raising never waits for a notifier.
type Alerts struct {
	rdb      redis.UniversalClient
	prefix   string
	levels   notify.Levels
	escalate []time.Duration // when each level after the first starts, from the raise
	repeat   time.Duration   // how often the last level repeats
	events   channels.Enqueuer
	seal     Sealer
	now      func() time.Time
	log      *slog.Logger
	// MaxTries bounds the deliveries of one notification.
	MaxTries int
}

// NewAlerts returns the alerts of a deployment. escalate is HOTLINE_ESCALATE_AFTER (2m,
// 5m): level 1 starts that long after the raise, level 2 after the second, and the last
// level then repeats at the interval of the last step.
func NewAlerts(rdb redis.UniversalClient, prefix string, levels notify.Levels, escalate []time.Duration,
	events channels.Enqueuer, seal Sealer, now func() time.Time, log *slog.Logger) *Alerts {
	repeat := 5 * time.Minute
	if n := len(escalate); n > 0 {
		repeat = escalate[n-1]
		if n > 1 {
			repeat = escalate[n-1] - escalate[n-2]
		}
	}
	if repeat < time.Minute {
		repeat = time.Minute
	}
	return &Alerts{rdb: rdb, prefix: prefix, levels: levels, escalate: escalate, repeat: repeat, events: events,
		seal: seal, now: now, log: log, MaxTries: 10}
}

// One hash tag: a tick changes several of these keys together on a Cluster.
func (a *Alerts) key(id string) string { return a.prefix + "{alerts}:a:" + id }
func (a *Alerts) due() string          { return a.prefix + "{alerts}:due" }
func (a *Alerts) deliveries() string   { return a.prefix + "{alerts}:deliveries" }
func (a *Alerts) open() string         { return a.prefix + "{alerts}:open" }
func (a *Alerts) lock() string         { return a.prefix + "{alerts}:tick" }

// alertTTL keeps an alert's record after the fact, for the console and the audit.
const alertTTL = 7 * 24 * time.Hour

// Raise records an alert and queues its first level at once; raising the same ID again
// (a retried effect) changes nothing.
func (a *Alerts) Raise(ctx context.Context, al notify.Alert, contact string, shard int) error {
	if al.Raised.IsZero() {
		al.Raised = a.now()
	}
	st := AlertState{Alert: al, Shard: shard}
	if a.seal != nil {
		sealed, err := a.seal.Seal([]byte(contact), []byte("alert:"+al.ID))
		if err != nil {
			return fmt.Errorf("raise alert: %w", err)
		}
		st.Sealed = sealed
	}
	if len(a.escalate) > 0 {
		st.Next = al.Raised.Add(a.escalate[0])
	}
	b, _ := json.Marshal(st)
	ok, err := a.rdb.SetNX(ctx, a.key(al.ID), b, alertTTL).Result()
	if err != nil || !ok {
		if err != nil {
			return fmt.Errorf("raise alert: %w", err)
		}
		return nil
	}
	_, err = a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, a.open(), redis.Z{Score: float64(al.Raised.UnixMilli()), Member: al.ID})
		if !st.Next.IsZero() {
			p.ZAdd(ctx, a.due(), redis.Z{Score: float64(st.Next.UnixMilli()), Member: al.ID})
		}
		a.queueLevel(ctx, p, al, 0, 0)
		return nil
	})
	if err != nil {
		return fmt.Errorf("raise alert: %w", err)
	}
	a.log.Warn("distress alert raised", "alert", al.ID, "channel", al.Channel, "test", al.Test)
	return nil
}

// queueLevel queues one delivery per notifier of a level. A test alert (the simulator)
// reaches the console only.
func (a *Alerts) queueLevel(ctx context.Context, p redis.Pipeliner, al notify.Alert, level, attempt int) {
	if al.Test || level >= len(a.levels) {
		return
	}
	for i := range a.levels[level] {
		member := fmt.Sprintf("%s|%d|%d|%d|0", al.ID, level, attempt, i)
		p.ZAdd(ctx, a.deliveries(), redis.Z{Score: float64(a.now().UnixMilli()), Member: member})
	}
}

// Ack stops an alert's escalation; its deliveries not yet made are dropped.
func (a *Alerts) Ack(ctx context.Context, id, by string) error {
	st, err := a.get(ctx, id)
	if err != nil {
		return err
	}
	if !st.AckedAt.IsZero() {
		return nil
	}
	st.AckedAt, st.AckedBy = a.now(), by
	if err := a.put(ctx, st); err != nil {
		return err
	}
	if _, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, a.due(), id)
		p.ZRem(ctx, a.open(), id)
		return nil
	}); err != nil {
		return fmt.Errorf("ack alert: %w", err)
	}
	a.log.Info("distress alert acknowledged", "alert", id, "by", by)
	return nil
}

// ErrNoAlert is returned for an alert ID the hotline does not know.
var ErrNoAlert = errors.New("no such alert")

func (a *Alerts) get(ctx context.Context, id string) (AlertState, error) {
	b, err := a.rdb.Get(ctx, a.key(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return AlertState{}, ErrNoAlert
	}
	if err != nil {
		return AlertState{}, fmt.Errorf("read alert: %w", err)
	}
	var st AlertState
	if err := json.Unmarshal(b, &st); err != nil {
		return AlertState{}, fmt.Errorf("read alert: %w", err)
	}
	if st.Log, err = a.rdb.LRange(ctx, a.key(id)+":log", 0, -1).Result(); err != nil {
		return AlertState{}, fmt.Errorf("read alert deliveries: %w", err)
	}
	return st, nil
}

func (a *Alerts) put(ctx context.Context, st AlertState) error {
	b, _ := json.Marshal(st)
	if err := a.rdb.Set(ctx, a.key(st.ID), b, alertTTL).Err(); err != nil {
		return fmt.Errorf("write alert: %w", err)
	}
	return nil
}

// Open lists the alerts nobody has acknowledged yet, oldest first.
func (a *Alerts) Open(ctx context.Context) ([]AlertState, error) {
	ids, err := a.rdb.ZRange(ctx, a.open(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	var out []AlertState
	for _, id := range ids {
		st, err := a.get(ctx, id)
		if errors.Is(err, ErrNoAlert) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Run ticks once a second until ctx ends.
func (a *Alerts) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if err := a.Tick(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("alerts tick", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick escalates the alerts that are due and makes the deliveries that are due, in one
// process of the deployment at a time.
func (a *Alerts) Tick(ctx context.Context) error {
	// Longer than a tick can take (deliveries run at once, 15 s at most each).
	ok, err := a.rdb.SetNX(ctx, a.lock(), "1", time.Minute).Result()
	if err != nil || !ok {
		return err
	}
	defer a.rdb.Del(context.WithoutCancel(ctx), a.lock())
	now := a.now()
	ids, err := a.rdb.ZRangeByScore(ctx, a.due(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10)}).Result()
	if err != nil {
		return fmt.Errorf("due alerts: %w", err)
	}
	for _, id := range ids {
		if err := a.escalateOne(ctx, id, now); err != nil {
			return err
		}
	}
	members, err := a.rdb.ZRangeByScore(ctx, a.deliveries(), &redis.ZRangeBy{Min: "-inf",
		Max: strconv.FormatInt(now.UnixMilli(), 10), Count: 32}).Result()
	if err != nil {
		return fmt.Errorf("due deliveries: %w", err)
	}
	// Side by side: one slow receiver must not hold up the others, nor the next
	// escalation.
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Add(1)
		go func() { defer wg.Done(); a.deliver(ctx, m, now) }()
	}
	wg.Wait()
	return nil
}

// escalateOne takes an alert up a level (or repeats the last), queues that level's
// deliveries, tells the person, and sets when it goes up again.
func (a *Alerts) escalateOne(ctx context.Context, id string, now time.Time) error {
	st, err := a.get(ctx, id)
	if errors.Is(err, ErrNoAlert) || err == nil && !st.AckedAt.IsZero() {
		return a.rdb.ZRem(ctx, a.due(), id).Err()
	}
	if err != nil {
		return err
	}
	last := len(a.escalate) // levels 0..last; the last repeats
	if st.Level < last {
		st.Level++
		st.Attempt = 0
	} else {
		st.Attempt++
	}
	if st.Level < last {
		st.Next = st.Raised.Add(a.escalate[st.Level])
	} else {
		st.Next = now.Add(a.repeat)
	}
	if err := a.put(ctx, st); err != nil {
		return err
	}
	if _, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, a.due(), redis.Z{Score: float64(st.Next.UnixMilli()), Member: id})
		al := st.Alert
		al.Level, al.Attempt = st.Level, st.Attempt
		a.queueLevel(ctx, p, al, st.Level, st.Attempt)
		return nil
	}); err != nil {
		return fmt.Errorf("escalate alert: %w", err)
	}
	a.log.Warn("distress alert unacknowledged: escalated", "alert", id, "level", st.Level, "attempt", st.Attempt)
	if a.events == nil || st.Sealed == nil || a.seal == nil {
		return nil
	}
	contact, err := a.seal.Open(st.Sealed, []byte("alert:"+id))
	if err != nil {
		return fmt.Errorf("escalate alert: %w", err)
	}
	_, err = a.events.Enqueue(ctx, channels.Inbound{ID: fmt.Sprintf("%s:esc:%d:%d", id, st.Level, st.Attempt),
		Channel: st.Channel, Contact: string(contact), Received: now, Test: st.Test,
		Effect: &channels.EffectResult{Kind: EventEscalated, OK: true, Data: map[string]string{"level": strconv.Itoa(st.Level)}}})
	return err
}

// deliver makes one delivery: member is "id|level|attempt|notifier|try".
func (a *Alerts) deliver(ctx context.Context, member string, now time.Time) {
	if n, err := a.rdb.ZRem(ctx, a.deliveries(), member).Result(); err != nil || n == 0 {
		return
	}
	parts := strings.Split(member, "|")
	if len(parts) != 5 {
		return
	}
	level, _ := strconv.Atoi(parts[1])
	attempt, _ := strconv.Atoi(parts[2])
	idx, _ := strconv.Atoi(parts[3])
	try, _ := strconv.Atoi(parts[4])
	st, err := a.get(ctx, parts[0])
	if err != nil || level >= len(a.levels) || idx >= len(a.levels[level]) {
		return
	}
	if !st.AckedAt.IsZero() {
		return // someone has it: no more calls
	}
	n := a.levels[level][idx]
	al := st.Alert
	al.Level, al.Attempt = level, attempt
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = n.Notify(dctx, al)
	cancel()
	var outcome string
	switch {
	case err == nil:
		outcome = "delivered"
	case isPermanent(err) || try+1 >= a.MaxTries:
		outcome = "failed: " + err.Error()
		a.log.Error("alert delivery failed for good", "alert", st.ID, "notifier", n.Name(), "level", level, "err", err)
	default:
		outcome = ""
		wait := min(time.Duration(1<<min(try, 6))*2*time.Second, 2*time.Minute)
		next := fmt.Sprintf("%s|%d|%d|%d|%d", st.ID, level, attempt, idx, try+1)
		a.rdb.ZAdd(ctx, a.deliveries(), redis.Z{Score: float64(now.Add(wait).UnixMilli()), Member: next})
		a.log.Warn("alert delivery failed, will retry", "alert", st.ID, "notifier", n.Name(), "try", try+1, "err", err)
	}
	if outcome == "" {
		return
	}
	// A list of its own: deliveries run side by side and must not overwrite each
	// other's record.
	entry := fmt.Sprintf("%s level %d/%d %s: %s", now.UTC().Format(time.RFC3339), level, attempt, n.Name(), outcome)
	if _, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, a.key(st.ID)+":log", entry)
		p.Expire(ctx, a.key(st.ID)+":log", alertTTL)
		return nil
	}); err != nil {
		a.log.Warn("record alert delivery", "err", err)
	}
}

func isPermanent(err error) bool { return notify.IsPermanent(err) }
