package dialogs

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
)

// acquireScript takes a free lease. The token carries a fencing number from a counter
// that only grows, so a holder that lost its lease and comes back can never pass for
// the new one.
var acquireScript = redis.NewScript(`
local f = redis.call('INCR', KEYS[2])
local tok = ARGV[1] .. ':' .. f
if redis.call('SET', KEYS[1], tok, 'NX', 'PX', ARGV[2]) then return tok end
return false
`)

var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// ShardWork is what a process does for a shard while it holds the lease. It must return
// soon after ctx ends.
type ShardWork func(ctx context.Context, shard int, token string)

// Leases shares the shards among the running processes: each holds about shards ÷
// processes leases, renews them while it lives, and gives extras up when others join.
type Leases struct {
	rdb    redis.UniversalClient
	prefix string
	shards int
	id     string
	ttl    time.Duration
	work   ShardWork
	log    *slog.Logger
	now    func() time.Time

	mu   sync.Mutex
	held map[int]*held
	// stopping holds shards whose work was told to stop and has not finished yet. Their
	// leases are still renewed, so that no other process works the shard meanwhile, and
	// given back once the work has stopped. Nothing waits for them under mu.
	stopping  map[int]*held
	wg        sync.WaitGroup // shard work
	releasing sync.WaitGroup // goroutines giving leases back after their work stopped
}

type held struct {
	token   string
	renewed time.Time
	cancel  context.CancelFunc
	done    chan struct{}
	release bool
}

// NewLeases returns a lease keeper for process id. ttl is how long a lease outlives a
// process that stopped renewing it: the time a dead process's shards wait.
func NewLeases(rdb redis.UniversalClient, prefix string, shards int, id string, ttl time.Duration,
	work ShardWork, now func() time.Time, log *slog.Logger) *Leases {
	return &Leases{rdb: rdb, prefix: prefix, shards: shards, id: id, ttl: ttl, work: work, log: log, now: now,
		held: map[int]*held{}, stopping: map[int]*held{}}
}

func (l *Leases) membersKey() string { return l.prefix + "members" }

// Held lists the shards this process holds now.
func (l *Leases) Held() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for s := range l.held {
		out = append(out, s)
	}
	sort.Ints(out)
	return out
}

// Run keeps the leases until ctx ends, then stops the shard work and gives the leases
// back so that the survivors take the shards at once.
func (l *Leases) Run(ctx context.Context) {
	// A round at least every second, whatever the TTL: a shard another process gave
	// back (it is stopping) is taken within a second, not a quarter of the TTL later.
	t := time.NewTicker(min(l.ttl/4, time.Second))
	defer t.Stop()
	for {
		l.Tick(ctx)
		select {
		case <-ctx.Done():
			l.stopAll()
			return
		case <-t.C:
		}
	}
}

// Tick does one round: heartbeat, renew, give up extras, take free shards.
func (l *Leases) Tick(ctx context.Context) {
	now := l.now()
	members, err := l.heartbeat(ctx, now)
	if err != nil {
		l.log.Warn("lease heartbeat", "err", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for shard, h := range l.stopping {
		if ok, err := renewScript.Run(ctx, l.rdb, []string{LeaseKey(l.prefix, shard)}, h.token, l.ttl.Milliseconds()).Int(); err == nil && ok == 1 {
			h.renewed = now
		} else if err == nil {
			h.release = false // someone else holds it: nothing of ours to give back
		}
	}
	for shard, h := range l.held {
		ok, err := renewScript.Run(ctx, l.rdb, []string{LeaseKey(l.prefix, shard)}, h.token, l.ttl.Milliseconds()).Int()
		switch {
		case err == nil && ok == 1:
			h.renewed = now
		case err == nil:
			l.log.Warn("lease taken over", "shard", shard)
			l.stopLocked(shard, false)
		case now.Sub(h.renewed) >= l.ttl:
			// Unrenewed this long, another process may hold it now: stop before the
			// fenced reads and commits have to stop us.
			l.log.Warn("lease expired unrenewed", "shard", shard, "err", err)
			l.stopLocked(shard, false)
		}
	}
	if err != nil || members < 1 {
		return
	}
	want := int(math.Ceil(float64(l.shards) / float64(members)))
	for _, shard := range l.order() {
		if len(l.held) <= want {
			break
		}
		if _, ok := l.held[shard]; ok {
			l.stopLocked(shard, true)
		}
	}
	for _, shard := range l.order() {
		if len(l.held) >= want {
			break
		}
		if _, ok := l.held[shard]; ok {
			continue
		}
		if _, ok := l.stopping[shard]; ok {
			continue
		}
		tok, err := acquireScript.Run(ctx, l.rdb, []string{LeaseKey(l.prefix, shard), channels.Tag(l.prefix, shard) + "fence"},
			l.id, l.ttl.Milliseconds()).Text()
		if err != nil || tok == "" {
			continue
		}
		l.startLocked(ctx, shard, tok, now)
	}
}

// heartbeat registers this process and counts the live ones.
func (l *Leases) heartbeat(ctx context.Context, now time.Time) (int, error) {
	var card *redis.IntCmd
	_, err := l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAdd(ctx, l.membersKey(), redis.Z{Score: float64(now.Add(l.ttl).UnixMilli()), Member: l.id})
		p.ZRemRangeByScore(ctx, l.membersKey(), "-inf", strconv.FormatInt(now.UnixMilli(), 10))
		card = p.ZCard(ctx, l.membersKey())
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("heartbeat: %w", err)
	}
	return int(card.Val()), nil
}

// order is this process's preference among shards, different per process so that
// processes starting together do not all race for shard 0.
func (l *Leases) order() []int {
	h := fnv.New32a()
	h.Write([]byte(l.id))
	start := int(h.Sum32() % uint32(l.shards))
	out := make([]int, l.shards)
	for i := range out {
		out[i] = (start + i) % l.shards
	}
	return out
}

func (l *Leases) startLocked(ctx context.Context, shard int, token string, now time.Time) {
	wctx, cancel := context.WithCancel(ctx)
	h := &held{token: token, renewed: now, cancel: cancel, done: make(chan struct{})}
	l.held[shard] = h
	l.wg.Add(1)
	l.log.Info("shard lease taken", "shard", shard)
	go func() {
		defer l.wg.Done()
		defer close(h.done)
		l.work(wctx, shard, token)
	}()
}

// stopLocked tells a shard's work to stop without waiting for it: the lease keeps
// being renewed until the work has stopped, then (when release is set) it is given
// back, so that no two processes work a shard at once and the handover is quick.
func (l *Leases) stopLocked(shard int, release bool) {
	h := l.held[shard]
	delete(l.held, shard)
	h.release = release
	l.stopping[shard] = h
	h.cancel()
	l.releasing.Add(1)
	go func() {
		defer l.releasing.Done()
		<-h.done
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.stopping[shard] != h {
			return
		}
		delete(l.stopping, shard)
		if h.release {
			if err := releaseScript.Run(context.Background(), l.rdb, []string{LeaseKey(l.prefix, shard)}, h.token).Err(); err != nil {
				l.log.Warn("release lease", "shard", shard, "err", err)
				return
			}
			l.log.Info("shard lease released", "shard", shard)
		}
	}()
}

func (l *Leases) stopAll() {
	l.mu.Lock()
	for shard := range l.held {
		l.stopLocked(shard, true)
	}
	l.mu.Unlock()
	l.wg.Wait()
	l.releasing.Wait()
	l.rdb.ZRem(context.Background(), l.membersKey(), l.id)
}
