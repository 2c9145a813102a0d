package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/channels/telegram/telegramtest"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
	"github.com/hotline-org/hotline/dialogs"
	"github.com/hotline-org/hotline/locales"
	"github.com/hotline-org/hotline/locales/content"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	if os.Getenv(childEnv) == "1" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

const (
	accountSID = "AC00000000000000000000000000000001"
	authToken  = "test-auth-token-0123456789abcdef"
	hotlineNum = "+15005550001"
)

// syncBuffer collects a running hotline's output for the test to read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type hotline struct {
	base   string // where the test reaches it
	public string // HOTLINE_PUBLIC_URL: what Twilio signs
	twilio *twiliotest.Server
	env    map[string]string
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// stop asks the hotline to stop, as SIGTERM does, and waits for it.
func (h *hotline) stop(t *testing.T) {
	h.once.Do(func() {
		h.cancel()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("hotline stopped with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("hotline did not stop within 30s of being asked")
		}
	})
}

var listening = regexp.MustCompile(`hotline listening on http://\[::\]:(\d+)|hotline listening on http://[0-9.]+:(\d+)`)

// startHotline runs the real program (run, as main calls it) on a free port, against
// real Redis and a fake Twilio API, and stops it when the test ends.
func startHotline(t *testing.T, extra map[string]string) *hotline {
	t.Helper()
	_, prefix := redistest.Single(t)
	tw := twiliotest.New(t, accountSID, authToken)
	key := make([]byte, 32)
	rand.Read(key)
	return startWith(t, prefix, tw, base64.StdEncoding.EncodeToString(key), extra)
}

// startWith runs a hotline on a given Redis prefix and fake Twilio, so that several
// processes can share them as replicas of one deployment do.
func startWith(t *testing.T, prefix string, tw *twiliotest.Server, lookupKey string, extra map[string]string) *hotline {
	t.Helper()
	return startAt(t, prefix, tw, lookupKey, extra, time.Now)
}

