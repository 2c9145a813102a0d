package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/broadcast"
	"github.com/hotline-org/hotline/channels/coalesce"
	"github.com/hotline-org/hotline/channels/inbox"
	"github.com/hotline-org/hotline/channels/outbox"
	"github.com/hotline-org/hotline/channels/telegram"
	"github.com/hotline-org/hotline/channels/twilio"
	"github.com/hotline-org/hotline/channels/voice"
	"github.com/hotline-org/hotline/channels/web"
	"github.com/hotline-org/hotline/dialogs"
	"github.com/hotline-org/hotline/handoff"
	"github.com/hotline-org/hotline/handoff/console"
	"github.com/hotline-org/hotline/handoff/notify"
	"github.com/hotline-org/hotline/locales"
	"github.com/hotline-org/hotline/locales/content"
)

// app is the wired hotline: what the routes and workers share.
type app struct {
	// healthW watches the service's health (the console's banner, admins' notices).
	healthW  *healthWatch
	cfg      config
	log      *slog.Logger
	rdb      redis.UniversalClient
	store    *cases.Store
	register *cases.Register
	cases    *caseEffects
	alerts   *handoff.Alerts
	inbox    *inbox.Inbox
	runner   *dialogs.Runner
	outbox   *outbox.Outbox
	effects  *dialogs.Effects
	queue    *handoff.Queue
	leases   *dialogs.Leases
	metrics  *metrics
	verifier *twilio.Verifier
	telegram *telegram.Sender
	now      func() time.Time
	hash     func(channels.Channel, string) string
	senders  map[channels.Channel]channels.Sender
	content  *content.Store
	bcast    *broadcast.Broadcasts
	bundle   *locales.Bundle
	clips    *locales.Clips
	voice    *voice.Handler
	console  *console.Console
	limits   limits
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

func serve(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer, now func() time.Time) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	if cfg.DevKeyNote != "" {
		log.Warn(cfg.DevKeyNote)
	}
	a, cleanup, err := wire(ctx, cfg, log, now)
	if err != nil {
		return err
	}
	defer cleanup()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           a.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var workers sync.WaitGroup
	workers.Add(7)
	go func() { defer workers.Done(); a.content.Watch(workCtx, 5*time.Second) }()
	go func() { defer workers.Done(); a.watchHealth(workCtx) }()
	go func() { defer workers.Done(); a.alerts.Run(workCtx) }()
	go func() { defer workers.Done(); a.cases.runPending(workCtx) }()
	go func() { defer workers.Done(); a.leases.Run(workCtx) }()
	go func() {
		defer workers.Done()
		runRetention(workCtx, a.rdb, cfg.RedisPrefix, a.register, cfg.CaseRetention, a.now, log)
	}()
	go func() {
		defer workers.Done()
		// Messages a replaced process spooled during a Redis outage would otherwise
		// wait in its file for ever; retry until Redis takes them.
		for workCtx.Err() == nil {
			if _, err := a.inbox.AdoptSpools(workCtx, filepath.Dir(cfg.SpoolPath)); err == nil {
				break
			}
			sleep(workCtx, 5*time.Second)
		}
		a.inbox.RunSpool(workCtx, time.Second)
	}()

	// The console's open event streams end with the server, rather than holding its
	// shutdown until they time out (the pages connect to another replica).
	srv.RegisterOnShutdown(a.console.Shutdown)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("hotline listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL,
		"channels", a.channelsOn(), "simulator", cfg.Simulator, "embedded_redis", cfg.Embedded,
		"database", strings.SplitN(cfg.DatabaseURL, ":", 2)[0])
	fmt.Fprintf(stdout, "hotline listening on http://%s (simulator: %s/simulator)\n", ln.Addr(), cfg.PublicURL)

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		stopWork()
		workers.Wait()
		return fmt.Errorf("http server: %w", err)
	}
	// Stop taking webhooks first, then let the turns in hand finish and give the shard
	// leases back, so that other processes take over at once.
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	stopWork()
	workers.Wait()
	log.Info("stopped")
	return nil
}

