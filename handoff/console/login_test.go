package console

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/channels/ratelimit"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/handoff/accounts"
)

// loginServer is the console's login alone, over a throttle in Redis and limit, with
// no accounts: every try is refused, and audited.
func loginServer(t *testing.T, rdb redis.UniversalClient, prefix string, limit Limiter, log *slog.Logger,
	now func() time.Time) (*gin.Engine, func() []string) {
	t.Helper()
	th, err := accounts.NewThrottle(rdb, prefix, accounts.DefaultThrottle(), now)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var audited []string
	c, err := New(Config{Sessions: NewSessions(rdb, prefix, DefaultSessions(), now), Throttle: th, Limit: limit, Log: log, Now: now,
		Account: func(context.Context, string) (Account, error) { return Account{}, ErrNoAccount },
		Audit: func(_ context.Context, _, action, _ string) {
			mu.Lock()
			defer mu.Unlock()
			audited = append(audited, action)
		}})
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.POST("/console/login", c.Login)
	return r, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), audited...) }
}

func postLogin(r http.Handler, addr, lang string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/console/login",
		strings.NewReader(url.Values{"id": {"ana"}, "password": {"a-wrong-password"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", lang)
	req.RemoteAddr = addr + ":50000"
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

// TestLoginLimit: past the limit, a client's logins are refused before anything is
// checked or audited, with 429, Retry-After and the wait in the page's language.
func TestLoginLimit(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Single(t)
	// The window's first second: ten minutes to wait.
	now := func() time.Time { return time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC) }
	lim, err := ratelimit.New(rdb, prefix, ratelimit.Config{Name: "login", Rate: ratelimit.Rate{N: 1, Per: 10 * time.Minute},
		Key: []byte("0123456789abcdef0123456789abcdef"), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	r, audited := loginServer(t, rdb, prefix, lim, nil, now)
	for i, tt := range []struct{ lang, want string }{
		{"en", "Too many login attempts from your network. Try again in 10 minutes."},
		{"fr-FR,fr;q=0.9", "Trop de tentatives de connexion depuis votre réseau. Réessayez dans 10 minutes."},
		{"es", "Demasiados intentos de inicio de sesión desde su red. Inténtelo de nuevo dentro de 10 minutos."},
		{"ar", "محاولات دخول كثيرة من شبكتك. حاول مرة أخرى بعد 10 دقائق."},
	} {
		addr := "192.0.2." + string(rune('1'+i))
		if w := postLogin(r, addr, tt.lang); w.Code != http.StatusUnauthorized {
			t.Fatalf("%s: first try %d, want 401", tt.lang, w.Code)
		}
		w := postLogin(r, addr, tt.lang)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "600" {
			t.Fatalf("%s: second try %d, Retry-After %q; want 429 and 600", tt.lang, w.Code, w.Header().Get("Retry-After"))
		}
		if body := w.Body.String(); !strings.Contains(body, tt.want) {
			t.Errorf("%s: the page does not say %q:\n%s", tt.lang, tt.want, body)
		}
	}
	if got := audited(); len(got) != 4 {
		t.Errorf("audited %v, want the four refused logins and nothing of the refusals by the limit", got)
	}
}

// TestLoginLimitRedisDown: when the limit cannot be read, the login goes on to the
// throttle, which still counts and refuses.
func TestLoginLimitRedisDown(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.Single(t)
	// Nothing listens on port 1, so every command fails at once.
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = dead.Close() })
	lim, err := ratelimit.New(dead, prefix, ratelimit.Config{Name: "login", Rate: ratelimit.Rate{N: 1, Per: time.Minute},
		Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r, _ := loginServer(t, rdb, prefix, lim, slog.New(slog.NewTextHandler(&logs, nil)), time.Now)
	var codes []int
	for range accounts.DefaultThrottle().PerAccount + 1 {
		codes = append(codes, postLogin(r, "192.0.2.1", "en").Code)
	}
	if codes[0] != http.StatusUnauthorized || codes[len(codes)-1] != http.StatusTooManyRequests {
		t.Errorf("codes %v: want refusals by password, then by the throttle", codes)
	}
	if !strings.Contains(logs.String(), "login rate limit not checked") {
		t.Errorf("no log line: %q", logs.String())
	}
}
