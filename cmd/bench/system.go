package main

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// cpuSnap is the CPU time used so far by the server process, Redis, this process and
// the whole machine; a negative value is one that could not be read.
type cpuSnap struct {
	at                                  time.Time
	server, redis, self, machine, steal time.Duration
	calls                               map[string]int64 // Redis commands served, by name
}

// cpuUse is the CPU time each used during a measured window, and the window. What the
// machine used beyond the three is other work on it: noise in the measurement.
type cpuUse struct {
	wall                                time.Duration
	server, redis, self, machine, steal time.Duration
	calls                               map[string]int64
	ok                                  bool
}

// cpuProbe reads the CPU time of process pid (0: none apart from this one), of Redis
// (from INFO, so only a Redis on this machine makes sense) and of this process.
func cpuProbe(rdb *redis.Client, pid int) func() cpuSnap {
	return func() cpuSnap {
		s := cpuSnap{at: time.Now(), server: -1, redis: -1, self: procCPU("self")}
		s.machine, s.steal = machineCPU()
		if pid != 0 {
			s.server = procCPU(strconv.Itoa(pid))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if info, err := rdb.Info(ctx, "cpu", "commandstats").Result(); err == nil {
			s.redis = infoSeconds(info, "used_cpu_user") + infoSeconds(info, "used_cpu_sys")
			s.calls = commandCalls(info)
		}
		return s
	}
}

// measureCPU takes probe's readings at from and end and sends the difference.
func (l *load) measureCPU(ctx context.Context, probe func() cpuSnap, from, end time.Time) <-chan cpuUse {
	out := make(chan cpuUse, 1)
	go func() {
		wait := func(t time.Time) bool {
			select {
			case <-time.After(time.Until(t)):
				return true
			case <-ctx.Done():
				return false
			}
		}
		if !wait(from) {
			out <- cpuUse{}
			return
		}
		a := probe()
		if !wait(end) {
			out <- cpuUse{}
			return
		}
		b := probe()
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
		out <- cpuUse{wall: b.at.Sub(a.at), server: diff(a.server, b.server), redis: diff(a.redis, b.redis),
			self: diff(a.self, b.self), machine: diff(a.machine, b.machine), steal: diff(a.steal, b.steal), calls: calls, ok: true}
	}()
	return out
}

// procCPU reads user+system time from /proc/<pid>/stat, or -1 where there is no /proc.
func procCPU(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return -1
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	// Linux reports clock ticks of 1/100 s (USER_HZ) on every architecture Go runs on.
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// machineCPU reads from /proc/stat the time all CPUs spent busy, and the time a
// hypervisor kept them from running (steal); -1 where there is no /proc.
func machineCPU() (busy, steal time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1, -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return -1, -1
	}
	var ticks [8]int64
	for i := range ticks {
		if ticks[i], err = strconv.ParseInt(f[1+i], 10, 64); err != nil {
			return -1, -1
		}
	}
	// user, nice, system, idle, iowait, irq, softirq, steal; guest time is in user.
	const tick = 10 * time.Millisecond
	return time.Duration(ticks[0]+ticks[1]+ticks[2]+ticks[5]+ticks[6]) * tick, time.Duration(ticks[7]) * tick
}

// commandCalls reads the calls of each command from INFO commandstats lines such as
// "cmdstat_xadd:calls=348099,usec=2569460,…".
func commandCalls(info string) map[string]int64 {
	calls := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_")
		if !ok {
			continue
		}
		name, stats, _ := strings.Cut(rest, ":")
		v, ok := strings.CutPrefix(stats, "calls=")
		if !ok {
			continue
		}
		v, _, _ = strings.Cut(v, ",")
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			calls[name] = n
		}
	}
	return calls
}

func infoSeconds(info, field string) time.Duration {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				return time.Duration(f * float64(time.Second))
			}
		}
	}
	return 0
}

// facts describe where the numbers were measured.
type facts struct {
	cpus       int
	gomaxprocs int
	cpuModel   string
	goVersion  string
	platform   string
	redis      string
	commit     string
}

func machineFacts(ctx context.Context, rdb *redis.Client, redisURL string) facts {
	f := facts{cpus: runtime.NumCPU(), gomaxprocs: runtime.GOMAXPROCS(0), goVersion: runtime.Version(),
		platform: runtime.GOOS + "/" + runtime.GOARCH, cpuModel: cpuModel()}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	version := "?"
	if info, err := rdb.Info(ictx, "server").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				version = v
			}
		}
	}
	host := "?"
	if u, err := url.Parse(redisURL); err == nil {
		host = u.Host
	}
	f.redis = version + " at " + host
	return f
}

func cpuModel() string {
	file, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// gitCommit names the checkout that was built, so that a report says what it measured.
func gitCommit(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
		c += " with local changes"
	}
	return c
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// deletePrefix unlinks every key under prefix, a bounded number of SCAN pages at a
// time, and returns how many it removed.
func deletePrefix(ctx context.Context, rdb *redis.Client, prefix string) (int, error) {
	var cursor uint64
	n := 0
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return n, err
		}
		if len(keys) > 0 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				return n, err
			}
			n += len(keys)
		}
		if next == 0 {
			return n, nil
		}
		cursor = next
	}
}

// sessions sums up the idle hotline sessions found in Redis.
type sessions struct {
	found       int     // keys sampled
	example     string  // one key's name, prefix removed
	exampleSize int64   // its MEMORY USAGE
	kind        string  // its Redis type
	sizes       []int64 // MEMORY USAGE of each sampled key, sorted
}

// sessionSizes samples up to 50 of the hotline's SMS sessions (keys
// <prefix>{sN}:session:sms:<hash>) and measures each with MEMORY USAGE.
func sessionSizes(ctx context.Context, rdb *redis.Client, prefix string) (sessions, error) {
	var s sessions
	var cursor uint64
	var keys []string
	for range 1000 {
		page, next, err := rdb.Scan(ctx, cursor, prefix+"{s*}:session:sms:*", 1000).Result()
		if err != nil {
			return s, err
		}
		keys = append(keys, page...)
		if next == 0 || len(keys) >= 50 {
			break
		}
		cursor = next
	}
	if len(keys) > 50 {
		keys = keys[:50]
	}
	for _, k := range keys {
		// SAMPLES 0: every element of the value, not an estimate from a few.
		n, err := rdb.MemoryUsage(ctx, k, 0).Result()
		if err != nil {
			return s, fmt.Errorf("MEMORY USAGE: %w", err)
		}
		s.sizes = append(s.sizes, n)
	}
	if len(keys) > 0 {
		s.example, s.exampleSize = strings.TrimPrefix(keys[0], prefix), s.sizes[0]
		s.kind, _ = rdb.Type(ctx, keys[0]).Result()
	}
	s.found = len(keys)
	sort.Slice(s.sizes, func(i, j int) bool { return s.sizes[i] < s.sizes[j] })
	return s, nil
}