// wire builds the hotline from its configuration.
func wire(ctx context.Context, cfg config, log *slog.Logger, now func() time.Time) (*app, func(), error) {
	var closers []func()
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	fail := func(err error) (*app, func(), error) { cleanup(); return nil, nil, err }

	a := &app{cfg: cfg, log: log, metrics: newMetrics(), now: now, healthW: newHealthWatch()}
	a.hash = channels.ContactHasher(cfg.LookupKey)

	redisURL := cfg.RedisURL
	if cfg.Embedded {
		mr, err := startEmbeddedRedis(ctx)
		if err != nil {
			return fail(err)
		}
		closers = append(closers, mr.Close)
		redisURL = "redis://" + mr.Addr()
		log.Warn("REDIS_URL is not set: running an embedded, in-memory Redis. Conversations and queued messages are lost when the process stops; set REDIS_URL for any real use")
	}
	rdb, err := openRedis(redisURL, cfg)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { rdb.Close() })
	a.rdb = rdb
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		log.Warn("redis is not reachable at start; webhooks will spool until it is", "err", err)
	}

	store, err := cases.Open(ctx, cfg.DatabaseURL, log)
	if err != nil {
		return fail(fmt.Errorf("open database: %w", err))
	}
	closers = append(closers, func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		return fail(fmt.Errorf("migrate database: %w", err))
	}
	a.store = store
	hasher, err := lookupHasher(cfg.LookupKey)
	if err != nil {
		return fail(err)
	}
	a.register = cases.NewRegister(store, cfg.DataKeys, hasher, a.now)

	bundle, err := locales.Load(func(lang, id string) { a.metrics.missing.WithLabelValues(lang, id).Inc() })
	if err != nil {
		return fail(err)
	}
	spool, err := inbox.OpenSpool(cfg.SpoolPath)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() { spool.Close() })
	if n := spool.Pending(); n > 0 {
		log.Warn("spool holds messages from an earlier run; replaying", "count", n)
	}
	a.inbox = inbox.New(rdb, inbox.Config{Prefix: cfg.RedisPrefix, Shards: cfg.Shards, Spool: spool,
		ContactLimit: cfg.ContactLimit, ContactWindow: cfg.ContactWindow, Hash: a.hash, Now: a.now}, log)
	if a.content, err = content.Open(cfg.ContentDir, bundle.Languages(), contentCheck(bundle), log); err != nil {
		return fail(err)
	}
	voices, err := locales.Voices()
	if err != nil {
		return fail(err)
	}
	var recorded []string
	for _, l := range bundle.Languages() {
		if voices[l].Recorded {
			recorded = append(recorded, l)
		}
	}
	a.clips = locales.NewClips(cfg.ContentDir)
	machine := dialogs.NewMachine(bundle.Languages(), a.content.Current, cfg.AlertsFor).
		WithPersonOpen(func(t time.Time) bool { return cfg.Operator != "" && cfg.Hours.Open(t) }).
		WithRecordedOnly(recorded)
	offerVoices(machine, bundle, voices, a.clips, log)
	a.bundle = bundle
	a.bcast = newBroadcasts(a, bundle, a.content)
	a.runner = dialogs.NewRunner(rdb, a.inbox, machine, bundle, dialogs.RunnerConfig{Prefix: cfg.RedisPrefix, Sealer: cfg.DataKeys,
		OnLimited: a.metrics.observeLimited}, a.hash, a.now, log, a.metrics.observeTurn)
	a.queue = handoff.NewQueue(rdb, cfg.RedisPrefix, a.now).WithSealer(cfg.DataKeys)
	if a.limits, err = newLimits(a); err != nil {
		return fail(err)
	}
	if a.console, err = a.newConsole(); err != nil {
		return fail(err)
	}
	a.cases = &caseEffects{reg: a.register, queue: a.queue, prefix: cfg.RedisPrefix, rdb: rdb,
		// One hash tag, so that the queue and its dead set change together on a Cluster.
		pending: cfg.RedisPrefix + "{cases}:pending", seal: cfg.DataKeys,
		reserver: ref.NewReserver(rdb, cfg.RedisPrefix, nil, a.now).WithKeyHash(func(c string) string { return hasher("ref", c) }),
		guard: ref.NewGuard(rdb, cfg.RedisPrefix, a.now, ref.DefaultPerContact, ref.DefaultPerContactWindow,
			ref.DefaultGlobal, ref.DefaultGlobalWindow),
		now: a.now, log: log, wake: make(chan struct{}, 1), hash: a.hash}
	levels, err := notify.FromConfig(cfg.Notify)
	if err != nil {
		return fail(fmt.Errorf("alerts configuration: %w", err))
	}
	if len(levels) == 0 || len(levels[0]) == 0 {
		log.Warn("no notifier for distress alerts (HOTLINE_NOTIFY_*): duty operators hear of them only in the console and /api/alerts")
	}
	a.alerts = handoff.NewAlerts(rdb, cfg.RedisPrefix, levels, cfg.Escalate, a.inbox, cfg.DataKeys, a.now, log)
	a.cases.alerts, a.cases.hours = a.alerts, cfg.Hours
	handlers := a.queue.EffectHandlers()
	maps.Copy(handlers, a.cases.handlers())
	maps.Copy(handlers, alertEffects(a.bcast))
	a.cases.unsubscribe = func(ctx context.Context, ch channels.Channel, contact string) error {
		_, err := a.bcast.Unsubscribe(ctx, ch, contact, "")
		return err
	}
	a.cases.purgeDead = func(ctx context.Context, shard int, ch channels.Channel, contact string) error {
		if _, err := a.inbox.PurgeDead(ctx, shard, ch, contact); err != nil {
			return err
		}
		// a.outbox is made below, before any effect runs.
		_, err := a.outbox.PurgeDead(ctx, shard, ch, contact)
		return err
	}
	a.effects = dialogs.NewEffects(rdb, cfg.RedisPrefix, handlers, a.inbox, a.now, log)
	a.effects.Sealer = cfg.DataKeys

	a.senders = map[channels.Channel]channels.Sender{channels.Web: web.NewSender(rdb, cfg.RedisPrefix, a.now)}
	if cfg.TwilioAccountSID != "" && cfg.TwilioAuthToken != "" {
		sc := twilio.SenderConfig{AccountSID: cfg.TwilioAccountSID, AuthToken: cfg.TwilioAuthToken,
			APIURL: cfg.TwilioAPIURL, From: cfg.TwilioSMSFrom, StatusCallback: cfg.PublicURL + "/webhooks/twilio/status"}
		if err := sc.Validate(); err != nil {
			return fail(fmt.Errorf("twilio configuration: %w", err))
		}
		a.senders[channels.SMS] = twilio.NewSender(sc)
		a.verifier = twilio.NewVerifier(cfg.TwilioAuthToken, cfg.PublicURL)
		if a.voice, err = a.newVoice(); err != nil {
			return fail(err)
		}
		if cfg.TwilioWhatsApp != "" {
			wc := sc
			wc.From, wc.Templates = cfg.TwilioWhatsApp, cfg.WhatsAppTemplates
			a.senders[channels.WhatsApp] = twilio.NewSender(wc)
			if len(cfg.WhatsAppTemplates) == 0 {
				log.Warn("no TWILIO_WHATSAPP_TEMPLATE_SID: a WhatsApp reply outside the 24-hour window waits until the contact writes again, with nothing to tell them it is there")
			}
		}
	}
	if cfg.TelegramToken != "" {
		tg, err := telegram.NewSender(telegram.SenderConfig{Token: cfg.TelegramToken, APIURL: cfg.TelegramAPIURL})
		if err != nil {
			return fail(fmt.Errorf("telegram configuration: %w", err))
		}
		a.senders[channels.Telegram] = tg
		a.telegram = tg
	}
	a.outbox = outbox.New(rdb, a.senders, outbox.Config{Prefix: cfg.RedisPrefix, Hash: a.hash, Events: a.inbox, Shards: cfg.Shards,
		WhatsAppTemplate: len(cfg.WhatsAppTemplates) > 0, Live: a.bcast.Live, LeaseTTL: cfg.LeaseTTL,
		Limits: map[channels.Channel]outbox.Limit{
			// Telegram's limits for bots: about one message a second per chat, thirty a
			// second overall; over them it answers 429.
			channels.Telegram: {PerContact: time.Second, PerSecond: cfg.Rates["telegram"]},
			// Twilio queues what is over a number's rate, for hours; pacing here keeps
			// route alerts out of that queue, in front of which replies would wait.
			channels.SMS:      {PerSecond: cfg.Rates["sms"]},
			channels.WhatsApp: {PerSecond: cfg.Rates["whatsapp"]},
		}}, a.now, log, a.metrics.observeSend)

	host, _ := os.Hostname()
	id := sanitize(host) + "-" + fmt.Sprint(os.Getpid()) + "-" + rand.Text()[:8]
	a.leases = dialogs.NewLeases(rdb, cfg.RedisPrefix, cfg.Shards, id, cfg.LeaseTTL, a.workShard, a.now, log)
	a.registerGauges()
	return a, cleanup, nil
}

