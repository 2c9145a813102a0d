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
	next := int64(0)
	if !st.Next.IsZero() {
		next = st.Next.UnixMilli()
	}
	args := []any{b, alertTTL.Milliseconds(), al.ID, al.Raised.UnixMilli(), next, a.now().UnixMilli()}
	for _, m := range a.levelMembers(al, 0, 0) {
		args = append(args, m)
	}
	// One script: a crash cannot leave a recorded alert that nobody is told of.
	n, err := raiseScript.Run(ctx, a.rdb, []string{a.key(al.ID), a.open(), a.due(), a.deliveries()}, args...).Int()
	if err != nil {
		return fmt.Errorf("raise alert: %w", err)
	}
	if n == 1 {
		a.log.Warn("distress alert raised", "alert", al.ID, "channel", al.Channel, "test", al.Test)
	}
	return nil
}

// raiseScript records an alert once, with its place in the open list, its escalation
// and its first deliveries.
var raiseScript = redis.NewScript(`
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
if tonumber(ARGV[5]) > 0 then redis.call('ZADD', KEYS[3], ARGV[5], ARGV[3]) end
for i = 7, #ARGV do redis.call('ZADD', KEYS[4], ARGV[6], ARGV[i]) end
return 1
`)

// levelMembers names one delivery per notifier of a level; a level with no notifier
// falls back to the nearest configured level below it, so that an escalation always
// reaches someone. A test alert (the simulator) reaches the console only.
func (a *Alerts) levelMembers(al notify.Alert, level, attempt int) []string {
	if al.Test {
		return nil
	}
	l := min(level, len(a.levels)-1)
	for l >= 0 && len(a.levels[l]) == 0 {
		l--
	}
	if l < 0 {
		return nil
	}
	var out []string
	for i := range a.levels[l] {
		out = append(out, fmt.Sprintf("%s|%d|%d|%d|%d|0", al.ID, level, attempt, l, i))
	}
	return out
}

func (a *Alerts) queueLevel(ctx context.Context, p redis.Pipeliner, al notify.Alert, level, attempt int) {
	for _, m := range a.levelMembers(al, level, attempt) {
		p.ZAdd(ctx, a.deliveries(), redis.Z{Score: float64(a.now().UnixMilli()), Member: m})
	}
}

func (a *Alerts) ackKey(id string) string { return a.key(id) + ":ack" }

// Ack stops an alert's escalation; its deliveries not yet made are dropped. The
// acknowledgement has a key of its own, so that a tick rewriting the alert cannot undo it.
func (a *Alerts) Ack(ctx context.Context, id, by string) error {
	if _, err := a.get(ctx, id); err != nil {
		return err
	}
	v, _ := json.Marshal(map[string]any{"by": by, "at": a.now()})
	if _, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SetNX(ctx, a.ackKey(id), v, alertTTL)
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
	if ack, err := a.rdb.Get(ctx, a.ackKey(id)).Bytes(); err == nil {
		var v struct {
			By string    `json:"by"`
			At time.Time `json:"at"`
		}
		if json.Unmarshal(ack, &v) == nil {
			st.AckedAt, st.AckedBy = v.At, v.By
		}
	}
	return st, nil
}

