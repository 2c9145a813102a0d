package telegram

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/channels"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

const (
	testSecret  = "s3cr3t-token_for-webhook"
	webhookPath = "/webhooks/telegram"
)

var testNow = time.Date(2025, 11, 27, 10, 0, 0, 0, time.UTC)

func payload(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
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

type webhookCase struct {
	name       string
	payload    string // file in testdata/
	body       string // the raw body, when not from a file
	secret     string // header sent; testSecret when empty and noSecret is false
	noSecret   bool   // send no secret header
	config     string // the configured secret; testSecret when empty and openConfig is false
	openConfig bool   // configure an empty secret
	chunked    bool   // no Content-Length

	seen       bool
	enqueueErr error

	status   int
	reason   string
	want     *channels.Inbound // what was queued; nil when nothing was
	answered string            // the callback query ID answered, "" when none
}

func inbound(id, contact string) *channels.Inbound {
	return &channels.Inbound{ID: id, Channel: channels.Telegram, Contact: contact, Received: testNow}
}

func with(in *channels.Inbound, f func(*channels.Inbound)) *channels.Inbound {
	f(in)
	return in
}

var webhookCases = []webhookCase{
	{name: "text", payload: "text.json", status: 200,
		want: with(inbound("tg-10000", "1111111"), func(in *channels.Inbound) { in.Text = "مرحبا، أحتاج مساعدة" })},
	{name: "start with payload", payload: "start_payload.json", status: 200,
		want: with(inbound("tg-10002", "2222222"), func(in *channels.Inbound) { in.Text = "/start poster-lampedusa" })},
	{name: "callback query", payload: "callback.json", status: 200, answered: "4382bfdwdsb323b2d9",
		want: with(inbound("tg-10001", "1111111"), func(in *channels.Inbound) { in.Text = "2" })},
	{name: "callback query seen before is answered again", payload: "callback.json", seen: true,
		status: 200, answered: "4382bfdwdsb323b2d9"},
	{name: "location", payload: "location.json", status: 200,
		want: with(inbound("tg-10003", "1111111"), func(in *channels.Inbound) {
			in.Location = &channels.Location{Lat: 35.2083, Lon: 12.5017}
		})},
	{name: "voice", payload: "voice.json", status: 200,
		want: with(inbound("tg-10004", "1111111"), func(in *channels.Inbound) {
			in.Media = []channels.Media{{URL: "tg-file:AwACAgQAAxkBAAIBVoice", ContentType: "audio/ogg"}}
		})},
	{name: "photo keeps the largest size and the caption", payload: "photo.json", status: 200,
		want: with(inbound("tg-10005", "1111111"), func(in *channels.Inbound) {
			in.Text = "our boat"
			in.Media = []channels.Media{{URL: "tg-file:AgACAgQAAxkBPhotoLarge", ContentType: "image"}}
		})},
	{name: "document", payload: "document.json", status: 200,
		want: with(inbound("tg-10010", "1111111"), func(in *channels.Inbound) {
			in.Media = []channels.Media{{URL: "tg-file:BQACAgQAAxkBDoc", ContentType: "application/pdf"}}
		})},
	{name: "contact is marked, its number kept nowhere", payload: "contact.json", status: 200,
		want: with(inbound("tg-10006", "1111111"), func(in *channels.Inbound) {
			in.Media = []channels.Media{{ContentType: "contact"}}
		})},
	{name: "duplicate", payload: "text.json", seen: true, status: 200},
	{name: "edited message ignored", payload: "edited_message.json", status: 200},
	{name: "my_chat_member ignored", payload: "my_chat_member.json", status: 200},
	{name: "group chat ignored", payload: "group.json", status: 200},
	{name: "bad secret", payload: "text.json", secret: "wrong", status: 403, reason: "bad_secret"},
	{name: "secret prefix", payload: "text.json", secret: testSecret[:10], status: 403, reason: "bad_secret"},
	{name: "missing secret", payload: "text.json", noSecret: true, status: 403, reason: "bad_secret"},
	{name: "empty configured secret refuses everything", payload: "text.json", openConfig: true, noSecret: true,
		status: 403, reason: "bad_secret"},
	{name: "bad JSON", payload: "truncated.json", status: 400, reason: "bad_body"},
	{name: "wrong field types", payload: "wrong_types.json", status: 400, reason: "bad_body"},
	{name: "no update_id", body: `{"message":{"chat":{"id":1,"type":"private"},"text":"hi"}}`, status: 400, reason: "bad_body"},
	{name: "bad JSON without secret", payload: "truncated.json", noSecret: true, status: 403, reason: "bad_secret"},
	{name: "too large", body: tooLarge(), status: 413, reason: "too_large"},
	{name: "too large, chunked", body: tooLarge(), chunked: true, status: 413, reason: "too_large"},
	{name: "enqueue error", payload: "text.json", enqueueErr: errors.New("redis down"), status: 500, reason: "enqueue_failed"},
	{name: "enqueue error on a press leaves it unanswered", payload: "callback.json",
		enqueueErr: errors.New("redis down"), status: 500, reason: "enqueue_failed"},
}

func tooLarge() string {
	return `{"update_id": 1, "message": {"chat": {"id": 1, "type": "private"}, "text": "` +
		strings.Repeat("a", 70<<10) + `"}}`
}

func TestHandleUpdate(t *testing.T) {
	for _, c := range webhookCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			q := &recorder{err: c.enqueueErr}
			body := c.body
			if c.payload != "" {
				body = payload(t, c.payload)
			}
			if c.seen {
				p, err := parseUpdate([]byte(body), testNow)
				if err != nil {
					t.Fatal(err)
				}
				q.seen = map[string]bool{p.in.ID: true}
			}
			var reasons []string
			var answered []string
			var logs bytes.Buffer
			var mu sync.Mutex
			config := testSecret
			if c.openConfig {
				config = ""
			}
			h := HandleUpdate(q, config, func() time.Time { return testNow },
				func(r string) { reasons = append(reasons, r) },
				slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
				func(ctx context.Context, id string) {
					if ctx.Err() != nil {
						t.Error("answer's context already ended")
					}
					mu.Lock()
					answered = append(answered, id)
					mu.Unlock()
				})
			r := gin.New()
			r.POST(webhookPath, h)

			req := httptest.NewRequest(http.MethodPost, webhookPath, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if c.chunked {
				req.ContentLength = -1
			}
			switch {
			case c.noSecret:
			case c.secret != "":
				req.Header.Set(secretHeader, c.secret)
			default:
				req.Header.Set(secretHeader, testSecret)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)

			if w.Code != c.status {
				t.Fatalf("status %d, want %d (body %q)", w.Code, c.status, w.Body.String())
			}
			if c.status == 200 && w.Body.String() != "{}" {
				t.Errorf("body %q, want {}", w.Body.String())
			}
			if c.reason == "" && len(reasons) > 0 || c.reason != "" && !reflect.DeepEqual(reasons, []string{c.reason}) {
				t.Errorf("reasons %q, want %q", reasons, c.reason)
			}
			switch {
			case c.want == nil && len(q.got) > 0:
				t.Errorf("queued %+v, want nothing", q.got)
			case c.want != nil && (len(q.got) != 1 || !reflect.DeepEqual(q.got[0], *c.want)):
				t.Errorf("queued %+v\nwant %+v", q.got, *c.want)
			}
			var wantAnswered []string
			if c.answered != "" {
				wantAnswered = []string{c.answered}
			}
			if !reflect.DeepEqual(answered, wantAnswered) {
				t.Errorf("answered %q, want %q", answered, wantAnswered)
			}
			// Logs never carry a chat, a text or a shared number.
			for _, secret := range []string{"1111111", "2222222", "مرحبا", "poster", "+218", "our boat", testSecret} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("log carries %q: %s", secret, logs.String())
				}
			}
		})
	}
}

