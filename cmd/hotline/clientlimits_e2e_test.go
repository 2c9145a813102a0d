package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels/redistest"
)

// limitedRouter is the hotline's real router, wired as serve wires it, behind a
// trusted proxy range and with small per-address limits, on a clock stopped at the
// first second of a ten-minute window.
func limitedRouter(t *testing.T) http.Handler {
	t.Helper()
	_, h := hotlineRouter(t, nil, slog.New(slog.DiscardHandler))
	return h
}

// hotlineRouter wires the hotline as limitedRouter does, with the settings of env on
// top of that one's, logging to log.
func hotlineRouter(t *testing.T, env map[string]string, log *slog.Logger) (*app, http.Handler) {
	t.Helper()
	_, prefix := redistest.Single(t)
	all := map[string]string{
		"REDIS_URL": redisURL(), "HOTLINE_REDIS_PREFIX": prefix, "HOTLINE_DATA_DIR": t.TempDir(),
		"DATABASE_URL": "sqlite:" + t.TempDir() + "/hotline.db", "HOTLINE_DATA_KEYS": dataKeys(t),
		"HOTLINE_LOOKUP_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"HOTLINE_SIMULATOR":  "on", "HOTLINE_TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8:ffff::1",
		"HOTLINE_LOGIN_RATE": "3/10m", "HOTLINE_SIMULATOR_RATE": "2/1m",
	}
	maps.Copy(all, env)
	cfg, err := loadConfig(func(k string) string { return all[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	a, cleanup, err := wire(ctx, cfg, log, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return a, a.routes()
}

// from sends a request as it reaches the hotline from remote (a client, or a proxy
// passing xff on).
func from(h http.Handler, remote, xff, method, path, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = remote
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept-Language", "fr")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestConsoleLoginLimitByAddress: the fourth login from one address in the window is
// refused with 429 and Retry-After, whatever X-Forwarded-For a client sends directly;
// through a trusted proxy, the address it names is the client, so another client is
// not affected and the same one is still refused.
func TestConsoleLoginLimitByAddress(t *testing.T) {
	h := limitedRouter(t)
	login := func(remote, xff string) *httptest.ResponseRecorder {
		form := url.Values{"id": {"ana"}, "password": {"not-the-password"}}.Encode()
		return from(h, remote, xff, "POST", "/console/login", "application/x-www-form-urlencoded", form)
	}
	// A client that sends its own X-Forwarded-For, each time another address.
	for i, spoof := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		if w := login("192.0.2.7:4000"+string(rune('0'+i)), spoof); w.Code != http.StatusUnauthorized {
			t.Fatalf("try %d: %d, want 401", i+1, w.Code)
		}
	}
	w := login("192.0.2.7:40009", "198.51.100.4")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "600" {
		t.Fatalf("fourth try: %d, Retry-After %q; want 429 and 600 (an untrusted X-Forwarded-For changed the address?)",
			w.Code, w.Header().Get("Retry-After"))
	}
	if !strings.Contains(w.Body.String(), "Réessayez dans 10 minutes.") {
		t.Errorf("the refusal is not in the page's language:\n%s", w.Body)
	}
	// Through the proxy: another client goes on.
	if w := login("10.1.2.3:5000", "198.51.100.9"); w.Code != http.StatusUnauthorized {
		t.Errorf("another client through the proxy: %d, want 401", w.Code)
	}
	// The same client through the proxy, which appended its address to the one the
	// client wrote itself: still refused.
	if w := login("10.1.2.3:5000", "203.0.113.50, 192.0.2.7"); w.Code != http.StatusTooManyRequests {
		t.Errorf("the refused client through the proxy: %d, want 429", w.Code)
	}
	// A proxy that sets no X-Forwarded-For passes on whatever X-Real-IP the client
	// wrote: that header names nobody.
	real := httptest.NewRequest("POST", "/console/login", strings.NewReader(url.Values{"id": {"ana"}, "password": {"x"}}.Encode()))
	real.RemoteAddr = "10.1.2.4:5000"
	real.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	real.Header.Set("X-Real-IP", "192.0.2.7")
	rw := httptest.NewRecorder()
	h.ServeHTTP(rw, real)
	if rw.Code != http.StatusUnauthorized {
		t.Errorf("X-Real-IP through the proxy: %d, want 401 (counted as the proxy, not as the address the client named)", rw.Code)
	}
	// An IPv6 proxy named by its address.
	if w := login("[2001:db8:ffff::1]:5000", "192.0.2.7"); w.Code != http.StatusTooManyRequests {
		t.Errorf("the refused client through the IPv6 proxy: %d, want 429", w.Code)
	}
}

// TestSimulatorLimitByAddress: the third simulator message from one address in the
// minute is refused, new conversation or not; another address goes on.
func TestSimulatorLimitByAddress(t *testing.T) {
	h := limitedRouter(t)
	send := func(remote, xff, contact string) *httptest.ResponseRecorder {
		return from(h, remote, xff, "POST", "/simulator/api/messages", "application/json",
			`{"contact":"`+contact+`","text":"hello"}`)
	}
	for i, contact := range []string{"sim-00000000000000a1", "sim-00000000000000a2"} {
		if w := send("192.0.2.7:40000", "198.51.100.1", contact); w.Code != http.StatusAccepted {
			t.Fatalf("message %d: %d %s", i+1, w.Code, w.Body)
		}
	}
	w := send("192.0.2.7:40001", "198.51.100.2", "sim-00000000000000a3")
	var answer struct{ Error string }
	if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil || w.Code != http.StatusTooManyRequests ||
		w.Header().Get("Retry-After") != "60" || !strings.Contains(answer.Error, "Wait a minute") {
		t.Fatalf("third message: %d, Retry-After %q, %s; want 429, 60 and the page's words", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if w := send("10.1.2.3:5000", "198.51.100.9", "sim-00000000000000b1"); w.Code != http.StatusAccepted {
		t.Errorf("another client through the proxy: %d %s", w.Code, w.Body)
	}
}

// TestLimitSettings: the limits and the trusted proxies are checked at start, and a
// mistake stops the hotline naming the variable.
func TestLimitSettings(t *testing.T) {
	base := map[string]string{"HOTLINE_LOOKUP_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32)), "HOTLINE_DATA_DIR": t.TempDir()}
	load := func(k, v string) (config, error) {
		return loadConfig(func(name string) string {
			if name == k {
				return v
			}
			return base[name]
		})
	}
	cfg, err := load("", "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SimulatorRate.String() != "30/1m0s" || cfg.LoginRate.String() != "60/10m0s" || cfg.TrustedProxies != nil {
		t.Errorf("defaults: simulator %v, login %v, proxies %v", cfg.SimulatorRate, cfg.LoginRate, cfg.TrustedProxies)
	}
	if cfg, err := load("HOTLINE_LOGIN_RATE", "off"); err != nil || !cfg.LoginRate.Off() {
		t.Errorf("HOTLINE_LOGIN_RATE=off: %v %v", cfg.LoginRate, err)
	}
	if cfg, err := load("HOTLINE_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1 ,fd00::/8"); err != nil || len(cfg.TrustedProxies) != 3 {
		t.Errorf("a good proxy list: %v %v", cfg.TrustedProxies, err)
	}
	for _, bad := range []struct{ k, v string }{
		{"HOTLINE_TRUSTED_PROXIES", "ingress-nginx"},
		{"HOTLINE_TRUSTED_PROXIES", "10.0.0.0/33"},
		{"HOTLINE_TRUSTED_PROXIES", "10.0.0.0/8,0.0.0.0/0"},
		{"HOTLINE_TRUSTED_PROXIES", "::/0"},
		{"HOTLINE_SIMULATOR_RATE", "30"},
		{"HOTLINE_SIMULATOR_RATE", "0/1m"},
		{"HOTLINE_LOGIN_RATE", "20/10 minutes"},
		{"HOTLINE_LOGIN_RATE", "20/48h"},
	} {
		if _, err := load(bad.k, bad.v); err == nil || !strings.Contains(err.Error(), bad.k) {
			t.Errorf("%s=%q: %v, want an error naming it", bad.k, bad.v, err)
		}
	}
}

// TestLimitsOff: with both limits off the hotline leaves them out (a nil limiter, not
// a nil *ratelimit.Limiter that would pass the handlers' nil checks and panic), and
// logins and simulator messages from one address go on past any count.
func TestLimitsOff(t *testing.T) {
	a, h := hotlineRouter(t, map[string]string{"HOTLINE_LOGIN_RATE": "off", "HOTLINE_SIMULATOR_RATE": "off"},
		slog.New(slog.DiscardHandler))
	if a.limits.login != nil || a.limits.simulator != nil {
		t.Errorf("limits off, yet limiters are wired: login %#v, simulator %#v", a.limits.login, a.limits.simulator)
	}
	for i := range 5 {
		form := url.Values{"id": {"ana"}, "password": {"not-the-password"}}.Encode()
		if w := from(h, "192.0.2.7:40000", "", "POST", "/console/login", "application/x-www-form-urlencoded", form); w.Code != http.StatusUnauthorized {
			t.Fatalf("login %d with the limit off: %d, want 401", i+1, w.Code)
		}
		contact := fmt.Sprintf("sim-00000000000000c%d", i)
		if w := from(h, "192.0.2.7:40000", "", "POST", "/simulator/api/messages", "application/json",
			`{"contact":"`+contact+`","text":"hello"}`); w.Code != http.StatusAccepted {
			t.Fatalf("simulator message %d with the limit off: %d %s", i+1, w.Code, w.Body)
		}
	}
}

// TestUntrustedForwardingIsToldOnce: without trusted proxies the start-up log says
// what that means; a request with X-Forwarded-For from a peer that is not trusted is
// reported once per process, naming the variable to set, never a public address; a
// trusted proxy's is not reported at all.
func TestUntrustedForwardingIsToldOnce(t *testing.T) {
	const startup, forwarded = "no HOTLINE_TRUSTED_PROXIES", "X-Forwarded-For from a peer that is not a trusted proxy"
	get := func(h http.Handler, remote, xff string) {
		t.Helper()
		if w := from(h, remote, xff, "GET", "/healthz", "", ""); w.Code != http.StatusOK {
			t.Fatalf("healthz from %s: %d", remote, w.Code)
		}
	}
	t.Run("none trusted", func(t *testing.T) {
		var logs syncBuffer
		_, h := hotlineRouter(t, map[string]string{"HOTLINE_TRUSTED_PROXIES": ""}, slog.New(slog.NewJSONHandler(&logs, nil)))
		if n := strings.Count(logs.String(), startup); n != 1 {
			t.Errorf("start-up warnings about trusted proxies: %d, want 1:\n%s", n, logs.String())
		}
		get(h, "10.1.2.3:5000", "") // no X-Forwarded-For: nothing to say
		if strings.Contains(logs.String(), forwarded) {
			t.Fatalf("warned without X-Forwarded-For:\n%s", logs.String())
		}
		get(h, "10.1.2.3:5000", "198.51.100.9")
		get(h, "10.1.2.4:5000", "198.51.100.10")
		get(h, "192.0.2.7:5000", "198.51.100.11")
		warnings := forwardWarnings(t, logs.String(), forwarded)
		if len(warnings) != 1 {
			t.Fatalf("%d warnings about X-Forwarded-For, want 1:\n%s", len(warnings), logs.String())
		}
		if w := warnings[0]; w["level"] != "WARN" || w["peer"] != "10.1.2.3" || !strings.Contains(w["msg"], "HOTLINE_TRUSTED_PROXIES") {
			t.Errorf("the warning: %v; want WARN, the peer 10.1.2.3 and the variable to set", w)
		}
		if strings.Contains(logs.String(), "198.51.100.") {
			t.Errorf("a forwarded client address was logged:\n%s", logs.String())
		}
	})
	t.Run("a public peer", func(t *testing.T) {
		var logs syncBuffer
		_, h := hotlineRouter(t, nil, slog.New(slog.NewJSONHandler(&logs, nil)))
		if strings.Contains(logs.String(), startup) {
			t.Errorf("warned at start although proxies are trusted:\n%s", logs.String())
		}
		// The trusted proxies, by range, by address, and an IPv4 one as IPv6 writes it.
		get(h, "10.1.2.3:5000", "198.51.100.9")
		get(h, "[2001:db8:ffff::1]:5000", "198.51.100.9")
		get(h, "[::ffff:10.1.2.3]:5000", "198.51.100.9")
		if strings.Contains(logs.String(), forwarded) {
			t.Fatalf("warned about a trusted proxy:\n%s", logs.String())
		}
		get(h, "192.0.2.7:5000", "198.51.100.9")
		get(h, "172.16.0.5:5000", "198.51.100.9")
		warnings := forwardWarnings(t, logs.String(), forwarded)
		if len(warnings) != 1 || warnings[0]["peer"] != "public, not logged" {
			t.Fatalf("warnings %v; want one, without the public address", warnings)
		}
		if strings.Contains(logs.String(), "192.0.2.7") {
			t.Errorf("a public peer address was logged:\n%s", logs.String())
		}
	})
}

// forwardWarnings are the JSON log lines whose message contains msg.
func forwardWarnings(t *testing.T, logs, msg string) []map[string]string {
	t.Helper()
	var out []map[string]string
	for line := range strings.Lines(logs) {
		if !strings.Contains(line, msg) {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		m := map[string]string{}
		for k, v := range rec {
			m[k] = fmt.Sprint(v)
		}
		out = append(out, m)
	}
	return out
}
