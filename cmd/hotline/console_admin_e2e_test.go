package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/inbox"
	"github.com/hotline-org/hotline/channels/outbox"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
	"github.com/hotline-org/hotline/dialogs"
	"github.com/hotline-org/hotline/handoff/accounts"
	"github.com/hotline-org/hotline/handoff/console"
	"github.com/hotline-org/hotline/handoff/notify"
)

// noticeBox keeps the health notices a signed webhook receives.
type noticeBox struct {
	mu  sync.Mutex
	got []healthNotice
	raw []string
}

func (b *noticeBox) serve(t *testing.T, secret string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := notify.Verify(secret, r, 5*time.Minute, time.Now())
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var n healthNotice
		if err := json.Unmarshal(body, &n); err != nil || n.Kind != "health" {
			t.Errorf("webhook body not a health notice: %s", body)
		}
		b.mu.Lock()
		b.got, b.raw = append(b.got, n), append(b.raw, string(body))
		b.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv
}

// find returns the notices of a condition in a state.
func (b *noticeBox) find(cond, state string) []healthNotice {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []healthNotice
	for _, n := range b.got {
		if n.Condition == cond && n.State == state {
			out = append(out, n)
		}
	}
	return out
}

func (b *noticeBox) wait(t *testing.T, cond, state string) healthNotice {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if ns := b.find(cond, state); len(ns) > 0 {
			return ns[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("admins were not told %s is %s", cond, state)
	return healthNotice{}
}

// deadLetters counts the outbox's dead letters over the test hotline's four shards.
func deadLetters(rdb *redis.Client, prefix string) int64 {
	var n int64
	for sh := range 4 {
		n += rdb.LLen(context.Background(), outbox.DeadKey(prefix, sh)).Val()
	}
	return n
}

// burySMSReply sends "hello" from phone while the fake Twilio API refuses every try
// of the reply (the outbox tries ten times, backing off: the clock moves on, so that
// nobody waits), until the reply is set aside as a dead letter.
func burySMSReply(t *testing.T, h *hotline, tw *twiliotest.Server, rdb *redis.Client, prefix string, clock *testClock, msgSID, phone string) {
	t.Helper()
	var fails []twiliotest.Failure
	for range 10 {
		fails = append(fails, twiliotest.Failure{Status: 503, Code: 20503, Message: "Service Unavailable"})
	}
	tw.FailNext(fails...)
	h.sms(t, msgSID, phone, "hello", true)
	deadline := time.Now().Add(40 * time.Second)
	for deadLetters(rdb, prefix) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the reply was not set aside; Twilio got %d messages", len(tw.Messages()))
		}
		clock.advance(3 * time.Minute)
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServiceHealthAndDeadLetters: the fake Twilio API refuses every try of a reply
// until it is set aside; every console page says that SMS sends keep failing and that
// something is set aside, and admins are told once, without personal data. An operator
// may not open the service page nor act on dead letters; an admin lists the dead
// letter (without its text), looks inside (audited), and replays it once Twilio takes
// messages again: the contact gets the reply once, however often the replay is asked,
// and admins are told that all is well again. Another, refused for good, is discarded
// with a reason.
func TestServiceHealthAndDeadLetters(t *testing.T) {
	const secret = "health-webhook-secret-0123456789"
	box := &noticeBox{}
	recv := box.serve(t, secret)
	clock := &testClock{}
	rdb, prefix := redistest.Single(t)
	tw := twiliotest.New(t, accountSID, authToken)
	lk := make([]byte, 32)
	rand.Read(lk)
	h := startAt(t, prefix, tw, base64.StdEncoding.EncodeToString(lk), map[string]string{
		"HOTLINE_NOTIFY_WEBHOOK_URL": recv.URL, "HOTLINE_NOTIFY_WEBHOOK_SECRET": secret}, clock.now)
	ctx := context.Background()
	store, err := cases.Open(ctx, h.env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	addAccount(t, h, "ada", accounts.Admin)
	addAccount(t, h, "olu", accounts.Operator)

	// Twilio fails every try of the first reply.
	const phone = "+15005550061"
	burySMSReply(t, h, tw, rdb, prefix, clock, sid(6100), phone)
	if n := len(tw.Messages()); n != 0 {
		t.Fatalf("%d messages accepted while Twilio refused them all", n)
	}

	// Every page says so, to every operator.
	olu := &browser{t: t, h: h}
	if code := olu.login("olu", "olu-long-password-1"); code != http.StatusSeeOther {
		t.Fatalf("operator login: %d", code)
	}
	_, page, _ := olu.do("GET", "/console", "", false)
	for _, want := range []string{`<p class="banner" role="alert">SMS sends keep failing (failures in a row: 10)`,
		`<p class="banner" role="alert">Messages or tasks set aside after failing: 1.`} {
		if !strings.Contains(page, want) {
			t.Errorf("the queue page lacks %q:\n%s", want, page)
		}
	}

	// Admins are told, once per condition, with nothing that identifies anyone.
	failingOn := box.wait(t, "sends_failing", "on")
	deadOn := box.wait(t, "dead_letters", "on")
	if failingOn.Channel != "sms" || failingOn.Count != 10 || !strings.Contains(failingOn.Summary, "SMS sends keep failing") ||
		failingOn.ConsoleURL != "https://hotline.example.org/console/admin" || deadOn.Count != 1 {
		t.Errorf("notices %+v, %+v", failingOn, deadOn)
	}
	olu.do("GET", "/console", "", false) // a page read again tells nobody anything new
	time.Sleep(300 * time.Millisecond)
	if n, m := len(box.find("sends_failing", "on")), len(box.find("dead_letters", "on")); n != 1 || m != 1 {
		t.Errorf("told %d and %d times, want once each", n, m)
	}

	// An operator cannot see the service page, nor act on dead letters.
	for _, r := range []struct{ method, path string }{{"GET", "/console/admin"}, {"GET", "/console/admin/dead/outbox/0-0123456789abcdef"},
		{"POST", "/console/api/admin/dead/outbox/0-0123456789abcdef/replay"}, {"POST", "/console/api/admin/dead/outbox/0-0123456789abcdef/discard"}} {
		if code, _, _ := olu.do(r.method, r.path, `{"reason":"x"}`, true); code != http.StatusForbidden {
			t.Errorf("an operator: %s %s answered %d, want 403", r.method, r.path, code)
		}
	}
	anon := &browser{t: t, h: h}
	if code, _, _ := anon.do("POST", "/console/api/admin/dead/outbox/0-0123456789abcdef/replay", "{}", false); code != http.StatusUnauthorized {
		t.Errorf("a replay without a session: %d, want 401", code)
	}

	// The admin lists it: what and when, not what it says nor to whom.
	ada := &browser{t: t, h: h}
	if code := ada.login("ada", "ada-long-password-1"); code != http.StatusSeeOther {
		t.Fatalf("admin login: %d", code)
	}
	code, page, _ := ada.do("GET", "/console/admin", "", false)
	id := regexp.MustCompile(`href="/console/admin/dead/outbox/([0-9]+-[0-9a-f]{16})"`).FindStringSubmatch(page)
	if code != 200 || id == nil || !strings.Contains(page, "sms · dead") || !strings.Contains(page, "Message to send") {
		t.Fatalf("service page: %d\n%s", code, page)
	}
	if strings.Contains(page, "5005550061") || strings.Contains(page, "Choose your language") {
		t.Errorf("the service page shows a dead letter's address or text:\n%s", page)
	}
	// Looking inside shows it, and is written to the audit log.
	code, inside, _ := ada.do("GET", "/console/admin/dead/outbox/"+id[1], "", false)
	if code != 200 || !strings.Contains(inside, "5005550061") || !strings.Contains(inside, "Choose your language") {
		t.Fatalf("dead letter page: %d\n%s", code, inside)
	}
	audited := func(action, reason string) bool {
		t.Helper()
		log, err := store.AuditLog(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range log {
			if e.Actor == "operator:ada" && e.Action == action && strings.Contains(e.Reason, reason) {
				return true
			}
		}
		return false
	}
	if !audited("deadletter.view", "outbox "+id[1]) {
		t.Error("looking inside a dead letter was not audited")
	}

	// Replayed (never without the CSRF token), once Twilio takes messages again: the
	// contact gets the reply once, however often the replay is asked.
	replay := "/console/api/admin/dead/outbox/" + id[1] + "/replay"
	if code, _, _ := ada.do("POST", replay, "{}", false); code != http.StatusForbidden {
		t.Errorf("a replay without the CSRF token: %d, want 403", code)
	}
	if code, body, _ := ada.do("POST", replay, "{}", true); code != 200 || !strings.Contains(body, `"replayed":true`) {
		t.Fatalf("replay: %d %s", code, body)
	}
	if code, body, _ := ada.do("POST", replay, "{}", true); code != 200 || !strings.Contains(body, `"before":"replayed"`) {
		t.Errorf("replay again: %d %s", code, body)
	}
	msgs := h.waitReplies(t, 1)
	h.settle()
	if msgs = tw.Messages(); len(msgs) != 1 || msgs[0].To != phone || !strings.Contains(msgs[0].Body, "Choose your language") {
		t.Fatalf("after the replay Twilio got %d messages: %+v", len(msgs), msgs)
	}
	if !audited("deadletter.replay", "outbox "+id[1]) {
		t.Error("the replay was not audited")
	}

	// All is well again: the banner goes, and admins are told (a quarter of an hour
	// after they heard it began, at the soonest).
	clock.advance(16 * time.Minute)
	_, page, _ = olu.do("GET", "/console", "", false)
	if strings.Contains(page, `class="banner" role="alert">SMS`) || strings.Contains(page, "set aside after failing") {
		t.Errorf("the banner stayed after the replay:\n%s", page)
	}
	box.wait(t, "sends_failing", "off")
	box.wait(t, "dead_letters", "off")
	box.mu.Lock()
	for _, raw := range box.raw {
		if strings.Contains(raw, "5005550061") || strings.Contains(raw, "hello") || strings.Contains(raw, "Choose") {
			t.Errorf("a notice carries personal data: %s", raw)
		}
	}
	box.mu.Unlock()

	// Another reply is refused for good (a number Twilio will not text): it is set
	// aside at once, and discarded, with a reason.
	tw.FailNext(twiliotest.Failure{Status: 400, Code: 21211, Message: "The 'To' number is not a valid phone number."})
	h.sms(t, sid(6101), "+15005550062", "hello", true)
	deadline := time.Now().Add(20 * time.Second)
	for deadLetters(rdb, prefix) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the refused reply was not set aside")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, page, _ = ada.do("GET", "/console/admin", "", false)
	id = regexp.MustCompile(`href="/console/admin/dead/outbox/([0-9]+-[0-9a-f]{16})"`).FindStringSubmatch(page)
	if id == nil || !strings.Contains(page, "sms · failed") {
		t.Fatalf("the refused reply is not listed:\n%s", page)
	}
	discard := "/console/api/admin/dead/outbox/" + id[1] + "/discard"
	if code, _, _ := ada.do("POST", discard, `{"reason":"  "}`, true); code != http.StatusBadRequest {
		t.Errorf("a discard without a reason: %d, want 400", code)
	}
	if code, _, _ := ada.do("POST", discard, `{"reason":"number not in service"}`, false); code != http.StatusForbidden {
		t.Errorf("a discard without the CSRF token: %d, want 403", code)
	}
	if code, body, _ := ada.do("POST", discard, `{"reason":"number not in service"}`, true); code != 200 || !strings.Contains(body, `"discarded":true`) {
		t.Fatalf("discard: %d %s", code, body)
	}
	if code, body, _ := ada.do("POST", "/console/api/admin/dead/outbox/"+id[1]+"/replay", "{}", true); code != 200 || !strings.Contains(body, `"before":"discarded"`) {
		t.Errorf("a replay after the discard: %d %s", code, body)
	}
	if n := deadLetters(rdb, prefix); n != 0 {
		t.Errorf("%d dead letters left", n)
	}
	if !audited("deadletter.discard", "outbox "+id[1]+": number not in service") {
		t.Error("the discard was not audited with its reason")
	}
	if code, _, _ := ada.do("GET", "/console/admin/dead/outbox/"+id[1], "", false); code != http.StatusNotFound {
		t.Errorf("a discarded dead letter's page: %d, want 404", code)
	}
	h.settle()
	if n := len(tw.Messages()); n != 1 {
		t.Errorf("Twilio got %d messages, want the one replayed", n)
	}
}

// TestCaseWritesSetAsideAreReplayed: a case note the database refused (its case was
// not there) is set aside, listed opened, and replayed once its case exists: it is
// written then. A replay asked twice puts it back once.
func TestCaseWritesSetAsideAreReplayed(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := redistest.Single(t)
	spec, _ := keyring.Generate("k1")
	ring, _ := keyring.Parse(spec)
	s, err := cases.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "cases.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	reg := cases.NewRegister(s, ring, func(k, v string) string { return k + v }, time.Now)
	c := &caseEffects{reg: reg, rdb: rdb, pending: prefix + "{cases}:pending", seal: ring, now: time.Now,
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), wake: make(chan struct{}, 1)}
	r, err := ref.New(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	if err := c.park(ctx, pendingWrite{Kind: "note", Ref: r.Compact(), Key: "SMn1", Text: "He called from Zuwara.", At: at}); err != nil {
		t.Fatal(err)
	}
	run := func() {
		t.Helper()
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); c.runPending(runCtx) }()
		deadline := time.Now().Add(10 * time.Second)
		for rdb.ZCard(ctx, c.pending).Val() > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		<-done
	}
	run()
	dead, err := c.deadWrites(ctx)
	if err != nil || len(dead) != 1 || dead[0].W == nil || dead[0].W.Kind != "note" || dead[0].W.Ref != r.Compact() ||
		!dead[0].W.At.Equal(at) || dead[0].Why == "" {
		t.Fatalf("set aside: %+v (%v)", dead, err)
	}
	if strings.Contains(dead[0].Raw, "Zuwara") {
		t.Error("a write set aside is kept in clear")
	}
	if _, _, err := reg.Save(ctx, cases.Report{Ref: r.Compact(), Channel: "sms", Lang: "en", ContactKey: "h1", At: at}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if done, err := c.replayDead(ctx, dead[0].Raw, dead[0].W.At); err != nil || done != (i == 0) {
			t.Fatalf("replay %d: %v %v", i, done, err)
		}
	}
	run()
	got, err := reg.Read(ctx, r.Compact(), "test", "check")
	if err != nil || len(got.Notes) != 1 || got.Notes[0].Text != "He called from Zuwara." {
		t.Fatalf("after the replay: notes %+v (%v)", got.Notes, err)
	}
	if left, _ := c.deadWrites(ctx); len(left) != 0 {
		t.Errorf("%d writes still set aside", len(left))
	}
	// A write discarded is gone for good.
	if err := rdb.HSet(ctx, c.pending+":dead", "junk", "unreadable").Err(); err != nil {
		t.Fatal(err)
	}
	if done, err := c.discardDead(ctx, "junk"); err != nil || !done {
		t.Errorf("discard: %v %v", done, err)
	}
	if done, _ := c.discardDead(ctx, "junk"); done {
		t.Error("discarded twice")
	}
}

func TestWhenSendsKeepFailing(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		name string
		h    outbox.SendHealth
		want bool
	}{
		{"never failed", outbox.SendHealth{LastOK: now}, false},
		{"a blip of a few seconds", outbox.SendHealth{Failures: 40, Since: now.Add(-5 * time.Second), Last: now}, false},
		{"too few failures", outbox.SendHealth{Failures: failingAfter - 1, Since: now.Add(-time.Hour), Last: now}, false},
		{"failing for minutes", outbox.SendHealth{Failures: failingAfter, Since: now.Add(-2 * time.Minute), Last: now.Add(-time.Second)}, true},
		{"a run that ended long ago", outbox.SendHealth{Failures: 10, Since: now.Add(-time.Hour), Last: now.Add(-failingStale)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := failing(c.h, now); got != c.want {
				t.Errorf("failing = %v, want %v", got, c.want)
			}
		})
	}
	// Without Redis, only this server's spool is known.
	s := healthSnap{at: now, unknown: true, spooled: 3, dead: map[string]int{deadOutbox: 5}}
	if cs := s.conditions([]channels.Channel{channels.SMS}); len(cs) != 1 || cs[0].key != "spool" || !cs[0].on || cs[0].n != 3 {
		t.Errorf("conditions without Redis: %+v", cs)
	}
	// A contact's refusals are not something to look at.
	s = healthSnap{at: now, dead: map[string]int{deadOutbox: 2, deadEffect: 1}, refused: 2}
	if w := s.warnings(nil); len(w) != 1 || w[0].ID != "admin.health.dead" || w[0].Args[1] != 1 {
		t.Errorf("warnings %+v, want one dead letter to look at", w)
	}
	if w := (healthSnap{at: now, dead: map[string]int{deadOutbox: 2}, refused: 2}).warnings(nil); len(w) != 0 {
		t.Errorf("refusals alone warn: %+v", w)
	}
}

// recordingNotifier keeps what it was told, and fails while broken.
type recordingNotifier struct {
	mu     sync.Mutex
	told   []healthNotice
	broken bool
}

func (r *recordingNotifier) name() string { return "test" }

func (r *recordingNotifier) tell(_ context.Context, n healthNotice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken {
		return errors.New("broken")
	}
	r.told = append(r.told, n)
	return nil
}

func (r *recordingNotifier) states() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []string
	for _, n := range r.told {
		s = append(s, n.Condition+":"+n.State)
	}
	return strings.Join(s, " ")
}

