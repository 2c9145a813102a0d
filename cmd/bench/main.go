package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hotline-org/hotline/channels/twilio"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

const usage = `usage: go run ./cmd/bench [flags]

Measures signed SMS turns (webhook in, reply received at the provider API) through
the hotline, run as a subprocess on real Redis with the provider's SMS rate limit and
the per-contact limit lifted and replying through a local fake Twilio API, and through two floor servers
measured in the same run. Both check the signature and make two Redis round trips;
the REST floor answers empty TwiML and replies through the same API, the TwiML floor
answers the reply inline (its turn ends when that answer arrives). First a closed
loop finds each server's maximum turns per second, in -rounds rounds of the three
servers back to back (a ratio is the median of the rounds' ratios), then an open loop
at half the hotline's median maximum measures the webhook answer time there. -set
passes a hotline setting (NAME=VALUE, repeatable) to every hotline the run starts.
Before the load it times -starts starts of the hotline binary (exec to /readyz
answering 200), with the embedded Redis and with the real one. Last, unless
-flood=false, a second hotline with
the per-contact limit as shipped (30 messages a minute) takes the same open-loop rate
from enough contacts that each stays under half of it, while one more number writes
20 times as often as a contact in every other slice of the run: the others'
end-to-end times while it writes and while it is silent, and the replies it got.

With -broadcast N it measures a route alert instead: it subscribes N SMS numbers to
the route central-med with the broadcast package directly (and measures the Redis
memory they take), publishes one alert through the hotline's API with the provider
rate limits lifted, and times the N messages the fake Twilio API accepts. A subscriber
left without the alert (none more arriving for a minute) fails the run, after the
report; -shards and -api-latency apply, the turn benchmark's other flags do not.

With -voice N it measures phone calls instead: N simulated callers each play whole
report calls back to back, through requests signed and TwiML followed as Twilio does
(the call, English, report, consent, the questions answered by words and keys, save,
the reference checked, the status callback), against the hotline with its default
turn budget of one second. It reports the answer times of the turns, those over the
budget or degraded to the fallback answer, and the save turn that waits for the case
reference; -duration, -warmup, -shards and -hotline apply, the other flags do not.

The markdown report goes to stdout, progress to stderr. A missed target is reported,
not an error: the exit status is non-zero only when the measurement itself failed.

Redis: REDIS_URL (default redis://127.0.0.1:6379); every key lives under a fresh
random prefix that is deleted at the end. Run from inside the hotline module, which
the command builds.

flags:
`

// Fixed identities of the run: the fake Twilio API and both servers share them, and
// the webhooks are signed for publicURL as Twilio would sign them.
const (
	hotlineNumber = "+15005550001"
	publicURL     = "https://hotline.example.org"
	webhookPath   = "/webhooks/twilio/sms"
)

type options struct {
	contacts     int
	duration     time.Duration
	warmup       time.Duration
	rate         float64
	redisURL     string
	hotlineBin   string
	shards       int
	replyTimeout time.Duration
	apiLatency   time.Duration
	broadcast    int // subscribers of the route alert benchmark; 0: the turn benchmark
	voice        int // simultaneous callers of the voice benchmark; 0: off
	starts       int // timed starts of the hotline in each setting
	flood        bool
	rounds       int      // closed-loop rounds, each the hotline and both floors back to back
	set          []string // hotline settings NAME=VALUE given with -set, in order
}

