package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for the test's own look at the database
	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
	"github.com/hotline-org/hotline/dialogs"
)

// TestRedisOutageUnderLoad: contacts write steadily while the hotline's Redis is
// stopped for a full minute and started again on the same port and files, as an
// operator's restart does. Every webhook is answered 200 throughout (the messages wait
// in the local spool); once Redis is back, every message is handled exactly once and
// every contact reads their replies in order, the messages that came after Redis
// returned queued behind the spooled ones; the shards are worked again and the health
// checks recover. A reply may be sent twice only if the provider took it in the instant
// Redis went down, before it could be marked sent: the design's crash window.
func TestRedisOutageUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute with Redis stopped under load; run without -short")
	}
	rs := startPrivateRedis(t)
	tw := twiliotest.New(t, accountSID, authToken)
	const prefix = "outage:"
	// SMS pacing is lifted: the replies of a minute of spooled messages would otherwise
	// take their time at 10 a second, and the test would time the pacing.
	h := startAt(t, prefix, tw, lookupKey(), map[string]string{"REDIS_URL": rs.url(), "HOTLINE_RATE_SMS": "0"}, time.Now)

	const contacts = 8
	ld := startLoad(h, contacts, time.Second, 50000)
	defer ld.finish()
	// Under way before Redis goes: each contact has had replies.
	waitUntil(t, 20*time.Second, "replies before the outage", func() bool {
		return len(tw.Messages()) >= 2*contacts
	})

	stopped := time.Now()
	rs.stop(t)
	t.Logf("redis stopped after %d replies", len(tw.Messages()))
	waitUntil(t, 15*time.Second, "readyz to say Redis is unreachable", func() bool {
		code, body := fetch(h.base + "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, `"redis":"unreachable"`)
	})
	waitUntil(t, 15*time.Second, "messages in the spool", func() bool {
		return metric(h, "hotline_spooled_messages") > 0
	})
	if bad := ld.failures(); len(bad) > 0 {
		t.Fatalf("webhooks refused while Redis is away: %v", bad)
	}
	time.Sleep(time.Until(stopped.Add(time.Minute)))
	spooled := metric(h, "hotline_spooled_messages")
	rs.start(t)
	restarted := time.Now()
	t.Logf("redis started again; %v messages in the spool", spooled)

	// Contacts go on writing while the spool is replayed: their new messages must
	// queue behind it.
	time.Sleep(5 * time.Second)
	sent := ld.finish()
	if bad := ld.failures(); len(bad) > 0 {
		t.Errorf("webhooks refused: %v", bad)
	}
	total, want := 0, map[string][]string{}
	for n, texts := range sent {
		want[loadPhone(n)] = expectedReplies(t, texts)
		total += len(want[loadPhone(n)])
	}
	waitUntil(t, 60*time.Second, fmt.Sprintf("%d replies", total), func() bool {
		return len(distinct(tw.Messages())) >= total
	})
	t.Logf("all %d replies sent %v after Redis returned", total, time.Since(restarted).Round(time.Millisecond))
	h.settle()
	got, twice := replies(tw.Messages())
	for n := range sent {
		phone := loadPhone(n)
		if fmt.Sprint(got[phone]) != fmt.Sprint(want[phone]) {
			t.Errorf("contact %d sent %d messages and got %d replies, not the conversation expected:\n got %q\nwant %q",
				n, len(sent[n]), len(got[phone]), got[phone], want[phone])
		}
	}
	for _, m := range twice {
		// Taken by the provider in the instant Redis went, it could not be marked sent.
		if m.At.Before(stopped.Add(-2*time.Second)) || m.At.After(stopped.Add(2*time.Second)) {
			t.Errorf("reply %s sent twice, first at %v, not in the instant Redis stopped (%v)",
				m.StatusCallback, m.At.Format(time.StampMilli), stopped.Format(time.StampMilli))
		}
	}
	t.Logf("%d messages, %d replies, %d sent twice in the crash window", total, len(tw.Messages()), len(twice))

	waitUntil(t, 15*time.Second, "readyz to recover", func() bool {
		code, _ := fetch(h.base + "/readyz")
		return code == http.StatusOK
	})
	waitUntil(t, 15*time.Second, "the spool and the inbox to empty", func() bool {
		return metric(h, "hotline_spooled_messages") == 0 && metric(h, "hotline_inbox_backlog") == 0
	})
	if n := metric(h, "hotline_dead_letters"); n != 0 {
		t.Errorf("%v dead letters after the outage", n)
	}
	// Every shard is worked again: its lease is held (by the one process there is).
	rdb := redis.NewClient(&redis.Options{Addr: rs.addr()})
	defer rdb.Close()
	for s := range 4 {
		if tok, err := rdb.Get(context.Background(), dialogs.LeaseKey(prefix, s)).Result(); err != nil || tok == "" {
			t.Errorf("shard %d lease not held after the outage: %q %v", s, tok, err)
		}
	}
	for _, dead := range []string{"runner stopped", "outbox stopped", "effects stopped", "fan-out stopped"} {
		if strings.Contains(h.logs.String(), dead) {
			t.Errorf("a shard loop gave up during the outage: %q in the logs", dead)
		}
	}
	// A new contact is answered, as before the outage.
	before := len(tw.Messages())
	if code := h.post(sid(900000), "+15005569999", "hello"); code != 200 {
		t.Fatalf("webhook after the outage: %d", code)
	}
	h.waitReplies(t, before+1)
}