// startAt is startWith on a given clock.
func startAt(t *testing.T, prefix string, tw *twiliotest.Server, lookupKey string, extra map[string]string, now func() time.Time) *hotline {
	t.Helper()
	env := map[string]string{
		"HOTLINE_ADDR":         "127.0.0.1:0",
		"HOTLINE_PUBLIC_URL":   "https://hotline.example.org",
		"REDIS_URL":            redisURL(),
		"HOTLINE_REDIS_PREFIX": prefix,
		"DATABASE_URL":         "sqlite:" + t.TempDir() + "/hotline.db",
		"HOTLINE_DATA_DIR":     t.TempDir(),
		"HOTLINE_LOOKUP_KEY":   lookupKey,
		"HOTLINE_DATA_KEYS":    dataKeys(t),
		"HOTLINE_SHARDS":       "4",
		"HOTLINE_API_TOKEN":    "ops-token",
		"TWILIO_ACCOUNT_SID":   accountSID,
		"TWILIO_AUTH_TOKEN":    authToken,
		"TWILIO_SMS_FROM":      hotlineNum,
		"TWILIO_API_URL":       tw.URL(),
		// Tests talk faster than people: the per-contact limit is lifted unless a
		// test of it sets one (abuse_e2e_test.go).
		"HOTLINE_CONTACT_RATE": "0",
	}
	for k, v := range extra {
		env[k] = v
	}
	out, logs := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runAt(ctx, []string{"hotline"}, func(k string) string { return env[k] }, out, logs, now)
	}()
	h := &hotline{public: env["HOTLINE_PUBLIC_URL"], twilio: tw, env: env, logs: logs, cancel: cancel, done: done}
	t.Cleanup(func() {
		h.stop(t)
		if t.Failed() {
			t.Logf("hotline logs:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			port := m[1] + m[2]
			h.base = "http://127.0.0.1:" + port
			if resp, err := http.Get(h.base + "/healthz"); err == nil && resp.StatusCode == 200 {
				resp.Body.Close()
				return h
			}
		}
		select {
		case err := <-done:
			h.once.Do(func() {})
			t.Fatalf("hotline exited at start: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hotline did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dataKeys is a fresh data key ring for one hotline.
func dataKeys(t *testing.T) string {
	spec, err := keyring.Generate("t1")
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func redisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379"
}

// post sends a signed SMS webhook and returns the status; usable from any goroutine.
func (h *hotline) post(sid, from, body string) int {
	form := url.Values{"MessageSid": {sid}, "AccountSid": {accountSID}, "From": {from}, "To": {hotlineNum},
		"Body": {body}, "NumMedia": {"0"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"}}
	req, _ := http.NewRequest("POST", h.base+"/webhooks/twilio/sms", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, h.public+"/webhooks/twilio/sms", form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// sms posts an inbound SMS webhook as Twilio would, signed or forged.
func (h *hotline) sms(t *testing.T, sid, from, body string, sign bool) *http.Response {
	t.Helper()
	form := url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "SmsMessageSid": {sid}, "AccountSid": {accountSID},
		"From": {from}, "To": {hotlineNum}, "Body": {body}, "NumMedia": {"0"}, "NumSegments": {"1"},
		"SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"}}
	req, _ := http.NewRequest("POST", h.base+"/webhooks/twilio/sms", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sign {
		req.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, h.public+"/webhooks/twilio/sms", form))
	} else {
		req.Header.Set("X-Twilio-Signature", twiliotest.Sign("not-the-token", h.public+"/webhooks/twilio/sms", form))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func sid(n int) string { return fmt.Sprintf("SM%032x", n) }

func (h *hotline) waitReplies(t *testing.T, n int) []twiliotest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msgs, err := h.twilio.WaitMessages(ctx, n)
	if err != nil {
		t.Fatalf("waiting for %d replies, got %d: %v", n, len(h.twilio.Messages()), err)
	}
	return msgs
}

// talk is one person's side of a conversation: each message gets a fresh provider
// ID, and its reply's parts are waited for and returned.
type talk struct {
	t       *testing.T
	h       *hotline
	base, n int // message IDs are base+n
	sent    int // reply parts the fake Twilio API should hold by now
}

// exchange sends one message through post (given its ID) and returns the text of the
// parts of its reply.
func (c *talk) exchange(post func(id string) int, text string, parts int) string {
	c.t.Helper()
	c.n++
	if code := post(sid(c.base + c.n)); code != 200 {
		c.t.Fatalf("%q: webhook %d", text, code)
	}
	c.sent += parts
	msgs := c.h.waitReplies(c.t, c.sent)
	var b strings.Builder
	for _, m := range msgs[c.sent-parts:] {
		b.WriteString(m.Body + "\n")
	}
	return b.String()
}

// sms is exchange by SMS from phone.
func (c *talk) sms(phone, text string, parts int) string {
	c.t.Helper()
	return c.exchange(func(id string) int { return c.h.post(id, phone, text) }, text, parts)
}

// settle gives a wrongly sent extra reply the time to show up before counting.
func (h *hotline) settle() { time.Sleep(500 * time.Millisecond) }

func TestSignedSMSGetsExactlyOneReply(t *testing.T) {
	h := startHotline(t, nil)
	if resp := h.sms(t, sid(1), "+15005550006", "hello", true); resp.StatusCode != 200 {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	msgs := h.waitReplies(t, 1)
	h.settle()
	if n := len(h.twilio.Messages()); n != 1 {
		t.Fatalf("%d replies, want 1", n)
	}
	m := msgs[0]
	if m.StatusCallback != h.public+"/webhooks/twilio/status?o=SM00000000000000000000000000000001%3A0&p=0" {
		t.Errorf("status callback %q", m.StatusCallback)
	}
	if m.To != "+15005550006" || m.From != hotlineNum || !strings.Contains(m.Body, "Choose your language") ||
		!strings.Contains(m.Body, "4 العربية") {
		t.Errorf("reply %+v", m)
	}
	// The logs never carry the number or the text.
	if logs := h.logs.String(); strings.Contains(logs, "5005550006") || strings.Contains(logs, "hello") {
		t.Errorf("logs carry personal data:\n%s", logs)
	}
}

func TestWrongSignatureIsRefusedAndNotAnswered(t *testing.T) {
	h := startHotline(t, nil)
	if resp := h.sms(t, sid(2), "+15005550007", "hello", false); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("webhook answered %d, want 403", resp.StatusCode)
	}
	h.settle()
	if n := len(h.twilio.Messages()); n != 0 {
		t.Fatalf("%d replies to a forged webhook", n)
	}
	metrics := get(t, h.base+"/metrics")
	if !strings.Contains(metrics, `hotline_webhook_rejections_total{channel="sms",reason="bad_signature"} 1`) {
		t.Errorf("rejection not counted:\n%s", grep(metrics, "rejections"))
	}
}

func TestRetriedMessageSidIsAnsweredOnce(t *testing.T) {
	h := startHotline(t, nil)
	for range 3 {
		if resp := h.sms(t, sid(3), "+15005550008", "hello", true); resp.StatusCode != 200 {
			t.Fatalf("webhook answered %d", resp.StatusCode)
		}
	}
	h.waitReplies(t, 1)
	h.settle()
	if n := len(h.twilio.Messages()); n != 1 {
		t.Fatalf("%d replies to one message sent three times, want 1", n)
	}
}

// TestBurstFromOneContactIsAnsweredInOrder sends 20 messages from one contact without
// waiting for answers; the replies must come in the order of the messages, as the same
// conversation played through the pure machine says.
func TestBurstFromOneContactIsAnsweredInOrder(t *testing.T) {
	h := startHotline(t, nil)
	inputs := []string{"hi"}
	for i := range 19 {
		if i%2 == 0 {
			inputs = append(inputs, fmt.Sprint(i/2%4+1)) // pick a language
		} else {
			inputs = append(inputs, "LANGUAGE")
		}
	}
	want := expectedReplies(t, inputs)
	for i, text := range inputs {
		if resp := h.sms(t, sid(100+i), "+15005550009", text, true); resp.StatusCode != 200 {
			t.Fatalf("message %d: webhook answered %d", i, resp.StatusCode)
		}
	}
	got := h.waitReplies(t, len(want))
	for i := range want {
		if got[i].Body != want[i] {
			t.Fatalf("reply %d:\n got %q\nwant %q", i, got[i].Body, want[i])
		}
	}
}

// expectedReplies plays a conversation through the machine, as the runner would.
func expectedReplies(t *testing.T, inputs []string) []string {
	b, err := locales.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := content.Parse(content.Shipped(), b.Languages())
	if err != nil {
		t.Fatal(err)
	}
	m := dialogs.NewMachine(b.Languages(), func() *content.Content { return c }, dialogs.DefaultAlertsFor)
	var s dialogs.Session
	var out []string
	for _, in := range inputs {
		var prompts []dialogs.Prompt
		s, prompts, _ = m.Step(s, dialogs.Event{Kind: dialogs.EventText, Text: in}, time.Now())
		s.Version++
		if o, ok := dialogs.Localize(b, s, prompts); ok {
			out = append(out, channels.RenderText(o)...)
		}
	}
	return out
}

// TestReplicasShareTheShards runs three processes of one deployment behind a round-robin
// balancer; one stops half-way, as on a rolling update, and hands its shards over.
// Every contact is still answered once per message, in order.
func TestReplicasShareTheShards(t *testing.T) {
	_, prefix := redistest.Single(t)
	tw := twiliotest.New(t, accountSID, authToken)
	key := make([]byte, 32)
	rand.Read(key)
	lk := base64.StdEncoding.EncodeToString(key)
	// One deployment: the same data keys in every process (a session sealed by one is
	// opened by another).
	fast := map[string]string{"HOTLINE_LEASE_TTL": "1s", "HOTLINE_DATA_KEYS": dataKeys(t)}
	procs := []*hotline{startWith(t, prefix, tw, lk, fast), startWith(t, prefix, tw, lk, fast), startWith(t, prefix, tw, lk, fast)}
	inputs := []string{"hi", "2", "LANGUAGE", "3", "LANGUAGE", "4"}
	want := expectedReplies(t, inputs)
	const contacts = 12
	phase := func(live []*hotline, from, to int) {
		var wg sync.WaitGroup
		for n := range contacts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := from; i < to; i++ {
					p := live[(n+i)%len(live)]
					if code := p.post(sid(1000+n*10+i), fmt.Sprintf("+1500555%04d", n), inputs[i]); code != 200 {
						t.Errorf("contact %d message %d: webhook answered %d", n, i, code)
					}
				}
			}()
		}
		wg.Wait()
	}
	phase(procs, 0, 3)
	procs[2].stop(t)
	phase(procs[:2], 3, len(inputs))
	all := procs[0].waitReplies(t, contacts*len(want))
	procs[0].settle()
	byContact := map[string][]string{}
	for _, m := range tw.Messages() {
		byContact[m.To] = append(byContact[m.To], m.Body)
	}
	if len(all) != contacts*len(want) || len(tw.Messages()) != contacts*len(want) {
		t.Errorf("%d replies, want %d", len(tw.Messages()), contacts*len(want))
	}
	for n := range contacts {
		got := byContact[fmt.Sprintf("+1500555%04d", n)]
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("contact %d: %d replies, not the conversation expected:\n%q", n, len(got), got)
		}
	}
}

func TestTalkToAPersonShowsInTheQueue(t *testing.T) {
	h := startHotline(t, nil)
	for i, text := range []string{"hola", "3", "4"} {
		h.sms(t, sid(200+i), "+15005550010", text, true)
		h.waitReplies(t, i+1)
	}
	// The queue effect runs after the commit and its answer comes back as a message.
	msgs := h.waitReplies(t, 4)
	if !strings.Contains(msgs[3].Body, "número 1 en la fila") {
		t.Errorf("position message: %q", msgs[3].Body)
	}
	req, _ := http.NewRequest("GET", h.base+"/api/queue", nil)
	req.Header.Set("Authorization", "Bearer ops-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"lang":"es"`) || strings.Contains(string(body), "5005550010") {
		t.Errorf("queue: %d %s", resp.StatusCode, body)
	}
	if resp, _ := http.Get(h.base + "/api/queue"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("queue without a token: %d, want 401", resp.StatusCode)
	}
	// Asking for help while waiting: the bot answers, and the person who will answer
	// reads both the question and what the bot said.
	h.sms(t, sid(203), "+15005550010", "AYUDA", true)
	h.waitReplies(t, 5)
	key := regexp.MustCompile(`"key":"([^"]+)"`).FindStringSubmatch(string(body))
	if key == nil {
		t.Fatalf("no key in the queue: %s", body)
	}
	var conv struct {
		Messages []struct{ From, Text string } `json:"messages"`
	}
	waitUntil(t, 10*time.Second, "the question and the bot's answer in the transcript", func() bool {
		_, b := apiCall(t, "GET", h.base+"/api/conversations/"+key[1]+"?operator=ana", "")
		return json.Unmarshal([]byte(b), &conv) == nil && len(conv.Messages) == 2
	})
	if m := conv.Messages; m[0].From != "" || m[0].Text != "AYUDA" || m[1].From != "bot" || !strings.Contains(m[1].Text, "Está esperando a una persona") {
		t.Errorf("transcript %+v", m)
	}
}

func TestBadInputGetsClearAnswers(t *testing.T) {
	h := startHotline(t, nil)
	cases := []struct {
		name string
		body string
		sig  string
		want int
	}{
		{"no signature", "MessageSid=" + sid(9) + "&From=%2B1&Body=x", "", http.StatusForbidden},
		{"unparsable body", "%zz", "x", http.StatusBadRequest},
		{"oversized body", "Body=" + strings.Repeat("a", 70<<10), "x", http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", h.base+"/webhooks/twilio/sms", strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c.sig != "" {
				req.Header.Set("X-Twilio-Signature", c.sig)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("status %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
	for _, path := range []string{"/webhooks/telegram", "/webhooks/twilio/whatsapp"} {
		req, _ := http.NewRequest("POST", h.base+path, strings.NewReader("x=1"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s, a channel that is off: %d, want 404", path, resp.StatusCode)
		}
	}
	if code := status(t, h.base+"/readyz"); code != 200 {
		t.Errorf("readyz %d", code)
	}
}

func TestSimulatorConversation(t *testing.T) {
	h := startHotline(t, map[string]string{"HOTLINE_SIMULATOR": "on"})
	contact := "sim-00112233445566ff"
	post := func(text string) {
		resp, err := http.Post(h.base+"/simulator/api/messages", "application/json",
			strings.NewReader(fmt.Sprintf(`{"contact":%q,"text":%q}`, contact, text)))
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("post %q: %v %v", text, resp.StatusCode, err)
		}
		resp.Body.Close()
	}
	post("مرحبا")
	post("4")
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := get(t, h.base+"/simulator/api/messages?contact="+contact+"&after=0")
		if strings.Contains(body, "القائمة الرئيسية") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Arabic menu in the simulator: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(h.twilio.Messages()); n != 0 {
		t.Errorf("simulator traffic reached Twilio: %d messages", n)
	}
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func status(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// whatsapp posts a signed WhatsApp webhook as Twilio would.
func (h *hotline) whatsapp(t *testing.T, form url.Values) int {
	t.Helper()
	req, _ := http.NewRequest("POST", h.base+"/webhooks/twilio/whatsapp", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, h.public+"/webhooks/twilio/whatsapp", form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestWhatsAppConversationWithAVoiceNote(t *testing.T) {
	const waFrom, contact = "whatsapp:+15005550001", "whatsapp:+218910000001"
	h := startHotline(t, map[string]string{"TWILIO_WHATSAPP_FROM": waFrom})
	base := func(sid string) url.Values {
		return url.Values{"MessageSid": {sid}, "AccountSid": {accountSID}, "From": {contact}, "To": {waFrom},
			"WaId": {"218910000001"}, "ProfileName": {"A"}, "NumMedia": {"0"}, "ApiVersion": {"2010-04-01"}}
	}
	hello := base(sid(300))
	hello.Set("Body", "مرحبا")
	if code := h.whatsapp(t, hello); code != 200 {
		t.Fatalf("webhook answered %d", code)
	}
	h.waitReplies(t, 1)
	pick := base(sid(301))
	pick.Set("Body", "4")
	h.whatsapp(t, pick)
	h.waitReplies(t, 2)
	voice := base(sid(302))
	voice.Set("MessageType", "audio")
	voice.Set("NumMedia", "1")
	voice.Set("MediaContentType0", "audio/ogg")
	voice.Set("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/"+accountSID+"/Messages/MM1/Media/ME1")
	h.whatsapp(t, voice)
	msgs := h.waitReplies(t, 3)
	for _, m := range msgs {
		if m.To != contact || m.From != waFrom {
			t.Errorf("reply went %s → %s, want %s → %s", m.From, m.To, waFrom, contact)
		}
	}
	if !strings.Contains(msgs[2].Body, "لا أستطيع سماع الرسائل الصوتية") || !strings.Contains(msgs[2].Body, "القائمة الرئيسية") {
		t.Errorf("voice note answer: %q", msgs[2].Body)
	}
	// An SMS sender must not be able to post to the WhatsApp webhook.
	sms := base(sid(303))
	sms.Set("From", "+15005550006")
	if code := h.whatsapp(t, sms); code != http.StatusBadRequest {
		t.Errorf("SMS address on the WhatsApp webhook: %d, want 400", code)
	}
}

func TestTelegramConversationWithButtons(t *testing.T) {
	const token, secret = "123456:TEST-token", "webhook-secret-0123456789"
	tg := telegramtest.New(t, token)
	h := startHotline(t, map[string]string{"TELEGRAM_BOT_TOKEN": token, "TELEGRAM_WEBHOOK_SECRET": secret,
		"TELEGRAM_API_URL": tg.URL()})
	post := func(body, sec string) int {
		req, _ := http.NewRequest("POST", h.base+"/webhooks/telegram", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sec != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", sec)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	start := `{"update_id":10000,"message":{"message_id":1,"date":1764212345,"from":{"id":1111111,"is_bot":false,"first_name":"A","language_code":"ar"},"chat":{"id":1111111,"type":"private"},"text":"/start"}}`
	if code := post(start, "wrong-secret-0123456789"); code != http.StatusForbidden {
		t.Fatalf("wrong secret: %d, want 403", code)
	}
	if code := post(start, secret); code != 200 {
		t.Fatalf("start: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msgs, err := tg.WaitMessages(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	// The language is asked, never guessed from language_code; each option is a button.
	if msgs[0].ChatID != "1111111" || !strings.Contains(msgs[0].Text, "Choose your language") ||
		!strings.Contains(msgs[0].ReplyMarkup, `"callback_data":"4"`) {
		t.Fatalf("first reply %+v", msgs[0])
	}
	press := `{"update_id":10001,"callback_query":{"id":"4382bfdwdsb323b2d9","chat_instance":"-7","from":{"id":1111111,"is_bot":false,"first_name":"A"},"message":{"message_id":2,"date":1764212350,"chat":{"id":1111111,"type":"private"},"text":"…"},"data":"4"}}`
	if code := post(press, secret); code != 200 {
		t.Fatalf("button: %d", code)
	}
	msgs, err = tg.WaitMessages(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msgs[1].Text, "القائمة الرئيسية") {
		t.Errorf("after the Arabic button: %q", msgs[1].Text)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(tg.Callbacks()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if cb := tg.Callbacks(); len(cb) != 1 || cb[0] != "4382bfdwdsb323b2d9" {
		t.Errorf("answered callbacks %v", cb)
	}
	// Telegram retries an update it thinks failed: the same update_id is handled once.
	post(press, secret)
	time.Sleep(300 * time.Millisecond)
	if n := len(tg.Messages()); n != 2 {
		t.Errorf("%d messages after a retried update, want 2", n)
	}
	// On to the language menu by a typed number (buttons are not the only way), and
	// back to the main menu with the Arabic BACK.
	typed := `{"update_id":10002,"message":{"message_id":3,"date":1764212360,"from":{"id":1111111,"is_bot":false,"first_name":"A"},"chat":{"id":1111111,"type":"private"},"text":"٦"}}`
	back := `{"update_id":10003,"message":{"message_id":4,"date":1764212370,"from":{"id":1111111,"is_bot":false,"first_name":"A"},"chat":{"id":1111111,"type":"private"},"text":"رجوع"}}`
	post(typed, secret)
	post(back, secret)
	if msgs, err = tg.WaitMessages(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msgs[2].Text, "Choose your language") || !strings.Contains(msgs[3].Text, "القائمة الرئيسية") ||
		!strings.Contains(msgs[3].ReplyMarkup, `"callback_data":"1"`) {
		t.Errorf("language menu and back:\n%q\n%q", msgs[2].Text, msgs[3].Text)
	}
	// Route information: the routes as buttons, in Arabic; a section, then its buttons
	// again under one short line.
	route := `{"update_id":10004,"message":{"message_id":5,"date":1764212380,"from":{"id":1111111,"is_bot":false,"first_name":"A"},"chat":{"id":1111111,"type":"private"},"text":"٥"}}`
	first := `{"update_id":10005,"callback_query":{"id":"cb2","chat_instance":"-7","from":{"id":1111111,"is_bot":false,"first_name":"A"},"message":{"message_id":6,"date":1764212390,"chat":{"id":1111111,"type":"private"},"text":"…"},"data":"1"}}`
	dangers := `{"update_id":10006,"callback_query":{"id":"cb3","chat_instance":"-7","from":{"id":1111111,"is_bot":false,"first_name":"A"},"message":{"message_id":7,"date":1764212400,"chat":{"id":1111111,"type":"private"},"text":"…"},"data":"1"}}`
	for _, u := range []string{route, first, dangers} {
		post(u, secret)
		time.Sleep(1100 * time.Millisecond) // a chat's messages go a second apart
	}
	if msgs, err = tg.WaitMessages(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msgs[4].Text, "ما طريقك") || !strings.Contains(msgs[4].ReplyMarkup, "وسط المتوسط") ||
		!strings.Contains(msgs[4].ReplyMarkup, `"callback_data":"9"`) {
		t.Errorf("route menu: %q %s", msgs[4].Text, msgs[4].ReplyMarkup)
	}
	if last := msgs[len(msgs)-1]; !strings.Contains(last.Text, "أرسل رقماً آخر (1-7)") || !strings.Contains(last.ReplyMarkup, `"callback_data":"7"`) {
		t.Errorf("after a section: %q %s", last.Text, last.ReplyMarkup)
	}
}

func TestTelegramWebhookCommands(t *testing.T) {
	const token = "123456:TEST-token"
	tg := telegramtest.New(t, token)
	env := map[string]string{"TELEGRAM_BOT_TOKEN": token, "TELEGRAM_WEBHOOK_SECRET": "webhook-secret-0123456789",
		"TELEGRAM_API_URL": tg.URL(), "HOTLINE_PUBLIC_URL": "https://hotline.example.org",
		"HOTLINE_DATA_DIR": t.TempDir()}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"hotline", "telegram", "set-webhook"}, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	wh := tg.Webhook()
	if wh.URL != "https://hotline.example.org/webhooks/telegram" || wh.SecretToken != env["TELEGRAM_WEBHOOK_SECRET"] ||
		!strings.Contains(wh.AllowedUpdates, "callback_query") {
		t.Errorf("webhook set to %+v", wh)
	}
	out.Reset()
	if err := run(context.Background(), []string{"hotline", "telegram", "webhook-info"}, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"url": "https://hotline.example.org/webhooks/telegram"`) || strings.Contains(out.String(), "secret") {
		t.Errorf("webhook-info printed %s", out.String())
	}
	env["HOTLINE_PUBLIC_URL"] = "http://localhost:8080"
	if err := run(context.Background(), []string{"hotline", "telegram", "set-webhook"}, func(k string) string { return env[k] }, &out, io.Discard); err == nil {
		t.Error("set-webhook accepted a plain-HTTP public URL")
	}
}

// testClock is the real time moved on by what the test says has passed.
type testClock struct{ skip atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.skip.Load())) }
func (c *testClock) advance(d time.Duration) { c.skip.Add(int64(d)) }

// TestWhatsAppWindowHoldsRepliesUntilTheContactWrites lives through a day on a moved
// clock: a reply that finds the contact's 24-hour window closed is not sent as free
// text; the approved template goes instead, and the contact's answer brings the reply,
// then the conversation goes on to the main menu and back.
func TestWhatsAppWindowHoldsRepliesUntilTheContactWrites(t *testing.T) {
	const waFrom, contact = "whatsapp:+15005550001", "whatsapp:+33612345678"
	const tplEN, tplFR = "HX0123456789abcdef0123456789abcdef", "HXfedcba9876543210fedcba9876543210"
	clock := &testClock{}
	_, prefix := redistest.Single(t)
	tw := twiliotest.New(t, accountSID, authToken)
	key := make([]byte, 32)
	rand.Read(key)
	h := startAt(t, prefix, tw, base64.StdEncoding.EncodeToString(key), map[string]string{
		"TWILIO_WHATSAPP_FROM": waFrom, "TWILIO_WHATSAPP_TEMPLATE_SID": "en:" + tplEN + ",fr:" + tplFR}, clock.now)
	n := 400
	say := func(text string) {
		t.Helper()
		n++
		form := url.Values{"MessageSid": {sid(n)}, "AccountSid": {accountSID}, "From": {contact}, "To": {waFrom},
			"Body": {text}, "WaId": {"33612345678"}, "NumMedia": {"0"}, "ApiVersion": {"2010-04-01"}}
		if code := h.whatsapp(t, form); code != 200 {
			t.Fatalf("webhook answered %d", code)
		}
	}
	say("bonjour")
	h.waitReplies(t, 1)
	say("2") // Français
	h.waitReplies(t, 2)

	// Twilio is throttling when the next message comes in, and a day passes before
	// the reply can go: it must not go as free text. (Whether the send fails first or
	// the template meets the 429, the end is the same.)
	tw.FailNext(twiliotest.Failure{Status: 429, Code: 20429, Message: "Too Many Requests", RetryAfter: "1"})
	say("4") // "talk to a person"
	clock.advance(25 * time.Hour)
	msgs := h.waitReplies(t, 3)
	h.settle()
	if msgs = tw.Messages(); len(msgs) != 3 || msgs[2].ContentSid != tplFR || msgs[2].Body != "" {
		t.Fatalf("after the window closed: %d messages, last %+v; want only the French template", len(msgs), msgs[len(msgs)-1])
	}

	// The contact taps the template's button: the held replies come, in order (the
	// answer, then their place in the queue, which was held behind it), and "ok" is
	// kept for the person who will answer, not answered by the bot.
	say("ok")
	msgs = h.waitReplies(t, 5)
	h.settle()
	if msgs = tw.Messages(); len(msgs) != 5 || !strings.Contains(msgs[3].Body, "parler à une personne") ||
		!strings.Contains(msgs[4].Body, "numéro 1") {
		t.Fatalf("after the contact wrote: %d messages; want the two held replies alone:\n%s", len(msgs), bodies(msgs))
	}
	say("MENU")
	h.waitReplies(t, 6)
	say("5")
	h.waitReplies(t, 7)
	say("RETOUR")
	msgs = h.waitReplies(t, 8)
	if !strings.Contains(msgs[5].Body, "Menu principal") || !strings.Contains(msgs[7].Body, "Menu principal") {
		t.Errorf("menu and back:\n%s", bodies(msgs))
	}
	for i, m := range msgs {
		if i != 2 && (m.Body == "" || m.ContentSid != "") {
			t.Errorf("message %d: body %q template %q; only the third is a template", i, m.Body, m.ContentSid)
		}
	}
	metrics := get(t, h.base+"/metrics")
	for _, want := range []string{`outcome="held"} 2`, `outcome="template"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func bodies(msgs []twiliotest.Message) string {
	var b strings.Builder
	for i, m := range msgs {
		fmt.Fprintf(&b, "%d: %q %s\n", i, m.Body, m.ContentSid)
	}
	return b.String()
}