// run is the whole command, so that the test runs what people run.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	defRedis := os.Getenv("REDIS_URL")
	if defRedis == "" {
		defRedis = "redis://127.0.0.1:6379"
	}
	var o options
	fs.IntVar(&o.contacts, "contacts", 64, "simulated contacts, each with its own number and at most one message in flight")
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "measured time of each phase")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured time before each phase's measurement")
	fs.Float64Var(&o.rate, "rate", 0, "open-loop messages per second; 0 is half the hotline's measured maximum")
	fs.StringVar(&o.redisURL, "redis", defRedis, "Redis URL (REDIS_URL)")
	fs.StringVar(&o.hotlineBin, "hotline", "", "a hotline binary to run instead of building ./cmd/hotline")
	fs.IntVar(&o.shards, "shards", 0, "HOTLINE_SHARDS for the hotline; 0 keeps its default (16, set explicitly with -broadcast)")
	fs.DurationVar(&o.replyTimeout, "reply-timeout", 10*time.Second, "how long a contact waits for a reply before giving up")
	fs.DurationVar(&o.apiLatency, "api-latency", 0, "time the fake Twilio API takes to answer each send, to mimic a remote API (0: at once)")
	fs.IntVar(&o.broadcast, "broadcast", 0, "measure one route alert to this many SMS subscribers instead of turns (0: off)")
	fs.IntVar(&o.starts, "starts", 5, "times the hotline binary is started and timed in each setting (embedded Redis, real Redis)")
	fs.BoolVar(&o.flood, "flood", true, "also measure one number flooding the hotline with the per-contact limit on, as shipped (adds a phase: twice -warmup, and -duration)")
	fs.IntVar(&o.rounds, "rounds", 3, "closed-loop rounds, each measuring the hotline and both floors back to back; a ratio is the median of the rounds' ratios")
	fs.Func("set", "a hotline setting `NAME=VALUE` for every hotline the turn benchmark starts (repeatable), e.g. -set HOTLINE_REDIS_FLIGHTS=2", func(v string) error {
		if err := checkSetting(v); err != nil {
			return err
		}
		o.set = append(o.set, v)
		return nil
	})
	fs.IntVar(&o.voice, "voice", 0, fmt.Sprintf("measure report calls to the voice IVR with this many simultaneous callers, 1 to %d, instead of turns", maxVoiceCallers))
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q (see -h)", fs.Args())
	case o.contacts < 1 || o.contacts > 10000:
		return errors.New("-contacts must be from 1 to 10000")
	case o.duration <= 0 || o.duration > time.Hour:
		return errors.New("-duration must be above 0 and at most 1h")
	case o.warmup < 0 || o.warmup > time.Hour:
		return errors.New("-warmup must be from 0 to 1h")
	case o.rate < 0 || o.rate > 1e6:
		return errors.New("-rate must be from 0 to 1e6")
	case o.shards < 0 || o.shards > 1024:
		return errors.New("-shards must be from 0 to 1024")
	case o.replyTimeout < 100*time.Millisecond || o.replyTimeout > 5*time.Minute:
		return errors.New("-reply-timeout must be from 100ms to 5m")
	case o.apiLatency < 0 || o.apiLatency > 10*time.Second:
		return errors.New("-api-latency must be from 0 to 10s")
	case o.starts < 1 || o.starts > 100:
		return errors.New("-starts must be from 1 to 100")
	case o.rounds < 1 || o.rounds > maxRounds:
		return fmt.Errorf("-rounds must be from 1 to %d", maxRounds)
	case o.broadcast < 0 || o.broadcast > maxSubscribers:
		return fmt.Errorf("-broadcast must be from 0 to %d", maxSubscribers)
	}
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }
	voiceSet := false
	fs.Visit(func(f *flag.Flag) { voiceSet = voiceSet || f.Name == "voice" })
	if voiceSet {
		return runVoice(ctx, fs, o, progress, stdout)
	}
	if o.broadcast > 0 {
		var set, ignored []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "broadcast":
			case "contacts", "duration", "warmup", "rate", "reply-timeout", "starts", "flood", "rounds", "set":
				ignored = append(ignored, "-"+f.Name)
			case "redis":
				set = append(set, "-redis "+redactURL(f.Value.String()))
			default:
				set = append(set, "-"+f.Name+" "+f.Value.String())
			}
		})
		if len(ignored) > 0 {
			return fmt.Errorf("-broadcast does not use %s (they set up the turn benchmark): leave them out", strings.Join(ignored, ", "))
		}
		command := fmt.Sprintf("go run ./cmd/bench -broadcast %d", o.broadcast)
		if len(set) > 0 {
			command += " " + strings.Join(set, " ")
		}
		return benchBroadcast(ctx, o, command, progress, stdout)
	}
	var set []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "contacts", "duration", "warmup", "broadcast", "rounds":
		case "flood":
			// A boolean flag takes its value after "=" only.
			set = append(set, "-flood="+f.Value.String())
		case "set":
			// Given once per setting; the flag itself has no value to print.
			for _, v := range o.set {
				set = append(set, "-set "+v)
			}
		case "redis":
			set = append(set, "-redis "+redactURL(f.Value.String()))
		default:
			set = append(set, "-"+f.Name+" "+f.Value.String())
		}
	})
	command := fmt.Sprintf("go run ./cmd/bench -contacts %d -rounds %d -duration %s -warmup %s", o.contacts, o.rounds, o.duration, o.warmup)
	if len(set) > 0 {
		command += " " + strings.Join(set, " ")
	}
	return bench(ctx, o, command, progress, stdout)
}

