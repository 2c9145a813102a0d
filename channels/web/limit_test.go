package web

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels/ratelimit"
	"github.com/hotline-org/hotline/channels/redistest"
)

func newLimit(t *testing.T, rdb redis.UniversalClient, prefix, rate string) *ratelimit.Limiter {
	t.Helper()
	r, err := ratelimit.ParseRate(rate)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ratelimit.New(rdb, prefix, ratelimit.Config{Name: "simulator", Rate: r, Key: []byte("0123456789abcdef0123456789abcdef"),
		Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// sendFrom posts a message as the client at addr.
func sendFrom(h http.Handler, addr, contact string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/simulator/api/messages",
		strings.NewReader(`{"contact":"`+contact+`","text":"hello"}`))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = addr + ":40000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestSendLimit: a client's sends beyond the limit are refused with 429, Retry-After
// and words the page shows, and reach nothing; other clients and the page's polls go on.
func TestSendLimit(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Single(t)
	rec := &recorder{}
	r := gin.New()
	Mount(r, Config{Enqueuer: rec, Redis: rdb, Prefix: prefix, Now: func() time.Time { return testNow },
		Limit: newLimit(t, rdb, prefix, "2/1m")})
	// A stranger starts a new conversation with every message: still one client.
	for i, contact := range []string{"sim-0000000000000001", "sim-0000000000000002"} {
		if w := sendFrom(r, "192.0.2.10", contact); w.Code != http.StatusAccepted {
			t.Fatalf("send %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	w := sendFrom(r, "192.0.2.10", "sim-0000000000000003")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("third send: %d %s, want 429", w.Code, w.Body)
	}
	// testNow is on a minute's first second: the window ends a minute later.
	if got := w.Header().Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After %q, want 60", got)
	}
	var resp map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp["error"] != "Too many messages in a short time. Wait a minute, then send again." {
		t.Errorf("answer %s", w.Body)
	}
	if n := len(rec.inbound()); n != 2 {
		t.Errorf("%d messages enqueued, want 2", n)
	}
	if w := sendFrom(r, "192.0.2.11", "sim-0000000000000004"); w.Code != http.StatusAccepted {
		t.Errorf("another client: %d %s", w.Code, w.Body)
	}
	poll := httptest.NewRequest(http.MethodGet, "/simulator/api/messages?contact=sim-0000000000000001", nil)
	poll.RemoteAddr = "192.0.2.10:40000"
	pw := httptest.NewRecorder()
	r.ServeHTTP(pw, poll)
	if pw.Code != http.StatusOK {
		t.Errorf("the refused client's poll: %d", pw.Code)
	}
}

// TestSendLimitByOperator: behind the console's login, each operator has the limit,
// so that colleagues training from one office do not share it.
func TestSendLimitByOperator(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Single(t)
	r := gin.New()
	Mount(r, Config{Enqueuer: &recorder{}, Redis: rdb, Prefix: prefix, Limit: newLimit(t, rdb, prefix, "1/1m"),
		Client: func(c *gin.Context) string { return "operator:" + c.GetHeader("X-Test-Operator") }})
	send := func(op string) int {
		req := httptest.NewRequest(http.MethodPost, "/simulator/api/messages", strings.NewReader(`{"contact":"sim-0000000000000001","text":"hi"}`))
		req.Header.Set("X-Test-Operator", op)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Code
	}
	if a, b, again := send("ana"), send("ben"), send("ana"); a != 202 || b != 202 || again != 429 {
		t.Errorf("ana %d, ben %d, ana again %d; want 202, 202, 429", a, b, again)
	}
}

// TestSendLimitRedisDown: with Redis away the limit cannot be read, and the message
// goes through (the inbox has its spool), with a line in the log.
func TestSendLimitRedisDown(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1, so every command fails at once.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	var logs bytes.Buffer
	rec := &recorder{}
	r := gin.New()
	Mount(r, Config{Enqueuer: rec, Redis: rdb, Prefix: "x:", Limit: newLimit(t, rdb, "x:", "1/1m"),
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	for i := range 2 {
		if w := sendFrom(r, "192.0.2.10", "sim-0000000000000001"); w.Code != http.StatusAccepted {
			t.Fatalf("send %d with Redis away: %d %s", i+1, w.Code, w.Body)
		}
	}
	if len(rec.inbound()) != 2 || !strings.Contains(logs.String(), "simulator rate limit not checked") {
		t.Errorf("enqueued %d; logs %q", len(rec.inbound()), logs.String())
	}
}

func TestTooMany(t *testing.T) {
	t.Parallel()
	for secs, want := range map[int]string{1: "Wait a second,", 30: "Wait 30 seconds,", 59: "Wait 59 seconds,", 60: "Wait a minute,",
		89: "Wait a minute,", 90: "Wait about 2 minutes,", 600: "Wait about 10 minutes,"} {
		if got := tooMany(secs); !strings.Contains(got, want) {
			t.Errorf("tooMany(%d) = %q, want %q in it", secs, got, want)
		}
	}
}
