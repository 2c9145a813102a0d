package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/broadcast"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

// maxSubscribers bounds -broadcast: subscriber numbers end in an 8-digit counter.
const maxSubscribers = 1_000_000

const (
	broadcastRoute = "central-med"
	// subscribeWorkers is how many subscriptions are made at once, each one MULTI/EXEC
	// round trip.
	subscribeWorkers = 64
	// stallAfter ends the wait for the alert's messages when none arrived for so long.
	stallAfter = time.Minute
	// numberPrefix starts every subscriber's number; 8 digits follow.
	numberPrefix = "+4477"
	// laneEvery is how often the bulk lanes' lengths are sampled during the fan-out.
	laneEvery = 100 * time.Millisecond
)

// broadcastLangs are the subscribers' languages, in turn.
var broadcastLangs = []string{"en", "fr", "es", "ar"}

// broadcastTexts are the alert in each language: short enough that with the hotline's
// header and footer each is one message to the provider (one call per subscriber).
var broadcastTexts = map[string]string{
	"en": "Strong winds tonight off Libya. Do not leave the shore.",
	"fr": "Vents forts cette nuit au large de la Libye. Ne quittez pas la côte.",
	"es": "Vientos fuertes esta noche frente a Libia. No salgan de la costa.",
	"ar": "رياح قوية الليلة قبالة ليبيا. لا تغادروا الشاطئ.",
}

func subscriberNumber(i int) string { return fmt.Sprintf("%s%08d", numberPrefix, i) }

