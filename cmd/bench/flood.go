package main

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/hotline-org/hotline/channels"
)

// The hotline's per-contact limit as it ships (HOTLINE_CONTACT_RATE unset: 30/1m), which
// the flood measurement runs with, and how much faster than each other contact the
// flooder writes.
const (
	// floodText is what the flooder sends once it has chosen its language: no menu
	// choice, so that no message of it starts a flow the limit must let through
	// (danger, a person, a report).
	floodText   = "hello hello"
	floodLimit  = 30
	floodWindow = time.Minute
	floodFactor = 20
)

// flooderResult is what the flooding number sent and got back.
type flooderResult struct {
	sent     int             // messages whose webhook was answered 200
	failed   int             // messages whose webhook failed five times
	webhooks []time.Duration // answer time of each
	replies  int64           // reply parts that reached it
	windows  int             // limit windows its messages fell in
}

// floodReport is the flood measurement: one open loop, the flooder writing in every
// other slice of it, the other contacts' turns split by whether it was writing when
// they began. Interleaved, the two halves meet the same noise from the rest of the
// machine, which one run after the other would not.
type floodReport struct {
	contacts         int
	rate, floodRate  float64
	warmup, duration time.Duration
	slice            time.Duration
	shards           int
	shard            int // the flooder's
	flooder          string
	others           phase    // every other contact's turns
	quiet, loud      []sample // theirs that began while the flooder was silent, or writing
	flood            flooderResult
}

// measureFlood runs the open loop at rate against a hotline with the per-contact limit
// as shipped, with one more number writing floodFactor times as often as each other
// contact, without waiting for replies, in every other slice of the run. There are
// enough contacts for each to stay well under the limit. Phase p numbers the
// contacts, p+1 the flooder, p+2 the warm-up's contacts.
func (l *load) measureFlood(ctx context.Context, r *rig, o options, rate float64, parts map[string]int, p int,
	progress func(string, ...any)) (*floodReport, error) {
	env := maps.Clone(r.env)
	delete(env, "HOTLINE_CONTACT_RATE")
	env["HOTLINE_REDIS_PREFIX"] = r.prefix + "flood:"
	env["DATABASE_URL"] = "sqlite:" + filepath.Join(r.tmp, "flood.db")
	progress("starting a hotline with the per-contact limit as shipped")
	h, err := startHotline(ctx, r.bin, hotlineEnv(os.Environ(), env))
	if err != nil {
		return nil, err
	}
	defer func() {
		if serr := h.stop(); serr != nil {
			progress("hotline (flood) shutdown: %v", serr)
		}
	}()
	t := &target{name: "hotline, limit on", url: h.base + webhookPath, pid: h.cmd.Process.Pid, parts: parts}

	fr := &floodReport{rate: rate, warmup: o.warmup, duration: o.duration, shards: o.shards}
	if fr.shards == 0 {
		fr.shards = channels.DefaultShards
	}
	// Ten slices, five of each, each long enough for many turns.
	fr.slice = max(fr.duration/10, 500*time.Millisecond)
	// Each contact sends at most half the limit in a window: the run, or a window when
	// the run is longer.
	span := min(fr.warmup+fr.duration, floodWindow)
	fr.contacts = min(10000, max(o.contacts, int(math.Ceil(2*rate*span.Seconds()/floodLimit))))
	fr.floodRate = floodFactor * rate / float64(fr.contacts)
	fl := *l
	fl.client = newClient(fr.contacts + 1)
	defer fl.client.CloseIdleConnections()
	flooder := fl.newFlooder(t, p+1)
	defer flooder.close()
	fr.flooder, fr.shard = flooder.number, channels.ShardOf(channels.SMS, flooder.number, fr.shards)

	// A new process first takes its shard leases and opens its connections: warmed
	// up once, unmeasured.
	if fr.warmup > 0 {
		progress("%s: warming up for %s", t.name, fr.warmup)
		fl.openLoop(ctx, t, p+2, fr.contacts, rate, fr.warmup, 0, func() cpuSnap { return cpuSnap{} })
	}
	progress("%s: open loop at %.0f messages/s from %d contacts, one more number writing %.0f messages/s in every other %s, %s warm-up + %s",
		t.name, rate, fr.contacts, fr.floodRate, fr.slice, fr.warmup, fr.duration)
	begin := time.Now()
	done := flooder.run(ctx, begin, fr.slice, fr.floodRate, fr.warmup+fr.duration)
	fr.others = fl.openLoop(ctx, t, p, fr.contacts, rate, fr.warmup, fr.duration, cpuProbe(r.rdb, t.pid))
	fr.flood = <-done
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for _, s := range fr.others.samples {
		if loud(begin, s.start, fr.slice) {
			fr.loud = append(fr.loud, s)
		} else {
			fr.quiet = append(fr.quiet, s)
		}
	}
	return fr, nil
}

// loud reports whether the flooder writes at t: in the odd slices from begin.
func loud(begin, t time.Time, slice time.Duration) bool {
	return (t.Sub(begin)/slice)%2 == 1
}

// flooderContact is the number that floods; its replies are counted, not awaited.
type flooderContact struct {
	*contact
	replies *atomic.Int64
}

func (l *load) newFlooder(t *target, p int) *flooderContact {
	c := &contact{l: l, t: t, number: fmt.Sprintf("+1555%02d%05d", p, 0), sidBase: fmt.Sprintf("%08x%02x%06x", l.runID, p, 0)}
	return &flooderContact{contact: c, replies: l.router.count(c.number)}
}