// TestDatabaseOutage: the hotline reaches PostgreSQL through a proxy the test can cut
// (the shared server cannot be stopped). With the database cut, contacts still get
// their replies, and a family finishing a missing-person report still gets its case
// reference at once; the report waits, sealed, in Redis. When the database returns,
// the case is written, once, and the health checks recover.
func TestDatabaseOutage(t *testing.T) {
	dsn, db := postgresSchema(t)
	proxy := startTCPProxy(t, "127.0.0.1:5432")
	u, _ := url.Parse(dsn)
	u.Host = proxy.addr
	// The migrations run through the proxy, at start, with the database up.
	h := startHotline(t, map[string]string{"DATABASE_URL": u.String()})
	var tables int
	if err := db.QueryRow("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'cases'").Scan(&tables); err != nil || tables != 1 {
		t.Fatalf("migrations through the proxy: cases table %d, %v", tables, err)
	}

	const family, other = "+15005551201", "+15005551202"
	conv := &talk{t: t, h: h, base: 7000}
	say := func(phone, text string, parts int) string {
		t.Helper()
		return conv.sms(phone, text, parts)
	}
	say(family, "hello", 1)
	say(family, "1", 1) // English

	proxy.cut()
	waitUntil(t, 15*time.Second, "readyz to say the database is unreachable", func() bool {
		code, body := fetch(h.base + "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, `"database":"unreachable"`) &&
			strings.Contains(body, `"redis":"ok"`)
	})
	if got := say(other, "hello", 1); !strings.Contains(got, "Choose your language") {
		t.Errorf("language menu with the database cut: %q", got)
	}
	if got := say(other, "1", 1); !strings.Contains(got, "Main menu") {
		t.Errorf("main menu with the database cut: %q", got)
	}
	say(family, "2", 1) // report a missing person
	say(family, "1", 1) // agrees
	say(family, "2", 1) // no sharing
	for _, a := range []string{"Amina Keita", "sister", "yes, evenings", "Mamadou Keita", "?", "1", "about 24", "Guinea",
		"SKIP", "scar on his left hand", "don't know", "+224 620 11 22 33", "March 2026", "Sfax", "WhatsApp call",
		"Libya, then by sea", "Conakry", "10/2025", "Italy", "two friends"} {
		say(family, a, 1)
	}
	say(family, "1", 3) // at sea; the summary
	saved := say(family, "1", 2)
	r, err := ref.Parse(refPattern.FindString(saved))
	if err != nil {
		t.Fatalf("no case reference with the database cut: %v\n%s", err, saved)
	}
	waitUntil(t, 10*time.Second, "the report to wait for the database", func() bool {
		return metric(h, "hotline_cases_pending") >= 1
	})
	if got := say(other, "MENU", 1); !strings.Contains(got, "Main menu") {
		t.Errorf("menu after the report, database still cut: %q", got)
	}
	time.Sleep(3 * time.Second) // the writer tries, and fails, meanwhile
	if n := countCases(t, db, ""); n != 0 {
		t.Fatalf("%d cases in the database while the hotline cannot reach it", n)
	}

	proxy.restore()
	waitUntil(t, 30*time.Second, "the case to be written", func() bool {
		return countCases(t, db, r.Compact()) == 1 && metric(h, "hotline_cases_pending") == 0
	})
	if n := countCases(t, db, ""); n != 1 {
		t.Errorf("%d cases in the database, want the one report", n)
	}
	waitUntil(t, 15*time.Second, "readyz to recover", func() bool {
		code, _ := fetch(h.base + "/readyz")
		return code == http.StatusOK
	})
	if n := metric(h, "hotline_cases_set_aside"); n != 0 {
		t.Errorf("%v case writes set aside: the outage is not the data's fault", n)
	}
	// The family follows up: the register answers again.
	say(family, "MENU", 1)
	say(family, "3", 1)
	if got := say(family, r.Compact(), 1); !strings.Contains(got, ": received") {
		t.Errorf("follow-up after the outage: %q", got)
	}
}

// TestProviderFailures: the provider answers the first reply of a conversation with
// 500, then 503, then 429 with Retry-After. The contact, who wrote several messages
// meanwhile, still gets every reply once and in order; the retries back off (the
// outbox's default 1 s, 2 s, 4 s…), and the attempt after the 429 waits at least what
// Retry-After said. The whole takes about 8 s, so no knob shortens the waits.
func TestProviderFailures(t *testing.T) {
	_, prefix := redistest.Single(t)
	tw := twiliotest.New(t, accountSID, authToken)
	api := recordAPI(t, tw.URL())
	h := startAt(t, prefix, tw, lookupKey(), map[string]string{"TWILIO_API_URL": api.url}, time.Now)

	// Retry-After exceeds the backoff of the third retry (4 s): a wait that long is
	// Retry-After's doing.
	const retryAfter = 5 * time.Second
	tw.FailNext(twiliotest.Failure{Status: 500, Code: 20500, Message: "Internal Server Error"},
		twiliotest.Failure{Status: 503, Code: 20503, Message: "Service Unavailable"},
		twiliotest.Failure{Status: 429, Code: 20429, Message: "Too Many Requests", RetryAfter: strconv.Itoa(int(retryAfter / time.Second))})
	const phone = "+15005551301"
	inputs := []string{"hi", "2", "LANGUAGE", "3", "LANGUAGE", "1", "LANGUAGE", "4"}
	want := expectedReplies(t, inputs)
	for i, text := range inputs {
		if code := h.post(sid(8000+i), phone, text); code != 200 {
			t.Fatalf("message %d: webhook %d", i, code)
		}
	}
	msgs := h.waitReplies(t, len(want))
	h.settle()
	if msgs = tw.Messages(); len(msgs) != len(want) {
		t.Errorf("%d replies, want %d", len(msgs), len(want))
	}
	for i := range min(len(msgs), len(want)) {
		if msgs[i].Body != want[i] {
			t.Errorf("reply %d:\n got %q\nwant %q", i, msgs[i].Body, want[i])
		}
	}

	calls := api.calls()
	defer func() {
		if t.Failed() {
			for _, c := range calls {
				t.Logf("provider call at %s: %d %.40q", c.at.Format(time.StampMilli), c.status, c.body)
			}
		}
	}()
	if len(calls) < 4 || calls[0].status != 500 || calls[1].status != 503 || calls[2].status != 429 || calls[3].status != 201 {
		t.Fatalf("provider calls: %v; want 500, 503, 429, then accepted", calls)
	}
	for i := range 4 {
		if calls[i].to != phone || calls[i].body != want[0] {
			t.Errorf("call %d was for %s %q; want the first reply, tried again", i, calls[i].to, calls[i].body)
		}
	}
	// The waits: the backoff's 1 s and 2 s, then Retry-After.
	for i, least := range []time.Duration{time.Second, 2 * time.Second, retryAfter} {
		if gap := calls[i+1].at.Sub(calls[i].answered); gap < least {
			t.Errorf("after a %d the next attempt came %v later, want at least %v", calls[i].status, gap, least)
		}
	}
	if m := get(t, h.base+"/metrics"); !strings.Contains(m, `hotline_outbound_total{channel="sms",outcome="retry"} 3`) ||
		!strings.Contains(m, fmt.Sprintf(`hotline_outbound_total{channel="sms",outcome="sent"} %d`, len(want))) {
		t.Errorf("send metrics:\n%s", grep(m, "hotline_outbound_total"))
	}
}

// privateRedis is a redis-server of one test's own, which it can stop and start again
// on the same port and files. Appends are fsynced every second, as deploy/compose.yaml
// runs it.
type privateRedis struct {
	port int
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not on PATH")
		}
		t.Skip("redis-server is not on PATH; skipping (with CI=true this fails)")
	}
	r := &privateRedis{port: stablePort(t), dir: t.TempDir()}
	r.start(t)
	t.Cleanup(func() {
		if r.cmd != nil {
			r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *privateRedis) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }
func (r *privateRedis) url() string  { return "redis://" + r.addr() }

func (r *privateRedis) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
		"--logfile", filepath.Join(r.dir, "redis.log"))
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	r.cmd, r.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(r.done) }()
	rdb := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(20 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		select {
		case <-r.done:
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			t.Fatalf("redis-server exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer within 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop stops the server as an operator does (SIGTERM: it writes its files and exits).
func (r *privateRedis) stop(t *testing.T) {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatal("redis-server did not stop within 20 s of SIGTERM")
	}
	r.cmd = nil
}

// stablePort is a free loopback port below the ephemeral range, so that no outgoing
// connection takes it while the server is down.
func stablePort(t *testing.T) int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 12000 {
				low = n
			}
		}
	}
	for range 200 {
		var b [2]byte
		rand.Read(b[:])
		port := 10000 + (int(b[0])<<8|int(b[1]))%(low-10000)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

// load is contacts writing steadily, each waiting for the webhook's answer before
// going on, as a person does.
type load struct {
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once

	mu   sync.Mutex
	sent [][]string // per contact, the texts the webhook took
	bad  []string
}

func loadPhone(n int) string { return fmt.Sprintf("+1500557%04d", n) }

// loadText is a contact's i-th message: a greeting, then a language and back to the
// language menu, over and over; each reply depends on the one before, so replies
// out of order, missing or twice cannot match.
func loadText(i int) string {
	if i == 0 {
		return "hi"
	}
	if (i-1)%2 == 0 {
		return strconv.Itoa((i-1)/2%4 + 1)
	}
	return "LANGUAGE"
}

func startLoad(h *hotline, contacts int, every time.Duration, base int) *load {
	l := &load{stop: make(chan struct{}), sent: make([][]string, contacts)}
	for n := range contacts {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			// Staggered, so that the contacts' messages spread over the interval.
			t := time.NewTimer(every * time.Duration(n) / time.Duration(contacts))
			defer t.Stop()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				case <-t.C:
				}
				text := loadText(i)
				code := h.post(sid(base+n*10000+i), loadPhone(n), text)
				l.mu.Lock()
				if code == http.StatusOK {
					l.sent[n] = append(l.sent[n], text)
				} else {
					l.bad = append(l.bad, fmt.Sprintf("contact %d message %d: %d", n, i, code))
				}
				l.mu.Unlock()
				if code != http.StatusOK {
					return // the conversation would not be the one expected any more
				}
				t.Reset(every)
			}
		}()
	}
	return l
}

