package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
	"github.com/hotline-org/hotline/dialogs"
)

var update = flag.Bool("update", false, "rewrite the golden call scripts in testdata/calls")

const operatorNum = "+15005550500"

// caller plays a call as Twilio does: it posts the call, reads the TwiML, and follows
// it where the script says — keys pressed into the <Gather>'s action, silence into the
// <Redirect>, the end of a <Dial> into its action — signing every request.
type caller struct {
	t     *testing.T
	h     *hotline
	sid   string
	from  string
	doc   node // the last TwiML
	out   *strings.Builder
	calls int // calls made after the first
	// ref is the last case reference the call heard, compact; the scripts show it as
	// "R, E, F" since it is drawn at random.
	ref string
}

// spelledRef is a case reference read out on a call: "H, K, 7. Q, M, 4. X, T, N, 9".
var spelledRef = regexp.MustCompile(`([2-9A-Z]), ([2-9A-Z]), ([2-9A-Z])\. ([2-9A-Z]), ([2-9A-Z]), ([2-9A-Z])\. ([2-9A-Z]), ([2-9A-Z]), ([2-9A-Z]), ([2-9A-Z])`)

// node is a TwiML element, parsed.
type node struct {
	Name  string
	Attrs map[string]string
	Text  string
	Kids  []node
}

func (n *node) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	n.Name = start.Name.Local
	n.Attrs = map[string]string{}
	for _, a := range start.Attr {
		n.Attrs[a.Name.Local] = a.Value
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tt := tok.(type) {
		case xml.StartElement:
			var k node
			if err := k.UnmarshalXML(d, tt); err != nil {
				return err
			}
			n.Kids = append(n.Kids, k)
		case xml.CharData:
			n.Text += string(tt)
		case xml.EndElement:
			n.Text = strings.TrimSpace(n.Text)
			return nil
		}
	}
}

// find returns the first element called name, depth first.
func (n node) find(name string) (node, bool) {
	if n.Name == name {
		return n, true
	}
	for _, k := range n.Kids {
		if f, ok := k.find(name); ok {
			return f, true
		}
	}
	return node{}, false
}

// write prints the TwiML normalised: one verb a line, attributes sorted, the public
// base left out of URLs (attribute order in twilio-go's output is a map's).
func (n node) write(b *strings.Builder, public, indent string) {
	var attrs []string
	for k, v := range n.Attrs {
		attrs = append(attrs, k+"="+strings.TrimPrefix(v, public))
	}
	sort.Strings(attrs)
	line := indent + n.Name
	if len(attrs) > 0 {
		line += " " + strings.Join(attrs, " ")
	}
	if n.Text != "" {
		// A spoken text's lines on one line of the script.
		line += ": " + strings.ReplaceAll(strings.TrimPrefix(n.Text, public), "\n", " / ")
	}
	b.WriteString("< " + line + "\n")
	for _, k := range n.Kids {
		k.write(b, public, indent+"  ")
	}
}

func (c *caller) post(u string, form url.Values) {
	c.t.Helper()
	form.Set("CallSid", c.sid)
	form.Set("From", c.from)
	form.Set("To", hotlineNum)
	form.Set("Direction", "inbound")
	c.doc = c.send(u, form)
}

// send posts a signed request as Twilio does, and writes the TwiML answered.
func (c *caller) send(u string, form url.Values) node {
	c.t.Helper()
	form.Set("AccountSid", accountSID)
	form.Set("ApiVersion", "2010-04-01")
	req, _ := http.NewRequest("POST", strings.Replace(u, c.h.public, c.h.base, 1), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, u, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("POST %s: %d %s", u, resp.StatusCode, body)
	}
	var doc node
	if err := xml.Unmarshal(body, &doc); err != nil {
		c.t.Fatalf("TwiML: %v\n%s", err, body)
	}
	if m := spelledRef.FindStringSubmatch(string(body)); m != nil {
		if ref := strings.Join(m[1:], ""); c.ref != "" && ref != c.ref {
			c.t.Errorf("the call heard reference %s, then %s", c.ref, ref)
		} else {
			c.ref = ref
		}
	}
	var b strings.Builder
	doc.write(&b, c.h.public, "")
	c.out.WriteString(spelledRef.ReplaceAllString(b.String(), "R, E, F. R, E, F. R, E, F, ?"))
	return doc
}

