package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
	"github.com/hotline-org/hotline/handoff"
	"github.com/hotline-org/hotline/handoff/accounts"
)

// TestConsoleDistressPanel: a person in danger writes on WhatsApp, types where they
// are, answers the questions, then shares their location. An operator sees the alert
// at the top of the console's distress page, opens its panel (the track newest first,
// in decimal degrees and in degrees and minutes, with a map; the people; the
// situation), watches it go up a level, acknowledges it (the escalation stops; a
// second acknowledgement changes nothing), and takes the rescue-centre summary, with
// no number unless asked for. Every view, acknowledgement and summary is audited;
// nothing answers without a session, and no change without the CSRF token.
func TestConsoleDistressPanel(t *testing.T) {
	const waFrom, contact, digits = "whatsapp:+15005550001", "whatsapp:+218910000001", "218910000001"
	clock := &testClock{}
	rdb, prefix := redistest.Single(t)
	tw := twiliotest.New(t, accountSID, authToken)
	key := make([]byte, 32)
	rand.Read(key)
	h := startAt(t, prefix, tw, base64.StdEncoding.EncodeToString(key), map[string]string{"TWILIO_WHATSAPP_FROM": waFrom}, clock.now)
	ctx := context.Background()
	store, err := cases.Open(ctx, h.env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	addAccount(t, h, "ana", accounts.Operator)
	addAccount(t, h, "sam", accounts.Supervisor)

	// The person, in English, from the menu.
	n, seen := 600, 0
	send := func(form url.Values) {
		t.Helper()
		n++
		form.Set("MessageSid", sid(n))
		for k, v := range map[string]string{"AccountSid": accountSID, "From": contact, "To": waFrom, "WaId": digits, "NumMedia": "0", "ApiVersion": "2010-04-01"} {
			form.Set(k, v)
		}
		if code := h.whatsapp(t, form); code != 200 {
			t.Fatalf("webhook answered %d", code)
		}
	}
	expect := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			msgs := h.twilio.Messages()
			for i := seen; i < len(msgs); i++ {
				if strings.Contains(msgs[i].Body, want) {
					seen = i + 1
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("no reply with %q; got:\n%s", want, bodies(h.twilio.Messages()))
	}
	for _, step := range []struct{ say, want string }{
		{"hello", "English"}, {"1", "Main menu"},
		// They follow a route's alerts: the console says where they travel.
		{"5", "Which route"}, {"1", "Central Mediterranean. What do you want"}, {"6", "Get alerts for Central Mediterranean"},
		{"1", "You will get alerts"}, {"0", "Main menu"},
		{"1", "Where are you?"},
		{"35°12.50'N 012°30.10'E", "How many people"}, {"40", "How many children"}, {"6", "injured or sick"},
		{"2", "What is your situation"}, {"1", "What kind of boat"}, {"grey rubber boat", "Is water coming"},
		{"1", "Is the engine working"}, {"2", "will write to you here"},
	} {
		clock.advance(time.Second) // each fact has its own time
		send(url.Values{"Body": {step.say}})
		expect(step.want)
	}
	clock.advance(time.Minute)
	send(url.Values{"Latitude": {"35.3"}, "Longitude": {"12.6"}, "MessageType": {"location"}})

	anon := &browser{t: t, h: h}
	for _, r := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/console/distress", http.StatusSeeOther}, {"GET", "/console/distress/AX", http.StatusSeeOther},
		{"GET", "/console/distress/AX/summary", http.StatusSeeOther}, {"GET", "/console/events/distress", http.StatusSeeOther},
		{"GET", "/console/api/sig/distress", http.StatusUnauthorized}, {"POST", "/console/api/distress/AX/ack", http.StatusUnauthorized},
	} {
		if code, _, _ := anon.do(r.method, r.path, "{}", false); code != r.want {
			t.Errorf("%s %s without a session: %d, want %d", r.method, r.path, code, r.want)
		}
	}

	ana := &browser{t: t, h: h}
	if code := ana.login("ana", "ana-long-password-1"); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	code, page, _ := ana.do("GET", "/console/distress", "", false)
	m := regexp.MustCompile(`<tr data-alert="([^"]+)">`).FindStringSubmatch(page)
	if code != 200 || m == nil || !strings.Contains(page, "Not acknowledged (1)") || !strings.Contains(page, "WhatsApp") ||
		!strings.Contains(page, "Duty operators") || !strings.Contains(page, "<td>Central Mediterranean</td>") ||
		!strings.Contains(page, `data-live="/console/events/distress"`) {
		t.Fatalf("distress page: %d\n%s", code, page)
	}
	id := m[1]
	panel := "/console/distress/" + id

	// The panel, once the shared location is in the register.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, page, _ = ana.do("GET", panel, "", false)
		if code == 200 && strings.Count(page, `class="position`) == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	shared, typed := strings.Index(page, "35.300000, 12.600000"), strings.Index(page, "35.208333, 12.501667")
	if code != 200 || shared < 0 || typed < 0 || shared > typed {
		t.Fatalf("panel: %d, the shared position (at %d) must come before the typed one (at %d):\n%s", code, shared, typed, page)
	}
	for _, want := range []string{
		"35°18.000&#39;N 012°36.000&#39;E", "35°12.500&#39;N 012°30.100&#39;E", // degrees and minutes
		`<a href="https://www.openstreetmap.org/?mlat=35.300000&amp;mlon=12.600000#map=12/35.300000/12.600000" rel="noreferrer"`,
		"shared from the phone", "typed (degrees and minutes)",
		"<dt>People</dt><dd dir=\"auto\">40</dd>", "<dt>Children</dt><dd dir=\"auto\">6</dd>", "<dt>Injured or sick</dt><dd dir=\"auto\">2</dd>",
		"at sea, on a boat", "grey rubber boat", "<dt>Water coming in</dt><dd>yes</dd>", "<dt>Engine working</dt><dd>no</dd>",
		"NOT ACKNOWLEDGED", `data-post="/console/api/distress/` + id + `/ack"`, `href="/console/c/whatsapp:`,
		`href="/console/distress/` + id + `?number=1"`, `data-live="/console/events/distress?id=` + id + `"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("panel lacks %s", want)
		}
	}
	if strings.Contains(page, digits) {
		t.Error("the panel shows the number without being asked")
	}
	if code, page, _ := ana.do("GET", panel+"?number=1", "", false); code != 200 || !strings.Contains(page, "&#43;"+digits) {
		t.Errorf("the number to call back, asked for: %d\n%s", code, page[strings.Index(page, `id="callback"`):])
	}

	// Unanswered, it goes up a level: the page says so.
	clock.advance(2*time.Minute + 5*time.Second)
	alerts := handoff.NewAlerts(rdb, prefix, nil, nil, nil, nil, clock.now, slog.New(slog.DiscardHandler))
	waitLevel := func(want int) handoff.AlertState {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err := alerts.Alert(ctx, id)
			if err == nil && st.Level == want || time.Now().After(deadline) {
				if err != nil || st.Level != want {
					t.Fatalf("alert level %d (%v), want %d", st.Level, err, want)
				}
				return st
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitLevel(1)
	expect("Nobody from our team has answered yet")
	if _, page, _ := ana.do("GET", "/console/distress", "", false); !strings.Contains(page, "Backup") {
		t.Errorf("the list does not show the escalation:\n%s", page)
	}

	// Acknowledged: with the CSRF token only, once; the escalation stops.
	ack := "/console/api/distress/" + id + "/ack"
	if code, _, _ := ana.do("POST", ack, "{}", false); code != http.StatusForbidden {
		t.Errorf("acknowledging without the CSRF token: %d, want 403", code)
	}
	var got struct {
		By      string `json:"by"`
		Already bool   `json:"already"`
	}
	code, body, _ := ana.do("POST", ack, "{}", true)
	if json.Unmarshal([]byte(body), &got); code != 200 || got.By != "operator:ana" || got.Already {
		t.Fatalf("acknowledge: %d %s", code, body)
	}
	sam := &browser{t: t, h: h}
	sam.login("sam", "sam-long-password-1")
	code, body, _ = sam.do("POST", ack, "{}", true)
	if json.Unmarshal([]byte(body), &got); code != 200 || got.By != "operator:ana" || !got.Already {
		t.Errorf("a second acknowledgement: %d %s", code, body)
	}
	if code, _, _ := ana.do("POST", "/console/api/distress/ANOSUCHALERT/ack", "{}", true); code != http.StatusNotFound {
		t.Errorf("acknowledging an unknown alert: %d, want 404", code)
	}
	clock.advance(5 * time.Minute)
	time.Sleep(2500 * time.Millisecond) // two ticks of the escalation
	if st := waitLevel(1); st.AckedBy != "operator:ana" || st.AckedAt.IsZero() || st.Attempt != 0 {
		t.Errorf("alert after the acknowledgement: %+v", st)
	}
	if n := strings.Count(bodies(h.twilio.Messages()), "Nobody from our team has answered yet"); n != 1 {
		t.Errorf("the person was told %d times that nobody answered; the acknowledgement must stop it", n)
	}
	req, _ := http.NewRequest("GET", h.base+"/api/alerts", nil)
	req.Header.Set("Authorization", "Bearer ops-token")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), id) {
			t.Errorf("the operations API still lists the alert as open: %s", b)
		}
	}
	code, page, _ = ana.do("GET", "/console/distress", "", false)
	if code != 200 || !strings.Contains(page, "Not acknowledged (0)") || !strings.Contains(page, "Acknowledged, still with a person (1)") ||
		!strings.Contains(page, "you, ") {
		t.Errorf("distress page after the acknowledgement:\n%s", page)
	}
	if _, page, _ := sam.do("GET", panel, "", false); !strings.Contains(page, "Acknowledged by ana at") {
		t.Errorf("the panel does not say who acknowledged:\n%s", page)
	}

	// The rescue-centre summary: plain text, no number unless asked for.
	code, sum, hdr := ana.do("GET", panel+"/summary", "", false)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("summary: %d %s", code, hdr.Get("Content-Type"))
	}
	for _, want := range []string{
		"DISTRESS: SUMMARY FOR A RESCUE CENTRE", "35.300000, 12.600000", "35°18.000'N 012°36.000'E", `35°18'00.0"N 012°36'00.0"E`,
		"35°12.500'N 012°30.100'E", "shared from the phone", "People:", " 40\n", "Children:", " 6\n", "Injured or sick:", " 2\n",
		"at sea, on a boat", "grey rubber boat", "WhatsApp (number not included)", "acknowledged at", "UTC",
		"All positions (UTC, newest first):",
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	if strings.Contains(sum, digits) {
		t.Errorf("the summary gives the number without being asked:\n%s", sum)
	}
	if newer, older := strings.Index(sum, "35.300000, 12.600000 ="), strings.Index(sum, "35.208333, 12.501667 ="); newer < 0 || older < newer {
		t.Errorf("the track is not newest first:\n%s", sum)
	}
	if _, sum, _ := ana.do("GET", panel+"/summary?number=1", "", false); !strings.Contains(sum, "WhatsApp +"+digits) {
		t.Errorf("summary with the number:\n%s", sum)
	}
	if _, sum, hdr := ana.do("GET", panel+"/summary?lang=fr&download=1", "", false); !strings.Contains(sum, "Dernière position") ||
		!strings.HasPrefix(hdr.Get("Content-Disposition"), "attachment; filename=\"distress-") {
		t.Errorf("summary in French, to download: %s\n%s", hdr.Get("Content-Disposition"), sum)
	}
	if code, _, _ := ana.do("GET", "/console/distress/ANOSUCHALERT", "", false); code != http.StatusNotFound {
		t.Errorf("an unknown alert's panel: %d, want 404", code)
	}
	if code, _, _ := ana.do("GET", "/console/distress/..%2Fx/summary", "", false); code != http.StatusNotFound {
		t.Errorf("a name that cannot be an alert: %d, want 404", code)
	}

	// The conversation links back to its alert.
	_, page, _ = ana.do("GET", panel, "", false)
	convKey := regexp.MustCompile(`href="/console/c/([^"]+)"`).FindStringSubmatch(page)
	if convKey == nil {
		t.Fatal("no conversation on the panel")
	}
	if code, body, _ := ana.do("POST", "/console/api/conversations/"+convKey[1]+"/claim", "{}", true); code != 200 {
		t.Fatalf("claim: %d %s", code, body)
	}
	if _, conv, _ := ana.do("GET", "/console/c/"+convKey[1], "", false); strings.Count(conv, `href="`+panel+`"`) != 1 {
		t.Errorf("the conversation does not link to its alert once:\n%s", conv)
	}
	// Closed, the conversation is no longer with a person: the alert is done.
	if code, body, _ := ana.do("POST", "/console/api/conversations/"+convKey[1]+"/close", `{"reason":"rescued"}`, true); code != 200 {
		t.Fatalf("close: %d %s", code, body)
	}
	if _, list, _ := ana.do("GET", "/console/distress", "", false); !strings.Contains(list, "Done, last 7 days (1)") ||
		!strings.Contains(list, "Acknowledged, still with a person (0)") {
		t.Errorf("distress page once the conversation is closed:\n%s", list)
	}
	if _, page, _ := ana.do("GET", panel, "", false); !strings.Contains(page, "The conversation is not with a person now.") {
		t.Errorf("the panel still links to a closed conversation")
	}

	// The page's live stream, and what the page polls without one.
	_, list, _ := ana.do("GET", "/console/distress", "", false)
	sig := regexp.MustCompile(`data-sig="([^"]+)"`).FindStringSubmatch(list)
	_, polled, _ := ana.do("GET", "/console/api/sig/distress", "", false)
	if sig == nil || !strings.Contains(polled, `"sig":"`+sig[1]+`"`) {
		t.Errorf("polled signature %s, page's %v", polled, sig)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sreq, _ := http.NewRequestWithContext(sctx, "GET", h.base+"/console/events/distress", nil)
	sreq.AddCookie(ana.cookie)
	if resp, err := http.DefaultClient.Do(sreq); err != nil {
		t.Errorf("stream: %v", err)
	} else {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		resp.Body.Close()
		if resp.StatusCode != 200 || line != "event: changed\n" {
			t.Errorf("stream: %d %q", resp.StatusCode, line)
		}
	}
	cancel()

	entries, err := store.AuditLog(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// The register's own record of each read of the case's facts.
	ofCase, err := store.AuditLog(ctx, strings.TrimPrefix(id, "A"))
	if err != nil {
		t.Fatal(err)
	}
	// The console's steps on the alert are in the case's own log, where a review of
	// who saw and did what to it looks.
	var caseLog []string
	for _, e := range ofCase {
		caseLog = append(caseLog, e.Actor+" "+e.Action)
	}
	for _, want := range []string{"operator:ana distress.view", "operator:ana distress.ack", "operator:sam distress.ack",
		"operator:ana distress.contact"} {
		if !slices.Contains(caseLog, want) {
			t.Errorf("the case's audit log lacks %q: %v", want, caseLog)
		}
	}
	entries = append(entries, ofCase...)
	var log []string
	for _, e := range entries {
		log = append(log, e.Actor+" "+e.Action+" "+e.Reason)
		if strings.Contains(e.Reason, digits) {
			t.Errorf("the audit log holds the number: %+v", e)
		}
	}
	all := strings.Join(log, "\n")
	for _, want := range []string{
		"operator:ana distress.view alert " + id, "operator:ana distress.read console: distress panel",
		"operator:ana distress.read console: rescue-centre summary", "operator:ana distress.ack alert " + id,
		"operator:sam distress.ack alert " + id + " case", "(already acknowledged)",
		"operator:ana distress.summary alert " + id, "with the number to call back", "operator:ana distress.contact alert " + id,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("audit log lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(h.logs.String(), digits) {
		t.Error("the number reached the logs")
	}
}
