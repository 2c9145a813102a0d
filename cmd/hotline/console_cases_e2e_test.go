package main

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/handoff/accounts"
)

// formFields reads a case page's interview form: the digest of each field as shown,
// and the form's id.
func formFields(t *testing.T, page string) (seen map[string]string, id string) {
	t.Helper()
	seen = map[string]string{}
	for _, m := range regexp.MustCompile(`name="seen\.([a-z_]+)" value="([0-9a-f]+)"`).FindAllStringSubmatch(page, -1) {
		seen[m[1]] = m[2]
	}
	if m := regexp.MustCompile(`data-post="/console/api/cases/[^"]+/interview"><input type="hidden" name="id" value="([^"]+)"`).FindStringSubmatch(page); m != nil {
		id = m[1]
	}
	if len(seen) != len(cases.InterviewFields()) || id == "" {
		t.Fatalf("the interview form has %d fields (want %d) and id %q:\n%s", len(seen), len(cases.InterviewFields()), id, page)
	}
	return seen, id
}

func jsonBody(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCasePanelEndToEnd: a family reports by SMS; an operator finds the case in the
// console's list and opens it (the report as given, "I don't know" and skipped answers
// said as such, a recorded answer as a recording), completes it in an interview, and
// starts work on it; a supervisor closes it. The conversation of the family links to
// the case. The audit log holds every view and change with field names, never values;
// nothing works without a session or without the CSRF token; a wrong reference gets a
// clear 404 page; no personal data reaches the logs.
func TestCasePanelEndToEnd(t *testing.T) {
	const phone = "+15005550061"
	h := startHotline(t, nil)
	ctx := context.Background()
	store, err := cases.Open(ctx, h.env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	addAccount(t, h, "ana", accounts.Operator)
	addAccount(t, h, "sam", accounts.Supervisor)

	// The family's report, through the bot.
	conv := &talk{t: t, h: h, base: 6000}
	say := func(text string, parts int) string {
		t.Helper()
		return conv.sms(phone, text, parts)
	}
	say("hello", 1)
	say("1", 1) // English
	say("2", 1) // report a missing person
	say("1", 1) // consent
	say("2", 1) // no sharing with the Red Cross / Red Crescent
	for _, a := range []string{"Amina Keita", "sister", "yes, evenings", "Mamadou Keita", "?", "1", "about 24", "Guinea",
		"SKIP", "scar on his left hand", "don't know", "+224 620 11 22 33", "March 2026", "Sfax", "WhatsApp call",
		"Libya, then by sea", "Conakry", "10/2025", "Italy", "two friends"} {
		say(a, 1)
	}
	say("1", 3) // at sea; the summary
	r, err := ref.Parse(refPattern.FindString(say("1", 2)))
	if err != nil {
		t.Fatalf("no reference given: %v", err)
	}
	ring, err := keyring.Parse(h.env["HOTLINE_DATA_KEYS"])
	if err != nil {
		t.Fatal(err)
	}
	reg := cases.NewRegister(store, ring, func(k, v string) string { return k + v }, time.Now)
	waitUntil(t, 10*time.Second, "the report in the register", func() bool {
		open, err := reg.Open(ctx, 10)
		return err == nil && len(open) == 1 && open[0].Ref == r.Compact()
	})
	// A report made by phone, whose clothing was said into a recording.
	phoned, _ := ref.New(nil)
	recorded := cases.Report{Ref: phoned.Compact(), Channel: "voice", Lang: "fr", ContactKey: "caller-key", ConsentVersion: "report-consent-1",
		Details: cases.Details{Contact: "+15005550062", Missing: cases.Person{Names: "Awa Sow",
			Clothing: cases.Recorded + "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE0123"}}}
	if _, _, err := reg.Save(ctx, recorded); err != nil {
		t.Fatal(err)
	}

	anon := &browser{t: t, h: h}
	page := "/console/cases/" + r.String()
	api := "/console/api/cases/" + r.String()
	if code, _, hdr := anon.do("GET", page, "", false); code != http.StatusSeeOther || hdr.Get("Location") != "/console/login" {
		t.Errorf("a case page without a session: %d %s", code, hdr.Get("Location"))
	}
	if code, _, hdr := anon.do("GET", "/console/cases", "", false); code != http.StatusSeeOther || hdr.Get("Location") != "/console/login" {
		t.Errorf("the cases page without a session: %d %s", code, hdr.Get("Location"))
	}
	for _, p := range []string{api + "/interview", api + "/status"} {
		if code, _, _ := anon.do("POST", p, "{}", false); code != http.StatusUnauthorized {
			t.Errorf("POST %s without a session: %d, want 401", p, code)
		}
	}

	ana := &browser{t: t, h: h}
	if code := ana.login("ana", "ana-long-password-1"); code != http.StatusSeeOther || ana.csrf == "" {
		t.Fatalf("login: %d", code)
	}
	// The list: both cases wait for an interview; a reference typed with spaces and in
	// lower case leads to the case.
	code, list, _ := ana.do("GET", "/console/cases", "", false)
	if code != 200 || !strings.Contains(list, "Waiting for an interview (2)") || !strings.Contains(list, `href="`+page+`"`) ||
		strings.Contains(list, "Mamadou") {
		t.Errorf("cases page: %d\n%s", code, list)
	}
	typed := strings.ToLower(r.Compact()[:3] + " " + r.Compact()[3:])
	if code, _, hdr := ana.do("GET", "/console/cases?ref="+strings.ReplaceAll(typed, " ", "+"), "", false); code != http.StatusSeeOther || hdr.Get("Location") != page {
		t.Errorf("search by reference: %d %s", code, hdr.Get("Location"))
	}

	code, body, hdr := ana.do("GET", page, "", false)
	text := html.UnescapeString(body)
	if code != 200 || hdr.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("case page: %d %v\n%s", code, hdr, body)
	}
	for _, want := range []string{"Case " + r.String(), "Received", "Amina Keita", "sister", "yes, evenings", "Mamadou Keita",
		"The family does not know", // other names: "?"
		"Not given",                // languages: SKIP
		"age 24 (estimated)", "scar on his left hand", "+224 620 11 22 33", "Sfax", "Libya, then by sea", "At sea",
		"text version report-consent-1", "Did not agree to sharing", phone} {
		if !strings.Contains(text, want) {
			t.Errorf("the case page lacks %q", want)
		}
	}
	seen, id := formFields(t, body)

	// Completing the interview: a change needs the CSRF token.
	edit := map[string]string{
		"missing_languages": "Susu, French", "seen.missing_languages": seen["missing_languages"],
		"missing_clothing": "red jacket", "seen.missing_clothing": seen["missing_clothing"],
		// Sent as shown: not a change.
		"missing_names": "Mamadou Keita", "seen.missing_names": seen["missing_names"],
		"note": "Spoke with the sister for twenty minutes; she will send a photo.", "id": id,
	}
	if code, _, _ := ana.do("POST", api+"/interview", jsonBody(t, edit), false); code != http.StatusForbidden {
		t.Errorf("an interview saved without the CSRF token: %d, want 403", code)
	}
	code, out, _ := ana.do("POST", api+"/interview", jsonBody(t, edit), true)
	if code != 200 || !strings.Contains(out, `"changed":["missing_languages","missing_clothing","note"]`) {
		t.Fatalf("interview: %d %s", code, out)
	}
	// The same form sent again (a lost answer retried): nothing more.
	if code, out, _ := ana.do("POST", api+"/interview", jsonBody(t, edit), true); code != 200 || !strings.Contains(out, `"changed":[]`) {
		t.Errorf("the same interview again: %d %s", code, out)
	}
	// A form from before someone else's change does not overwrite it.
	stale := map[string]string{"missing_languages": "Susu", "seen.missing_languages": seen["missing_languages"]}
	if code, out, _ := ana.do("POST", api+"/interview", jsonBody(t, stale), true); code != http.StatusConflict || !strings.Contains(out, "Languages spoken") {
		t.Errorf("an interview over an unseen change: %d %s", code, out)
	}
	_, body, _ = ana.do("GET", page, "", false)
	text = html.UnescapeString(body)
	for _, want := range []string{"Susu, French", "red jacket", "The family said:", "she will send a photo", "Spoke with the sister"} {
		if !strings.Contains(text, want) {
			t.Errorf("after the interview, the page lacks %q", want)
		}
	}

	// The recorded answer is said to be one; its address is not shown.
	_, body, _ = ana.do("GET", "/console/cases/"+phoned.String(), "", false)
	if !strings.Contains(body, "A recording (said on the call)") || strings.Contains(body, "api.twilio.com") {
		t.Errorf("a recorded answer on the page:\n%s", body)
	}

	// Status: an operator starts work on it, cannot close it; a supervisor closes it,
	// and then it is not completed until it is reopened.
	if code, out, _ := ana.do("POST", api+"/status", `{"status":"in_progress"}`, true); code != 200 || !strings.Contains(out, `"from":"received"`) {
		t.Errorf("start: %d %s", code, out)
	}
	closing := jsonBody(t, map[string]string{"status": "closed", "outcome": "found_alive", "note": "Found in Tripoli, in hospital.", "id": "note-000000001"})
	if code, _, _ := ana.do("POST", api+"/status", closing, true); code != http.StatusForbidden {
		t.Errorf("an operator closing a case: %d, want 403", code)
	}
	sam := &browser{t: t, h: h}
	sam.login("sam", "sam-long-password-1")
	if code, out, _ := sam.do("POST", api+"/status", `{"status":"closed"}`, true); code != http.StatusBadRequest {
		t.Errorf("closing without an outcome: %d %s", code, out)
	}
	if code, out, _ := sam.do("POST", api+"/status", closing, true); code != 200 || !strings.Contains(out, `"from":"in_progress"`) {
		t.Errorf("a supervisor closing: %d %s", code, out)
	}
	if code, out, _ := ana.do("POST", api+"/interview", jsonBody(t, edit), true); code != http.StatusConflict || !strings.Contains(out, "closed") {
		t.Errorf("an interview on a closed case: %d %s", code, out)
	}
	code, body, _ = ana.do("GET", page, "", false)
	if code != 200 || !strings.Contains(body, "Closed") || strings.Contains(body, "/interview") || !strings.Contains(body, "A supervisor can reopen it") {
		t.Errorf("a closed case's page: %d\n%s", code, body)
	}

	// Wrong references: a clear page, 404.
	other, _ := ref.New(nil)
	for _, tc := range []struct{ path, want string }{
		{"/console/cases/" + other.String(), "No case has the reference " + other.String()},
		{"/console/cases/" + r.String()[:len(r.String())-1] + nextChar(r.String()), "typing mistake"},
		{"/console/cases/not-a-reference", "This is not a case reference"},
	} {
		code, body, _ := ana.do("GET", tc.path, "", false)
		if code != http.StatusNotFound || !strings.Contains(body, tc.want) || !strings.Contains(body, `name="ref"`) {
			t.Errorf("GET %s: %d, want 404 with %q", tc.path, code, tc.want)
		}
	}
	if code, _, _ := ana.do("POST", "/console/api/cases/"+other.String()+"/interview", `{}`, true); code != http.StatusNotFound {
		t.Errorf("an interview of no case: %d", code)
	}

	// The family asks for a person: the conversation's page links to their case.
	h.post(sid(6500), phone, "AGENT")
	var key string
	waitUntil(t, 10*time.Second, "the family in the queue", func() bool {
		_, out, _ := ana.do("GET", "/console/api/queue", "", false)
		var q struct {
			Waiting []struct{ Key string } `json:"waiting"`
		}
		json.Unmarshal([]byte(out), &q)
		if len(q.Waiting) == 1 {
			key = q.Waiting[0].Key
		}
		return key != ""
	})
	if code, out, _ := ana.do("POST", "/console/api/conversations/"+key+"/claim", "{}", true); code != 200 {
		t.Fatalf("claim: %d %s", code, out)
	}
	_, body, _ = ana.do("GET", "/console/c/"+key, "", false)
	if !strings.Contains(body, `href="`+page+`"`) || strings.Contains(body, phoned.String()) {
		t.Errorf("the conversation's page does not link to the family's case (only):\n%s", body)
	}

	// The audit log: who viewed and changed what, by field name, never a value.
	log, err := store.AuditLog(ctx, r.Compact())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range log {
		got = append(got, e.Actor+" "+e.Action+" "+e.Reason)
		for _, secret := range []string{"Susu", "jacket", "photo", "sister", "Tripoli", "hospital", "Mamadou", "Amina"} {
			if strings.Contains(e.Reason, secret) {
				t.Errorf("the audit entry %q holds %q", e.Action+" "+e.Reason, secret)
			}
		}
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{"operator:ana case.view console", "operator:ana case.update fields: missing_languages, missing_clothing, note",
		"operator:ana case.status.in_progress from received", "operator:sam case.status.closed from in_progress, outcome found_alive, with a note"} {
		if !strings.Contains(all, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, all)
		}
	}
	if strings.Count(all, "case.update") != 1 {
		t.Errorf("case.update written for saves that changed nothing:\n%s", all)
	}

	logs := h.logs.String()
	for _, secret := range []string{"Amina", "Mamadou", "Keita", "Susu", "jacket", "photo", "Tripoli", "620 11 22 33",
		r.Compact(), r.String(), "15005550061"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold %q", secret)
		}
	}
}

