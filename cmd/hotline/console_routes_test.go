package main

import (
	"context"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hotline-org/hotline/channels/redistest"
)

// TestEveryConsoleRouteNeedsASession walks every route the hotline mounts under
// /console, so that a page or API added later is covered without being listed here:
// without a session a page goes to the login and an API answers 401; only the login
// itself and the console's static files answer.
func TestEveryConsoleRouteNeedsASession(t *testing.T) {
	_, prefix := redistest.Single(t)
	env := map[string]string{
		"REDIS_URL": redisURL(), "HOTLINE_REDIS_PREFIX": prefix, "HOTLINE_DATA_DIR": t.TempDir(),
		"DATABASE_URL": "sqlite:" + t.TempDir() + "/hotline.db", "HOTLINE_DATA_KEYS": dataKeys(t),
		"HOTLINE_SIMULATOR": "operators", "HOTLINE_LOOKUP_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32)),
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, cleanup, err := wire(ctx, cfg, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	h := a.routes()
	engine, ok := h.(*gin.Engine)
	if !ok {
		t.Fatalf("routes is a %T, not a gin engine", h)
	}
	param := regexp.MustCompile(`/[:*][a-z]+`)
	open := map[string]bool{"GET /console/login": true, "POST /console/login": true, "GET /console/static/*file": true}
	n := 0
	for _, r := range engine.Routes() {
		if !strings.HasPrefix(r.Path, "/console") && !strings.HasPrefix(r.Path, "/simulator") || open[r.Method+" "+r.Path] {
			continue
		}
		n++
		path := param.ReplaceAllString(r.Path, "/x")
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(r.Method, path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		engine.ServeHTTP(rec, req)
		api := strings.HasPrefix(r.Path, "/console/api/")
		switch {
		case api && rec.Code != http.StatusUnauthorized:
			t.Errorf("%s %s without a session: %d, want 401", r.Method, r.Path, rec.Code)
		case !api && (rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/login"):
			t.Errorf("%s %s without a session: %d to %q, want 303 to the login", r.Method, r.Path, rec.Code, rec.Header().Get("Location"))
		}
	}
	if n < 15 {
		t.Errorf("only %d console routes found: the walk is not seeing them", n)
	}
}