// run sends rate messages a second for d from begin, in every other slice, each when
// it is due (one at a time, as one phone does: a slow answer delays the next), then
// waits until no reply has come for a second and sends what it saw.
func (f *flooderContact) run(ctx context.Context, begin time.Time, slice time.Duration, rate float64, d time.Duration) <-chan flooderResult {
	out := make(chan flooderResult, 1)
	go func() {
		var res flooderResult
		before := f.replies.Load()
		first, last := int64(-1), int64(0)
		for i := 0; ; i++ {
			due := begin.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if due.Sub(begin) >= d {
				break
			}
			if !loud(begin, due, slice) {
				continue
			}
			select {
			case <-time.After(time.Until(due)):
			case <-ctx.Done():
				out <- res
				return
			}
			// It says hello and picks English first, as a person would, so that its
			// notice is one message rather than one in each language.
			text := floodText
			switch res.sent + res.failed {
			case 0:
				text = "hi"
			case 1:
				text = "1"
			}
			start, webhook, _, err := f.send(ctx, text)
			if err != nil {
				res.failed++
				continue
			}
			res.sent++
			res.webhooks = append(res.webhooks, webhook)
			w := start.UnixMilli() / floodWindow.Milliseconds()
			if first < 0 {
				first = w
			}
			last = w
		}
		if first >= 0 {
			res.windows = int(last-first) + 1
		}
		// Replies still on their way: done when none came for a second (at most 30 s).
		n, quiet := f.replies.Load(), time.Now()
		for deadline := time.Now().Add(30 * time.Second); time.Since(quiet) < time.Second && time.Now().Before(deadline) && ctx.Err() == nil; {
			time.Sleep(50 * time.Millisecond)
			if m := f.replies.Load(); m != n {
				n, quiet = m, time.Now()
			}
		}
		res.replies = n - before
		out <- res
	}()
	return out
}

// sameShard is the samples of contacts on shard.
func sameShard(samples []sample, shard, shards int) []sample {
	var out []sample
	for _, s := range samples {
		if channels.ShardOf(channels.SMS, s.from, shards) == shard {
			out = append(out, s)
		}
	}
	return out
}

func endToEnd(samples []sample) latencies {
	ds := make([]time.Duration, len(samples))
	for i, s := range samples {
		ds[i] = s.e2e
	}
	return percentiles(ds)
}

// capped reports whether the flooder got no more than the limit's replies and one
// notice for each window it wrote in, and whether everyone else was answered.
func (f *floodReport) capped() bool {
	return f.others.noReply == 0 && f.others.webhookErrors == 0 && f.flood.failed == 0 && f.flood.sent > 0 &&
		f.flood.replies <= int64(f.flood.windows*(floodLimit+1))
}

func (f *floodReport) write(p func(string, ...any)) {
	p("### A flood from one number (issue 9): per-contact limit on, as shipped (%d messages a minute)", floodLimit)
	p("")
	p("A second hotline process, with HOTLINE_CONTACT_RATE unset (the phases above run with it lifted), takes the open loop at %.0f messages/s "+
		"from %d contacts, each writing about %.2f a second (at most half the limit in a window). One more number writes %.0f messages/s "+
		"(%d× a contact), not waiting for replies, in every other %s slice of the run; the others' turns are split by whether it was writing "+
		"when they began, so that both halves meet the same noise from the rest of the machine. %s warm-up + %s measured; %d shards, the flooder on shard %d.",
		f.rate, f.contacts, f.rate/float64(f.contacts), f.floodRate, floodFactor, f.slice, f.warmup, f.duration, f.shards, f.shard)
	p("")
	p("| others' turns that began | turns | end-to-end p50 | p99 | max | on the flooder's shard: turns | p50 | p99 |")
	p("|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, half := range []struct {
		name    string
		samples []sample
	}{{"while the flooder was silent", f.quiet}, {fmt.Sprintf("while it wrote %.0f messages/s", f.floodRate), f.loud}} {
		e2e := endToEnd(half.samples)
		mates := sameShard(half.samples, f.shard, f.shards)
		me := endToEnd(mates)
		p("| %s | %d | %s | %s | %s | %d | %s | %s |", half.name, len(half.samples), ms(e2e.p50), ms(e2e.p99), ms(e2e.max),
			len(mates), ms(me.p50), ms(me.p99))
	}
	p("")
	fl := f.flood
	cores, other := "n/a", "n/a"
	if c := f.others.cpu; c.ok && c.wall > 0 && c.server >= 0 {
		cores = fmt.Sprintf("%.2f", c.server.Seconds()/c.wall.Seconds())
		if c.machine >= 0 {
			ours := c.server + max(c.redis, 0) + max(c.self, 0)
			other = fmt.Sprintf("%.2f", max(c.machine-ours, 0).Seconds()/c.wall.Seconds())
		}
	}
	p("The flooder sent %d messages (%d failed; webhook p99 %s) and got %d replies: at most the limit and one notice in each window it wrote in (%d). "+
		"The others: %d unanswered, %d webhook errors. Cores busy: the hotline %s, other work on the machine %s.",
		fl.sent, fl.failed, ms(percentiles(fl.webhooks).p99), fl.replies, fl.windows, f.others.noReply, f.others.webhookErrors, cores, other)
	p("")
	p("Messages over the limit are still taken (the webhook answers 200) and queued in order; the bot gives them no turn (no reply, no session change), except danger (a word, a choice or a position), a conversation with a person, STOP and START, a report's answers (a bounded number), and one notice a window.")
	p("")
}
