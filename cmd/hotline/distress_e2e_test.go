package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-org/hotline/handoff/notify"
)

// TestDistressEndToEnd: SOS by SMS gets the guidance in the first reply; the duty
// webhook receives a signed alert; the answers make a case whose rescue summary the
// CLI prints; the alert is listed until acknowledged through the API.
func TestDistressEndToEnd(t *testing.T) {
	const secret = "duty-webhook-secret-0123456789"
	recv, alerts := dutyWebhook(t, secret)
	h := startHotline(t, map[string]string{"HOTLINE_NOTIFY_WEBHOOK_URL": recv.URL, "HOTLINE_NOTIFY_WEBHOOK_SECRET": secret})
	const phone = "+15005550044"
	c := &talk{t: t, h: h, base: 3000}
	say := func(text string, parts int) string {
		t.Helper()
		return c.sms(phone, text, parts)
	}
	first := say("SOS", 2) // the guidance in every language (no language chosen yet), then the alert confirmed
	if !strings.HasPrefix(first, "(1/") || !strings.Contains(first, "call 112 now") {
		t.Fatalf("first reply: %q", first)
	}
	waitUntil(t, 10*time.Second, "the duty alert", func() bool { return len(alerts()) > 0 })
	got := alerts()
	if len(got) != 1 || got[0].Level != 0 || got[0].Channel != "sms" || got[0].CaseRef == "" {
		t.Fatalf("duty webhook got %+v", got)
	}
	caseRef, alertID := got[0].CaseRef, got[0].ID

	for _, answer := range []string{"35°12.50'N 012°30.10'E", "40"} {
		c.n++
		h.post(sid(c.base+c.n), phone, answer)
	}
	h.settle()

	api := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, h.base+path, nil)
		req.Header.Set("Authorization", "Bearer ops-token")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := api("GET", "/api/alerts"); code != 200 || !strings.Contains(body, alertID) || strings.Contains(body, "5005550044") {
		t.Errorf("open alerts: %d %s", code, body)
	}
	if code, body := api("GET", "/api/queue"); code != 200 || !strings.Contains(body, `"priority":0`) {
		t.Errorf("queue: %d %s", code, body)
	}
	if code, _ := api("POST", "/api/alerts/"+alertID+"/ack"); code != 200 {
		t.Errorf("ack: %d", code)
	}
	if code, body := api("GET", "/api/alerts"); code != 200 || strings.Contains(body, alertID) {
		t.Errorf("after ack: %d %s", code, body)
	}

	var out bytes.Buffer
	env := func(k string) string { return h.env[k] }
	if err := runAt(context.Background(), []string{"hotline", "cases", "summary", caseRef}, env, &out, io.Discard, time.Now); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"Position:          35.208333, 12.501667 (typed, dm)", "People:            40", "sms +15005550044"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}

// dutyWebhook is the duty operators' webhook: it checks each alert's signature under
// secret and keeps the alerts, which the returned func gives in the order they came.
func dutyWebhook(t *testing.T, secret string) (*httptest.Server, func() []notify.Alert) {
	var mu sync.Mutex
	var got []notify.Alert
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := notify.Verify(secret, r, 5*time.Minute, time.Now())
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var a notify.Alert
		if err := json.Unmarshal(body, &a); err != nil {
			t.Errorf("duty webhook body not an alert: %s", body)
		}
		mu.Lock()
		got = append(got, a)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv, func() []notify.Alert {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}
