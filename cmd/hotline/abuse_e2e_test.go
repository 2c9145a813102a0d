package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/redistest"
	"github.com/hotline-org/hotline/channels/twilio/twiliotest"
)

// TestFloodFromOneNumberDoesNotDrownOthers: one number sends 199 messages as fast as
// the webhook takes them while another contact, on the same shard, has an ordinary
// conversation. The other contact's replies all come, in order; the flooder gets the
// replies of its first 20 messages (the limit set here, 20 a minute) and one notice,
// and nothing more, while every webhook is answered 200. Its SOS, over the limit,
// still gets the distress flow and alerts the duty operators.
func TestFloodFromOneNumberDoesNotDrownOthers(t *testing.T) {
	const secret = "duty-webhook-secret-0123456789"
	duty, alerts := dutyWebhook(t, secret)

	// The hotline's clock stands still at the start of a window (under a minute ahead
	// of the real clock: signed alerts carry the real time), so that the whole flood
	// and the SOS fall in one window however slowly the machine runs them: the counts
	// below are then exact. With the clock stopped, nothing may wait for it: the SMS
	// rate is lifted.
	clock := &stoppedClock{at: time.Now().Truncate(time.Minute).Add(time.Minute)}
	_, prefix := redistest.Single(t)
	tw := twiliotest.New(t, accountSID, authToken)
	key := make([]byte, 32)
	rand.Read(key)
	h := startAt(t, prefix, tw, base64.StdEncoding.EncodeToString(key), map[string]string{
		"HOTLINE_CONTACT_RATE":          "20/1m",
		"HOTLINE_RATE_SMS":              "0",
		"HOTLINE_NOTIFY_WEBHOOK_URL":    duty.URL,
		"HOTLINE_NOTIFY_WEBHOOK_SECRET": secret,
	}, clock.now)

	const flooder = "+15005550066"
	other := shardMate(flooder, 4)
	var floodTexts []string
	for i := range 199 {
		switch {
		case i == 0:
			floodTexts = append(floodTexts, "hi")
		case i%2 == 1:
			floodTexts = append(floodTexts, "LANGUAGE")
		default:
			floodTexts = append(floodTexts, "1")
		}
	}
	refused := make(chan int, 1)
	go func() {
		bad := 0
		for i, text := range floodTexts {
			if code := h.post(sid(50000+i), flooder, text); code != 200 {
				bad++
			}
		}
		refused <- bad
	}()

	// Meanwhile, an ordinary conversation: each message waits for its reply.
	talkTexts := []string{"hello", "2", "MENU", "HELP", "LANGUAGE", "3", "MENU", "BACK"}
	want := expectedReplies(t, talkTexts)
	sent := 0
	for i, text := range talkTexts {
		if code := h.post(sid(60000+i), other, text); code != 200 {
			t.Fatalf("%q: webhook %d", text, code)
		}
		sent += len(expectedReplies(t, talkTexts[:i+1])) - len(expectedReplies(t, talkTexts[:i]))
		waitUntil(t, 30*time.Second, fmt.Sprintf("the reply to %q", text), func() bool { return len(sentTo(tw.Messages(), other)) >= sent })
	}
	if bad := <-refused; bad != 0 {
		t.Errorf("%d of the flood's webhooks not answered 200", bad)
	}
	got := sentTo(tw.Messages(), other)
	if len(got) != len(want) {
		t.Fatalf("the other contact got %d replies, want %d:\n%s\nwant:\n%s", len(got), len(want), bodies(got), strings.Join(want, "\n--\n"))
	}
	for i := range want {
		if got[i].Body != want[i] {
			t.Errorf("other contact's reply %d:\n got %q\nwant %q", i, got[i].Body, want[i])
		}
	}

	// Every message of the flood was taken: the 179 over the limit counted, one notice.
	waitUntil(t, 30*time.Second, "the flood to be handled", func() bool {
		m := get(t, h.base+"/metrics")
		return limitedCount(m, "dropped") == 178 && limitedCount(m, "notice") == 1
	})
	h.settle()
	floodReplies := sentTo(tw.Messages(), flooder)
	wantFlood := expectedReplies(t, floodTexts[:20])
	if len(floodReplies) != len(wantFlood)+1 {
		t.Fatalf("the flooder got %d replies, want %d (its first 20 messages) and the notice", len(floodReplies), len(wantFlood))
	}
	for i := range wantFlood {
		if floodReplies[i].Body != wantFlood[i] {
			t.Errorf("flooder's reply %d:\n got %q\nwant %q", i, floodReplies[i].Body, wantFlood[i])
		}
	}
	if n := floodReplies[len(wantFlood)].Body; !strings.Contains(n, "I will not answer for a minute") || !strings.Contains(n, "write SOS") {
		t.Errorf("notice: %q", n)
	}

	// SOS, over the limit: the distress flow, and the duty operators alerted.
	if code := h.post(sid(50999), flooder, "SOS"); code != 200 {
		t.Fatalf("SOS: webhook %d", code)
	}
	waitUntil(t, 30*time.Second, "the distress guidance", func() bool {
		for _, m := range sentTo(tw.Messages(), flooder)[len(floodReplies):] {
			if strings.Contains(m.Body, "call 112 now") {
				return true
			}
		}
		return false
	})
	waitUntil(t, 30*time.Second, "the duty alert", func() bool { return len(alerts()) > 0 })
	if got := alerts(); len(got) != 1 || got[0].Channel != "sms" || got[0].CaseRef == "" {
		t.Errorf("duty webhook got %+v", got)
	}
	if m := get(t, h.base+"/metrics"); limitedCount(m, "answered") != 1 {
		t.Errorf("SOS not counted as answered over the limit:\n%s", grep(m, "hotline_contact_limited_total"))
	}
	if logs := h.logs.String(); strings.Contains(logs, "5005550066") || strings.Contains(logs, other[2:]) {
		t.Errorf("logs carry a number:\n%s", logs)
	}
}

