package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/handoff/accounts"
)

// browser is a console user: the session cookie it was given and the page's CSRF token.
type browser struct {
	t      *testing.T
	h      *hotline
	cookie *http.Cookie
	csrf   string
}

// noRedirect keeps a redirect as the answer, to check where it points.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (b *browser) do(method, path, body string, csrf bool) (int, string, http.Header) {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.h.base+path, strings.NewReader(body))
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	} else if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	if csrf {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out), resp.Header
}

// login logs in and reads the page's CSRF token.
func (b *browser) login(id, password string) int {
	b.t.Helper()
	form := url.Values{"id": {id}, "password": {password}}.Encode()
	req, _ := http.NewRequest("POST", b.h.base+"/console/login", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := noRedirect.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return resp.StatusCode
	}
	for _, c := range resp.Cookies() {
		if c.Name == "hotline_console" {
			if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode {
				b.t.Errorf("session cookie not HttpOnly, Secure and SameSite=Strict: %+v", c)
			}
			b.cookie = c
		}
	}
	_, page, _ := b.do("GET", "/console", "", false)
	if m := regexp.MustCompile(`<meta name="csrf" content="([^"]+)">`).FindStringSubmatch(page); m != nil {
		b.csrf = m[1]
	}
	return resp.StatusCode
}

