package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/handoff/accounts"
)

// chromium finds the browser, or skips the test outside CI (in CI a missing browser
// is a failure: .ci/run installs Debian's chromium).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium: .ci/run installs Debian's chromium package")
	}
	t.Skip("no chromium on this machine (apt-get install chromium)")
	return ""
}

// screenshot keeps what the browser shows, as a test artefact: under
// $TEST_ARTEFACTS, or testdata/artefacts (not committed).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("TEST_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artefacts")
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: a PNG
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll(dir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}

// TestConsoleInABrowser: in real headless Chromium, an operator logs in, sees a
// conversation handed over appear on the open page (server-sent events), takes it, reads what the contact wrote, answers (the provider
// receives the reply) and gives it back to the bot.
func TestConsoleInABrowser(t *testing.T) {
	bin := chromium(t)
	const phone = "+15005550040"
	h := startHotline(t, map[string]string{"HOTLINE_PUBLIC_URL": "http://hotline.example.org"})
	store, err := cases.Open(context.Background(), h.env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	hash, _ := accounts.Hash("ana-browser-password", accounts.Params{Memory: 64, Time: 1, Threads: 1})
	if err := store.AddOperator(context.Background(), cases.Operator{ID: "ana", Name: "Ana", Role: string(accounts.Operator),
		Langs: []string{"en", "ar"}, PasswordHash: hash}, "admin:test"); err != nil {
		t.Fatal(err)
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1024, 900))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	base := strings.Replace(h.base, "127.0.0.1", "localhost", 1)
	var page string
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/console"), // no session: to the login
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#id`), "ana"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "ana-browser-password"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.Search(`//h2[contains(., "Waiting for a person (0)")]`)),
	); err != nil {
		t.Fatalf("log in: %v", err)
	}
	screenshot(t, ctx, "0-empty")
	// Someone asks for a person while the page is open: it appears without a reload.
	for i, text := range []string{"مرحبا", "4", "4"} { // Arabic, then a person
		h.sms(t, sid(500+i), phone, text, true)
		h.waitReplies(t, i+1)
	}
	h.waitReplies(t, 4)
	h.sms(t, sid(510), phone, "أخي مفقود منذ أسبوع", true)

	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`button[data-action=claim]`))); err != nil {
		t.Fatalf("the waiting conversation did not appear on the open page: %v", err)
	}
	page = body(t, ctx)
	screenshot(t, ctx, "1-queue")
	if !strings.Contains(page, "Ana (operator)") || !strings.Contains(page, "Waiting for a person (1)") {
		t.Fatalf("console page:\n%s", page)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[data-action=claim]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-action=reply] textarea`)),
	); err != nil {
		t.Fatalf("take the conversation: %v", err)
	}
	page = body(t, ctx)
	screenshot(t, ctx, "2-held")
	if !strings.Contains(page, "أخي مفقود منذ أسبوع") || !strings.Contains(page, `dir="auto"`) {
		t.Errorf("what the contact wrote is not shown (right to left):\n%s", page)
	}
	if msgs := h.waitReplies(t, 5); !strings.Contains(msgs[4].Body, "شخص من فريقنا") {
		t.Errorf("the contact was not told, in Arabic, that a person is here: %q", msgs[4].Body)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`form[data-action=reply] textarea`), "مرحباً، أنا آنا من الفريق. ما اسمه؟"),
		chromedp.Click(chromedp.CSS(`form[data-action=reply] button`)),
	); err != nil {
		t.Fatalf("reply: %v", err)
	}
	if msgs := h.waitReplies(t, 6); msgs[5].Body != "مرحباً، أنا آنا من الفريق. ما اسمه؟" || msgs[5].To != phone {
		t.Errorf("the provider got %+v", msgs[5])
	}
	// The page reloads once the reply is taken: wait for the fresh page (an empty box)
	// before the next click, which the reload would otherwise cancel.
	for deadline := time.Now().Add(20 * time.Second); ; {
		v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`form[data-action=reply] textarea`)))
		if err == nil && v == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page did not reload after the reply: %q %v", v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The transcript: the contact's words and the reply; then a note for the team,
	// which is never sent.
	if page = body(t, ctx); !strings.Contains(page, "مرحباً، أنا آنا من الفريق") || !strings.Contains(page, "· ana") {
		t.Errorf("the reply is not in the transcript:\n%s", page)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`form[data-action=note] textarea`), "Brother of the caller; call back after 18:00."),
		chromedp.Click(chromedp.CSS(`form[data-action=note] button`)),
		chromedp.WaitVisible(chromedp.Search(`//div[contains(@class, "note")]`)),
	); err != nil {
		t.Fatalf("note: %v", err)
	}
	screenshot(t, ctx, "3-note")
	h.settle()
	if n := len(h.twilio.Messages()); n != 6 {
		t.Errorf("%d messages sent: the note went to the contact", n)
	}
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`button[data-action=release]`)),
		chromedp.Click(chromedp.CSS(`button[data-action=release]`)),
		chromedp.WaitVisible(chromedp.Search(`//h2[contains(., "Held by operators (0)")]`)),
	); err != nil {
		t.Fatalf("give back: %v", err)
	}
	screenshot(t, ctx, "4-given-back")
	if msgs := h.waitReplies(t, 7); !strings.Contains(msgs[6].Body, "الخدمة الآلية") {
		t.Errorf("given back: %q", msgs[6].Body)
	}
}

// body is the page's HTML as the browser has it now.
func body(t *testing.T, ctx context.Context) string {
	t.Helper()
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	return html
}