// stoppedClock is a clock that stands still.
type stoppedClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *stoppedClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

// shardMate is a number other than number whose SMS conversation lives on the same
// shard.
func shardMate(number string, shards int) string {
	want := channels.ShardOf(channels.SMS, number, shards)
	for i := 0; ; i++ {
		n := fmt.Sprintf("+1500555%04d", 7000+i)
		if n != number && channels.ShardOf(channels.SMS, n, shards) == want {
			return n
		}
	}
}

// sentTo is the messages sent to number, in order.
func sentTo(msgs []twiliotest.Message, number string) []twiliotest.Message {
	var out []twiliotest.Message
	for _, m := range msgs {
		if m.To == number {
			out = append(out, m)
		}
	}
	return out
}

var limitedLine = regexp.MustCompile(`(?m)^hotline_contact_limited_total\{channel="sms",handling="(\w+)"\} (\d+)$`)

// limitedCount reads the SMS messages over the limit handled one way from the metrics.
func limitedCount(metrics, handling string) int {
	for _, m := range limitedLine.FindAllStringSubmatch(metrics, -1) {
		if m[1] == handling {
			n, _ := strconv.Atoi(m[2])
			return n
		}
	}
	return 0
}

// TestContactRateSetting: HOTLINE_CONTACT_RATE reads messages per window, 0 or off for
// none, and refuses anything else.
func TestContactRateSetting(t *testing.T) {
	for _, tc := range []struct {
		in     string
		limit  int
		window time.Duration
		ok     bool
	}{
		{"20/1m", 20, time.Minute, true},
		{" 5 / 30s ", 5, 30 * time.Second, true},
		{"0", 0, 0, true},
		{"off", 0, 0, true},
		{"20", 0, 0, false},
		{"-1/1m", 0, 0, false},
		{"0/1m", 0, 0, false},
		{"20/0s", 0, 0, false},
		{"20/500ms", 0, 0, false},
		{"20/48h", 0, 0, false},
		{"twenty/1m", 0, 0, false},
	} {
		limit, window, err := parseContactRate(strings.TrimSpace(tc.in))
		if (err == nil) != tc.ok || limit != tc.limit || window != tc.window {
			t.Errorf("%q: %d per %v, err %v", tc.in, limit, window, err)
		}
	}
	env := map[string]string{"REDIS_URL": redisURL(), "HOTLINE_DATA_DIR": t.TempDir(), "HOTLINE_DATA_KEYS": dataKeys(t),
		"DATABASE_URL": "sqlite:" + t.TempDir() + "/h.db", "HOTLINE_LOOKUP_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32))}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil || cfg.ContactLimit != 30 || cfg.ContactWindow != time.Minute {
		t.Errorf("default: %d per %v, err %v", cfg.ContactLimit, cfg.ContactWindow, err)
	}
	env["HOTLINE_CONTACT_RATE"] = "lots"
	if _, err := loadConfig(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "HOTLINE_CONTACT_RATE") {
		t.Errorf("a bad setting: %v", err)
	}
}

// TestPublicURLIsChecked: a public URL Twilio's signatures could never match stops
// the start, instead of every webhook being refused later.
func TestPublicURLIsChecked(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"https://hotline.example.org", true},
		{"https://hotline.example.org/", true},
		{"https://hotline.example.org/sub/path", true},
		{"http://localhost:8080", true},
		{"hotline.example.org", false},
		{"ftp://hotline.example.org", false},
		{"https://", false},
		{"https://hotline.example.org/?x=1", false},
		{"https://hotline.example.org/#top", false},
		{"https://user:pw@hotline.example.org", false},
		{"https://hotline example.org", false},
	} {
		env := map[string]string{"HOTLINE_DATA_DIR": t.TempDir(), "HOTLINE_PUBLIC_URL": tc.in}
		_, err := loadConfig(func(k string) string { return env[k] })
		if (err == nil) != tc.ok || err != nil && !strings.Contains(err.Error(), "HOTLINE_PUBLIC_URL") {
			t.Errorf("%q: err %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}
