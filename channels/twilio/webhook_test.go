package twilio

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

const (
	testToken     = "0123456789abcdef0123456789abcdef"
	testPublicURL = "https://hotline.example.org"
	smsPath       = "/webhooks/twilio/sms"
	waPath        = "/webhooks/twilio/whatsapp"
)

var testNow = time.Date(2025, 11, 27, 10, 0, 0, 0, time.UTC)

// payload reads testdata/name: one form parameter per line ('#' lines are comments),
// joined with & as Twilio sends them.
func payload(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return joinPayload(string(b))
}

func joinPayload(file string) string {
	var params []string
	for _, line := range strings.Split(file, "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		params = append(params, line)
	}
	return strings.Join(params, "&")
}

// recorder is the webhook's queue in these tests: it records what it is given.
type recorder struct {
	mu   sync.Mutex
	got  []channels.Inbound
	seen map[string]bool
	err  error
}

func (r *recorder) Enqueue(_ context.Context, in channels.Inbound) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return false, r.err
	}
	if r.seen[in.ID] {
		return false, nil
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	r.seen[in.ID] = true
	r.got = append(r.got, in)
	return true, nil
}

type signing int

const (
	signed     signing = iota
	unsigned           // no X-Twilio-Signature
	wrongToken         // signed with another auth token
	otherURL           // signed for the URL the Host header names
)

type webhookCase struct {
	name    string
	payload string // file in testdata/
	body    string // the raw body, when not from a file
	target  string // path and query called; smsPath when empty
	sign    signing
	chunked bool // no Content-Length, as with Transfer-Encoding: chunked

	seen       bool  // the queue has had this message before
	enqueueErr error // the queue fails

	status int
	reason string
	want   *channels.Inbound // what was queued; nil when nothing was
}

var webhookCases = []webhookCase{
	{
		name: "sms", payload: "sms.form", status: 200,
		want: &channels.Inbound{ID: "SM0123456789abcdef0123456789abcdef", Channel: channels.SMS,
			Contact: "+15555550123", To: "+15555550100", Text: "Hello, I need help", Received: testNow},
	},
	{
		name: "arabic text through a messaging service", payload: "sms_arabic.form", status: 200,
		want: &channels.Inbound{ID: "SM11111111111111111111111111111111", Channel: channels.SMS,
			Contact: "+218910000001", To: "+447700900100", Text: "مرحبا", Received: testNow},
	},
	{
		name: "mms with media", payload: "mms.form", status: 200,
		want: &channels.Inbound{ID: "MM22222222222222222222222222222222", Channel: channels.SMS,
			Contact: "+15555550124", To: "+15555550100", Text: "our boat", Received: testNow,
			Media: []channels.Media{
				{URL: "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages/MM22222222222222222222222222222222/Media/ME00000000000000000000000000000000", ContentType: "image/jpeg"},
				{URL: "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages/MM22222222222222222222222222222222/Media/ME00000000000000000000000000000001", ContentType: "image/png"},
			}},
	},
	{
		name: "signed URL with a query string", payload: "sms.form", target: smsPath + "?lang=ar&n=1", status: 200,
		want: &channels.Inbound{ID: "SM0123456789abcdef0123456789abcdef", Channel: channels.SMS,
			Contact: "+15555550123", To: "+15555550100", Text: "Hello, I need help", Received: testNow},
	},
	{name: "duplicate", payload: "sms.form", seen: true, status: 200},
	{name: "unsigned", payload: "sms.form", sign: unsigned, status: 403, reason: "no_signature"},
	{name: "wrong signature", payload: "sms.form", sign: wrongToken, status: 403, reason: "bad_signature"},
	{name: "signed for the Host header", payload: "sms.form", sign: otherURL, status: 403, reason: "bad_signature"},
	{name: "body too large", body: tooLarge(), status: 413, reason: "too_large"},
	{name: "body too large, chunked", body: tooLarge(), chunked: true, status: 413, reason: "too_large"},
	{name: "garbage body", payload: "garbage.form", status: 400, reason: "bad_body"},
	{name: "garbage body unsigned", payload: "garbage.form", sign: unsigned, status: 403, reason: "no_signature"},
	{name: "missing MessageSid", payload: "missing_sid.form", status: 400, reason: "bad_fields"},
	{name: "not a message SID", payload: "bad_sid.form", status: 400, reason: "bad_fields"},
	{name: "missing From", payload: "missing_from.form", status: 400, reason: "bad_fields"},
	{name: "too many media", payload: "too_many_media.form", status: 400, reason: "bad_fields"},
	{name: "whatsapp on the sms webhook", payload: "whatsapp.form", status: 400, reason: "bad_fields"},
	{
		name: "whatsapp text", payload: "whatsapp_text.form", target: waPath, status: 200,
		want: &channels.Inbound{ID: "SM66666666666666666666666666666666", Channel: channels.WhatsApp,
			Contact: "whatsapp:+218910000001", To: "whatsapp:+15555550100", Text: "مرحبا", Received: testNow},
	},
	{
		name: "whatsapp location", payload: "whatsapp.form", target: waPath, status: 200,
		want: &channels.Inbound{ID: "SM55555555555555555555555555555555", Channel: channels.WhatsApp,
			Contact: "whatsapp:+218910000001", To: "whatsapp:+15555550100", Received: testNow,
			Location: &channels.Location{Lat: 35.2083, Lon: 12.5017}},
	},
	{
		name: "whatsapp voice note", payload: "whatsapp_voice.form", target: waPath, status: 200,
		want: &channels.Inbound{ID: "MM77777777777777777777777777777777", Channel: channels.WhatsApp,
			Contact: "whatsapp:+218910000001", To: "whatsapp:+15555550100", Received: testNow,
			Media: []channels.Media{{URL: "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages/MM77777777777777777777777777777777/Media/ME77777777777777777777777777777777", ContentType: "audio/ogg"}}},
	},
	{name: "sms on the whatsapp webhook", payload: "sms.form", target: waPath, status: 400, reason: "bad_fields"},
	{name: "enqueue error", payload: "sms.form", enqueueErr: errors.New("redis: connection refused"),
		status: 500, reason: "enqueue_failed"},
}