// nextChar is another character of the alphabet than the reference's last (its check
// character): a typing mistake.
func nextChar(s string) string {
	last := s[len(s)-1]
	i := strings.IndexByte(ref.Alphabet, last)
	return string(ref.Alphabet[(i+1)%len(ref.Alphabet)])
}

// TestCasePanelInABrowser: in real headless Chromium, an operator who reads the console
// in Arabic opens a case from the list, completes a field of the interview and adds a
// note through the page's own script; the page shows the new value beside the family's
// answer, and the interview form's errors are said in Arabic.
func TestCasePanelInABrowser(t *testing.T) {
	bin := chromium(t)
	h := startHotline(t, map[string]string{"HOTLINE_PUBLIC_URL": "http://hotline.example.org"})
	ctx := context.Background()
	store, err := cases.Open(ctx, h.env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	password := addAccount(t, h, "ana", accounts.Operator, "ar")
	ring, err := keyring.Parse(h.env["HOTLINE_DATA_KEYS"])
	if err != nil {
		t.Fatal(err)
	}
	reg := cases.NewRegister(store, ring, func(k, v string) string { return k + v }, time.Now)
	r, _ := ref.New(nil)
	if _, _, err := reg.Save(ctx, cases.Report{Ref: r.Compact(), Channel: "whatsapp", Lang: "ar", ContactKey: "contact-key",
		ConsentVersion: "report-consent-1", Details: cases.Details{Contact: "whatsapp:+15005550063",
			Enquirer: cases.Enquirer{Name: "فاطمة", Relationship: "أم"},
			Missing:  cases.Person{Names: "يوسف علي", Languages: cases.DontKnow}}}); err != nil {
		t.Fatal(err)
	}

	bctx, base := headless(t, bin, h)
	if err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/console/cases"),
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#id`), "ana"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`header nav`)),
		chromedp.Navigate(base+"/console/cases"),
		chromedp.WaitVisible(chromedp.Search(`//h2[contains(., "بانتظار المقابلة (1)")]`)),
	); err != nil {
		t.Fatalf("log in and list the cases: %v", err)
	}
	screenshot(t, bctx, "case-0-list")
	if err := chromedp.Do(bctx,
		chromedp.Click(chromedp.CSS(`a[href="/console/cases/`+r.String()+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#f-missing_languages`)),
	); err != nil {
		t.Fatalf("open the case: %v", err)
	}
	page := body(t, bctx)
	if !strings.Contains(page, "يوسف علي") || !strings.Contains(page, "العائلة لا تعرف") || !strings.Contains(page, "الملف "+r.String()) {
		t.Errorf("the case page in Arabic:\n%s", page)
	}
	screenshot(t, bctx, "case-1-page")
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(chromedp.CSS(`#f-missing_languages`), "العربية، الفرنسية"),
		chromedp.SendKeys(chromedp.CSS(`#f-note`), "تحدثت مع الأم عشر دقائق."),
		chromedp.Click(chromedp.CSS(`form[data-post$="/interview"] button`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "قالت العائلة:")]`)),
	); err != nil {
		t.Fatalf("save the interview: %v", err)
	}
	page = body(t, bctx)
	screenshot(t, bctx, "case-2-saved")
	if !strings.Contains(page, `value="العربية، الفرنسية"`) || !strings.Contains(page, "تحدثت مع الأم عشر دقائق.") {
		t.Errorf("after saving, the page lacks the new value or the note:\n%s", page)
	}
	c, err := reg.Read(ctx, r.Compact(), "test:e2e", "check the interview")
	if err != nil || c.Details.Missing.Languages != "العربية، الفرنسية" || c.Details.Missing.Names != "يوسف علي" {
		t.Errorf("the register after the browser's save: %+v %v", c.Details, err)
	}
}