// subscriberIndex is the i of subscriberNumber(i), if number is one of the n.
func subscriberIndex(number string, n int) (int, bool) {
	rest, ok := strings.CutPrefix(number, numberPrefix)
	if !ok || len(rest) != 8 {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	if err != nil || i < 0 || i >= n {
		return 0, false
	}
	return i, true
}

// broadcastReport is everything the route alert benchmark measured.
type broadcastReport struct {
	opts    options
	command string
	facts   facts
	shards  int
	n       int

	subscribeTime       time.Duration
	memBefore, memAfter int64 // used_memory around subscribing
	// mem_clients_normal around subscribing: client buffers, which used_memory counts
	clientsBefore, clientsAfter int64
	subKeys                     int   // keys under {sN}:subs: found
	subKeyBytes                 int64 // their MEMORY USAGE, summed

	alertID     string
	subscribers int64 // as the API counted them at publish
	published   time.Time
	answer      time.Duration // the publish request's round trip
	arr         arrivalStats
	complete    bool
	counts      broadcast.Counts
	settled     bool // the counts reached queued = sent = N and every shard done
	cpu         cpuUse
	lanes       laneStats
	shardSubs   []int // subscribers per shard

	memAfterFanout int64 // used_memory once the counts settled
	sentMarks      int   // sent-mark keys the outbox keeps
	sentMarkBytes  int64 // MEMORY USAGE of one
	logLines       int
}

func benchBroadcast(ctx context.Context, o options, command string, progress func(string, ...any), stdout io.Writer) (err error) {
	shards := o.shards
	if shards == 0 {
		shards = channels.DefaultShards
	}
	n := o.broadcast
	spec, err := keyring.Generate("b1")
	if err != nil {
		return err
	}
	ring, err := keyring.Parse(spec)
	if err != nil {
		return err
	}
	var tok [16]byte
	rand.Read(tok[:])
	apiToken := hex.EncodeToString(tok[:])

	r, err := setUp(ctx, o, progress)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, r.tearDown()) }()
	// The hotline and the Broadcasts below must agree on all of these.
	r.env["HOTLINE_DATA_KEYS"] = spec
	r.env["HOTLINE_SHARDS"] = strconv.Itoa(shards)
	r.env["HOTLINE_API_TOKEN"] = apiToken
	r.env["HOTLINE_RATE_SMS"] = "0"
	r.env["HOTLINE_RATE_WHATSAPP"] = "0"
	r.env["HOTLINE_RATE_TELEGRAM"] = "0"
	cfg := broadcast.Config{Prefix: r.prefix, Shards: shards, Hash: channels.ContactHasher(r.lookupKey), Sealer: ring}

	shardOf := make([]uint16, n)
	rep := &broadcastReport{opts: o, command: command, facts: r.facts, shards: shards, n: n, shardSubs: make([]int, shards)}
	for i := range n {
		s := channels.ShardOf(channels.SMS, subscriberNumber(i), shards)
		shardOf[i] = uint16(s)
		rep.shardSubs[s]++
	}
	arr := newArrivals(n, shardOf, rep.shardSubs)
	r.fake.OnMessage(arr.add)

	progress("starting the hotline (%d shards, provider rate limits lifted)", shards)
	h, err := startHotline(ctx, r.bin, hotlineEnv(os.Environ(), r.env))
	if err != nil {
		return err
	}
	defer func() {
		if serr := h.stop(); serr != nil {
			progress("hotline shutdown: %v", serr)
		}
	}()

	// The hotline opens a connection for each blocking read of each shard as it takes
	// the shards: their buffers count in used_memory, so the measure waits for them.
	clients, err := steadyClients(ctx, r.rdb)
	if err != nil {
		return err
	}
	if rep.memBefore, rep.clientsBefore, err = usedMemory(ctx, r.rdb); err != nil {
		return err
	}
	progress("subscribing %d SMS numbers to %s, %d at a time", n, broadcastRoute, subscribeWorkers)
	start := time.Now()
	if err := subscribeAll(ctx, o.redisURL, cfg, n); err != nil {
		return err
	}
	rep.subscribeTime = time.Since(start)
	if err := waitClients(ctx, r.rdb, clients); err != nil {
		return err
	}
	if rep.memAfter, rep.clientsAfter, err = usedMemory(ctx, r.rdb); err != nil {
		return err
	}
	if rep.subKeys, rep.subKeyBytes, err = keysMemory(ctx, r.rdb, r.prefix+"{s*}:subs:*"); err != nil {
		return err
	}
	progress("subscribed in %s; used_memory grew by %d bytes", rep.subscribeTime.Round(time.Millisecond), rep.memAfter-rep.memBefore)

	api := &http.Client{Timeout: 30 * time.Second}
	defer api.CloseIdleConnections()
	probe := cpuProbe(r.rdb, h.cmd.Process.Pid)
	sampler := startLaneSampler(r.rdb, r.prefix, shards, arr)
	before := probe()
	rep.published = time.Now()
	rep.alertID, rep.subscribers, err = publishAlert(ctx, api, h.base, apiToken)
	rep.answer = time.Since(rep.published)
	if err != nil {
		sampler.stop()
		return fmt.Errorf("%w\nhotline logs:\n%s", err, h.logs.String())
	}
	progress("published alert %s (%d subscribers); waiting for the messages", rep.alertID, rep.subscribers)
	rep.complete = arr.wait(ctx, progress)
	after := probe()
	rep.lanes = sampler.stop()
	rep.cpu = cpuDiff(before, after)
	if ctx.Err() != nil {
		return ctx.Err()
	}

	rep.counts, rep.settled, err = settleCounts(ctx, api, h.base, apiToken, rep.alertID, n, shards)
	if err != nil {
		return err
	}
	rep.arr = arr.stats()
	if rep.memAfterFanout, _, err = usedMemory(ctx, r.rdb); err != nil {
		return err
	}
	if rep.sentMarks, rep.sentMarkBytes, err = countKeys(ctx, r.rdb, r.prefix+"{s*}:sent:*"); err != nil {
		return err
	}
	rep.logLines = h.logs.lines()
	if rep.logLines > 0 {
		progress("the hotline logged %d line(s) at warn or above; the last of them:\n%s", rep.logLines, lastLines(h.logs.String(), 20))
	}
	rep.write(stdout)
	if !rep.complete {
		return fmt.Errorf("only %d of %d subscribers got the alert (none more for %s)", rep.arr.reached, n, stallAfter)
	}
	return nil
}

