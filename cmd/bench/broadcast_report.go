package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// write prints the route alert benchmark as markdown, like the turn benchmark's report.
func (r *broadcastReport) write(w io.Writer) {
	f := r.facts
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	n := int64(r.n)
	p("## Benchmark: one route alert to %s SMS subscribers", thousands(n))
	p("")
	p("| | |")
	p("|---|---|")
	p("| machine | %s (GOMAXPROCS %d) |", f.machine(), f.gomaxprocs)
	p("| Go | %s |", f.goVersion)
	p("| Redis | %s |", f.redis)
	hot := f.build(r.opts.hotlineBin)
	p("| hotline | %s; SQLite; %d shards (HOTLINE_SHARDS); one process; provider rate limits lifted (HOTLINE_RATE_SMS=0, HOTLINE_RATE_WHATSAPP=0, HOTLINE_RATE_TELEGRAM=0) |", hot, r.shards)
	p("| subscribers | %s SMS numbers on route %s, in %s in turn; subscribed with the broadcast package directly, %d at a time, in %s (%s/s) |",
		thousands(n), broadcastRoute, strings.Join(broadcastLangs, ", "), subscribeWorkers, seconds(r.subscribeTime),
		thousands(int64(float64(r.n)/r.subscribeTime.Seconds())))
	api := "answers at once (in-process fake)"
	if r.opts.apiLatency > 0 {
		api = fmt.Sprintf("answers each send after %s (in-process fake behind a delay)", r.opts.apiLatency)
	}
	p("| Twilio API | %s |", api)
	p("| reproduce | `%s` |", r.command)
	p("")

	p("### Subscriptions in Redis")
	p("")
	p("| measure | total | per subscriber |")
	p("|---|--:|--:|")
	grew := r.memAfter - r.memBefore
	p("| `used_memory` delta (INFO memory) around subscribing | %s | %s |", bytesSI(grew), perItem(grew, r.n))
	data := grew - (r.clientsAfter - r.clientsBefore)
	p("| the same without client buffers (`used_memory` − `mem_clients_normal`) | %s | %s |", bytesSI(data), perItem(data, r.n))
	p("| MEMORY USAGE (SAMPLES 0) of the %d subscription keys | %s | %s |", r.subKeys, bytesSI(r.subKeyBytes), perItem(r.subKeyBytes, r.n))
	p("")
	p("The first row is the delta of `used_memory`, measured once the hotline's connections were steady and the subscribing connections closed: it includes the allocator's overhead, and anything else that changed in this Redis meanwhile, such as connection buffers growing or shrinking (the second row takes those out). The third counts only the keys under `{sN}:subs:` (per shard: the hash of sealed addresses, the route's sorted set, the shard's list of routes).")
	p("")

	a := r.arr
	p("### Fan-out: one alert published through `POST /api/route-alerts`")
	p("")
	p("| measure | value |")
	p("|---|--:|")
	p("| subscribers counted by the API at publish | %s |", thousands(r.subscribers))
	p("| all arrived | %s (%s of %s subscribers) |", yesNo(a.reached == r.n), thousands(int64(a.reached)), thousands(n))
	rate := "n/a"
	if span := a.last.Sub(a.first); a.reached > 0 && span > 0 {
		rate = thousands(int64(float64(r.n) / span.Seconds()))
		if a.reached < r.n {
			rate = thousands(int64(float64(a.reached)/span.Seconds())) + " (of those that arrived)"
		}
	}
	p("| messages handed to the fake provider per second, N / (last − first arrival) | %s |", rate)
	if a.reached > 0 {
		p("| publish → first arrival | %s |", seconds(a.first.Sub(r.published)))
		p("| publish → last arrival | %s |", seconds(a.last.Sub(r.published)))
	} else {
		p("| publish → first arrival | none arrived |")
	}
	p("| the publish request's answer | %s |", seconds(r.answer))
	p("| duplicates (numbers that received the alert more than once) | %d |", a.dupNumbers)
	if a.dupExtra != a.dupNumbers {
		p("| messages beyond the first to a number | %d |", a.dupExtra)
	}
	p("| messages not in the subscriber's language | %d |", a.wrongLang)
	p("| messages to numbers nobody subscribed | %d |", a.stray)
	c := r.counts
	p("| final counts (`GET /api/route-alerts/<id>`) | queued %s, sent %s, delivered %d, undelivered %d, failed %d, held %d, dropped %d; shards started %d, done %d |",
		thousands(c.Queued), thousands(c.Sent), c.Delivered, c.Undelivered, c.Failed, c.Held, c.Dropped, c.Shards, c.Done)
	p("| queued = sent = N | %s |", yesNo(c.Queued == n && c.Sent == n))
	p("")
	p("Arrival: when the fake Twilio API accepted the message (the hotline's send returns after that). \"Last arrival\" is the last subscriber's first message.")
	p("")

	r.writeTime(p)

	p("### Redis after the fan-out")
	p("")
	fan := r.memAfterFanout - r.memAfter
	p("`used_memory` grew by %s over the fan-out (%s per message). The outbox keeps a sent-mark per message, holding the message itself, until an hour after the alert ends (7 h here): %s of them now, one takes %s (MEMORY USAGE).",
		bytesSI(fan), perItem(fan, r.n), thousands(int64(r.sentMarks)), bytesIEC(r.sentMarkBytes))
	if r.logLines > 0 {
		p("")
		p("The hotline logged %d line(s) at warn or above (the last of them are on stderr).", r.logLines)
	}
	if !r.settled {
		p("")
		p("**The counts did not reach queued = sent = %d with every shard done within 30 s of the last arrival.**", r.n)
	}
}

