package main

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hotline-org/hotline/cases"
	"github.com/hotline-org/hotline/cases/keyring"
	"github.com/hotline-org/hotline/cases/ref"
	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/channels/inbox"
	"github.com/hotline-org/hotline/channels/outbox"
)

var refPattern = regexp.MustCompile(`[2-9A-Z]{3}-[2-9A-Z]{3}-[2-9A-Z]{4}`)

// TestMissingPersonReportEndToEnd: a family reports by SMS, from first message to the
// reference; the case is in the register, sealed; they follow up from WhatsApp with the
// reference and add information; and no name, number, place or reference they sent
// reaches the logs.
func TestMissingPersonReportEndToEnd(t *testing.T) {
	const waFrom, phone = "whatsapp:+15005550001", "+15005550006"
	h := startHotline(t, map[string]string{"TWILIO_WHATSAPP_FROM": waFrom})
	conv := &talk{t: t, h: h, base: 1000}
	say := func(text string, parts int) string {
		t.Helper()
		return conv.sms(phone, text, parts)
	}
	say("hello", 1)
	say("1", 1) // English
	if got := say("2", 1); !strings.Contains(got, "we keep your answers, encrypted") {
		t.Fatalf("consent: %q", got)
	}
	say("1", 1) // agrees
	say("2", 1) // no sharing with the Red Cross / Red Crescent
	answers := []string{"Amina Keita", "sister", "yes, evenings", "Mamadou Keita", "?", "1", "about 24", "Guinea",
		"SKIP", "scar on his left hand", "don't know", "+224 620 11 22 33", "March 2026", "Sfax", "WhatsApp call",
		"Libya, then by sea", "Conakry", "10/2025", "Italy", "two friends"}
	for _, a := range answers {
		say(a, 1)
	}
	summary := say("1", 3) // at sea; the summary comes in three parts
	if !strings.Contains(summary, "Name: Mamadou Keita") || !strings.Contains(summary, "Birth or age: about 24") {
		t.Fatalf("summary:\n%s", summary)
	}
	saved := say("1", 2)
	display := refPattern.FindString(saved)
	r, err := ref.Parse(display)
	if err != nil || !strings.Contains(saved, "We never ask for money") {
		t.Fatalf("saved: %v\n%s", err, saved)
	}

	// The register has it, sealed under the deployment's keys.
	ring, err := keyring.Parse(h.env["HOTLINE_DATA_KEYS"])
	if err != nil {
		t.Fatal(err)
	}
	store, err := cases.Open(context.Background(), h.env["DATABASE_URL"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reg := cases.NewRegister(store, ring, func(k, v string) string { return k + v }, time.Now)
	var c cases.Case
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err = reg.Read(context.Background(), r.Compact(), "test:e2e", "check the report"); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("case not in the register: %v", err)
	}
	d := c.Details
	if d.Contact != phone || d.Enquirer.Name != "Amina Keita" || d.Missing.Names != "Mamadou Keita" || d.Missing.Birth != "~age 24" ||
		d.Missing.OtherNames != cases.DontKnow || d.Missing.Languages != "" || d.Journey.Circumstances != "sea" ||
		c.ShareRCRC || c.Channel != "sms" || c.ConsentVersion == "" || c.Status != cases.StatusReceived {
		t.Errorf("case in the register: %+v", c)
	}

	// From WhatsApp, another conversation, the same family follows up.
	wsay := func(text string, parts int) string {
		t.Helper()
		return conv.exchange(func(id string) int {
			return h.whatsapp(t, url.Values{"MessageSid": {id}, "AccountSid": {accountSID}, "From": {"whatsapp:" + phone},
				"To": {waFrom}, "Body": {text}, "NumMedia": {"0"}, "ApiVersion": {"2010-04-01"}})
		}, text, parts)
	}
	wsay("hi", 1)
	wsay("1", 1)
	wsay("3", 1)
	if got := wsay(strings.ToLower(r.Compact()), 1); !strings.Contains(got, "Case "+display+": received") || !strings.Contains(got, "Add information") {
		t.Fatalf("follow-up:\n%s", got)
	}
	wsay("1", 1)
	wsay("A friend saw him in Zuwara in April.", 1)
	deadline = time.Now().Add(10 * time.Second)
	for {
		c, _ = reg.Read(context.Background(), r.Compact(), "test:e2e", "check the note")
		if len(c.Notes) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(c.Notes) != 1 || c.Notes[0].Text != "A friend saw him in Zuwara in April." || c.Notes[0].Author != "family" {
		t.Errorf("notes %+v", c.Notes)
	}

	// A message of theirs and a reply to them were set aside after failing (dead
	// letters, kept a week with their texts); another family's too.
	opt, err := redis.ParseURL(redisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	prefix, shard := h.env["HOTLINE_REDIS_PREFIX"], channels.ShardOf(channels.SMS, phone, 4)
	const other = "+15005550099"
	if channels.ShardOf(channels.SMS, other, 4) != shard {
		t.Fatalf("pick another number in shard %d", shard)
	}
	for _, c := range []string{phone, other} {
		in, _ := json.Marshal(inbox.DeadLetter{StreamID: "1-1", Msg: channels.Inbound{ID: "SMdead" + c[1:], Channel: channels.SMS,
			Contact: c, Text: "he has a scar"}, Error: "boom"})
		out, _ := json.Marshal(outbox.DeadLetter{Out: channels.Outbound{ID: "SMdead" + c[1:] + ":0", Channel: channels.SMS,
			Contact: c, Parts: []string{"Your case"}}, Error: "boom", Outcome: "dead", At: time.Now()})
		if err := rdb.LPush(context.Background(), inbox.DeadKey(prefix, shard), in).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.LPush(context.Background(), outbox.DeadKey(prefix, shard), out).Err(); err != nil {
			t.Fatal(err)
		}
	}

	// The family asks to be forgotten, by SMS where they reported: after a "yes", the
	// case keeps no personal data, their dead letters are gone, and the conversation
	// starts afresh.
	if got := say("DELETE", 1); !strings.Contains(got, "It cannot be undone") {
		t.Fatalf("delete: %q", got)
	}
	if got := say("1", 1); !strings.Contains(got, "Cases erased: 1") {
		t.Fatalf("erased: %q", got)
	}
	c, err = reg.Read(context.Background(), r.Compact(), "test:e2e", "check the erasure")
	if err != nil || c.Reduced.IsZero() || c.Details != (cases.Details{}) || c.Notes[0].Text != "" {
		t.Errorf("after erasure: %+v, %v", c, err)
	}
	for _, key := range []string{inbox.DeadKey(prefix, shard), outbox.DeadKey(prefix, shard)} {
		letters, err := rdb.LRange(context.Background(), key, 0, -1).Result()
		if err != nil || len(letters) != 1 || strings.Contains(letters[0], phone) || !strings.Contains(letters[0], other) {
			t.Errorf("dead letters in %s after the erasure: %q (%v); want only the other family's", key, letters, err)
		}
	}
	if got := say("hello", 1); !strings.Contains(got, "Choose your language") {
		t.Errorf("after erasure the language is asked again: %q", got)
	}

	logs := h.logs.String()
	for _, secret := range []string{"Amina", "Mamadou", "Keita", phone, "15005550006", "620 11 22 33", "Sfax", "Conakry",
		"Zuwara", "scar", r.Compact(), display, strings.ToLower(r.Compact())} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs hold %q", secret)
		}
	}
}
