package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/broadcast"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/channels/telegram/telegramtest"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

// childEnv marks a test binary started as a hotline process by a test, so that the
// test can kill it as a crash would (SIGKILL), which it cannot do to itself.
const childEnv = "HOTLINE_TEST_CHILD"

// runChild is the whole of a child process: the hotline, configured by its
// environment, until SIGTERM.
func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, []string{"hotline"}, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hotline:", err)
		return 1
	}
	return 0
}

// child is a hotline running as a process of its own.
type child struct {
	cmd  *exec.Cmd
	base string
	logs *syncBuffer
	done chan struct{}
}

var childListening = regexp.MustCompile(`hotline listening on http://127\.0\.0\.1:(\d+)`)

func startChild(t *testing.T, env map[string]string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// As in startAt, the per-contact limit is lifted unless env sets one (the last
	// value of a name wins).
	cmd.Env = append(os.Environ(), childEnv+"=1", "HOTLINE_CONTACT_RATE=0")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = c.logs
	// A -timeout panic skips t.Cleanup; without this the child would live on, holding
	// shard leases and CPU that later tests on the same Redis compete with.
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := childListening.FindStringSubmatch(sc.Text()); m != nil {
				port <- m[1]
			}
		}
	}()
	go func() { cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			t.Logf("child %d logs (last 4 KiB):\n%s", cmd.Process.Pid, tail(c.logs.String(), 4096))
		}
	})
	select {
	case p := <-port:
		c.base = "http://127.0.0.1:" + p
	case <-c.done:
		t.Fatalf("child exited at start:\n%s", c.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("child did not start:\n%s", c.logs.String())
	}
	return c
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// kill ends the process at once, as a crash or an OOM kill does: nothing is finished.
func (c *child) kill(t *testing.T) {
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-c.done
}

// tplSID is the approved WhatsApp template of each language.
var tplSID = map[string]string{"en": "HX" + strings.Repeat("0", 30) + "e1", "fr": "HX" + strings.Repeat("0", 30) + "f1",
	"ar": "HX" + strings.Repeat("0", 30) + "a1"}

// TestBroadcastToTenThousandSurvivesACrash publishes a route alert to 10,000
// subscribers on SMS, WhatsApp and Telegram in three languages, with the provider
// limits lifted. The process sending it is killed a third of the way through; another
// takes its shards over when their leases lapse and finishes. Every subscriber gets
// the alert in their language (WhatsApp subscribers outside their 24-hour window get
// the approved template in their language instead); a subscriber gets it twice only if
// their message was in flight when the process died; the counts add up.
func TestBroadcastToTenThousandSurvivesACrash(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 messages")
	}
	rdb, prefix := redistest.Single(t)
	ctx := context.Background()
	tw := twiliotest.New(t, accountSID, authToken)
	const tgToken = "123456:TEST-token"
	tg := telegramtest.New(t, tgToken)

	type arrival struct {
		key string // channel:address
		at  time.Time
		msg string // text, or the template
	}
	var mu sync.Mutex
	var got []arrival
	note := func(key, msg string) {
		mu.Lock()
		got = append(got, arrival{key, time.Now(), msg})
		mu.Unlock()
	}
	tw.OnMessage(func(m twiliotest.Message) {
		ch := "sms"
		if strings.HasPrefix(m.To, "whatsapp:") {
			ch = "whatsapp"
		}
		note(ch+":"+strings.TrimPrefix(m.To, "whatsapp:"), m.Body+m.ContentSid)
	})
	tg.OnMessage(func(m telegramtest.Message) { note("telegram:"+m.ChatID, m.Text) })
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }

	lookup := make([]byte, 32)
	rand.Read(lookup)
	keys := dataKeys(t)
	const shards = 16
	env := map[string]string{
		"HOTLINE_ADDR": "127.0.0.1:0", "HOTLINE_PUBLIC_URL": "https://hotline.example.org",
		"REDIS_URL": redisURL(), "HOTLINE_REDIS_PREFIX": prefix,
		"DATABASE_URL": "sqlite:" + t.TempDir() + "/hotline.db", "HOTLINE_DATA_DIR": t.TempDir(),
		"HOTLINE_LOOKUP_KEY": base64.StdEncoding.EncodeToString(lookup), "HOTLINE_DATA_KEYS": keys,
		"HOTLINE_SHARDS": fmt.Sprint(shards), "HOTLINE_API_TOKEN": "ops-token", "HOTLINE_LEASE_TTL": "2s",
		"HOTLINE_LOG_LEVEL":  "warn",
		"TWILIO_ACCOUNT_SID": accountSID, "TWILIO_AUTH_TOKEN": authToken, "TWILIO_SMS_FROM": hotlineNum,
		"TWILIO_API_URL": tw.URL(), "TWILIO_WHATSAPP_FROM": "whatsapp:" + hotlineNum,
		"TWILIO_WHATSAPP_TEMPLATE_SID": "en:" + tplSID["en"] + ",fr:" + tplSID["fr"] + ",ar:" + tplSID["ar"],
		"TELEGRAM_BOT_TOKEN":           tgToken, "TELEGRAM_WEBHOOK_SECRET": "webhook-secret-0123456789", "TELEGRAM_API_URL": tg.URL(),
		// Lifted: the test measures correctness, not the providers' pace.
		"HOTLINE_RATE_SMS": "0", "HOTLINE_RATE_WHATSAPP": "0", "HOTLINE_RATE_TELEGRAM": "0",
	}

	// 10,000 subscribers, as the dialogs' effect would record them.
	ring, err := keyring.Parse(keys)
	if err != nil {
		t.Fatal(err)
	}
	subs := broadcast.New(rdb, broadcast.Config{Prefix: prefix, Shards: shards, Hash: channels.ContactHasher(lookup), Sealer: ring},
		time.Now, slog.New(slog.DiscardHandler))
	const n = 10000
	langs := []string{"en", "fr", "ar"}
	want := map[string]string{} // channel:address → language
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				s := broadcast.Subscriber{Lang: langs[i%3]}
				switch i % 5 {
				case 0, 1:
					s.Channel, s.Contact = channels.SMS, fmt.Sprintf("+1555%07d", i)
				case 2:
					s.Channel, s.Contact = channels.WhatsApp, fmt.Sprintf("whatsapp:+4477%07d", i)
				default:
					s.Channel, s.Contact = channels.Telegram, fmt.Sprint(7000000+i)
				}
				if err := subs.Subscribe(ctx, s, "central-med", time.Now().Add(24*time.Hour)); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				want[string(s.Channel)+":"+strings.TrimPrefix(s.Contact, "whatsapp:")] = s.Lang
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Someone on another route hears nothing.
	if err := subs.Subscribe(ctx, broadcast.Subscriber{Channel: channels.SMS, Contact: "+15559999999", Lang: "en"},
		"sahara", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	a := startChild(t, env)
	body := `{"id":"storm-27","route":"central-med","expires_in":"6h","texts":{` +
		`"en":"Storm from tonight to Sunday. Do not leave.",` +
		`"fr":"Tempête de ce soir à dimanche. Ne partez pas.",` +
		`"es":"Tormenta desde esta noche hasta el domingo. No salga.",` +
		`"ar":"عاصفة من الليلة حتى الأحد. لا تنطلقوا."}}`
	code, resp := apiCall(t, "POST", a.base+"/api/route-alerts", body)
	if code != http.StatusAccepted || !strings.Contains(resp, `"subscribers":10000`) {
		t.Fatalf("publish: %d %s", code, resp)
	}

	// A third of the way through, the process dies.
	waitUntil(t, 60*time.Second, "a third sent", func() bool { return count() >= n/3 })
	a.kill(t)
	killed := time.Now()
	sentBefore := count()
	time.Sleep(100 * time.Millisecond) // requests already on the wire land
	b := startChild(t, env)
	waitUntil(t, 120*time.Second, "everyone reached", func() bool {
		mu.Lock()
		defer mu.Unlock()
		seen := map[string]bool{}
		for _, g := range got {
			seen[g.key] = true
		}
		return len(seen) >= n
	})
	time.Sleep(500 * time.Millisecond)

	mu.Lock()
	defer mu.Unlock()
	first := map[string]arrival{}
	dups := 0
	for _, g := range got {
		lang, ok := want[g.key]
		if !ok {
			t.Errorf("%s got a message and subscribed to nothing on this route", g.key)
			continue
		}
		if f, twice := first[g.key]; twice {
			dups++
			// The crash window: sent, accepted, and the process died before marking it.
			if f.at.Before(killed.Add(-2 * time.Second)) {
				t.Errorf("%s got the alert again after the crash, first sent %v before it: outside the crash window",
					g.key, killed.Sub(f.at))
			}
			continue
		}
		first[g.key] = g
		ch, _, _ := strings.Cut(g.key, ":")
		switch {
		case ch == "whatsapp":
			// Never written to us: outside the window, the template in their language.
			if g.msg != tplSID[lang] {
				t.Errorf("%s (%s) got %q, want the %s template", g.key, lang, g.msg, lang)
			}
		default:
			if !strings.Contains(g.msg, map[string]string{"en": "Storm from tonight", "fr": "Tempête de ce soir", "ar": "عاصفة من الليلة"}[lang]) {
				t.Errorf("%s (%s) got %q, not their language", g.key, lang, g.msg)
			}
		}
	}
	if len(first) != n {
		t.Errorf("%d subscribers reached, want %d", len(first), n)
	}
	// At most what was in flight: 16 sends at once per shard and lane.
	if dups > shards*16 {
		t.Errorf("%d duplicates, more than could be in flight at the crash", dups)
	}
	t.Logf("%d sent before the crash, %d duplicates after it", sentBefore, dups)

	var st struct {
		Counts broadcast.Counts `json:"counts"`
	}
	waitUntil(t, 10*time.Second, "counts", func() bool {
		_, resp := apiCall(t, "GET", b.base+"/api/route-alerts/storm-27", "")
		json.Unmarshal([]byte(resp), &st)
		return st.Counts.Done == shards
	})
	whatsapp := int64(n / 5)
	if c := st.Counts; c.Queued != n || c.Sent != n-whatsapp || c.Held != whatsapp || c.Failed != 0 {
		t.Errorf("counts %+v; want %d queued, %d sent, %d held for the WhatsApp window", c, n, n-whatsapp, whatsapp)
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		t.Error("the second process did not stop on SIGTERM")
	}
	// The bulk lanes are empty: nothing left behind.
	for s := range shards {
		if l, _ := rdb.XLen(ctx, channels.BulkKey(prefix, s)).Result(); l != 0 {
			t.Errorf("shard %d bulk lane holds %d", s, l)
		}
	}
}