// writeTime says where the time and the CPU went between the publish and the last
// arrival.
func (r *broadcastReport) writeTime(p func(string, ...any)) {
	p("### Where the time went")
	p("")
	a := r.arr
	if len(a.perSecond) >= 3 {
		ps := slices.Clone(a.perSecond)
		slices.Sort(ps)
		p("- Subscribers reached per whole second between the first and the last arrival: min %s, median %s, max %s (%d seconds).",
			thousands(int64(ps[0])), thousands(int64(ps[len(ps)/2])), thousands(int64(ps[len(ps)-1])), len(ps))
	}
	subs := slices.Clone(r.shardSubs)
	slices.Sort(subs)
	var lasts []time.Duration
	for _, t := range a.shardLast {
		if !t.IsZero() {
			lasts = append(lasts, t.Sub(r.published))
		}
	}
	slices.Sort(lasts)
	if len(lasts) > 0 {
		p("- Shards: %s to %s subscribers each; a shard's last subscriber had the alert %s to %s after the publish.",
			thousands(int64(subs[0])), thousands(int64(subs[len(subs)-1])), seconds(lasts[0]), seconds(lasts[len(lasts)-1]))
	}
	if l := r.lanes; l.samples > 0 {
		p("- Bulk lanes (`{sN}:outbox:bulk`), sampled every %s while their shard still had subscribers without the alert: empty in %.0f%% of %d samples (the outbox had nothing to send), mean length %.0f, max %d.",
			laneEvery, 100*float64(l.empty)/float64(l.samples), l.samples, float64(l.sum)/float64(l.samples), l.max)
	}
	c := r.cpu
	if !c.ok || c.wall <= 0 {
		p("")
		return
	}
	cores := func(d time.Duration) string {
		if d < 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", d.Seconds()/c.wall.Seconds())
	}
	per := func(d time.Duration) string {
		if d < 0 || r.n == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(r.n))
	}
	ours := max(c.server, 0) + max(c.redis, 0) + max(c.self, 0)
	other := time.Duration(-1)
	if c.machine >= 0 {
		other = max(c.machine-ours, 0)
	}
	p("")
	p("Cores busy from the publish to the last arrival (%s, of %d CPUs), and CPU time per message. The bench process holds the fake Twilio API and the lane sampler.", seconds(c.wall), r.facts.cpus)
	p("")
	p("| | hotline | Redis | bench process | other | steal |")
	p("|---|--:|--:|--:|--:|--:|")
	p("| cores | %s | %s | %s | %s | %s |", cores(c.server), cores(c.redis), cores(c.self), cores(other), cores(c.steal))
	p("| per message | %s | %s | %s | | |", per(c.server), per(c.redis), per(c.self))
	p("")
	type cmd struct {
		name  string
		calls int64
	}
	var cmds []cmd
	var total int64
	for name, k := range c.calls {
		switch name {
		case "info":
			continue // the probe's own
		case "xlen":
			k -= r.lanes.commands // the sampler's
		}
		total += k
		if float64(k)/float64(r.n) >= 0.05 {
			cmds = append(cmds, cmd{name, k})
		}
	}
	sort.Slice(cmds, func(i, j int) bool {
		if cmds[i].calls != cmds[j].calls {
			return cmds[i].calls > cmds[j].calls
		}
		return cmds[i].name < cmds[j].name
	})
	var parts []string
	for _, k := range cmds {
		parts = append(parts, fmt.Sprintf("%s %.2f", strings.ToUpper(k.name), float64(k.calls)/float64(r.n)))
	}
	p("Redis commands per message meanwhile (commands run by Lua scripts count as well; so does anything else using this Redis): %.1f in all — %s.",
		float64(total)/float64(r.n), strings.Join(parts, ", "))
	p("")
}

// thousands writes n with thin separators: 100,000.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, d := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// seconds writes d in seconds from a second up, else in milliseconds.
func seconds(d time.Duration) string {
	if d >= time.Second || d <= -time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return ms(d)
}

// bytesSI writes a byte count (possibly negative) in B, KiB or MiB.
func bytesSI(n int64) string {
	v := float64(n)
	switch {
	case v >= 1<<20 || v <= -(1<<20):
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case v >= 1<<10 || v <= -(1<<10):
		return fmt.Sprintf("%.1f KiB", v/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func perItem(total int64, n int) string {
	if n == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f B", float64(total)/float64(n))
}
