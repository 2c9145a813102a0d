package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// voiceReport is everything the voice benchmark measured, written as markdown.
type voiceReport struct {
	opts       options
	command    string
	facts      facts
	res        *voiceResult
	perCall    int // requests of a call that goes well, the status callback included
	fields     int // the report's questions
	registered int // references heard that the register holds
	sent       int64
	logLines   int
}

// quantiles are the nearest-rank quantiles of a set of durations.
type quantiles struct {
	n                  int
	p50, p90, p99, max time.Duration
}

func quantilesOf(ds []time.Duration) quantiles {
	if len(ds) == 0 {
		return quantiles{}
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(ds))+0.999999) - 1
		return ds[max(0, min(i, len(ds)-1))]
	}
	return quantiles{len(ds), at(0.50), at(0.90), at(0.99), ds[len(ds)-1]}
}

func pct(n, of int) string {
	if of == 0 {
		return "n/a"
	}
	v := 100 * float64(n) / float64(of)
	switch {
	case n == 0:
		return "0%"
	case v < 0.1:
		return fmt.Sprintf("%.3f%%", v)
	case v < 10:
		return fmt.Sprintf("%.1f%%", v)
	}
	return fmt.Sprintf("%.0f%%", v)
}

// budget writes the turn budget as people say it: "1 s".
func budget() string { return fmt.Sprintf("%g s", turnBudget.Seconds()) }

var kindNames = map[reqKind]string{reqStart: "call arrives", reqGather: "answer to a question or menu",
	reqSave: "save (waits for the reference)", reqWait: "after \"one moment\""}