func apiCall(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer ops-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRouteInformationAndAlertsEndToEnd: a person on SMS reads their route's advice
// and subscribes to its alerts in Spanish; a supervisor publishes an alert through the
// API; it reaches them in Spanish, is counted as delivered when Twilio says so; after
// STOP ALERTS the next alert does not reach them. The API refuses what it cannot take
// with a clear answer.
func TestRouteInformationAndAlertsEndToEnd(t *testing.T) {
	// Another default number: alerts come from the number the person wrote to.
	h := startHotline(t, map[string]string{"HOTLINE_RATE_SMS": "0", "TWILIO_SMS_FROM": "+15005550999"})
	const phone = "+15005550010"
	n := 0
	say := func(text string) {
		t.Helper()
		n++
		if code := h.post(sid(900+n), phone, text); code != 200 {
			t.Fatalf("%q: webhook %d", text, code)
		}
		time.Sleep(150 * time.Millisecond)
	}
	for _, m := range []string{"hola", "3", "5", "1", "3"} {
		say(m)
	}
	h.waitReplies(t, 5)
	all := bodies(h.twilio.Messages())
	if !strings.Contains(all, "¿Cuál es su ruta?") || !strings.Contains(all, "Libia/Túnez-Italia") ||
		!strings.Contains(all, "112") {
		t.Fatalf("route information in Spanish, with how to ask for help:\n%s", all)
	}
	say("6")
	say("sí")
	routes := func() string { _, r := apiCall(t, "GET", h.base+"/api/routes", ""); return r }
	waitUntil(t, 10*time.Second, "subscribed", func() bool {
		return strings.Contains(routes(), `"id":"central-med","name":"Central Mediterranean","subscribers":1`)
	})

	// Refusals first: none of them publishes anything.
	for _, tc := range []struct {
		body, token string
		code        int
		says        string
	}{
		{`{"route":"central-med"`, "ops-token", 400, "must be JSON"},
		{`{"route":"central-med","texts":{"en":"x"},"expires_in":"6h","expire":"x"}`, "ops-token", 400, "unknown field"},
		{`{"route":"central-med","texts":{"en":"Storm."},"expires_in":"6h"}`, "ops-token", 400, "no text in fr"},
		{`{"route":"nowhere","texts":{"en":"a","fr":"a","es":"a","ar":"a"},"expires_in":"6h"}`, "ops-token", 400, "not a route"},
		{`{"route":"central-med","texts":{"en":"a","fr":"a","es":"a","ar":"a"},"expires_in":"-1h"}`, "ops-token", 400, "expires_in"},
		{`{"route":"central-med","texts":{"en":"a","fr":"a","es":"a","ar":"a"},"expires_in":"6h"}`, "wrong", 401, "bearer token"},
		{`{"route":"central-med","texts":{"en":"` + strings.Repeat("a", 70<<10) + `"}}`, "ops-token", 413, "too large"},
	} {
		req, _ := http.NewRequest("POST", h.base+"/api/route-alerts", strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+tc.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.says) {
			t.Errorf("publish %.60s…: %d %s, want %d saying %q", tc.body, resp.StatusCode, b, tc.code, tc.says)
		}
	}

	before := len(h.twilio.Messages())
	texts := `"texts":{"en":"Storm from tonight. Do not leave.","fr":"Tempête dès ce soir. Ne partez pas.",` +
		`"es":"Tormenta desde esta noche. No salga.","ar":"عاصفة من الليلة. لا تنطلقوا."}`
	code, resp := apiCall(t, "POST", h.base+"/api/route-alerts", `{"id":"storm-1","route":"central-med","expires_in":"12h",`+texts+`}`)
	if code != http.StatusAccepted || !strings.Contains(resp, `"subscribers":1`) {
		t.Fatalf("publish: %d %s", code, resp)
	}
	// A retry of the same request publishes nothing new.
	if code, _ := apiCall(t, "POST", h.base+"/api/route-alerts", `{"id":"storm-1","route":"central-med","expires_in":"12h",`+texts+`}`); code != http.StatusAccepted {
		t.Errorf("retried publish: %d", code)
	}
	msgs := h.waitReplies(t, before+1)
	alert := msgs[before]
	if alert.To != phone || alert.From != hotlineNum || alert.Body != "Alerta de la línea de ayuda - Libia/Túnez-Italia:\nTormenta desde esta noche. No salga.\nEnvíe STOP ALERTAS para dejar de recibirlas." {
		t.Fatalf("alert message %+v", alert)
	}
	// Twilio reports it delivered: the alert's counts say so.
	form := url.Values{"MessageSid": {alert.SID}, "MessageStatus": {"delivered"}, "To": {phone}, "From": {hotlineNum},
		"AccountSid": {accountSID}, "ApiVersion": {"2010-04-01"}}
	cb := strings.TrimPrefix(alert.StatusCallback, h.public)
	req, _ := http.NewRequest("POST", h.base+cb, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, alert.StatusCallback, form))
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusNoContent {
		t.Fatalf("status callback: %v %v", r, err)
	}
	waitUntil(t, 10*time.Second, "delivered counted", func() bool {
		_, r := apiCall(t, "GET", h.base+"/api/route-alerts/storm-1", "")
		return strings.Contains(r, `"queued":1,"sent":1,"delivered":1`)
	})

	// STOP ALERTS: the subscription ends, the conversation goes on.
	say("STOP ALERTAS")
	waitUntil(t, 10*time.Second, "unsubscribed", func() bool {
		return strings.Contains(routes(), `"central-med","name":"Central Mediterranean","subscribers":0`)
	})
	if last := h.twilio.Messages(); !strings.Contains(last[len(last)-1].Body, "Ya no recibirá alertas de ruta") &&
		!strings.Contains(last[len(last)-2].Body, "Ya no recibirá alertas de ruta") {
		t.Errorf("no confirmation of STOP ALERTAS:\n%s", bodies(last[len(last)-2:]))
	}
	before = len(h.twilio.Messages())
	if code, resp := apiCall(t, "POST", h.base+"/api/route-alerts", `{"route":"central-med","expires_in":"1h",`+texts+`}`); code != http.StatusAccepted || !strings.Contains(resp, `"subscribers":0`) {
		t.Fatalf("second alert: %d %s", code, resp)
	}
	h.settle()
	if got := h.twilio.Messages(); len(got) != before {
		t.Errorf("after STOP ALERTAS the next alert still came:\n%s", bodies(got[before:]))
	}
	// Subscribed again, then DELETE: erasure takes the subscription with the rest.
	say("6")
	say("1")
	waitUntil(t, 10*time.Second, "subscribed again", func() bool { return strings.Contains(routes(), `"subscribers":1`) })
	say("BORRAR")
	say("1")
	waitUntil(t, 10*time.Second, "erased", func() bool {
		return strings.Contains(routes(), `"central-med","name":"Central Mediterranean","subscribers":0`)
	})

	// Withdrawn: gone from the list of alerts in force.
	if code, _ := apiCall(t, "DELETE", h.base+"/api/route-alerts/storm-1", ""); code != http.StatusOK {
		t.Errorf("cancel: %d", code)
	}
	// Who published and withdrew it is in the audit log.
	store, err := cases.Open(context.Background(), h.env["DATABASE_URL"], slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	entries, err := store.AuditLog(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "alert.") {
			actions = append(actions, e.Actor+" "+e.Action+" "+e.Reason)
		}
	}
	if got := strings.Join(actions, "; "); !strings.Contains(got, "api-token:api alert.publish route alert storm-1 on central-med") ||
		!strings.Contains(got, "alert.cancel route alert storm-1") {
		t.Errorf("audit log: %s", got)
	}
	if _, r := apiCall(t, "GET", h.base+"/api/route-alerts", ""); strings.Contains(r, "storm-1") {
		t.Errorf("a withdrawn alert is still listed: %s", r)
	}
}