// subscribeAll subscribes the n numbers to the route through a client of its own, so
// that its connections and their buffers are gone before Redis is measured again.
func subscribeAll(ctx context.Context, redisURL string, cfg broadcast.Config, n int) error {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	opt.PoolSize = subscribeWorkers
	c := redis.NewClient(opt)
	defer c.Close()
	b := broadcast.New(c, cfg, time.Now, slog.New(slog.DiscardHandler))
	until := time.Now().Add(24 * time.Hour)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, subscribeWorkers)
	for range subscribeWorkers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				s := broadcast.Subscriber{Channel: channels.SMS, Contact: subscriberNumber(i),
					Lang: broadcastLangs[i%len(broadcastLangs)]}
				if err := b.Subscribe(ctx, s, broadcastRoute, until); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// publishAlert publishes the benchmark's alert through the hotline's API.
func publishAlert(ctx context.Context, c *http.Client, base, token string) (id string, subscribers int64, err error) {
	body, _ := json.Marshal(map[string]any{"route": broadcastRoute, "expires_in": "6h", "texts": broadcastTexts})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/route-alerts", bytes.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("publish: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusAccepted {
		return "", 0, fmt.Errorf("publish: %s: %s", resp.Status, raw)
	}
	var out struct {
		Alert       broadcast.Alert `json:"alert"`
		Subscribers int64           `json:"subscribers"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Alert.ID == "" {
		return "", 0, fmt.Errorf("publish: unexpected answer %s", raw)
	}
	return out.Alert.ID, out.Subscribers, nil
}

// alertCounts reads an alert's counts through the hotline's API.
func alertCounts(ctx context.Context, c *http.Client, base, token, id string) (broadcast.Counts, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/route-alerts/"+id, nil)
	if err != nil {
		return broadcast.Counts{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return broadcast.Counts{}, fmt.Errorf("alert status: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return broadcast.Counts{}, fmt.Errorf("alert status: %s: %s", resp.Status, raw)
	}
	var out struct {
		Counts broadcast.Counts `json:"counts"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return broadcast.Counts{}, fmt.Errorf("alert status: %w", err)
	}
	return out.Counts, nil
}

// settleCounts waits up to 30 s for the counts to say that every message was queued
// and sent and every shard is done (a send is counted just after the provider took it),
// and returns the last counts read.
func settleCounts(ctx context.Context, c *http.Client, base, token, id string, n, shards int) (broadcast.Counts, bool, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		counts, err := alertCounts(ctx, c, base, token, id)
		if err != nil {
			return counts, false, err
		}
		if counts.Queued >= int64(n) && counts.Sent >= int64(n) && counts.Done >= shards {
			return counts, true, nil
		}
		if time.Now().After(deadline) {
			return counts, false, nil
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return counts, false, ctx.Err()
		}
	}
}

// arrivals records what the fake Twilio API accepted, as it accepts it.
type arrivals struct {
	n         int
	shardOf   []uint16 // each subscriber's shard
	shardSubs []int    // subscribers per shard

	mu        sync.Mutex
	count     []uint32 // messages per subscriber
	s         arrivalStats
	shardLeft []int         // subscribers of each shard still without the alert
	shardLast []time.Time   // when each shard's last subscriber got it
	perSecond map[int64]int // first arrivals per whole second (Unix)
	all       chan struct{} // closed when every subscriber has the alert
}

// arrivalStats sums up the arrivals.
type arrivalStats struct {
	messages   int // all the fake API accepted
	reached    int // subscribers with the alert
	dupNumbers int // subscribers who got it more than once
	dupExtra   int // the messages beyond the first to a subscriber
	stray      int // messages to numbers nobody subscribed
	wrongLang  int // messages without the text in the subscriber's language
	first      time.Time
	last       time.Time // the last subscriber's first message
	shardLast  []time.Time
	perSecond  []int // first arrivals in each whole second strictly between first and last
}

func newArrivals(n int, shardOf []uint16, shardSubs []int) *arrivals {
	return &arrivals{n: n, shardOf: shardOf, shardSubs: shardSubs, count: make([]uint32, n),
		shardLeft: slices.Clone(shardSubs), shardLast: make([]time.Time, len(shardSubs)),
		perSecond: map[int64]int{}, all: make(chan struct{})}
}

