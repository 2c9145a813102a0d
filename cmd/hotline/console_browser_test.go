package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

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

// headless opens Chromium (bin) for a test, on a profile of its own, for at most a
// minute; it returns the browser's context and the hotline's address as the browser
// reaches it (localhost: a secure context, so notifications and the like behave).
func headless(t *testing.T, bin string, h *hotline) (context.Context, string) {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1024, 900))...)
	ctx, cancelBrowser := chromedp.NewContext(alloc)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancel(); cancelBrowser(); cancelAlloc() })
	return ctx, strings.Replace(h.base, "127.0.0.1", "localhost", 1)
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
	password := addAccount(t, h, "ana", accounts.Operator, "en", "ar")
	ctx, base := headless(t, bin, h)
	var html string
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/console"), // no session: to the login
		chromedp.WaitVisible(chromedp.CSS(`#password`)),
		chromedp.SendKeys(chromedp.CSS(`#id`), "ana"),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.Search(`//h2[contains(., "Waiting for a person (0)")]`)),
	); err != nil {
		t.Fatalf("log in: %v", err)
	}
	screenshot(t, ctx, "0-empty")
	// The console asks before giving a conversation back ("Give it back?"): the
	// operator says yes. (Listened to once the browser runs: subscribing first starts
	// it from two places.)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	// Someone asks for a person while the html is open: it appears without a reload.
	for i, text := range []string{"مرحبا", "4", "4"} { // Arabic, then a person
		h.sms(t, sid(500+i), phone, text, true)
		h.waitReplies(t, i+1)
	}
	h.waitReplies(t, 4)
	h.sms(t, sid(510), phone, "أخي مفقود منذ أسبوع", true)

	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`button[data-post$="/claim"]`))); err != nil {
		t.Fatalf("the waiting conversation did not appear on the open html: %v", err)
	}
	html = body(t, ctx)
	screenshot(t, ctx, "1-queue")
	if !strings.Contains(html, "Ana (operator)") || !strings.Contains(html, "Waiting for a person (1)") {
		t.Fatalf("console html:\n%s", html)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[data-post$="/claim"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#reply-text`)),
	); err != nil {
		t.Fatalf("take the conversation: %v", err)
	}
	html = body(t, ctx)
	screenshot(t, ctx, "2-held")
	if !strings.Contains(html, "أخي مفقود منذ أسبوع") || !strings.Contains(html, `dir="auto"`) {
		t.Errorf("what the contact wrote is not shown (right to left):\n%s", html)
	}
	if !strings.Contains(html, `id="sms-count"`) {
		t.Errorf("no SMS counter on the conversation page:\n%s", html)
	}
	if msgs := h.waitReplies(t, 5); !strings.Contains(msgs[4].Body, "شخص من فريقنا") {
		t.Errorf("the contact was not told, in Arabic, that a person is here: %q", msgs[4].Body)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#reply-text`), "مرحباً، أنا آنا من الفريق. ما اسمه؟"),
	); err != nil {
		t.Fatalf("reply: %v", err)
	}
	if count, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#sms-count`))); err != nil || !strings.Contains(count, "1 SMS (special characters") {
		t.Errorf("SMS counter for an Arabic reply: %q %v", count, err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form[data-post$="/reply"] button`))); err != nil {
		t.Fatalf("send: %v", err)
	}
	if msgs := h.waitReplies(t, 6); msgs[5].Body != "مرحباً، أنا آنا من الفريق. ما اسمه؟" || msgs[5].To != phone {
		t.Errorf("the provider got %+v", msgs[5])
	}
	// The html reloads once the reply is taken: wait for the fresh html (an empty box)
	// before the next click, which the reload would otherwise cancel.
	for deadline := time.Now().Add(20 * time.Second); ; {
		v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`#reply-text`)))
		if err == nil && v == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the html did not reload after the reply: %q %v", v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The transcript: the contact's words and the reply; then a note for the team,
	// which is never sent.
	if html = body(t, ctx); !strings.Contains(html, "مرحباً، أنا آنا من الفريق") || !strings.Contains(html, "· ana") {
		t.Errorf("the reply is not in the transcript:\n%s", html)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`form[data-post$="/note"] textarea`), "Brother of the caller; call back after 18:00."),
		chromedp.Click(chromedp.CSS(`form[data-post$="/note"] button`)),
		chromedp.WaitVisible(chromedp.Search(`//div[contains(@class, "msg note")]`)),
	); err != nil {
		t.Fatalf("note: %v", err)
	}
	screenshot(t, ctx, "3-note")
	h.settle()
	if n := len(h.twilio.Messages()); n != 6 {
		t.Errorf("%d messages sent: the note went to the contact", n)
	}
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS(`button[data-post$="/release"]`)),
		chromedp.Click(chromedp.CSS(`button[data-post$="/release"]`)), // "Give back?" is confirmed below
		chromedp.WaitVisible(chromedp.Search(`//h2[contains(., "Held by operators (0)")]`)),
	); err != nil {
		t.Fatalf("give back: %v", err)
	}
	screenshot(t, ctx, "4-given-back")
	// The console in Arabic: right to left, its own words.
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(`#uilang`), "ar")); err != nil {
		t.Fatalf("choose Arabic: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById('uilang').dispatchEvent(new Event('change'))`)); err != nil {
		t.Fatalf("choose Arabic: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.Search(`//a[contains(., "قائمة الانتظار")]`))); err != nil {
		t.Fatalf("the console did not switch to Arabic: %v", err)
	}
	screenshot(t, ctx, "5-arabic")
	// Nothing sticks out sideways (a tablet would scroll, right to left, to find it).
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`)); err != nil || w > 0 {
		t.Errorf("the Arabic page is %d px wider than the window (%v)", w, err)
	}
	if html = body(t, ctx); !strings.Contains(html, "لا أحد ينتظر") {
		t.Errorf("the console in Arabic:\n%s", html)
	}
	if dir, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`html`), "dir")); err != nil || dir.Value != "rtl" {
		t.Errorf("html dir = %q %v, want rtl", dir.Value, err)
	}
	if msgs := h.waitReplies(t, 7); !strings.Contains(msgs[6].Body, "الخدمة الآلية") {
		t.Errorf("given back: %q", msgs[6].Body)
	}
}

// body is the page's HTML as the browser has it now.
func body(t *testing.T, ctx context.Context) string {
	t.Helper()
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("body")))
	if err != nil {
		t.Fatalf("read the html: %v", err)
	}
	return html
}