// TestConsoleLoginRolesAndCSRF: nothing of the console answers without a session; a
// wrong password is refused, five of them lock the account for a while; an operator
// logs in, takes a waiting conversation from the page's API with the CSRF token (and
// not without), cannot publish a route alert (a supervisor can get that far); logging
// out, or a password reset, ends the session.
func TestConsoleLoginRolesAndCSRF(t *testing.T) {
	h := startHotline(t, nil)
	ctx := context.Background()
	store, err := cases.Open(ctx, h.env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cheap := accounts.Params{Memory: 64, Time: 1, Threads: 1}
	for _, o := range []struct{ id, role, password string }{
		{"ana", string(accounts.Operator), "ana-long-password-1"}, {"sam", string(accounts.Supervisor), "sam-long-password-2"},
		{"ben", string(accounts.Operator), "ben-long-password-3"},
	} {
		hash, err := accounts.Hash(o.password, cheap)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.AddOperator(ctx, cases.Operator{ID: o.id, Name: strings.ToUpper(o.id[:1]) + o.id[1:], Role: o.role,
			Langs: []string{"en"}, PasswordHash: hash}, "admin:test"); err != nil {
			t.Fatal(err)
		}
	}

	anon := &browser{t: t, h: h}
	if code, _, hdr := anon.do("GET", "/console", "", false); code != http.StatusSeeOther || hdr.Get("Location") != "/console/login" {
		t.Errorf("the console without a session: %d %s", code, hdr.Get("Location"))
	}
	for _, r := range []struct{ method, path string }{{"GET", "/console/api/queue"}, {"GET", "/console/api/held"}, {"GET", "/console/events"},
		{"POST", "/console/api/conversations/sms:x/claim"}, {"POST", "/console/api/route-alerts"}, {"POST", "/console/logout"},
		{"GET", "/console/c/sms:x"}, {"GET", "/console/api/sig"}, {"POST", "/console/api/me"}} {
		if code, _, _ := anon.do(r.method, r.path, "{}", false); code != http.StatusUnauthorized && code != http.StatusSeeOther {
			t.Errorf("%s %s without a session: %d", r.method, r.path, code)
		}
	}
	if code, page, _ := anon.do("GET", "/console/login", "", false); code != 200 || !strings.Contains(page, `type="password"`) {
		t.Errorf("login page: %d", code)
	}

	// A wrong password, and an unknown name: the same answer.
	if code := anon.login("ana", "not-the-password"); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", code)
	}
	if code := anon.login("nobody", "not-the-password"); code != http.StatusUnauthorized {
		t.Errorf("unknown name: %d", code)
	}
	// Five wrong passwords lock the account, even against the right one.
	for range 5 {
		anon.login("ben", "guess-guess-guess")
	}
	locked := &browser{t: t, h: h}
	if code := locked.login("ben", "ben-long-password-3"); code != http.StatusTooManyRequests {
		t.Errorf("after five wrong passwords: %d, want 429", code)
	}

	// A contact waits for a person.
	for i, text := range []string{"hello", "1", "4"} {
		h.sms(t, sid(400+i), "+15005550030", text, true)
		h.waitReplies(t, i+1)
	}
	h.waitReplies(t, 4)

	ana := &browser{t: t, h: h}
	if code := ana.login("ana", "ana-long-password-1"); code != http.StatusSeeOther || ana.csrf == "" {
		t.Fatalf("login: %d, csrf %q", code, ana.csrf)
	}
	code, page, _ := ana.do("GET", "/console", "", false)
	if code != 200 || !strings.Contains(page, "Ana (operator)") || !strings.Contains(page, "Waiting for a person (1)") {
		t.Fatalf("console page: %d\n%s", code, page)
	}
	key := regexp.MustCompile(`data-post="/console/api/conversations/([^"]+)/claim"`).FindStringSubmatch(page)
	if key == nil {
		t.Fatalf("no conversation to take on the page:\n%s", page)
	}
	claim := "/console/api/conversations/" + key[1] + "/claim"
	if code, _, _ := ana.do("POST", claim, "{}", false); code != http.StatusForbidden {
		t.Errorf("a change without the CSRF token: %d, want 403", code)
	}
	if code, body, _ := ana.do("POST", claim, "{}", true); code != 200 || !strings.Contains(body, `"owner":"operator:ana"`) {
		t.Fatalf("take from the console: %d %s", code, body)
	}
	if code, _, _ := ana.do("POST", "/console/api/conversations/"+key[1]+"/reply", `{"id":"0123456789abcdef","text":"Hello, this is Ana."}`, true); code != 200 {
		t.Errorf("reply from the console: %d", code)
	}
	if msgs := h.waitReplies(t, 6); msgs[5].Body != "Hello, this is Ana." {
		t.Errorf("the contact got %q", msgs[5].Body)
	}
	if code, _, _ := ana.do("POST", "/console/api/route-alerts", `{}`, true); code != http.StatusForbidden {
		t.Errorf("an operator publishing a route alert: %d, want 403", code)
	}
	sam := &browser{t: t, h: h}
	sam.login("sam", "sam-long-password-2")
	if code, _, _ := sam.do("POST", "/console/api/route-alerts", `{}`, true); code == http.StatusForbidden || code == http.StatusUnauthorized {
		t.Errorf("a supervisor publishing a route alert was refused: %d", code)
	}

	// A supervisor takes over a conversation an operator holds (one who left); an
	// operator cannot.
	takeover := "/console/api/conversations/" + key[1] + "/takeover"
	if code, _, _ := ana.do("POST", takeover, "{}", true); code != http.StatusForbidden {
		t.Errorf("an operator taking over: %d, want 403", code)
	}
	if code, body, _ := sam.do("POST", takeover, "{}", true); code != 200 || !strings.Contains(body, `"owner":"operator:sam"`) {
		t.Errorf("a supervisor taking over: %d %s", code, body)
	}
	if code, _, _ := ana.do("POST", "/console/api/conversations/"+key[1]+"/reply", `{"id":"0123456789abcdeg","text":"Still here?"}`, true); code != http.StatusForbidden {
		t.Errorf("a reply by who no longer holds it: %d, want 403", code)
	}
	h.settle()
	if n := len(h.twilio.Messages()); n != 6 {
		t.Errorf("%d messages sent: a take-over of a held conversation is not news to the contact", n)
	}
	// A password reset ends the sessions from before it.
	hash, _ := accounts.Hash("sam-new-password-22", cheap)
	if err := store.SetOperatorPassword(ctx, "sam", hash, "admin:test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := sam.do("GET", "/console/api/queue", "", false); code != http.StatusUnauthorized {
		t.Errorf("a session from before a password reset: %d, want 401", code)
	}
	// Logging out ends the session.
	if code, _, _ := ana.do("POST", "/console/logout", "", true); code != http.StatusSeeOther {
		t.Errorf("logout: %d", code)
	}
	if code, _, _ := ana.do("GET", "/console/api/queue", "", false); code != http.StatusUnauthorized {
		t.Errorf("after logout: %d, want 401", code)
	}

	log, err := store.AuditLog(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range log {
		got = append(got, e.Actor+" "+e.Action)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{"operator:ana console.login", "console:ana console.login_refused", "console:ben console.login_throttled",
		"operator:ana conversation.claim", "operator:ana conversation.reply", "operator:sam conversation.takeover",
		"operator:ana console.logout"} {
		if !strings.Contains(all, want) {
			t.Errorf("audit log lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(h.logs.String(), "password") && strings.Contains(h.logs.String(), "long-password") {
		t.Error("a password reached the logs")
	}
}