func (a *arrivals) add(m twiliotest.Message) {
	i, ok := subscriberIndex(m.To, a.n)
	right := ok && strings.Contains(m.Body, broadcastTexts[broadcastLangs[i%len(broadcastLangs)]])
	a.mu.Lock()
	defer a.mu.Unlock()
	a.s.messages++
	if !ok {
		a.s.stray++
		return
	}
	if !right {
		a.s.wrongLang++
	}
	a.count[i]++
	switch a.count[i] {
	case 1:
	case 2:
		a.s.dupNumbers++
		a.s.dupExtra++
		return
	default:
		a.s.dupExtra++
		return
	}
	if a.s.first.IsZero() || m.At.Before(a.s.first) {
		a.s.first = m.At
	}
	if m.At.After(a.s.last) {
		a.s.last = m.At
	}
	s := a.shardOf[i]
	a.shardLeft[s]--
	if m.At.After(a.shardLast[s]) {
		a.shardLast[s] = m.At
	}
	a.perSecond[m.At.Unix()]++
	a.s.reached++
	if a.s.reached == a.n {
		close(a.all)
	}
}

// active reports which shards still have subscribers without the alert.
func (a *arrivals) active() []bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]bool, len(a.shardLeft))
	for s, left := range a.shardLeft {
		out[s] = left > 0
	}
	return out
}

func (a *arrivals) reached() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.s.reached
}

func (a *arrivals) stats() arrivalStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.s
	s.shardLast = slices.Clone(a.shardLast)
	if !s.first.IsZero() {
		for sec := s.first.Unix() + 1; sec < s.last.Unix(); sec++ {
			s.perSecond = append(s.perSecond, a.perSecond[sec])
		}
	}
	return s
}

// wait blocks until every subscriber has the alert (true), or none more arrived for
// stallAfter, or ctx ends.
func (a *arrivals) wait(ctx context.Context, progress func(string, ...any)) bool {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, changed, reported := 0, time.Now(), time.Now()
	for {
		select {
		case <-a.all:
			return true
		case <-ctx.Done():
			return false
		case now := <-tick.C:
			n := a.reached()
			if n != last {
				last, changed = n, now
			} else if now.Sub(changed) >= stallAfter {
				return false
			}
			if now.Sub(reported) >= 5*time.Second {
				progress("%d of %d subscribers have the alert", n, a.n)
				reported = now
			}
		}
	}
}

// laneStats sum up the bulk lanes' lengths, sampled while their shard still had
// subscribers without the alert.
type laneStats struct {
	samples  int   // shard-samples taken
	empty    int   // of which the lane was empty
	sum, max int64 // of the lengths
	commands int64 // XLEN commands sent, not the hotline's
}

type laneSampler struct {
	done chan struct{}
	out  chan laneStats
}

// startLaneSampler reads every shard's bulk lane length every laneEvery: an empty lane
// of a shard with messages still to send means the outbox waits for the fan-out.
func startLaneSampler(rdb *redis.Client, prefix string, shards int, arr *arrivals) *laneSampler {
	l := &laneSampler{done: make(chan struct{}), out: make(chan laneStats, 1)}
	go func() {
		var st laneStats
		defer func() { l.out <- st }()
		tick := time.NewTicker(laneEvery)
		defer tick.Stop()
		for {
			select {
			case <-l.done:
				return
			case <-tick.C:
			}
			active := arr.active()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			cmds := make([]*redis.IntCmd, shards)
			_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for s := range shards {
					cmds[s] = p.XLen(ctx, channels.BulkKey(prefix, s))
				}
				return nil
			})
			cancel()
			st.commands += int64(shards)
			if err != nil && !errors.Is(err, redis.Nil) {
				continue
			}
			for s, c := range cmds {
				if !active[s] {
					continue
				}
				v := c.Val()
				st.samples++
				st.sum += v
				st.max = max(st.max, v)
				if v == 0 {
					st.empty++
				}
			}
		}
	}()
	return l
}