// finish stops the contacts and returns what each sent.
func (l *load) finish() [][]string {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent
}

func (l *load) failures() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.bad...)
}

// distinct is the messages without repeats of a piece (its status callback names the
// outbound message and the piece).
func distinct(msgs []twiliotest.Message) []twiliotest.Message {
	seen := map[string]bool{}
	var out []twiliotest.Message
	for _, m := range msgs {
		if !seen[m.StatusCallback] {
			seen[m.StatusCallback] = true
			out = append(out, m)
		}
	}
	return out
}

// replies are the bodies each contact got, each piece once, and the first copies of
// the pieces that were sent more than once.
func replies(msgs []twiliotest.Message) (map[string][]string, []twiliotest.Message) {
	first := map[string]twiliotest.Message{}
	var twice []twiliotest.Message
	byContact := map[string][]string{}
	for _, m := range msgs {
		if f, ok := first[m.StatusCallback]; ok {
			twice = append(twice, f)
			continue
		}
		first[m.StatusCallback] = m
		byContact[m.To] = append(byContact[m.To], m.Body)
	}
	return byContact, twice
}

// fetch is a GET that tolerates failure (the caller polls).
func fetch(u string) (int, string) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric reads one unlabelled series from the hotline's /metrics; NaN when absent.
func metric(h *hotline, name string) float64 {
	_, body := fetch(h.base + "/metrics")
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -2
}