// TestHeldWhatsAppAlertAndStop: two WhatsApp subscribers are outside their 24-hour
// window when an alert comes: each gets the approved template, and the alert waits.
// One answers "ok" and gets it; the other answers STOP ALERTS and does not.
func TestHeldWhatsAppAlertAndStop(t *testing.T) {
	const waFrom = "whatsapp:+15005550001"
	tpl := "HX" + strings.Repeat("0", 30) + "e5"
	clock := &testClock{}
	_, prefix := redistest.Single(t)
	tw := twiliotest.New(t, accountSID, authToken)
	key := make([]byte, 32)
	rand.Read(key)
	h := startAt(t, prefix, tw, base64.StdEncoding.EncodeToString(key), map[string]string{
		"TWILIO_WHATSAPP_FROM": waFrom, "TWILIO_WHATSAPP_TEMPLATE_SID": tpl, "HOTLINE_RATE_WHATSAPP": "0"}, clock.now)
	n := 600
	say := func(contact, text string) {
		t.Helper()
		n++
		form := url.Values{"MessageSid": {sid(n)}, "AccountSid": {accountSID}, "From": {contact}, "To": {waFrom},
			"Body": {text}, "NumMedia": {"0"}, "ApiVersion": {"2010-04-01"}}
		if code := h.whatsapp(t, form); code != 200 {
			t.Fatalf("webhook answered %d", code)
		}
		time.Sleep(150 * time.Millisecond)
	}
	const ok, stop = "whatsapp:+33600000001", "whatsapp:+33600000002"
	for _, c := range []string{ok, stop} {
		for _, m := range []string{"hello", "1", "5", "1", "6", "1"} {
			say(c, m)
		}
	}
	routes := func() string { _, r := apiCall(t, "GET", h.base+"/api/routes", ""); return r }
	waitUntil(t, 10*time.Second, "both subscribed", func() bool { return strings.Contains(routes(), `"subscribers":2`) })
	before := len(tw.Messages())

	clock.advance(25 * time.Hour)
	code, resp := apiCall(t, "POST", h.base+"/api/route-alerts", `{"id":"heat-1","route":"central-med","expires_in":"12h",`+
		`"texts":{"en":"Heat wave: carry water.","fr":"Canicule : emportez de l'eau.","es":"Ola de calor: lleve agua.","ar":"موجة حر: احمل الماء."}}`)
	if code != http.StatusAccepted {
		t.Fatalf("publish: %d %s", code, resp)
	}
	msgs := h.waitReplies(t, before+2)
	h.settle()
	msgs = tw.Messages()
	if len(msgs) != before+2 || msgs[before].ContentSid != tpl || msgs[before+1].ContentSid != tpl {
		t.Fatalf("outside the window: want one template each, got:\n%s", bodies(msgs[before:]))
	}
	say(ok, "ok")
	say(stop, "STOP ALERTS")
	h.settle()
	msgs = tw.Messages()[before+2:]
	var toOK, toStop []string
	for _, m := range msgs {
		switch m.To {
		case ok:
			toOK = append(toOK, m.Body)
		case stop:
			toStop = append(toStop, m.Body)
		}
	}
	if len(toOK) != 1 || !strings.Contains(toOK[0], "Heat wave: carry water.") {
		t.Errorf("the contact who answered got %q, want the held alert", toOK)
	}
	if len(toStop) != 1 || strings.Contains(toStop[0], "Heat wave") || !strings.Contains(toStop[0], "no more route alerts") {
		t.Errorf("the contact who sent STOP ALERTS got %q, want only the confirmation", toStop)
	}
	waitUntil(t, 10*time.Second, "counts", func() bool {
		_, r := apiCall(t, "GET", h.base+"/api/route-alerts/heat-1", "")
		return strings.Contains(r, `"queued":2,"sent":1,`) && strings.Contains(r, `"held":2,"dropped":1`)
	})
}