// TestInboundHoldsNoContactCard checks that a shared contact's number and name end up
// nowhere in what is queued.
func TestInboundHoldsNoContactCard(t *testing.T) {
	p, err := parseUpdate([]byte(payload(t, "contact.json")), testNow)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Join([]string{p.in.Text, p.in.To, p.in.Contact, p.in.Media[0].URL}, "|")
	if strings.Contains(s, "218910000001") || strings.Contains(s, "Brother") || strings.Contains(s, "3333333") {
		t.Errorf("contact card leaked into the inbound: %q", s)
	}
}

func FuzzParseUpdate(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(tooLarge()))
	f.Add([]byte(`{"update_id":1,"callback_query":{"id":"x","data":"1"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseUpdate(body, testNow)
		if err != nil {
			if p.use || p.callbackID != "" {
				t.Fatalf("error with a usable result: %v", err)
			}
			if strings.Contains(err.Error(), string(body)) && len(body) > 8 {
				t.Fatalf("error quotes the body: %v", err)
			}
			return
		}
		if p.updateID <= 0 {
			t.Fatalf("accepted update_id %d", p.updateID)
		}
		if !p.use {
			return
		}
		if !strings.HasPrefix(p.in.ID, "tg-") || p.in.Channel != channels.Telegram || p.in.Contact == "" || p.in.Contact == "0" {
			t.Fatalf("bad inbound %+v", p.in)
		}
		for _, m := range p.in.Media {
			if m.ContentType == "" || m.ContentType != "contact" && !strings.HasPrefix(m.URL, "tg-file:") {
				t.Fatalf("bad media %+v", m)
			}
		}
	})
}