func (a *Alerts) put(ctx context.Context, st AlertState) error {
	b, _ := json.Marshal(st)
	if err := a.rdb.SetArgs(ctx, a.key(st.ID), b, redis.SetArgs{KeepTTL: true}).Err(); err != nil {
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

// Alert reads one alert as it stands (its level, who acknowledged it, its deliveries),
// ErrNoAlert when the hotline does not know it or no longer keeps it.
func (a *Alerts) Alert(ctx context.Context, id string) (AlertState, error) {
	return a.get(ctx, id)
}

// Contact opens the address an alert keeps: for a call, the number to call back. It is
// personal data: the caller shows it only to an operator who needs it, and audits that.
// "" when the alert was raised without a sealer.
func (a *Alerts) Contact(ctx context.Context, id string) (string, error) {
	st, err := a.get(ctx, id)
	if err != nil {
		return "", err
	}
	return a.ContactOf(st)
}

// ContactOf opens the address of an alert already read (Alert, Open), as Contact does.
func (a *Alerts) ContactOf(st AlertState) (string, error) {
	id := st.ID
	if a.seal == nil || st.Sealed == nil {
		return "", nil
	}
	plain, err := a.seal.Open(st.Sealed, []byte("alert:"+id))
	if err != nil {
		return "", fmt.Errorf("open alert contact: %w", err)
	}
	return string(plain), nil
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
	token := strconv.FormatInt(time.Now().UnixNano(), 36)
	// Longer than a tick can take (deliveries run at once, 15 s at most each).
	ok, err := a.rdb.SetNX(ctx, a.lock(), token, time.Minute).Result()
	if err != nil || !ok {
		return err
	}
	defer unlockScript.Run(context.WithoutCancel(ctx), a.rdb, []string{a.lock()}, token)
	now := a.now()
	ids, err := a.rdb.ZRangeByScore(ctx, a.due(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10)}).Result()
	if err != nil {
		return fmt.Errorf("due alerts: %w", err)
	}
	for _, id := range ids {
		// One alert that cannot be escalated must not stop the others.
		if err := a.escalateOne(ctx, id, now); err != nil {
			a.log.Error("escalate alert", "alert", id, "err", err)
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

// unlockScript releases the tick lock only if this process still holds it.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// escalateOne takes an alert up a level (or repeats the last), queues that level's
// deliveries, tells the person, and sets when it goes up again.
func (a *Alerts) escalateOne(ctx context.Context, id string, now time.Time) error {
	st, err := a.get(ctx, id)
	if errors.Is(err, ErrNoAlert) || err == nil && !st.AckedAt.IsZero() {
		return a.rdb.ZRem(ctx, a.due(), id).Err()
	}
	raisedLevel := st.Level
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
	if a.events == nil || st.Sealed == nil || a.seal == nil || st.Level == raisedLevel {
		// The person hears of a new level, not of every repeat: their battery matters.
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

// deliver makes one delivery: member is "id|level|attempt|notifier level|notifier|try".
// The entry stays in the queue, leased a minute ahead, until its outcome is recorded:
// a crash mid-delivery means one more try, never none.
func (a *Alerts) deliver(ctx context.Context, member string, now time.Time) {
	if err := a.rdb.ZAddXX(ctx, a.deliveries(), redis.Z{Score: float64(now.Add(time.Minute).UnixMilli()), Member: member}).Err(); err != nil {
		return
	}
	parts := strings.Split(member, "|")
	if len(parts) != 6 {
		a.rdb.ZRem(ctx, a.deliveries(), member)
		return
	}
	level, _ := strconv.Atoi(parts[1])
	attempt, _ := strconv.Atoi(parts[2])
	nl, _ := strconv.Atoi(parts[3])
	idx, _ := strconv.Atoi(parts[4])
	try, _ := strconv.Atoi(parts[5])
	st, err := a.get(ctx, parts[0])
	if errors.Is(err, ErrNoAlert) || err == nil && (nl >= len(a.levels) || idx >= len(a.levels[nl]) || !st.AckedAt.IsZero()) {
		a.rdb.ZRem(ctx, a.deliveries(), member) // gone, or someone has it: no more calls
		return
	}
	if err != nil {
		return // Redis trouble: the lease runs out and it is tried again
	}
	n := a.levels[nl][idx]
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
		wait := min(time.Duration(1<<min(try, 6))*2*time.Second, 2*time.Minute)
		next := fmt.Sprintf("%s|%d|%d|%d|%d|%d", st.ID, level, attempt, nl, idx, try+1)
		if _, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, a.deliveries(), redis.Z{Score: float64(now.Add(wait).UnixMilli()), Member: next})
			p.ZRem(ctx, a.deliveries(), member)
			return nil
		}); err != nil {
			a.log.Error("alert delivery retry not queued; the lease will retry it", "alert", st.ID, "err", err)
		}
		a.log.Warn("alert delivery failed, will retry", "alert", st.ID, "notifier", n.Name(), "try", try+1, "err", err)
		return
	}
	// A list of its own: deliveries run side by side and must not overwrite each
	// other's record.
	entry := fmt.Sprintf("%s level %d/%d %s: %s", now.UTC().Format(time.RFC3339), level, attempt, n.Name(), outcome)
	if _, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, a.key(st.ID)+":log", entry)
		p.Expire(ctx, a.key(st.ID)+":log", alertTTL)
		p.ZRem(ctx, a.deliveries(), member)
		return nil
	}); err != nil {
		a.log.Warn("record alert delivery", "err", err)
	}
}

func isPermanent(err error) bool { return notify.IsPermanent(err) }