func bench(ctx context.Context, o options, command string, progress func(string, ...any), stdout io.Writer) (err error) {
	r, err := setUp(ctx, o, progress)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, r.tearDown()) }()
	// Unlifted, the provider's pace (10 SMS a second by default) would be measured
	// instead of the hotline; the floors keep none either. So would the per-contact
	// limit, which a simulated contact passes in seconds (the flood phases keep it).
	r.env["HOTLINE_RATE_SMS"] = "0"
	r.env["HOTLINE_CONTACT_RATE"] = "0"
	if err := applySettings(r.env, o.set); err != nil {
		return err
	}
	rdb, prefix, runID, authToken, accountSID, apiURL, facts := r.rdb, r.prefix, r.runID, r.authToken, r.accountSID, r.apiURL, r.facts
	rt := newRouter()
	r.fake.OnMessage(rt.deliver)

	// Before any load, and before the measured hotline runs, so that none competes.
	starts, err := measureStartUps(ctx, r, o.starts, progress)
	if err != nil {
		return err
	}

	progress("starting the hotline")
	h, err := startHotline(ctx, r.bin, hotlineEnv(os.Environ(), r.env))
	if err != nil {
		return err
	}
	defer func() {
		if serr := h.stop(); serr != nil {
			progress("hotline shutdown: %v", serr)
		}
	}()

	sender := twilio.NewSender(twilio.SenderConfig{AccountSID: accountSID, AuthToken: authToken,
		APIURL: apiURL, From: hotlineNumber})
	rest, err := startFloor(rdb, prefix+"rest:", authToken, sender)
	if err != nil {
		return err
	}
	defer rest.close()
	twiml, err := startFloor(rdb, prefix+"twiml:", authToken, nil)
	if err != nil {
		return err
	}
	defer twiml.close()

	client := newClient(o.contacts)
	defer client.CloseIdleConnections()
	servers := []*target{
		{name: "hotline", url: h.base + webhookPath, pid: h.cmd.Process.Pid},
		{name: "REST floor", url: rest.url},
		{name: "TwiML floor", url: twiml.url, inline: true},
	}
	l := &load{client: client, router: rt, authToken: authToken, accountSID: accountSID,
		runID: runID, replyTimeout: o.replyTimeout}

	// Each server's replies are counted once, by hand as it were, before any load: a
	// turn is complete when all its SMS parts arrived.
	for i, t := range servers {
		progress("checking %s replies with one contact", t.name)
		if t.parts, err = l.calibrate(ctx, t, i); err != nil {
			return fmt.Errorf("%s: %w (hotline logs: %s)", t.name, err, h.logs.String())
		}
	}

	// Each phase has contact numbers of its own: calibrate, the closed loop's rounds,
	// open loop, flood.
	rep := &report{opts: o, command: command, facts: facts, servers: servers, starts: starts}
	phaseNo := len(servers)
	for round := range o.rounds {
		// The servers of a round run back to back, so that a ratio compares runs minutes
		// apart at most; a machine that slows down between rounds moves all three.
		for _, t := range servers {
			progress("%s: closed loop %d of %d, %d contacts, %s warm-up + %s", t.name, round+1, o.rounds, o.contacts, o.warmup, o.duration)
			p := l.closedLoop(ctx, t, phaseNo, o.contacts, o.warmup, o.duration, cpuProbe(rdb, t.pid))
			phaseNo++
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if len(p.samples) == 0 {
				return fmt.Errorf("%s completed no turns in %s (webhook errors %d, no reply %d; hotline logs: %s)",
					t.name, o.duration, p.webhookErrors, p.noReply, h.logs.String())
			}
			p.round = round + 1
			rep.closed = append(rep.closed, p)
		}
	}
	rate := o.rate
	if rate == 0 {
		rate = rep.median(0) / 2
	}
	rep.rate = rate
	for i, t := range servers {
		progress("%s: open loop at %.0f messages/s, %s warm-up + %s", t.name, rate, o.warmup, o.duration)
		p := l.openLoop(ctx, t, phaseNo+i, o.contacts, rate, o.warmup, o.duration, cpuProbe(rdb, t.pid))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rep.open = append(rep.open, p)
	}
	phaseNo += len(servers)
	rep.stray = rt.stray.Load()
	rep.floorSendErrors = rest.sendErrors.Load()
	rep.hotlineLogLines = h.logs.lines()

	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	rep.sessions, err = sessionSizes(sctx, rdb, prefix)
	cancel()
	if err != nil {
		return fmt.Errorf("measuring sessions: %w", err)
	}
	if o.flood {
		// The measured hotline stops first, so that the flood's has the machine.
		if serr := h.stop(); serr != nil {
			progress("hotline shutdown: %v", serr)
		}
		if rep.flood, err = l.measureFlood(ctx, r, o, rate, servers[0].parts, phaseNo, progress); err != nil {
			return fmt.Errorf("flood: %w", err)
		}
	}
	rep.write(stdout)
	return nil
}

