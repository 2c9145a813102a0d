package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
	"github.com/hotline-org/hotline/handoff/accounts"
)

// withAccount adds a console account of role to the hotline's register and logs it
// in.
func withAccount(t *testing.T, h *hotline, id string, role accounts.Role) *browser {
	t.Helper()
	password := addAccount(t, h, id, role)
	b := &browser{t: t, h: h}
	if code := b.login(id, password); code != http.StatusSeeOther || b.csrf == "" {
		t.Fatalf("log in %s: %d", id, code)
	}
	return b
}

// addAccount adds a console account of role (reading langs, English when none) and
// returns its password.
func addAccount(t *testing.T, h *hotline, id string, role accounts.Role, langs ...string) string {
	t.Helper()
	ctx := context.Background()
	store, err := cases.Open(ctx, h.env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if len(langs) == 0 {
		langs = []string{"en"}
	}
	password := id + "-long-password-1"
	hash, err := accounts.Hash(password, accounts.Params{Memory: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.AddOperator(ctx, cases.Operator{ID: id, Name: strings.ToUpper(id[:1]) + id[1:], Role: string(role),
		Langs: langs, PasswordHash: hash}, "admin:test"); err != nil {
		t.Fatal(err)
	}
	return password
}

// auditActions are the audit log's entries that concern no case, as "actor action
// reason" lines.
func auditActions(t *testing.T, h *hotline) string {
	t.Helper()
	store, err := cases.Open(context.Background(), h.env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	entries, err := store.AuditLog(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range entries {
		lines = append(lines, e.Actor+" "+e.Action+" "+e.Reason)
	}
	return strings.Join(lines, "\n")
}

// subscribeByPhone has a person on SMS subscribe to the central-med route's alerts in
// Spanish, as TestRouteInformationAndAlertsEndToEnd does.
func subscribeByPhone(t *testing.T, h *hotline, phone string) {
	t.Helper()
	for i, m := range []string{"hola", "3", "5", "1", "3", "6", "sí"} {
		if code := h.post(sid(7000+i), phone, m); code != 200 {
			t.Fatalf("%q: webhook %d", m, code)
		}
		time.Sleep(150 * time.Millisecond)
	}
	waitUntil(t, 10*time.Second, "subscribed", func() bool {
		_, r := apiCall(t, "GET", h.base+"/api/routes", "")
		return strings.Contains(r, `"id":"central-med","name":"Central Mediterranean","subscribers":1`)
	})
}

// TestConsoleRouteAlerts: an operator sees the route alerts page, without the form or
// the buttons, and the server refuses them publishing and withdrawing. A supervisor
// publishes from the console (a retry publishes once), sees the delivery counts move
// on the page as Twilio reports the message delivered, and withdraws it; the audit
// log names them. The page reads in Arabic, right to left.
func TestConsoleRouteAlerts(t *testing.T) {
	h := startHotline(t, map[string]string{"HOTLINE_RATE_SMS": "0", "TWILIO_SMS_FROM": "+15005550999"})
	const phone = "+15005550061"
	subscribeByPhone(t, h, phone)
	ana := withAccount(t, h, "ana", accounts.Operator)
	sam := withAccount(t, h, "sam", accounts.Supervisor)

	code, page, hdr := ana.do("GET", "/console/route-alerts", "", false)
	if code != 200 || !strings.Contains(page, "No route alert is in force.") || !strings.Contains(hdr.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("route alerts page for an operator: %d\n%s", code, page)
	}
	if strings.Contains(page, "data-post-nested") || strings.Contains(page, "/withdraw") {
		t.Errorf("an operator is shown the publishing form or a withdraw button:\n%s", page)
	}
	texts := `"texts":{"en":"Storm from tonight. Do not leave.","fr":"Tempête dès ce soir. Ne partez pas.",` +
		`"es":"Tormenta desde esta noche. No salga.","ar":"عاصفة من الليلة. لا تنطلقوا."}`
	if code, _, _ := ana.do("POST", "/console/api/route-alerts", `{"route":"central-med","expires_in":"12h",`+texts+`}`, true); code != http.StatusForbidden {
		t.Errorf("an operator publishing: %d, want 403", code)
	}
	if _, r := apiCall(t, "GET", h.base+"/api/route-alerts", ""); strings.Contains(r, "central-med") {
		t.Fatalf("an operator's refused publish is in force: %s", r)
	}

	code, page, _ = sam.do("GET", "/console/route-alerts", "", false)
	if code != 200 || !strings.Contains(page, `data-post-nested="/console/api/route-alerts"`) ||
		!strings.Contains(page, `<option value="central-med">Central Mediterranean · 1 subscriber</option>`) {
		t.Fatalf("the publishing form for a supervisor: %d\n%s", code, page)
	}
	for _, lang := range []string{"en", "fr", "es", "ar"} {
		if !strings.Contains(page, `name="texts.`+lang+`"`) {
			t.Errorf("no text for %s in the form", lang)
		}
	}
	id := regexp.MustCompile(`name="id" value="([A-Za-z0-9_-]+)"`).FindStringSubmatch(page)
	if id == nil {
		t.Fatalf("the form carries no alert ID:\n%s", page)
	}
	// A text missing: refused with the reason, as the form shows it.
	if code, body, _ := sam.do("POST", "/console/api/route-alerts", `{"id":"`+id[1]+`","route":"central-med","expires_in":"12h","texts":{"en":"Storm."}}`, true); code != http.StatusBadRequest || !strings.Contains(body, "no text in fr") {
		t.Errorf("a publish without French: %d %s", code, body)
	}
	// What the form posts: its ID, the route, the lifetime and a text per language.
	body := `{"id":"` + id[1] + `","route":"central-med","expires_in":"24h",` + texts + `}`
	before := len(h.twilio.Messages())
	for range 2 { // a second click publishes nothing new
		if code, resp, _ := sam.do("POST", "/console/api/route-alerts", body, true); code != http.StatusAccepted || !strings.Contains(resp, `"subscribers":1`) {
			t.Fatalf("publish from the console: %d %s", code, resp)
		}
	}
	msgs := h.waitReplies(t, before+1)
	alert := msgs[before]
	if alert.To != phone || !strings.Contains(alert.Body, "Tormenta desde esta noche. No salga.") {
		t.Fatalf("the alert sent: %+v", alert)
	}
	code, page, _ = sam.do("GET", "/console/route-alerts", "", false)
	if code != 200 || !strings.Contains(page, `data-alert="`+id[1]+`"`) || !strings.Contains(page, "In force (1)") ||
		!strings.Contains(page, "by sam") || !strings.Contains(page, `<td data-count="subscribers">1</td>`) ||
		!strings.Contains(page, "Tormenta desde esta noche. No salga.") {
		t.Fatalf("the page after publishing:\n%s", page)
	}

	// Twilio reports it delivered: the page's counts say so (as GET
	// /api/route-alerts/:id does).
	form := url.Values{"MessageSid": {alert.SID}, "MessageStatus": {"delivered"}, "To": {phone}, "From": {alert.From},
		"AccountSid": {accountSID}, "ApiVersion": {"2010-04-01"}}
	req, _ := http.NewRequest("POST", h.base+strings.TrimPrefix(alert.StatusCallback, h.public), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, alert.StatusCallback, form))
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusNoContent {
		t.Fatalf("status callback: %v %v", r, err)
	}
	counts := regexp.MustCompile(`data-count="(\w+)">(\d+)<`)
	waitUntil(t, 10*time.Second, "delivered on the page", func() bool {
		_, page, _ := ana.do("GET", "/console/route-alerts", "", false)
		got := map[string]string{}
		for _, m := range counts.FindAllStringSubmatch(page, -1) {
			got[m[1]] = m[2]
		}
		return got["subscribers"] == "1" && got["queued"] == "1" && got["sent"] == "1" && got["delivered"] == "1" && got["failed"] == "0"
	})
	var api struct {
		Counts struct{ Delivered int64 } `json:"counts"`
	}
	if _, r := apiCall(t, "GET", h.base+"/api/route-alerts/"+id[1], ""); json.Unmarshal([]byte(r), &api) != nil || api.Counts.Delivered != 1 {
		t.Errorf("the API's counts: %s", r)
	}

	// In Arabic: right to left, in Arabic words.
	if code, _, _ := sam.do("POST", "/console/api/me", `{"lang":"ar"}`, true); code != 200 {
		t.Fatalf("console language: %d", code)
	}
	if _, page, _ := sam.do("GET", "/console/route-alerts", "", false); !strings.Contains(page, `dir="rtl"`) || !strings.Contains(page, "نشر تنبيه طريق") ||
		!strings.Contains(page, "مشترك واحد") {
		t.Errorf("the page in Arabic:\n%s", page)
	}

	// Withdrawing: not by an operator, not without the CSRF token, not an alert that
	// does not exist; then by the supervisor, and it leaves the page.
	withdraw := "/console/api/route-alerts/" + id[1] + "/withdraw"
	if code, _, _ := ana.do("POST", withdraw, "{}", true); code != http.StatusForbidden {
		t.Errorf("an operator withdrawing: %d, want 403", code)
	}
	if code, _, _ := sam.do("POST", withdraw, "{}", false); code != http.StatusForbidden {
		t.Errorf("a withdraw without the CSRF token: %d, want 403", code)
	}
	if code, _, _ := sam.do("POST", "/console/api/route-alerts/no-such-alert/withdraw", "{}", true); code != http.StatusNotFound {
		t.Errorf("withdrawing an unknown alert: %d, want 404", code)
	}
	if _, r := apiCall(t, "GET", h.base+"/api/route-alerts", ""); !strings.Contains(r, id[1]) {
		t.Fatalf("refused withdrawals withdrew the alert: %s", r)
	}
	if code, resp, _ := sam.do("POST", withdraw, "{}", true); code != 200 || !strings.Contains(resp, `"cancelled"`) {
		t.Fatalf("withdraw: %d %s", code, resp)
	}
	if _, page, _ := ana.do("GET", "/console/route-alerts", "", false); strings.Contains(page, id[1]) {
		t.Errorf("a withdrawn alert is still on the page")
	}
	log := auditActions(t, h)
	for _, want := range []string{"operator:sam alert.publish route alert " + id[1] + " on central-med",
		"operator:sam alert.cancel route alert " + id[1] + " on central-med"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "operator:ana alert.") {
		t.Errorf("an operator's refused change is in the audit log as made:\n%s", log)
	}
}

// TestRouteAlertPublishedInABrowser: in headless Chromium, a supervisor fills the
// publishing form (a text per language), is told in the form when a text is too long,
// shortens it, confirms, and sees the alert on the page; then withdraws it with the
// row's button.
func TestRouteAlertPublishedInABrowser(t *testing.T) {
	bin := chromium(t)
	h := startHotline(t, map[string]string{"HOTLINE_PUBLIC_URL": "http://hotline.example.org"})
	password := addAccount(t, h, "sam", accounts.Supervisor)
	ctx, base := headless(t, bin, h)
	// The browser starts with the first step, before anything listens to it.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/console/login")); err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	// Publishing and withdrawing ask first: the supervisor says yes.
	go func() {
		for _, err := range chromedp.Events(ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	texts := map[string]string{"en": "Storm from tonight. Do not leave.", "fr": "Tempête dès ce soir. Ne partez pas.",
		"es": "Tormenta desde esta noche. No salga.", "ar": "عاصفة من الليلة. لا تنطلقوا."}
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#id`), "sam"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`#presence`)),
		chromedp.Navigate(base + "/console/route-alerts"),
		chromedp.WaitVisible(chromedp.CSS(`form[data-post-nested]`)),
		chromedp.SetValue(chromedp.CSS(`select[name=route]`), "central-med"),
		chromedp.SetValue(chromedp.CSS(`select[name=expires_in]`), "12h"),
		// Far too long with the header and footer: refused, and the form says why.
		chromedp.SendKeys(chromedp.CSS(`textarea[name="texts.en"]`), strings.Repeat("Storm. ", 85)),
	}
	for _, l := range []string{"fr", "es", "ar"} {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS(`textarea[name="texts.`+l+`"]`), texts[l]))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS(`form[data-post-nested] button`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-post-nested] .error`)))
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("fill the form: %v", err)
	}
	if msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`form[data-post-nested] .error`))); err != nil || !strings.Contains(msg, "shorten it") {
		t.Errorf("the form's error: %q %v", msg, err)
	}
	screenshot(t, ctx, "ralert-0-too-long")
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`textarea[name="texts.en"]`), texts["en"]),
		chromedp.Click(chromedp.CSS(`form[data-post-nested] button`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-alert] button[data-post$="/withdraw"]`)),
	); err != nil {
		t.Fatalf("publish: %v", err)
	}
	screenshot(t, ctx, "ralert-1-published")
	var list struct {
		Alerts []struct {
			ID, Route, By string
			Texts         map[string]string
			Created       time.Time
			Expires       time.Time
		} `json:"alerts"`
	}
	if _, r := apiCall(t, "GET", h.base+"/api/route-alerts", ""); json.Unmarshal([]byte(r), &list) != nil || len(list.Alerts) != 1 {
		t.Fatalf("alerts in force: %s", r)
	}
	al := list.Alerts[0]
	if al.Route != "central-med" || al.By != "operator:sam" || len(al.Texts) != 4 || al.Texts["ar"] != texts["ar"] || al.Texts["en"] != texts["en"] {
		t.Errorf("the alert published from the form: %+v", al)
	}
	if d := al.Expires.Sub(al.Created); d < 11*time.Hour || d > 13*time.Hour {
		t.Errorf("the alert lasts %v, the form asked 12h", d)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`tr[data-alert] button[data-post$="/withdraw"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "No route alert is in force.")]`)),
	); err != nil {
		t.Fatalf("withdraw: %v", err)
	}
	if _, r := apiCall(t, "GET", h.base+"/api/route-alerts", ""); strings.Contains(r, al.ID) {
		t.Errorf("withdrawn from the page, still in force: %s", r)
	}
}