func (r *voiceReport) write(w io.Writer) {
	f, res := r.facts, r.res
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }

	// What the measured window holds.
	var (
		turns          []time.Duration
		byKind         = map[reqKind][]time.Duration{}
		over, degraded int
		errs           = map[voiceErr]int{}
		statuses       = map[int]int{}
		outErr, outDeg int
	)
	for _, s := range res.samples {
		if !res.inWindow(s.start) {
			if s.err != errNone {
				outErr++
			}
			if s.degraded {
				outDeg++
			}
			continue
		}
		turns = append(turns, s.took)
		byKind[s.kind] = append(byKind[s.kind], s.took)
		if s.took > turnBudget {
			over++
		}
		if s.degraded {
			degraded++
		}
		if s.err != errNone {
			errs[s.err]++
		}
		if s.err == errStatus {
			statuses[s.status]++
		}
	}
	var (
		saveTook, toRef     []time.Duration
		atOnce, waited      int
		saveNoRef, saveBad  int
		saveDegr, waitTurns int
		maxWaits            int
	)
	for _, s := range res.saves {
		if !res.inWindow(s.start) {
			if s.err == errNoRef || s.err == errBadRef {
				outErr++
			}
			continue
		}
		saveTook = append(saveTook, s.took)
		switch {
		case s.atOnce:
			atOnce++
		case s.toRef > 0:
			waited++
			toRef = append(toRef, s.toRef)
		}
		waitTurns += s.waits
		maxWaits = max(maxWaits, s.waits)
		switch s.err {
		case errNoRef:
			saveNoRef++
		case errBadRef:
			saveBad++
		}
		if s.degr {
			saveDegr++
		}
	}
	var stTook []time.Duration
	stErr := 0
	for _, s := range res.statuses {
		if res.inWindow(s.start) {
			stTook = append(stTook, s.took)
			if s.err != errNone {
				stErr++
			}
		}
	}
	nErrors := 0
	for _, n := range errs {
		nErrors += n
	}
	nErrors += saveNoRef + saveBad + stErr
	q := quantilesOf(turns)
	sq := quantilesOf(saveTook)
	done := res.completedInWindow()
	secs := res.duration.Seconds()
	steal := "n/a"
	if c := res.cpu; c.ok && c.wall > 0 && c.steal >= 0 {
		steal = fmt.Sprintf("%.2f", c.steal.Seconds()/c.wall.Seconds())
	}

	p("## Benchmark: report calls to the voice IVR, %d callers", res.callers)
	p("")
	p("| | |")
	p("|---|---|")
	p("| machine | %s (GOMAXPROCS %d) |", f.machine(), f.gomaxprocs)
	p("| Go | %s |", f.goVersion)
	p("| Redis | %s |", f.redis)
	shards := "default shards"
	if r.opts.shards > 0 {
		shards = fmt.Sprint(r.opts.shards, " shards (HOTLINE_SHARDS)")
	}
	p("| hotline | %s; SQLite; %s; one process; its default turn budget (%s, then the fallback answer); HOTLINE_OPERATOR_NUMBER and HOTLINE_FALLBACK_NUMBER set |",
		f.build(r.opts.hotlineBin), shards, budget())
	p("| calls | %d callers, each with one request in flight, calling again as soon as a call ends. A call: English (1), report (2), consent (1), share (1), the %d questions (words said through SpeechResult, dates and numbers typed, 1 at the choices, 2 to skip three), 1 at the summary to save, the reference checked; then the status callback: %d requests. No pause between turns, except that after \"one moment\" the caller lets the Gather time out, as Twilio would, and follows its Redirect |",
		res.callers, r.fields, r.perCall)
	p("| time | %s warm-up + %s measured |", r.opts.warmup, r.opts.duration)
	p("| reproduce | `%s` |", r.command)
	p("")

	p("### Turns (every request a call waits for, answered with TwiML)")
	p("")
	p("| callers | calls completed | calls/s | requests/s | p50 | p90 | p99 | max | over %s | degraded | errors | steal |", budget())
	p("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	p("| %d | %d | %.1f | %.0f | %s | %s | %s | %s | %d (%s) | %d | %d | %s |", res.callers, done, float64(done)/secs,
		float64(len(turns))/secs, ms(q.p50), ms(q.p90), ms(q.p99), ms(q.max), over, pct(over, len(turns)), degraded, nErrors, steal)
	p("")
	p("Latency: request sent → whole answer read, at the client. Degraded: the fallback answer (guidance and a Dial to HOTLINE_FALLBACK_NUMBER), which the hotline gives when a turn fails or outruns its budget. Errors: requests without a TwiML answer the call could follow, saves that never carried a valid reference, status callbacks not answered 204. Steal: cores the hypervisor gave to other machines, averaged over the window.")
	p("")
	p("| turn | requests | p50 | p90 | p99 | max |")
	p("|---|--:|--:|--:|--:|--:|")
	for _, k := range []reqKind{reqStart, reqGather, reqSave, reqWait} {
		if ds := byKind[k]; len(ds) > 0 {
			kq := quantilesOf(ds)
			p("| %s | %d | %s | %s | %s | %s |", kindNames[k], kq.n, ms(kq.p50), ms(kq.p90), ms(kq.p99), ms(kq.max))
		}
	}
	if sq := quantilesOf(stTook); sq.n > 0 {
		p("| status callback (answered 204; Twilio does not wait on it) | %d | %s | %s | %s | %s |", sq.n, ms(sq.p50), ms(sq.p90), ms(sq.p99), ms(sq.max))
	}
	p("")

	p("### The save turn")
	p("")
	p("The hotline answers 1 at the summary by waiting, within the turn's budget, for the case reference the effect worker reserves (Runner.awaitLater); when it is late the caller hears \"one moment\" and hears the reference at the next turn.")
	p("")
	p("| saves | p50 | p99 | max | reference at once | \"one moment\" first | save → reference when it waited (p50 / max) | wait turns (max in one call) | no reference | degraded |")
	p("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	wq := quantilesOf(toRef)
	waitedTimes := "n/a"
	if wq.n > 0 {
		waitedTimes = seconds(wq.p50) + " / " + seconds(wq.max)
	}
	p("| %d | %s | %s | %s | %d (%s) | %d | %s | %d (%d) | %d | %d |", sq.n, ms(sq.p50), ms(sq.p99), ms(sq.max), atOnce, pct(atOnce, sq.n),
		waited, waitedTimes, waitTurns, maxWaits, saveNoRef+saveBad, saveDegr)
	p("")

	r.writeCPU(p, len(turns), done)

	p("### Checks")
	p("")
	p("| check | result |")
	p("|---|---|")
	p("| references heard, whole run (each passes its check digit) | %d |", len(res.refs))
	p("| of them in the register (the SQLite `cases` table) after the run | %d (%s) |", r.registered, yesNo(r.registered == len(res.refs)))
	var parts []string
	for _, e := range []struct {
		k    voiceErr
		name string
	}{{errTransport, "no answer"}, {errStatus, "HTTP status"}, {errTwiML, "TwiML the call could not follow"}} {
		if errs[e.k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", e.name, errs[e.k]))
		}
	}
	if len(statuses) > 0 {
		var codes []int
		for c := range statuses {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		var cs []string
		for _, c := range codes {
			cs = append(cs, fmt.Sprintf("%d×%d", statuses[c], c))
		}
		parts = append(parts, "statuses "+strings.Join(cs, ", "))
	}
	if saveNoRef > 0 {
		parts = append(parts, fmt.Sprintf("saves without a reference after %d waits %d", maxWaitTurns, saveNoRef))
	}
	if saveBad > 0 {
		parts = append(parts, fmt.Sprintf("invalid references %d", saveBad))
	}
	if stErr > 0 {
		parts = append(parts, fmt.Sprintf("status callbacks %d", stErr))
	}
	if len(parts) == 0 {
		parts = []string{"none"}
	}
	p("| errors in the window | %s |", strings.Join(parts, "; "))
	p("| calls given up (an error or the fallback answer), whole run | %d |", res.failed)
	p("| calls cut off by the end of the run | %d |", res.aband)
	if outErr > 0 || outDeg > 0 {
		p("| outside the window (warm-up, waits after its end) | %d errors, %d degraded answers |", outErr, outDeg)
	}
	p("| messages sent to the Twilio API meanwhile | %d |", r.sent)
	p("| hotline log lines at warn or above, after its start | %d |", r.logLines)
	p("")
}

// writeCPU says where the CPU went in the measured window.
func (r *voiceReport) writeCPU(p func(string, ...any), requests, calls int) {
	c := r.res.cpu
	if !c.ok || c.wall <= 0 || requests == 0 {
		return
	}
	cores := func(d time.Duration) string {
		if d < 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", d.Seconds()/c.wall.Seconds())
	}
	n := float64(requests) * c.wall.Seconds() / r.res.duration.Seconds()
	per := func(d time.Duration) string {
		if d < 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/n)
	}
	ours := max(c.server, 0) + max(c.redis, 0) + max(c.self, 0)
	other := time.Duration(-1)
	if c.machine >= 0 {
		other = max(c.machine-ours, 0)
	}
	p("### Where the CPU went")
	p("")
	p("Cores busy in the measured window (of %d), and CPU time per request a call waited for. The bench process holds the callers and the fake Twilio API; \"other\" is the rest of the machine.", r.facts.cpus)
	p("")
	p("| | hotline | Redis | bench process | other | steal |")
	p("|---|--:|--:|--:|--:|--:|")
	p("| cores | %s | %s | %s | %s | %s |", cores(c.server), cores(c.redis), cores(c.self), cores(other), cores(c.steal))
	p("| per request | %s | %s | %s | | |", per(c.server), per(c.redis), per(c.self))
	p("")
	type cmd struct {
		name  string
		calls int64
	}
	var cmds []cmd
	var total int64
	for name, k := range c.calls {
		if name == "info" {
			continue // the probe's own
		}
		total += k
		if float64(k)/n >= 0.05 {
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
		parts = append(parts, fmt.Sprintf("%s %.2f", strings.ToUpper(k.name), float64(k.calls)/n))
	}
	perCall := ""
	if calls > 0 {
		perCall = fmt.Sprintf(" (%.0f per completed call)", float64(total)/(float64(calls)*c.wall.Seconds()/r.res.duration.Seconds()))
	}
	p("Redis commands per request meanwhile (the effect workers' and the status callbacks' included; commands run by Lua scripts count as well): %.1f in all%s — %s.",
		float64(total)/n, perCall, strings.Join(parts, ", "))
	p("")
}