// TestAdminsAreToldOncePerQuarterHour: a condition is told when it begins and when it
// ends, at most once a quarter of an hour, by one of the servers (what was told is
// kept in Redis), and told again when no notifier took it; the spool, each server's
// own, is kept in the server.
func TestAdminsAreToldOncePerQuarterHour(t *testing.T) {
	rdb, prefix := redistest.Single(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	servers := []*app{{rdb: rdb, log: quiet, cfg: config{RedisPrefix: prefix, PublicURL: "https://hotline.example.org"}, healthW: newHealthWatch()},
		{rdb: rdb, log: quiet, cfg: config{RedisPrefix: prefix, PublicURL: "https://hotline.example.org"}, healthW: newHealthWatch()}}
	ctx := context.Background()
	n := &recordingNotifier{}
	start := time.Now()
	steps := []struct {
		after time.Duration
		key   string
		on    bool
		want  string
	}{
		{0, "dead_letters", true, "dead_letters:on"},
		{time.Second, "dead_letters", true, ""},                       // the other server sees it too
		{time.Minute, "dead_letters", false, ""},                      // ended, too soon to say
		{2 * time.Minute, "dead_letters", true, ""},                   // began again: what they know
		{16 * time.Minute, "dead_letters", true, ""},                  // still what they know
		{17 * time.Minute, "dead_letters", false, "dead_letters:off"}, // ended, and long after
		{0, "spool", true, "spool:on"},
		{time.Minute, "spool", false, ""},
		{20 * time.Minute, "spool", false, "spool:off"},
	}
	for i, s := range steps {
		a := servers[i%2]
		if s.key == "spool" {
			a = servers[0]
		}
		before := n.states()
		a.tellHealth(ctx, a.healthWatch(), []healthNotifier{n}, condition{key: s.key, on: s.on, n: 1}, start.Add(s.after))
		got := strings.TrimSpace(strings.TrimPrefix(n.states(), before))
		if got != s.want {
			t.Errorf("step %d (%s %v at %s): told %q, want %q", i, s.key, s.on, s.after, got, s.want)
		}
	}
	// Nobody took it: told again at the next look.
	n.broken = true
	servers[0].tellHealth(ctx, servers[0].healthWatch(), []healthNotifier{n}, condition{key: "sends_failing:sms", on: true, n: 7, ch: "sms"}, start)
	n.broken = false
	servers[1].tellHealth(ctx, servers[1].healthWatch(), []healthNotifier{n}, condition{key: "sends_failing:sms", on: true, n: 7, ch: "sms"}, start.Add(time.Second))
	if got := n.states(); !strings.HasSuffix(got, "spool:off sends_failing:on") {
		t.Errorf("after a failed delivery: %q", got)
	}
}

// TestEveryKindOfDeadLetterIsListedOpenedAndReplayed: a message received whose turns
// failed and a task (its data sealed) are listed without what they hold, opened for
// the one who looks, and put back on their streams once.
func TestEveryKindOfDeadLetterIsListedOpenedAndReplayed(t *testing.T) {
	ctx := context.Background()
	rdb, prefix := redistest.Single(t)
	spec, _ := keyring.Generate("k1")
	ring, _ := keyring.Parse(spec)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := &app{rdb: rdb, log: quiet, now: time.Now, healthW: newHealthWatch(), cfg: config{RedisPrefix: prefix, Shards: 2, DataKeys: ring},
		cases: &caseEffects{rdb: rdb, pending: prefix + "{cases}:pending", seal: ring, log: quiet}}
	a.inbox = inbox.New(rdb, inbox.Config{Prefix: prefix, Shards: 2, MaxAttempts: 1}, quiet)
	a.effects = dialogs.NewEffects(rdb, prefix, nil, a.inbox, time.Now, quiet)
	s := adminService{a}

	// A message whose turn failed.
	in := channels.Inbound{ID: "SM00000000000000000000000000000091", Channel: channels.SMS, Contact: "+15005550091",
		Text: "my brother Idris", Received: time.Now().Add(-time.Minute)}
	if _, err := a.inbox.Enqueue(ctx, in); err != nil {
		t.Fatal(err)
	}
	shard := channels.ShardOf(in.Channel, in.Contact, 2)
	entries, err := rdb.XRange(ctx, a.inbox.StreamKey(shard), "-", "+").Result()
	if err != nil || len(entries) != 1 {
		t.Fatalf("inbox: %v %v", entries, err)
	}
	// Only the shard's lease holder records a failure.
	if err := rdb.Set(ctx, dialogs.LeaseKey(prefix, shard), "runner", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.inbox.Fail(ctx, shard, dialogs.LeaseKey(prefix, shard), "runner", inbox.Entry{StreamID: entries[0].ID, Msg: in},
		errors.New("turn failed")); err != nil {
		t.Fatal(err)
	}
	rdb.XDel(ctx, a.inbox.StreamKey(shard), entries[0].ID)
	// A task, its data sealed as the runner seals it, set aside as dialogs.Effects does.
	job := dialogs.EffectJob{ID: "SM00000000000000000000000000000092:e0", Kind: dialogs.EffectCaseSave, Channel: channels.SMS,
		Contact: "+15005550092", Shard: 1, At: time.Now()}
	plain, _ := json.Marshal(map[string]string{"m_names": "Idris Adam", "ref": "HK7-QM4-XTN9"})
	if job.Sealed, err = ring.Seal(plain, []byte(job.ID)); err != nil {
		t.Fatal(err)
	}
	jb, _ := json.Marshal(job)
	letter, _ := json.Marshal(effectLetter{Entry: "1-0", Job: string(jb), Error: "database refused", At: time.Now()})
	if err := rdb.LPush(ctx, effectsDeadKey(prefix, 1), letter).Err(); err != nil {
		t.Fatal(err)
	}

	list, err := s.DeadLetters(ctx, 10)
	if err != nil || len(list) != 2 {
		t.Fatalf("listed %+v (%v)", list, err)
	}
	byKind := map[string]string{}
	for _, d := range list {
		byKind[d.Kind] = d.ID
		if !d.Replayable || d.Payload != "" || d.At.IsZero() {
			t.Errorf("listed %+v", d)
		}
	}
	for kind, id := range byKind {
		d, err := s.DeadLetter(ctx, kind, id)
		if err != nil || !strings.Contains(d.Payload, "Idris") {
			t.Errorf("%s opened: %+v (%v)", kind, d, err)
		}
		if kind == deadEffect && (d.Ref != "HK7-QM4-XTN9" || d.Attempts != a.effects.MaxAttempts || !strings.HasPrefix(d.Detail, "case.save")) {
			t.Errorf("task opened: %+v", d)
		}
		for i := range 2 {
			err := s.Replay(ctx, kind, id)
			var settled console.ErrSettled
			if i == 0 && err != nil || i == 1 && !(errors.As(err, &settled) && settled.How == "replayed") {
				t.Errorf("%s replay %d: %v", kind, i, err)
			}
		}
	}
	if n := rdb.XLen(ctx, a.inbox.StreamKey(shard)).Val(); n != 1 {
		t.Errorf("inbox stream holds %d, want the message back once", n)
	}
	back, _ := rdb.XRange(ctx, dialogs.EffectsKey(prefix, 1), "-", "+").Result()
	if len(back) != 1 || back[0].Values["m"] != string(jb) {
		t.Errorf("effects stream holds %v, want the task back once, still sealed", back)
	}
	if _, err := s.DeadLetter(ctx, deadInbox, "0-0123456789abcdef"); !errors.Is(err, console.ErrNoDeadLetter) {
		t.Errorf("an unknown dead letter: %v", err)
	}
	for _, bad := range [][2]string{{"inbox", "9-0123456789abcdef"}, {"inbox", "x"}, {"mail", "0-0123456789abcdef"}, {"case", "../../x"}} {
		if err := s.Replay(ctx, bad[0], bad[1]); !errors.Is(err, console.ErrNoDeadLetter) {
			t.Errorf("replay of %s/%s: %v", bad[0], bad[1], err)
		}
	}
}

// TestReplayNeverWritesToAContactWhoSaidStop: a reply set aside after failing is not
// replayed once its contact has said STOP to the hotline: the admin is told why, the
// letter stays to be discarded, and nothing reaches the contact. Once they write
// START, it may go.
func TestReplayNeverWritesToAContactWhoSaidStop(t *testing.T) {
	clock := &testClock{}
	rdb, prefix := redistest.Single(t)
	tw := twiliotest.New(t, accountSID, authToken)
	lk := make([]byte, 32)
	rand.Read(lk)
	h := startAt(t, prefix, tw, base64.StdEncoding.EncodeToString(lk), nil, clock.now)
	addAccount(t, h, "ada", accounts.Admin)

	const phone = "+15005550071"
	burySMSReply(t, h, tw, rdb, prefix, clock, sid(6200), phone)

	h.sms(t, sid(6201), phone, "STOP", true)
	if msgs := h.waitReplies(t, 1); !strings.Contains(msgs[0].Body, "START") {
		t.Fatalf("STOP answered %q", msgs[0].Body)
	}

	ada := &browser{t: t, h: h}
	if code := ada.login("ada", "ada-long-password-1"); code != http.StatusSeeOther {
		t.Fatalf("admin login: %d", code)
	}
	_, page, _ := ada.do("GET", "/console/admin", "", false)
	id := regexp.MustCompile(`href="/console/admin/dead/outbox/([0-9]+-[0-9a-f]{16})"`).FindStringSubmatch(page)
	if id == nil {
		t.Fatalf("no outbox dead letter listed:\n%s", page)
	}
	replay := "/console/api/admin/dead/outbox/" + id[1] + "/replay"
	code, body, _ := ada.do("POST", replay, "{}", true)
	if code != http.StatusConflict || !strings.Contains(body, "STOP") {
		t.Fatalf("replay to a contact who said STOP: %d %s", code, body)
	}
	h.settle()
	if n := len(tw.Messages()); n != 1 {
		t.Fatalf("Twilio got %d messages, want only STOP's confirmation", n)
	}
	if n := deadLetters(rdb, prefix); n != 1 {
		t.Fatalf("%d dead letters after a refused replay, want the one, to discard", n)
	}

	// They write START: the reply may go now.
	h.sms(t, sid(6202), phone, "START", true)
	h.waitReplies(t, 2)
	if code, body, _ := ada.do("POST", replay, "{}", true); code != 200 || !strings.Contains(body, `"replayed":true`) {
		t.Fatalf("replay after START: %d %s", code, body)
	}
	msgs := h.waitReplies(t, 3)
	if last := msgs[len(msgs)-1]; last.To != phone || !strings.Contains(last.Body, "Choose your language") {
		t.Fatalf("the replayed reply: %+v", last)
	}
}
