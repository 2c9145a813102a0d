package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
)

// recorder is an Enqueuer that keeps what it is given, or fails when err is set.
type recorder struct {
	mu  sync.Mutex
	got []channels.Inbound
	err error
}

func (r *recorder) Enqueue(_ context.Context, in channels.Inbound) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return false, r.err
	}
	r.got = append(r.got, in)
	return true, nil
}

func (r *recorder) inbound() []channels.Inbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]channels.Inbound(nil), r.got...)
}

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newRouter(enq channels.Enqueuer, rdb redis.UniversalClient, prefix string) *gin.Engine {
	r := gin.New()
	Mount(r, Config{
		Enqueuer: enq,
		Redis:    rdb,
		Prefix:   prefix,
		NewID:    func() string { return "42" },
		Now:      func() time.Time { return testNow },
	})
	return r
}

func do(h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestPostMessage(t *testing.T) {
	t.Parallel()
	const contact = "sim-0123456789abcdef"
	arabic := "نحن نغرق، ساعدونا"
	tests := []struct {
		name      string
		body      string
		enqErr    error
		status    int
		wantText  string // the enqueued text; "" when nothing may be enqueued
		wantError string // part of the error shown
	}{
		{name: "accepted", body: `{"contact":"` + contact + `","text":"  hello \n"}`, status: 202, wantText: "hello"},
		{name: "arabic", body: `{"contact":"` + contact + `","text":"` + arabic + `"}`, status: 202, wantText: arabic},
		{name: "longest text", body: `{"contact":"` + contact + `","text":"` + strings.Repeat("é", maxText) + `"}`,
			status: 202, wantText: strings.Repeat("é", maxText)},
		{name: "text too long", body: `{"contact":"` + contact + `","text":"` + strings.Repeat("a", maxText+1) + `"}`,
			status: 400, wantError: "1600"},
		{name: "blank text", body: `{"contact":"` + contact + `","text":" \t "}`, status: 400, wantError: "empty"},
		{name: "no text", body: `{"contact":"` + contact + `"}`, status: 400, wantError: "empty"},
		{name: "contact of a real phone", body: `{"contact":"+447700900123","text":"hi"}`, status: 400, wantError: "contact"},
		{name: "contact in capitals", body: `{"contact":"sim-0123456789ABCDEF","text":"hi"}`, status: 400, wantError: "contact"},
		{name: "contact too short", body: `{"contact":"sim-0123","text":"hi"}`, status: 400, wantError: "contact"},
		{name: "contact with a key pattern", body: `{"contact":"sim-0123456789abcde*","text":"hi"}`, status: 400, wantError: "contact"},
		{name: "bad JSON", body: `{"contact":`, status: 400, wantError: "JSON"},
		{name: "empty body", body: ``, status: 400, wantError: "JSON"},
		{name: "wrong types", body: `{"contact":1,"text":true}`, status: 400, wantError: "JSON"},
		{name: "oversize", body: `{"contact":"` + contact + `","text":"` + strings.Repeat("a", maxBody) + `"}`,
			status: 413, wantError: "too large"},
		{name: "inbox down", body: `{"contact":"` + contact + `","text":"hi"}`, enqErr: errors.New("redis: connection refused"),
			status: 503, wantError: "try again"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{err: tt.enqErr}
			w := do(newRouter(rec, nil, ""), http.MethodPost, "/simulator/api/messages", tt.body)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			var resp map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatalf("answer is not JSON: %q", w.Body)
			}
			got := rec.inbound()
			if tt.wantText == "" {
				if !strings.Contains(resp["error"], tt.wantError) {
					t.Errorf("error %q, want it to mention %q", resp["error"], tt.wantError)
				}
				if len(got) != 0 {
					t.Errorf("enqueued %+v, want nothing", got)
				}
				return
			}
			if resp["id"] != "web-42" {
				t.Errorf("id %q, want web-42", resp["id"])
			}
			want := channels.Inbound{ID: "web-42", Channel: channels.Web, Contact: contact, Text: tt.wantText, Received: testNow, Test: true}
			if len(got) != 1 || !got[0].Received.Equal(want.Received) || got[0].ID != want.ID || got[0].Channel != want.Channel ||
				got[0].Contact != want.Contact || got[0].Text != want.Text || !got[0].Test {
				t.Errorf("enqueued %+v, want %+v", got, want)
			}
		})
	}
}