// hotlineEnv is the process environment without anything that configures the hotline
// or twilio-go (TWILIO_EDGE would send requests elsewhere), plus set.
func hotlineEnv(base []string, set map[string]string) []string {
	var env []string
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "HOTLINE_"), strings.HasPrefix(name, "TWILIO_"),
			strings.HasPrefix(name, "TELEGRAM_"), strings.HasPrefix(name, "REDIS_"), name == "DATABASE_URL":
			continue
		}
		env = append(env, kv)
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+set[k])
	}
	return env
}

// runVoice checks the flags of the voice benchmark and runs it.
func runVoice(ctx context.Context, fs *flag.FlagSet, o options, progress func(string, ...any), stdout io.Writer) error {
	if o.voice < 1 || o.voice > maxVoiceCallers {
		return fmt.Errorf("-voice must be from 1 to %d", maxVoiceCallers)
	}
	var set, ignored []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "voice", "duration", "warmup":
		case "contacts", "rate", "reply-timeout", "api-latency", "broadcast", "starts", "flood", "rounds", "set":
			// A call sends nothing through the API, and has its own callers and pace;
			// -starts times the turn benchmark's hotline.
			ignored = append(ignored, "-"+f.Name)
		case "redis":
			set = append(set, "-redis "+redactURL(f.Value.String()))
		default:
			set = append(set, "-"+f.Name+" "+f.Value.String())
		}
	})
	if len(ignored) > 0 {
		return fmt.Errorf("-voice does not use %s: leave them out", strings.Join(ignored, ", "))
	}
	command := fmt.Sprintf("go run ./cmd/bench -voice %d -duration %s -warmup %s", o.voice, o.duration, o.warmup)
	if len(set) > 0 {
		command += " " + strings.Join(set, " ")
	}
	return benchVoice(ctx, o, command, progress, stdout)
}

// maxRounds keeps every phase's contact numbers apart: a phase's number takes two
// digits of each contact's phone number (see newContact).
const maxRounds = 20

// applySettings adds the -set settings to the hotline's environment, refusing any the
// bench sets itself: the run would not measure what its report says.
func applySettings(env map[string]string, set []string) error {
	for _, v := range set {
		name, value, _ := strings.Cut(v, "=")
		if _, own := env[name]; own {
			return fmt.Errorf("-set %s: the bench sets %s itself", v, name)
		}
		env[name] = value
	}
	return nil
}

// checkSetting accepts a -set value: NAME=VALUE, NAME a hotline setting. The bench's
// own settings (where the hotline listens and keeps its data, the lifted limits,
// -shards) are refused where they are set, in bench.
func checkSetting(v string) error {
	name, _, ok := strings.Cut(v, "=")
	if !ok || !strings.HasPrefix(name, "HOTLINE_") || len(name) == len("HOTLINE_") {
		return fmt.Errorf("%q is not NAME=VALUE with NAME a hotline setting (HOTLINE_…)", v)
	}
	for _, c := range name {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return fmt.Errorf("%q: a setting's name is upper case letters, digits and _", v)
		}
	}
	if name == "HOTLINE_SHARDS" {
		return errors.New("HOTLINE_SHARDS: use -shards")
	}
	return nil
}