// tooLarge is a signed-looking SMS padded past the 64 KiB limit.
func tooLarge() string {
	return "MessageSid=SM0123456789abcdef0123456789abcdef&From=%2B15555550123&Body=" + strings.Repeat("a", maxBody)
}

func TestHandleMessage(t *testing.T) {
	for _, tc := range webhookCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := tc.body
			if tc.payload != "" {
				body = payload(t, tc.payload)
			}
			target := tc.target
			if target == "" {
				target = smsPath
			}

			q := &recorder{err: tc.enqueueErr}
			if tc.seen {
				form, _ := url.ParseQuery(body)
				q.seen = map[string]bool{form.Get("MessageSid"): true}
			}
			var reasons []string
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			r := gin.New()
			for path, ch := range map[string]channels.Channel{smsPath: channels.SMS, waPath: channels.WhatsApp} {
				r.POST(path, HandleMessage(ch, NewVerifier(testToken, testPublicURL), q,
					func() time.Time { return testNow }, func(reason string) { reasons = append(reasons, reason) }, log))
			}

			req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
			req.Host = "attacker.example"
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.chunked {
				req.ContentLength = -1
			}
			form, _ := url.ParseQuery(body)
			switch tc.sign {
			case signed:
				req.Header.Set(twiliotest.SignatureHeader, twiliotest.Sign(testToken, testPublicURL+target, form))
			case wrongToken:
				req.Header.Set(twiliotest.SignatureHeader, twiliotest.Sign("another token", testPublicURL+target, form))
			case otherURL:
				req.Header.Set(twiliotest.SignatureHeader, twiliotest.Sign(testToken, "https://"+req.Host+target, form))
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)

			if w.Code != tc.status {
				t.Fatalf("status %d, want %d (body %q)", w.Code, tc.status, w.Body)
			}
			var wantReasons []string
			if tc.reason != "" {
				wantReasons = []string{tc.reason}
			}
			if !reflect.DeepEqual(reasons, wantReasons) {
				t.Errorf("rejected for %q, want %q", reasons, wantReasons)
			}
			if tc.status == http.StatusOK {
				if mt, _, _ := mime.ParseMediaType(w.Header().Get("Content-Type")); mt != "text/xml" {
					t.Errorf("Content-Type %q, want text/xml", w.Header().Get("Content-Type"))
				}
				if w.Body.String() != emptyTwiML {
					t.Errorf("body %q, want %q", w.Body, emptyTwiML)
				}
			}
			var want []channels.Inbound
			if tc.want != nil {
				want = []channels.Inbound{*tc.want}
			}
			if !reflect.DeepEqual(q.got, want) {
				t.Errorf("queued %+v\nwant %+v", q.got, want)
			}
			// Logs may name the message, never its sender, recipient or words.
			for _, secret := range []string{form.Get("From"), form.Get("To"), form.Get("Body")} {
				if len(secret) > 3 && strings.Contains(logs.String(), secret) {
					t.Errorf("log holds personal data %q:\n%s", secret, logs.String())
				}
			}
		})
	}
}

func TestVerifierURL(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/twilio/voice/gather?turn=3&call=CA1", nil)
	req.Host = "internal:8080"
	for _, base := range []string{"https://hotline.example.org", "https://hotline.example.org/"} {
		v := NewVerifier(testToken, base)
		if got, want := v.URL(req), "https://hotline.example.org/webhooks/twilio/voice/gather?turn=3&call=CA1"; got != want {
			t.Errorf("URL with base %q = %q, want %q", base, got, want)
		}
	}
}

func TestVerifierRefusesEmptyToken(t *testing.T) {
	form := url.Values{"MessageSid": {"SM0123456789abcdef0123456789abcdef"}}
	req := httptest.NewRequest(http.MethodPost, smsPath, nil)
	req.Header.Set(signatureHeader, twiliotest.Sign("", testPublicURL+smsPath, form))
	if NewVerifier("", testPublicURL).Verify(req, form) {
		t.Fatal("a Verifier without a token accepted a request signed with the empty key")
	}
	req.Header.Set(signatureHeader, twiliotest.Sign(testToken, testPublicURL+smsPath, form))
	if !NewVerifier(testToken, testPublicURL).Verify(req, form) {
		t.Fatal("a good signature was refused")
	}
}