// workShard runs everything a shard needs while this process holds its lease.
func (a *app) workShard(ctx context.Context, shard int, token string) {
	var wg sync.WaitGroup
	wg.Add(4)
	go func() {
		defer wg.Done()
		if err := a.bcast.RunShard(ctx, shard, dialogs.LeaseKey(a.cfg.RedisPrefix, shard), token); err != nil {
			a.log.Error("route alert fan-out stopped", "shard", shard, "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := a.runner.RunShard(ctx, shard, token); err != nil && !errors.Is(err, dialogs.ErrLeaseLost) {
			a.log.Error("runner stopped", "shard", shard, "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		// A shard given back (a shutdown, a rebalance) stops its sender: not an error.
		if err := a.outbox.RunShard(ctx, shard, dialogs.LeaseKey(a.cfg.RedisPrefix, shard), token); err != nil && ctx.Err() == nil {
			a.log.Error("outbox stopped", "shard", shard, "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := a.effects.RunShard(ctx, shard, token); err != nil {
			a.log.Error("effects stopped", "shard", shard, "err", err)
		}
	}()
	wg.Wait()
}

func (a *app) channelsOn() []string {
	var on []string
	if a.verifier != nil {
		on = append(on, "sms")
	}
	if a.senders[channels.WhatsApp] != nil {
		on = append(on, "whatsapp")
	}
	if a.telegram != nil {
		on = append(on, "telegram")
	}
	if a.cfg.Simulator != "off" {
		on = append(on, "simulator")
	}
	return on
}

func (a *app) registerGauges() {
	a.metrics.gauge("hotline_inbox_backlog", "Inbound messages queued or in hand, all shards.", func(ctx context.Context) (float64, error) {
		var n int64
		for s := range a.cfg.Shards {
			l, err := a.inbox.Backlog(ctx, s)
			if err != nil {
				return 0, err
			}
			n += l
		}
		return float64(n), nil
	})
	a.metrics.gauge("hotline_cases_pending", "Case writes (reports, notes) waiting for the database to answer.", func(ctx context.Context) (float64, error) {
		n, err := a.rdb.ZCard(ctx, a.cases.pending).Result()
		return float64(n), err
	})
	a.metrics.gauge("hotline_cases_set_aside", "Case writes the database refused while it answered (damaged or unreadable), kept sealed for an operator.", func(ctx context.Context) (float64, error) {
		n, err := a.rdb.HLen(ctx, a.cases.pending+":dead").Result()
		return float64(n), err
	})
	a.metrics.gauge("hotline_handoff_queue_depth", "Conversations waiting for a person.", func(ctx context.Context) (float64, error) {
		n, err := a.queue.Len(ctx)
		return float64(n), err
	})
	a.metrics.gauge("hotline_dead_letters", "Messages and effects set aside after repeated failures, all shards (inbox, outbox, effects).", func(ctx context.Context) (float64, error) {
		var cmds []*redis.IntCmd
		_, err := a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for s := range a.cfg.Shards {
				tag := channels.Tag(a.cfg.RedisPrefix, s)
				for _, k := range []string{"dead", "outbox:dead", "effects:dead"} {
					cmds = append(cmds, p.LLen(ctx, tag+k))
				}
			}
			return nil
		})
		var n int64
		for _, c := range cmds {
			n += c.Val()
		}
		return float64(n), err
	})
	a.metrics.gauge("hotline_content_refused", "1 while the files of HOTLINE_CONTENT_DIR are refused (problems logged) and older or shipped content serves.", func(context.Context) (float64, error) {
		if a.content.Refused() != nil {
			return 1, nil
		}
		return 0, nil
	})
	a.metrics.gauge("hotline_spooled_messages", "Accepted messages waiting in the local spool for Redis.", func(context.Context) (float64, error) {
		return float64(a.inbox.Spooled()), nil
	})
}

// openRedis connects to Redis with a pool large enough for every shard's blocking reads
// (runner, outbox and effects each block on one connection per held shard) plus the
// webhooks.
func openRedis(url string, cfg config) (redis.UniversalClient, error) {
	pool := cfg.RedisPool
	if pool == 0 {
		pool = 3*cfg.Shards + 10*runtime.GOMAXPROCS(0)
	}
	var rdb redis.UniversalClient
	if cfg.Cluster {
		opt, err := redis.ParseClusterURL(url)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL (cluster): %w", err)
		}
		opt.PoolSize = pool
		opt.ContextTimeoutEnabled = true
		opt.Protocol = 2 // see below
		rdb = redis.NewClusterClient(opt)
	} else {
		opt, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		opt.PoolSize = pool
		// Honour context deadlines on every call, so that a Redis that hangs (rather than
		// refuses) cannot hold a webhook past its provider's timeout.
		opt.ContextTimeoutEnabled = true
		// RESP2: the hotline uses nothing RESP3 adds (client-side caching, push
		// notifications), and under RESP3 the client looks for pushed frames before every
		// reply, which cost about 3% of the process's CPU in the benchmark.
		opt.Protocol = 2
		rdb = redis.NewClient(opt)
	}
	if cfg.RedisFlights > 0 {
		// A turn makes about five round trips from as many goroutines; under load,
		// those issued while one is under way share the next (README, "Performance").
		coalesce.Add(rdb, cfg.RedisFlights)
	}
	return rdb, nil
}

// startEmbeddedRedis runs the in-process Redis-protocol server on loopback. The hotline
// talks to it over TCP like to any Redis, so the embedded mode runs the production code.
func startEmbeddedRedis(ctx context.Context) (*miniredis.Miniredis, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start embedded redis: %w", err)
	}
	// The embedded server only ages keys when told to; tell it the time passing, so
	// that session expiry and leases behave as on a real server.
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				mr.FastForward(now.Sub(last))
				mr.SetTime(now)
				last = now
			}
		}
	}()
	return mr, nil
}