func TestGetMessages(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Single(t)
	ctx := context.Background()
	const contact = "sim-00000000000000ab"
	s := NewSender(rdb, prefix, func() time.Time { return testNow })
	menu := channels.Outbound{ID: "web-1/0", Contact: contact, Lang: "ar",
		Parts:   []string{"اختر لغتك"},
		Choices: []channels.Choice{{Key: "1", Label: "English"}, {Key: "2", Label: "العربية"}}}
	p := s.Render(menu)[0]
	for range 2 { // the outbox may deliver twice
		if err := s.Send(ctx, menu, p); err != nil {
			t.Fatal(err)
		}
	}
	info := channels.Outbound{ID: "web-2/0", Contact: contact, Lang: "en", Parts: []string{"Thank you."}}
	if err := s.Send(ctx, info, s.Render(info)[0]); err != nil {
		t.Fatal(err)
	}
	router := newRouter(&recorder{}, rdb, prefix)

	type answer struct {
		Messages []struct {
			ID       string            `json:"id"`
			Text     string            `json:"text"`
			Choices  []channels.Choice `json:"choices"`
			Lang     string            `json:"lang"`
			Segments int               `json:"segments"`
			At       time.Time         `json:"at"`
		} `json:"messages"`
		Next  *int64 `json:"next"`
		Error string `json:"error"`
	}
	tests := []struct {
		name    string
		query   string
		status  int
		wantIDs []string
		next    int64
	}{
		{name: "all", query: "contact=" + contact, status: 200, wantIDs: []string{"web-1/0/0", "web-2/0/0"}, next: 3},
		{name: "after the repeat", query: "contact=" + contact + "&after=2", status: 200, wantIDs: []string{"web-2/0/0"}, next: 3},
		{name: "nothing new", query: "contact=" + contact + "&after=3", status: 200, wantIDs: []string{}, next: 3},
		{name: "someone else's", query: "contact=sim-ffffffffffffffff", status: 200, wantIDs: []string{}, next: 0},
		{name: "no contact", query: "", status: 400},
		{name: "bad contact", query: "contact=sim-*", status: 400},
		{name: "negative after", query: "contact=" + contact + "&after=-1", status: 400},
		{name: "after not a number", query: "contact=" + contact + "&after=x", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := do(router, http.MethodGet, "/simulator/api/messages?"+tt.query, "")
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			var a answer
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
				t.Fatalf("answer is not JSON: %q", w.Body)
			}
			if tt.status != 200 {
				if a.Error == "" {
					t.Errorf("no error in %s", w.Body)
				}
				return
			}
			if !strings.Contains(w.Body.String(), `"messages":[`) {
				t.Errorf("messages is not a list: %s", w.Body)
			}
			if a.Next == nil || *a.Next != tt.next {
				t.Errorf("next %v, want %d", a.Next, tt.next)
			}
			ids := []string{}
			for _, m := range a.Messages {
				ids = append(ids, m.ID)
			}
			if strings.Join(ids, " ") != strings.Join(tt.wantIDs, " ") {
				t.Fatalf("ids %v, want %v", ids, tt.wantIDs)
			}
			for _, m := range a.Messages {
				if m.ID != "web-1/0/0" {
					continue
				}
				if m.Text != "اختر لغتك\n1 English\n2 العربية" || m.Lang != "ar" || m.Segments != 1 || !m.At.Equal(testNow) {
					t.Errorf("menu came back as %+v", m)
				}
				if len(m.Choices) != 2 || m.Choices[1] != (channels.Choice{Key: "2", Label: "العربية"}) {
					t.Errorf("choices %+v", m.Choices)
				}
			}
		})
	}
}

func TestGetMessagesRedisDown(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1, so every command fails at once.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	w := do(newRouter(&recorder{}, rdb, "x:"), http.MethodGet, "/simulator/api/messages?contact=sim-0123456789abcdef", "")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), `"error"`) {
		t.Fatalf("got %d %s, want 503 with an error", w.Code, w.Body)
	}
}

func TestSimulatorRoundTrip(t *testing.T) {
	t.Parallel()
	// What the person posts reaches the inbox, and what the bot answers to that contact
	// reaches the page, through the same Redis and prefix.
	rdb, prefix := redistest.Single(t)
	rec := &recorder{}
	router := newRouter(rec, rdb, prefix)
	const contact = "sim-a1b2c3d4e5f60718"
	text := "مرحبا، أبحث عن أخي"
	body, _ := json.Marshal(map[string]string{"contact": contact, "text": text})
	if w := do(router, http.MethodPost, "/simulator/api/messages", string(body)); w.Code != http.StatusAccepted {
		t.Fatalf("post: %d %s", w.Code, w.Body)
	}
	in := rec.inbound()[0]
	reply := channels.Outbound{ID: in.ID + "/0", Channel: in.Channel, Contact: in.Contact, Lang: "ar", Parts: []string{in.Text}, Test: true}
	s := NewSender(rdb, prefix, func() time.Time { return testNow })
	if err := s.Send(context.Background(), reply, s.Render(reply)[0]); err != nil {
		t.Fatal(err)
	}
	w := do(router, http.MethodGet, "/simulator/api/messages?contact="+contact+"&after=0", "")
	var a struct {
		Messages []message `json:"messages"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || len(a.Messages) != 1 {
		t.Fatalf("get: %d %s", w.Code, w.Body)
	}
	if a.Messages[0].Text != text || a.Messages[0].ID != "web-42/0/0" {
		t.Errorf("got %+v, want the Arabic text back intact", a.Messages[0])
	}
}