func lookupKey() string {
	key := make([]byte, 32)
	rand.Read(key)
	return base64.StdEncoding.EncodeToString(key)
}

// postgresSchema makes a schema of the test's own on the test PostgreSQL and returns
// a DSN into it, and a connection (not through any proxy) for the test to look with.
func postgresSchema(t *testing.T) (string, *sql.DB) {
	t.Helper()
	base := os.Getenv("DATABASE_URL")
	if !strings.HasPrefix(base, "postgres") {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	admin, err := sql.Open("pgx", base)
	if err == nil {
		err = admin.Ping()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL: %v", err)
		}
		t.Skipf("PostgreSQL unreachable (%v); skipping (with CI=true this fails)", err)
	}
	schema := "outage_" + strings.ToLower(rand.Text())
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return u.String(), db
}

// countCases counts the cases in the register, or those under one reference.
func countCases(t *testing.T, db *sql.DB, compact string) int {
	t.Helper()
	var n int
	q, args := "SELECT count(*) FROM cases", []any{}
	if compact != "" {
		q, args = q+" WHERE ref = $1", []any{compact}
	}
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("count cases: %v", err)
	}
	return n
}

// tcpProxy forwards a loopback port to a server. Cut, it closes the port and every
// connection through it, as a database host that went away; restored, it takes
// connections on the same port again.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func startTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{t: t, addr: "127.0.0.1:0", target: target, conns: map[net.Conn]bool{}}
	p.restore()
	p.addr = p.ln.Addr().String()
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) restore() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy listen on %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *tcpProxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil {
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(s, c)
	go pipe(c, s)
	<-done
	c.Close()
	s.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// providerCall is one request the hotline made to the provider's API.
type providerCall struct {
	at, answered time.Time
	status       int
	to, body     string
}

func (c providerCall) String() string { return strconv.Itoa(c.status) }

// recordingAPI stands in front of the fake provider API and notes each call, its
// answer and when, so that a test can see the waits between attempts.
type recordingAPI struct {
	url string
	mu  sync.Mutex
	log []providerCall
}

func recordAPI(t *testing.T, target string) *recordingAPI {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	r := &recordingAPI{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		call := providerCall{at: time.Now()}
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		if form, err := url.ParseQuery(string(body)); err == nil {
			call.to, call.body = form.Get("To"), form.Get("Body")
		}
		rec := &statusWriter{ResponseWriter: w}
		rp.ServeHTTP(rec, req)
		call.status, call.answered = rec.status, time.Now()
		r.mu.Lock()
		r.log = append(r.log, call)
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *recordingAPI) calls() []providerCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]providerCall(nil), r.log...)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