// screen posts a request of the operator's leg of the call (its own CallSid, the
// caller's as its parent).
func (c *caller) screen(u string, form url.Values) node {
	c.t.Helper()
	form.Set("CallSid", "CA"+strings.Repeat("e", 32))
	form.Set("ParentCallSid", c.sid)
	form.Set("To", operatorNum)
	return c.send(u, form)
}

// hangup reports the call's end as Twilio does, and waits until the hotline kept the
// unfinished report for the caller's return.
func (c *caller) hangup() {
	c.t.Helper()
	form := url.Values{"CallSid": {c.sid}, "From": {c.from}, "CallStatus": {"completed"}, "CallDuration": {"95"}, "AccountSid": {accountSID}}
	req, _ := http.NewRequest("POST", c.h.base+"/webhooks/twilio/voice/status", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, c.h.public+"/webhooks/twilio/voice/status", form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		c.t.Fatalf("status callback: %v %v", resp, err)
	}
	resp.Body.Close()
	opt, err := redis.ParseURL(redisURL())
	if err != nil {
		c.t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	key := c.h.env["HOTLINE_REDIS_PREFIX"] + "resume:" + c.h.contactHash(channels.Voice, "caller:"+c.from)
	waitUntil(c.t, 10*time.Second, "the unfinished report kept", func() bool {
		n, _ := rdb.Exists(context.Background(), key).Result()
		return n == 1
	})
}

// step plays one script line.
func (c *caller) step(line string) {
	c.t.Helper()
	c.out.WriteString(line + "\n")
	action := func(verb string) string {
		n, ok := c.doc.find(verb)
		if !ok {
			c.t.Fatalf("%q: the last answer has no <%s>", line, verb)
		}
		u := n.Attrs["action"]
		if verb == "Redirect" {
			u = n.Text
		}
		return u
	}
	switch {
	case line == "@call":
		c.post(c.h.public+"/webhooks/twilio/voice", url.Values{"CallStatus": {"ringing"}})
	case line == "@hangup":
		// The caller hangs up: Twilio reports the call's end.
		c.hangup()
	case strings.HasPrefix(line, "@call again"):
		// Another call a moment later, from the same number or from the one given.
		c.calls++
		c.sid = fmt.Sprintf("CA%s%04x", c.sid[2:30], c.calls)
		if from, ok := strings.CutPrefix(line, "@call again from "); ok {
			c.from = from
		}
		c.post(c.h.public+"/webhooks/twilio/voice", url.Values{"CallStatus": {"ringing"}})
	case line == "> say the reference":
		// As speech recognition writes it: letters in lower case, digits as words.
		var words []string
		for _, r := range c.ref {
			if r >= '2' && r <= '9' {
				words = append(words, []string{"two", "three", "four", "five", "six", "seven", "eight", "nine"}[r-'2'])
			} else {
				words = append(words, strings.ToLower(string(r)))
			}
		}
		c.post(action("Gather"), url.Values{"CallStatus": {"in-progress"}, "SpeechResult": {strings.Join(words, " ") + "."}, "Confidence": {"0.8"}})
	case line == "> silence":
		c.post(action("Redirect"), url.Values{"CallStatus": {"in-progress"}})
	case line == "> operator takes" || line == "> voicemail":
		// The operator's leg: screened; a person presses 1, a voicemail does not.
		num, ok := c.doc.find("Number")
		if !ok {
			c.t.Fatalf("%q: the call is not being put through", line)
		}
		leg := c.screen(num.Attrs["url"], url.Values{})
		if line == "> operator takes" {
			g, ok := leg.find("Gather")
			if !ok {
				c.t.Fatalf("the operator is not asked for a key")
			}
			c.screen(g.Attrs["action"], url.Values{"Digits": {"1"}})
		}
	case line == "> record":
		c.post(action("Record"), url.Values{"CallStatus": {"in-progress"}, "RecordingUrl": {"https://api.twilio.com/2010-04-01/Accounts/" + accountSID + "/Recordings/RE" + strings.Repeat("0", 32)},
			"RecordingSid": {"RE" + strings.Repeat("0", 32)}, "RecordingDuration": {"14"}, "Digits": {"#"}})
	case strings.HasPrefix(line, "> dial "):
		c.post(action("Dial"), url.Values{"CallStatus": {"in-progress"}, "DialCallStatus": {strings.TrimPrefix(line, "> dial ")}})
	case strings.HasPrefix(line, "> say "):
		c.post(action("Gather"), url.Values{"CallStatus": {"in-progress"}, "SpeechResult": {strings.TrimPrefix(line, "> say ")}, "Confidence": {"0.9"}})
	case strings.HasPrefix(line, "> "):
		c.post(action("Gather"), url.Values{"CallStatus": {"in-progress"}, "Digits": {strings.TrimPrefix(line, "> ")}})
	}
}

// TestCallScripts plays each call in testdata/calls against the running hotline and
// compares what Twilio would be told, turn by turn, with the script (run with -update
// to rewrite them, then read the diff). Lines: @call starts the call; "> 2" presses
// keys; "> say words" speaks; "> silence" lets the gather time out; "> operator takes"
// and "> voicemail" pick up the call put through (a person presses the key, a
// voicemail does not); "> dial completed" ends that call; "< …" is the TwiML answered,
// normalised.
func TestCallScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/calls/*.txt")
	if len(files) == 0 {
		t.Fatal("no call scripts")
	}
	h := startHotline(t, map[string]string{"HOTLINE_OPERATOR_NUMBER": operatorNum})
	// Scripts that say @night play against a hotline whose operators are off duty: its
	// clock says noon, they work one minute after midnight.
	night := startAtNight(t)
	for i, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			hl := h
			if strings.Contains(string(raw), "\n@night\n") {
				hl = night
			}
			c := &caller{t: t, h: hl, sid: fmt.Sprintf("CA%032x", 1000+i), from: fmt.Sprintf("+1555000%04d", i), out: &out}
			t.Cleanup(func() {
				if *update && t.Failed() {
					// Where the call went wrong, to read.
					_ = os.WriteFile(file+".failed", []byte(out.String()), 0o644)
				}
			})
			for _, line := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
				if strings.HasPrefix(line, "< ") {
					continue
				}
				c.step(line)
			}
			if *update {
				if err := os.WriteFile(file, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got := out.String(); got != string(raw) {
				t.Errorf("call differs (run go test ./cmd/hotline -run TestCallScripts -update and read the diff):\n%s", diffCall(string(raw), got))
			}
		})
	}
	// The message left at night waits for the team in the queue.
	waitUntil(t, 10*time.Second, "the recorded message in the queue", func() bool {
		_, r := apiCall(t, "GET", night.base+"/api/queue", "")
		return strings.Contains(r, `"channel":"voice"`) && strings.Contains(r, `"messages_since":1`)
	})
	// Listened to and dealt with: off the list.
	_, r := apiCall(t, "GET", night.base+"/api/queue", "")
	m := regexp.MustCompile(`"key":"(voice:[0-9a-f]+:voicemail)"`).FindStringSubmatch(r)
	if m == nil {
		t.Fatalf("no voicemail key in %s", r)
	}
	if code, body := apiCall(t, "POST", night.base+"/api/voicemail/"+m[1]+"/done", `{"operator":"ana"}`); code != 200 {
		t.Errorf("voicemail done: %d %s", code, body)
	}
	if _, r := apiCall(t, "GET", night.base+"/api/queue", ""); strings.Contains(r, m[1]) {
		t.Errorf("a voicemail dealt with still waits: %s", r)
	}
	if code, _ := apiCall(t, "POST", night.base+"/api/voicemail/sms:abc/done", `{"operator":"ana"}`); code != 404 {
		t.Errorf("done on something that is not a voicemail: %d, want 404", code)
	}
}

func diffCall(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, a, b)
		}
	}
	return ""
}

// TestVoiceEdges: a forged request is refused; Twilio asking again for a turn gets the
// same answer and the keys are not taken twice; a turn of a call the hotline does not
// know starts a fresh, polite call; a caller who hangs up while waiting for a person
// leaves the queue.
func TestVoiceEdges(t *testing.T) {
	h := startHotline(t, map[string]string{"HOTLINE_OPERATOR_NUMBER": operatorNum})
	var out strings.Builder
	c := &caller{t: t, h: h, sid: fmt.Sprintf("CA%032x", 77), from: "+15550001111", out: &out}

	// Forged.
	form := url.Values{"CallSid": {c.sid}, "From": {c.from}, "To": {hotlineNum}, "AccountSid": {accountSID}}
	req, _ := http.NewRequest("POST", h.base+"/webhooks/twilio/voice", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign("not-the-token", h.public+"/webhooks/twilio/voice", form))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("forged call: %v %v, want 403", resp, err)
	}
	// The signature covers the query string: the turn cannot be changed.
	c.step("@call")
	gather, _ := c.doc.find("Gather")
	signed := gather.Attrs["action"]
	form = url.Values{"CallSid": {c.sid}, "Digits": {"1"}}
	req, _ = http.NewRequest("POST", strings.Replace(strings.Replace(signed, "t=2", "t=9", 1), h.public, h.base, 1), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, signed, form))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("turn changed after signing: %v %v, want 403", resp, err)
	}

	// English, then the same turn asked again: the same answer, the key taken once.
	c.step("> 1")
	first := out.String()
	out.Reset()
	c.post(signed, url.Values{"Digits": {"1"}})
	if again := out.String(); !strings.Contains(first, strings.TrimPrefix(again, "> 1\n")) {
		t.Errorf("a retried turn answered differently:\nfirst:\n%s\nagain:\n%s", first, again)
	}
	if !strings.Contains(out.String(), "Main menu.") {
		t.Errorf("after English, want the main menu:\n%s", out.String())
	}
	// Without the kept answer too (it expired, or Redis lost it): the session knows the
	// turn was taken, and says the main menu again rather than take "1" as danger.
	opt, err := redis.ParseURL(redisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	cached := h.env["HOTLINE_REDIS_PREFIX"] + "voice:" + h.contactHash(channels.Voice, c.sid) + ":2"
	if raw, err := rdb.Get(context.Background(), cached).Result(); err != nil || strings.Contains(raw, "Main menu") {
		t.Errorf("the kept answer is not there, or not sealed: %v %.40q", err, raw)
	}
	if err := rdb.Del(context.Background(), cached).Err(); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	c.post(signed, url.Values{"Digits": {"1"}})
	if got := out.String(); !strings.Contains(got, "Main menu.") || strings.Contains(got, "Dial") {
		t.Errorf("a retried turn without its kept answer:\n%s", got)
	}

	// Ask for a person, then hang up while it rings: out of the queue.
	out.Reset()
	c.step("> 0")
	if _, ok := c.doc.find("Dial"); !ok {
		t.Fatalf("0 did not put the call through:\n%s", out.String())
	}
	queue := func() string { _, r := apiCall(t, "GET", h.base+"/api/queue", ""); return r }
	waitUntil(t, 10*time.Second, "in the queue", func() bool { return strings.Contains(queue(), `"position":1`) })
	status := url.Values{"CallSid": {c.sid}, "CallStatus": {"completed"}, "CallDuration": {"40"}, "AccountSid": {accountSID}}
	req, _ = http.NewRequest("POST", h.base+"/webhooks/twilio/voice/status", strings.NewReader(status.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, h.public+"/webhooks/twilio/voice/status", status))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status callback: %v %v", resp, err)
	}
	waitUntil(t, 10*time.Second, "out of the queue", func() bool { return !strings.Contains(queue(), `"position"`) })

	// A turn of a call the hotline never saw (its session lost): greeted afresh, the key
	// not taken as an answer to a question the caller never heard.
	out.Reset()
	lost := &caller{t: t, h: h, sid: fmt.Sprintf("CA%032x", 78), from: "+15550002222", out: &out}
	lost.post(h.public+"/webhooks/twilio/voice?ev=gather&l=fr&t=6", url.Values{"Digits": {"2"}})
	if got := out.String(); !strings.Contains(got, "Hello. This is the hotline.") || !strings.Contains(got, "Choose your language") {
		t.Errorf("unknown call mid-way:\n%s", got)
	}
}

// TestVoiceWhenRedisIsAway: the hotline cannot reach Redis; a call still hears what to
// do in danger, in its language when the turn's URL says it, and is put through to the
// fallback number.
func TestVoiceWhenRedisIsAway(t *testing.T) {
	h := startHotline(t, map[string]string{"REDIS_URL": "redis://127.0.0.1:1", "HOTLINE_FALLBACK_NUMBER": "+15005550911",
		"HOTLINE_OPERATOR_NUMBER": operatorNum})
	var out strings.Builder
	c := &caller{t: t, h: h, sid: fmt.Sprintf("CA%032x", 79), from: "+15550003333", out: &out}
	c.post(h.public+"/webhooks/twilio/voice?ev=gather&l=fr&t=3", url.Values{"Digits": {"1"}})
	got := out.String()
	if !strings.Contains(got, "Say language=fr-FR") || !strings.Contains(got, "appelez le 1 1 2") ||
		!strings.Contains(got, "timeout=30: +15005550911") {
		t.Errorf("degraded answer:\n%s", got)
	}
	out.Reset()
	c.post(h.public+"/webhooks/twilio/voice", url.Values{"CallStatus": {"ringing"}})
	if got := out.String(); !strings.Contains(got, "call 1 1 2 now") || !strings.Contains(got, "+15005550911") {
		t.Errorf("new call while Redis is away:\n%s", got)
	}
}

// TestVoiceWhenRedisHangs: a Redis that takes connections and never answers (a network
// that drops packets) must not hold a call past Twilio's patience: the fallback answer
// comes within the turn's deadline, not after the client's retries.
func TestVoiceWhenRedisHangs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	h := startHotline(t, map[string]string{"REDIS_URL": "redis://" + ln.Addr().String(), "HOTLINE_FALLBACK_NUMBER": "+15005550911"})
	var out strings.Builder
	c := &caller{t: t, h: h, sid: fmt.Sprintf("CA%032x", 80), from: "+15550004444", out: &out}
	start := time.Now()
	c.post(h.public+"/webhooks/twilio/voice?ev=gather&l=es&t=2", url.Values{"Digits": {"2"}})
	if took := time.Since(start); took > 5*time.Second || !strings.Contains(out.String(), "+15005550911") {
		t.Errorf("answered in %v (Twilio gives up at 15 s):\n%s", took, out.String())
	}
}

// startAtNight runs a hotline whose operators are off duty: its clock runs at noon
// (UTC), they work one minute after midnight.
func startAtNight(t *testing.T) *hotline {
	t.Helper()
	_, prefix := redistest.Single(t)
	now := time.Now()
	shift := now.UTC().Truncate(24 * time.Hour).Add(12 * time.Hour).Sub(now)
	key := make([]byte, 32)
	rand.Read(key)
	return startAt(t, prefix, twiliotest.New(t, accountSID, authToken), base64.StdEncoding.EncodeToString(key),
		map[string]string{"HOTLINE_OPERATOR_NUMBER": operatorNum, "HOTLINE_HOURS": "Mon-Sun 00:00-00:01 UTC"},
		func() time.Time { return time.Now().Add(shift) })
}

// TestVoiceNightDistressMessage: in danger at night, the caller records a message and
// hangs up before the hotline has answered it (the recording and the call's end come
// apart): the message waits for the team as a distress entry, and stays when the
// call's end takes the call out of the queue.
func TestVoiceNightDistressMessage(t *testing.T) {
	h := startAtNight(t)
	var out strings.Builder
	c := &caller{t: t, h: h, sid: fmt.Sprintf("CA%032x", 81), from: "+15550005555", out: &out}
	for _, l := range []string{"@call", "> 1", "> 1", "> 1"} {
		c.step(l)
	}
	if _, ok := c.doc.find("Record"); !ok {
		t.Fatalf("danger at night, 1 for a message: no recording\n%s", out.String())
	}
	status := url.Values{"CallSid": {c.sid}, "CallStatus": {"completed"}, "AccountSid": {accountSID}}
	req, _ := http.NewRequest("POST", h.base+"/webhooks/twilio/voice/status", strings.NewReader(status.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, h.public+"/webhooks/twilio/voice/status", status))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status callback: %v %v", resp, err)
	}
	c.step("> record")
	waitUntil(t, 10*time.Second, "the message in the queue, as a distress call", func() bool {
		_, r := apiCall(t, "GET", h.base+"/api/queue", "")
		return strings.Contains(r, `"priority":0`) && strings.Contains(r, `"messages_since":1`)
	})
}

// silentMP3 is one frame of an MP3 (MPEG-1 layer III, 128 kbit/s, 44.1 kHz): its
// header, and silence.
func silentMP3() []byte {
	frame := make([]byte, 417)
	copy(frame, []byte{0xFF, 0xFB, 0x90, 0x64})
	return frame
}

// TestRecordedPrompts: a recording put in the content folder is served to Twilio at
// /audio/<lang>/<file> (and nothing else is, whatever the path), and a call plays it
// in place of the text-to-speech it replaces.
func TestRecordedPrompts(t *testing.T) {
	dir := t.TempDir()
	clip := silentMP3()
	if err := os.MkdirAll(filepath.Join(dir, "audio", "fr"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "audio", "fr", "voice.welcome.mp3"), clip, 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHotline(t, map[string]string{"HOTLINE_CONTENT_DIR": dir})

	get := func(method, path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, h.base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get("GET", "/audio/fr/voice.welcome.mp3")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/mpeg" || string(body) != string(clip) ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") {
		t.Errorf("GET the recording: %d %v, %d bytes", resp.StatusCode, resp.Header, len(body))
	}
	if resp, body := get("HEAD", "/audio/fr/voice.welcome.mp3"); resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(clip)) {
		t.Errorf("HEAD the recording: %d, length %d, %d bytes", resp.StatusCode, resp.ContentLength, len(body))
	}
	for _, path := range []string{"/audio/fr/../x", "/audio/fr/..%2Fvoice.welcome.mp3", "/audio/xx/none.mp3", "/audio/fr/welcome.mp3",
		"/audio/fr/voice.welcome.ogg", "/audio/..%2F..%2Fetc/passwd.mp3", "/audio/fr/"} {
		if resp, _ := get("GET", path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}

	var out strings.Builder
	c := &caller{t: t, h: h, sid: fmt.Sprintf("CA%032x", 78), from: "+15550001112", out: &out}
	c.step("@call")
	gather, _ := c.doc.find("Gather")
	var said []string
	for _, k := range gather.Kids {
		said = append(said, k.Name+" "+k.Attrs["language"]+" "+k.Text)
	}
	got := strings.Join(said, "\n")
	if want := "Play  https://hotline.example.org/audio/fr/voice.welcome.mp3"; len(said) < 2 || said[1] != want {
		t.Errorf("the French greeting: want %q second, got\n%s", want, got)
	}
	if strings.Contains(got, "Bonjour") || !strings.Contains(got, "Say en-GB Hello.") || !strings.Contains(got, "Say fr-FR Choisissez votre langue") {
		t.Errorf("only the French greeting is replaced:\n%s", got)
	}
}

// contactHash is the keyed hash that names a contact's keys in this hotline's Redis.
func (h *hotline) contactHash(ch channels.Channel, contact string) string {
	key, err := base64.StdEncoding.DecodeString(h.env["HOTLINE_LOOKUP_KEY"])
	if err != nil {
		panic(err)
	}
	return channels.ContactHasher(key)(ch, contact)
}

// TestVoiceReportReachesTheFamily: a report made by phone keeps the number the family
// called from (the tracing team calls back on it, not on the call), an answer recorded
// instead of said is kept as the recording's address, and a DELETE sent by SMS from
// that number erases the report; the logs hold none of it.
func TestVoiceReportReachesTheFamily(t *testing.T) {
	const from = "+15005550042"
	h := startHotline(t, map[string]string{"HOTLINE_OPERATOR_NUMBER": operatorNum})
	var out strings.Builder
	c := &caller{t: t, h: h, sid: fmt.Sprintf("CA%032x", 81), from: from, out: &out}
	lines := []string{"@call", "> 1", "> 2", "> 1", "> 1", "> say Amina Keita", "> say His sister.", "> say Yes, evenings.",
		"> 3", "> record"}
	// The rest skipped: 2 at words, dates and numbers; "I don't know" at the two choices.
	for _, q := range dialogs.ReportFields()[4:] {
		switch q {
		case "m_sex":
			lines = append(lines, "> 3")
		case "j_circumstances":
			lines = append(lines, "> 5")
		default:
			lines = append(lines, "> 2")
		}
	}
	lines = append(lines, "> 1")
	for _, l := range lines {
		c.step(l)
	}
	if c.ref == "" {
		t.Fatalf("no reference heard:\n%s", out.String())
	}
	r, err := ref.Parse(c.ref)
	if err != nil {
		t.Fatal(err)
	}
	reg := h.register(t)
	var got cases.Case
	waitUntil(t, 10*time.Second, "the report in the register", func() bool {
		got, err = reg.Read(context.Background(), r.Compact(), "test:e2e", "check the report")
		return err == nil
	})
	d := got.Details
	if d.Contact != from || d.Enquirer.Name != "Amina Keita" || !strings.HasPrefix(d.Missing.Names, cases.Recorded+"https://api.twilio.com/") ||
		d.Missing.Sex != cases.DontKnow || d.Missing.Birth != "" || got.Channel != "voice" || got.Nationality != "" {
		t.Errorf("case from a call: %+v", got)
	}

	conv := &talk{t: t, h: h, base: 9000}
	if got := conv.sms(from, "DELETE", 1); !strings.Contains(got, "It cannot be undone") {
		t.Fatalf("delete: %q", got)
	}
	if got := conv.sms(from, "1", 1); !strings.Contains(got, "Cases erased: 1") {
		t.Fatalf("erased by SMS from the number that called: %q", got)
	}
	if got, err = reg.Read(context.Background(), r.Compact(), "test:e2e", "check the erasure"); err != nil || got.Reduced.IsZero() {
		t.Errorf("after erasure: %+v %v", got, err)
	}
	logs := h.logs.String()
	for _, secret := range []string{"Amina", "Keita", from, "15005550042", r.Compact(), c.ref, "Recordings/RE"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold %q", secret)
		}
	}
}

// TestVoiceDistressKeepsTheNumber: a call in danger raises the alert with the number
// the call comes from (the team calls back on it), not the call's ID; never logged.
func TestVoiceDistressKeepsTheNumber(t *testing.T) {
	const from = "+15005550043"
	h := startHotline(t, map[string]string{"HOTLINE_OPERATOR_NUMBER": operatorNum})
	var out strings.Builder
	c := &caller{t: t, h: h, sid: fmt.Sprintf("CA%032x", 82), from: from, out: &out}
	for _, l := range []string{"@call", "> 1", "> 1"} {
		c.step(l)
	}
	var caseRef string
	waitUntil(t, 10*time.Second, "the alert", func() bool {
		_, body := apiCall(t, "GET", h.base+"/api/alerts", "")
		if m := regexp.MustCompile(`"case_ref":"([^"]+)"`).FindStringSubmatch(body); m != nil {
			caseRef = m[1]
		}
		return caseRef != ""
	})
	r, err := ref.Parse(caseRef)
	if err != nil {
		t.Fatal(err)
	}
	reg := h.register(t)
	var d cases.Distress
	waitUntil(t, 10*time.Second, "the distress case", func() bool {
		d, err = reg.ReadDistress(context.Background(), r.Compact(), "test:e2e", "check the number")
		return err == nil
	})
	if d.Contact != from || d.Channel != "voice" {
		t.Errorf("distress case from a call: contact %q, channel %q", d.Contact, d.Channel)
	}
	if strings.Contains(h.logs.String(), "5005550043") {
		t.Error("the logs hold the caller's number")
	}
}

// register opens the hotline's case register, as an operator's tool would, for the
// test to read what a call left there.
func (h *hotline) register(t *testing.T) *cases.Register {
	t.Helper()
	ring, err := keyring.Parse(h.env["HOTLINE_DATA_KEYS"])
	if err != nil {
		t.Fatal(err)
	}
	store, err := cases.Open(context.Background(), h.env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return cases.NewRegister(store, ring, func(k, v string) string { return k + v }, time.Now)
}