func (l *laneSampler) stop() laneStats {
	close(l.done)
	return <-l.out
}

func cpuDiff(a, b cpuSnap) cpuUse {
	diff := func(x, y time.Duration) time.Duration {
		if x < 0 || y < 0 {
			return -1
		}
		return y - x
	}
	calls := map[string]int64{}
	for name, n := range b.calls {
		if d := n - a.calls[name]; d > 0 {
			calls[name] = d
		}
	}
	return cpuUse{wall: b.at.Sub(a.at), server: diff(a.server, b.server), redis: diff(a.redis, b.redis),
		self: diff(a.self, b.self), machine: diff(a.machine, b.machine), steal: diff(a.steal, b.steal),
		calls: calls, ok: a.calls != nil && b.calls != nil}
}

// usedMemory reads Redis's used_memory and, of it, the normal clients' buffers
// (mem_clients_normal), from one INFO memory.
func usedMemory(ctx context.Context, rdb *redis.Client) (used, clients int64, err error) {
	info, err := infoFields(ctx, rdb, "memory")
	if err != nil {
		return 0, 0, err
	}
	used, err = strconv.ParseInt(info["used_memory"], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("INFO memory: used_memory: %w", err)
	}
	clients, _ = strconv.ParseInt(info["mem_clients_normal"], 10, 64)
	return used, clients, nil
}

// infoInt reads one number of a section of INFO.
func infoInt(ctx context.Context, rdb *redis.Client, section, field string) (int64, error) {
	info, err := infoFields(ctx, rdb, section)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(info[field], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("INFO %s: %s: %w", section, field, err)
	}
	return n, nil
}

func infoFields(ctx context.Context, rdb *redis.Client, section string) (map[string]string, error) {
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := rdb.Info(ictx, section).Result()
	if err != nil {
		return nil, fmt.Errorf("INFO %s: %w", section, err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields, nil
}

// steadyClients waits, up to 20 s, until Redis's count of connected clients has not
// changed for a second, and returns it.
func steadyClients(ctx context.Context, rdb *redis.Client) (int64, error) {
	deadline := time.Now().Add(20 * time.Second)
	last, same := int64(-1), 0
	for {
		c, err := infoInt(ctx, rdb, "clients", "connected_clients")
		if err != nil {
			return 0, err
		}
		if c == last {
			same++
		} else {
			last, same = c, 0
		}
		if same >= 10 || time.Now().After(deadline) {
			return c, nil
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// waitClients waits, up to 5 s, until Redis has no more than n clients connected:
// Redis frees a closed connection's buffers, which used_memory counts, only once it
// has read the close.
func waitClients(ctx context.Context, rdb *redis.Client, n int64) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := infoInt(ctx, rdb, "clients", "connected_clients")
		if err != nil || c <= n || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// keysMemory sums the MEMORY USAGE of every key matching pattern (counting every
// element: SAMPLES 0).
func keysMemory(ctx context.Context, rdb *redis.Client, pattern string) (int, int64, error) {
	var total int64
	n := 0
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return n, total, err
		}
		for _, k := range keys {
			b, err := rdb.MemoryUsage(ctx, k, 0).Result()
			if err != nil {
				return n, total, fmt.Errorf("MEMORY USAGE: %w", err)
			}
			total += b
			n++
		}
		if next == 0 {
			return n, total, nil
		}
		cursor = next
	}
}

// countKeys counts the keys matching pattern and measures one of them.
func countKeys(ctx context.Context, rdb *redis.Client, pattern string) (int, int64, error) {
	var one int64
	n := 0
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return n, one, err
		}
		if n == 0 && len(keys) > 0 {
			if one, err = rdb.MemoryUsage(ctx, keys[0], 0).Result(); err != nil {
				return n, one, fmt.Errorf("MEMORY USAGE: %w", err)
			}
		}
		n += len(keys)
		if next == 0 {
			return n, one, nil
		}
		cursor = next
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
