package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// report is everything the run measured, written as markdown for the README.
type report struct {
	opts            options
	command         string
	facts           facts
	servers         []*target
	closed, open    []phase
	rate            float64
	sessions        sessions
	starts          []startUp
	stray           int64
	floorSendErrors int64
	hotlineLogLines int
	flood           *floodReport // nil without -flood
}

// latencies are one phase's percentiles.
type latencies struct{ p50, p99, max time.Duration }

func percentiles(ds []time.Duration) latencies {
	if len(ds) == 0 {
		return latencies{}
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	// Nearest rank: the smallest value with at least q of the samples at or below it.
	at := func(q float64) time.Duration {
		i := int(q*float64(len(ds))+0.999999) - 1
		return ds[max(0, min(i, len(ds)-1))]
	}
	return latencies{at(0.50), at(0.99), ds[len(ds)-1]}
}

func (p phase) webhook() latencies {
	ds := make([]time.Duration, len(p.samples))
	for i, s := range p.samples {
		ds[i] = s.webhook
	}
	return percentiles(ds)
}

func (p phase) endToEnd() latencies {
	ds := make([]time.Duration, len(p.samples))
	for i, s := range p.samples {
		ds[i] = s.e2e
	}
	return percentiles(ds)
}

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

func bytesIEC(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/1024)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func (r *report) write(w io.Writer) {
	f := r.facts
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("## Benchmark: a signed SMS turn, hotline against the REST and TwiML floors")
	p("")
	p("| | |")
	p("|---|---|")
	p("| machine | %s (GOMAXPROCS %d) |", f.machine(), f.gomaxprocs)
	p("| Go | %s |", f.goVersion)
	p("| Redis | %s |", f.redis)
	hot := f.build(r.opts.hotlineBin)
	shards := "default shards"
	if r.opts.shards > 0 {
		shards = fmt.Sprint(r.opts.shards, " shards (HOTLINE_SHARDS)")
	}
	if len(r.opts.set) > 0 {
		shards += "; " + strings.Join(r.opts.set, ", ")
	}
	p("| hotline | %s; SQLite; %s; one process; SMS rate limit lifted (HOTLINE_RATE_SMS=0), per-contact limit lifted (HOTLINE_CONTACT_RATE=0) |", hot, shards)
	p("| load | %d contacts, %s warm-up + %s measured per phase, one message in flight per contact |",
		r.opts.contacts, r.opts.warmup, r.opts.duration)
	api := "answers at once (in-process fake)"
	if r.opts.apiLatency > 0 {
		api = fmt.Sprintf("answers each send after %s (in-process fake behind a delay)", r.opts.apiLatency)
	}
	p("| Twilio API | %s |", api)
	p("| floors | in the bench process; both check the signature and make two Redis round trips; the REST floor answers empty TwiML and replies through the API, the TwiML floor answers the reply inline |")
	var parts []string
	for _, t := range r.servers {
		var ps []string
		for n := range 3 {
			ps = append(ps, fmt.Sprintf("%q %d", textFor(n), t.parts[textFor(n)]))
		}
		parts = append(parts, t.name+": "+strings.Join(ps, ", "))
	}
	p("| SMS parts per reply (checked) | %s |", strings.Join(parts, "; "))
	p("| reproduce | `%s` |", r.command)
	p("")

	p("### Maximum: closed loop (each contact sends its next message when the reply arrived)")
	p("")
	p("%d round(s), each the three servers back to back.", r.opts.rounds)
	p("")
	p("| round | server | turns/s | webhook p50 | webhook p99 | webhook max | end-to-end p50 | end-to-end p99 | end-to-end max | webhook errors | no reply |")
	p("|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, ph := range r.closed {
		wh, e2e := ph.webhook(), ph.endToEnd()
		p("| %d | %s | %.0f | %s | %s | %s | %s | %s | %s | %d | %d |", ph.round, ph.server, ph.turnsPerSecond(),
			ms(wh.p50), ms(wh.p99), ms(wh.max), ms(e2e.p50), ms(e2e.p99), ms(e2e.max), ph.webhookErrors, ph.noReply)
	}
	p("")
	at := "At half the hotline's maximum"
	if r.opts.rate > 0 {
		at = "At the rate asked for"
	}
	p("### %s: open loop at %.0f messages/s", at, r.rate)
	p("")
	p("Messages leave on a fixed schedule whatever the answers take, each from a contact with no message in flight (\"late\": sends that had to wait for one).")
	p("")
	p("| server | turns/s | webhook p50 | webhook p99 | webhook max | end-to-end p50 | end-to-end p99 | webhook errors | no reply | late |")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, ph := range r.open {
		wh, e2e := ph.webhook(), ph.endToEnd()
		p("| %s | %.0f | %s | %s | %s | %s | %s | %d | %d | %d |", ph.server, ph.turnsPerSecond(),
			ms(wh.p50), ms(wh.p99), ms(wh.max), ms(e2e.p50), ms(e2e.p99), ph.webhookErrors, ph.noReply, ph.late)
	}
	p("")

	r.writeCPU(p)
	if r.flood != nil {
		r.flood.write(p)
	}

	p("### Start-up: exec → /readyz answering 200")
	p("")
	p("Each start with a new empty data folder, so a first one (keys, SQLite created and migrated), then stopped; before any load.")
	p("")
	p("| setting | starts | median | max |")
	p("|---|--:|--:|--:|")
	for _, su := range r.starts {
		l := percentiles(su.times)
		p("| %s | %d | %s | %s |", su.setting, len(su.times), ms(l.p50), ms(l.max))
	}
	p("")

	p("### Targets (DESIGN.md, \"Performance targets\")")
	p("")
	p("| target | measured | met |")
	p("|---|---|---|")
	rest, restEach := r.ratio(1)
	twiml, twimlEach := r.ratio(2)
	p("| hotline turns/s ≥ 0.5 × REST floor | %s | %s |", r.ratioText(rest, restEach, 1), yesNo(rest >= 0.5))
	p("| hotline turns/s against the TwiML floor | %s | no target |", r.ratioText(twiml, twimlEach, 2))
	wh := r.open[0].webhook()
	what := "half its maximum"
	if r.opts.rate > 0 {
		what = "half its maximum (here: -rate)"
	}
	p("| hotline webhook p99 < 10 ms at %s | %s at %.0f/s | %s |", what, ms(wh.p99), r.rate,
		yesNo(len(r.open[0].samples) > 0 && wh.p99 < 10*time.Millisecond))
	if s := r.sessions; s.found > 0 {
		p("| idle session < 1 KiB in Redis | %s (MEMORY USAGE of `%s`, a %s; median %s, max %s over %d sessions) | %s |",
			bytesIEC(s.exampleSize), s.example, s.kind, bytesIEC(s.sizes[len(s.sizes)/2]), bytesIEC(s.sizes[len(s.sizes)-1]),
			s.found, yesNo(s.sizes[len(s.sizes)-1] < 1024))
	} else {
		p("| idle session < 1 KiB in Redis | no session key found | **no** |")
	}
	if f := r.flood; f != nil {
		p("| a flood from one number: its replies capped at the limit and a notice per window, every other contact answered | %d replies to %d messages in %d window(s); others unanswered %d | %s |",
			f.flood.replies, f.flood.sent, f.flood.windows, f.others.noReply, yesNo(f.capped()))
		p("| others' end-to-end p99 while one number floods, against while it is silent | %s against %s | no target |",
			ms(endToEnd(f.loud).p99), ms(endToEnd(f.quiet).p99))
	}
	var starts []string
	for _, su := range r.starts {
		l := percentiles(su.times)
		name, _, _ := strings.Cut(su.setting, " (")
		starts = append(starts, fmt.Sprintf("%s %s (max %s)", name, ms(l.p50), ms(l.max)))
	}
	p("| hotline start-up, median of %d | %s | no target |", r.opts.starts, strings.Join(starts, "; "))
	p("")
	p("Webhook: request start → answer read, at the client. End-to-end: request start → the last reply part recorded by the fake Twilio API (for the TwiML floor: request start → the answer carrying the reply read).")
	p("Session sizes include the key name, which carries the benchmark's %d-byte key prefix.", len("bench0123456789abcdef:"))
	if r.stray > 0 || r.floorSendErrors > 0 || r.hotlineLogLines > 0 {
		p("Also seen: %d replies nobody waited for (duplicates or after a timeout), %d REST floor send errors, %d hotline log lines at warn or above.",
			r.stray, r.floorSendErrors, r.hotlineLogLines)
	}
}

// writeCPU says where the CPU went in each phase, and how much other work on the
// machine took: a busy neighbour makes every number above worse.
func (r *report) writeCPU(p func(string, ...any)) {
	p("### Where the CPU went")
	p("")
	p("Cores busy in each measured window (of %d), and CPU time per turn. The bench process holds the load, the fake Twilio API and the floors; \"other\" is the rest of the machine and \"steal\" the time the hypervisor ran something else on these CPUs: noise, both.", r.facts.cpus)
	p("")
	p("| phase | server | server process | Redis | bench process | other | steal | CPU per turn (ours) |")
	p("|---|---|--:|--:|--:|--:|--:|--:|")
	row := func(name string, ph phase) {
		c := ph.cpu
		if !c.ok || c.wall <= 0 {
			p("| %s | %s | n/a | n/a | n/a | n/a | n/a | n/a |", name, ph.server)
			return
		}
		cores := func(d time.Duration) string {
			if d < 0 {
				return "n/a"
			}
			return fmt.Sprintf("%.2f", d.Seconds()/c.wall.Seconds())
		}
		server := cores(c.server)
		if c.server < 0 {
			server = "(in bench)"
		}
		ours := max(c.server, 0) + max(c.redis, 0) + max(c.self, 0)
		other := time.Duration(-1)
		if c.machine >= 0 {
			other = max(c.machine-ours, 0)
		}
		perTurn := "n/a"
		if n := ph.turnsPerSecond() * c.wall.Seconds(); n > 0 {
			perTurn = fmt.Sprintf("%.0f µs", float64(ours.Microseconds())/n)
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s |", name, ph.server, server, cores(c.redis), cores(c.self), cores(other),
			cores(c.steal), perTurn)
	}
	for _, ph := range r.closed {
		row(fmt.Sprintf("maximum, round %d", ph.round), ph)
	}
	for _, ph := range r.open {
		row(fmt.Sprintf("%.0f/s", ph.offered), ph)
	}
	p("")
	p("Redis commands per turn at the maximum, over all rounds (commands run by Lua scripts count as well; so does anything else using this Redis meanwhile):")
	p("")
	for i, t := range r.servers {
		var n float64
		calls := map[string]int64{}
		for _, ph := range r.closedOf(i) {
			if !ph.cpu.ok || ph.cpu.wall <= 0 {
				continue
			}
			n += ph.turnsPerSecond() * ph.cpu.wall.Seconds()
			for name, c := range ph.cpu.calls {
				calls[name] += c
			}
		}
		if n <= 0 {
			continue
		}
		type cmd struct {
			name  string
			calls int64
		}
		var cmds []cmd
		var total int64
		for name, c := range calls {
			if name == "info" {
				continue // the probe's own
			}
			total += c
			if float64(c)/n >= 0.05 {
				cmds = append(cmds, cmd{name, c})
			}
		}
		sort.Slice(cmds, func(i, j int) bool {
			if cmds[i].calls != cmds[j].calls {
				return cmds[i].calls > cmds[j].calls
			}
			return cmds[i].name < cmds[j].name
		})
		var parts []string
		for _, c := range cmds {
			parts = append(parts, fmt.Sprintf("%s %.2f", strings.ToUpper(c.name), float64(c.calls)/n))
		}
		p("- %s: %.1f in all — %s", t.name, float64(total)/n, strings.Join(parts, ", "))
	}
	p("")
}

// machine names the machine the bench ran on.
func (f facts) machine() string {
	if f.cpuModel != "" {
		return fmt.Sprintf("%d × %s, %s", f.cpus, f.cpuModel, f.platform)
	}
	return fmt.Sprintf("%d CPUs, %s", f.cpus, f.platform)
}

// build says which hotline ran: a given binary, or the checkout at its commit.
func (f facts) build(bin string) string {
	switch {
	case bin != "":
		return "binary " + bin
	case f.commit != "":
		return "built from " + f.commit
	}
	return "built from this checkout"
}

// closedOf is server i's closed-loop phases, one a round.
func (r *report) closedOf(i int) []phase {
	var out []phase
	for _, ph := range r.closed {
		if ph.server == r.servers[i].name {
			out = append(out, ph)
		}
	}
	return out
}

// median is server i's median turns per second over the closed loop's rounds.
func (r *report) median(i int) float64 {
	var tps []float64
	for _, ph := range r.closedOf(i) {
		tps = append(tps, ph.turnsPerSecond())
	}
	return medianOf(tps)
}

// ratio is the hotline's turns per second against server i's: the median of each
// round's ratio, and those ratios. A round's servers ran minutes apart at most, so a
// machine that speeds up or slows down between rounds cancels out of its ratio.
func (r *report) ratio(i int) (float64, []float64) {
	hot, other := r.closedOf(0), r.closedOf(i)
	var each []float64
	for k := range min(len(hot), len(other)) {
		if tps := other[k].turnsPerSecond(); tps > 0 {
			each = append(each, hot[k].turnsPerSecond()/tps)
		}
	}
	return medianOf(each), each
}

// ratioText writes a ratio with what it comes from.
func (r *report) ratioText(ratio float64, each []float64, i int) string {
	if len(each) == 1 {
		return fmt.Sprintf("%.2f (%.0f / %.0f)", ratio, r.median(0), r.median(i))
	}
	rounds := make([]string, len(each))
	for k, v := range each {
		rounds[k] = fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.2f, the median of %d rounds (%s); median turns/s %.0f / %.0f", ratio, len(each),
		strings.Join(rounds, ", "), r.median(0), r.median(i))
}

// medianOf is the middle value (the mean of the two middle ones for an even count).
func medianOf(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	m := len(vs) / 2
	if len(vs)%2 == 0 {
		return (vs[m-1] + vs[m]) / 2
	}
	return vs[m]
}