func migrate(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	log.Info("database is up to date", "backend", store.Backend())
	return nil
}

// openStore opens the database of cfg and brings its schema up to date.
func openStore(ctx context.Context, cfg config, log *slog.Logger) (*cases.Store, error) {
	store, err := cases.Open(ctx, cfg.DatabaseURL, log)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return store, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// telegramCommand registers or shows the bot's webhook.
func telegramCommand(ctx context.Context, sub string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if cfg.TelegramToken == "" {
		return fmt.Errorf("TELEGRAM_BOT_TOKEN is not set")
	}
	tg, err := telegram.NewSender(telegram.SenderConfig{Token: cfg.TelegramToken, APIURL: cfg.TelegramAPIURL})
	if err != nil {
		return err
	}
	switch sub {
	case "set-webhook":
		url := cfg.PublicURL + "/webhooks/telegram"
		if !strings.HasPrefix(url, "https://") {
			return fmt.Errorf("Telegram posts only to HTTPS: set HOTLINE_PUBLIC_URL to the https:// address it can reach")
		}
		if err := tg.SetWebhook(ctx, url, cfg.TelegramSecret); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Telegram will post updates to %s\n", url)
		return nil
	case "webhook-info":
		info, err := tg.WebhookInfo(ctx)
		if err != nil {
			return err
		}
		b, _ := json.MarshalIndent(info, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	return fmt.Errorf("usage: hotline telegram set-webhook|webhook-info")
}