// TestCannedRepliesOnTheConversationPage: the operator answering a Spanish contact is
// offered prepared replies in Spanish: the organisation's (its content folder's
// canned/es.toml) when it has some, read again on each page; when its file is broken,
// the shipped ones, and the log says which file and what is wrong, never its words.
func TestCannedRepliesOnTheConversationPage(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "canned"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "canned", "es.toml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("# Review: la organización\n[[reply]]\ntitle = \"Saludo\"\ntext = \"Hola, le escribe el equipo de prueba.\"\n")
	h := startHotline(t, map[string]string{"HOTLINE_CONTENT_DIR": dir})
	for i, text := range []string{"hola", "3", "4"} {
		h.sms(t, sid(7100+i), "+15005550062", text, true)
		h.waitReplies(t, i+1)
	}
	var queue struct {
		Waiting []struct{ Key string } `json:"waiting"`
	}
	waitUntil(t, 10*time.Second, "waiting for a person", func() bool {
		_, b := apiCall(t, "GET", h.base+"/api/queue", "")
		return json.Unmarshal([]byte(b), &queue) == nil && len(queue.Waiting) == 1
	})
	ana := withAccount(t, h, "ana", accounts.Operator)
	conv := queue.Waiting[0].Key
	if code, b, _ := ana.do("POST", "/console/api/conversations/"+conv+"/claim", "{}", true); code != 200 {
		t.Fatalf("claim: %d %s", code, b)
	}
	if _, page, _ := ana.do("GET", "/console/c/"+conv, "", false); !strings.Contains(page, "Hola, le escribe el equipo de prueba.") ||
		strings.Contains(page, "¿Está a salvo en este momento?") {
		t.Errorf("the organisation's replies are not the ones offered:\n%s", page)
	}
	write("[[reply]]\ntitle = \"Saludo\"\ntext = \"palabras de la organización\"\ncolor = \"rojo\"\n")
	if _, page, _ := ana.do("GET", "/console/c/"+conv, "", false); !strings.Contains(page, "¿Está a salvo en este momento?") ||
		strings.Contains(page, "palabras de la organización") {
		t.Errorf("a broken file: the shipped replies are not offered:\n%s", page)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "canned/es.toml: unknown key reply.color") || strings.Contains(logs, "palabras de la organización") {
		t.Errorf("the log does not say what is wrong with the file, or carries its words:\n%s", grep(logs, "prepared replies"))
	}
}
