package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
)

func alert() Alert {
	return Alert{ID: "al-01J9Z", CaseRef: "HK7-QM4-XTN9", Channel: channels.WhatsApp, Lang: "ar", Level: 0,
		Attempt: 0, Raised: time.Date(2026, 11, 27, 14, 3, 0, 0, time.UTC),
		ConsoleURL: "https://hotline.example.org/console", Summary: "at sea, 40 people, position known"}
}

// The alert leaves the hotline for third parties: a field that could carry the person's
// number, chat, words or position must not appear in it. A new field fails here until it
// is added to the list (and to the README's description of the webhook body).
func TestAlertCarriesNothingIdentifying(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Alert{ConsoleURL: "x", Summary: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"attempt", "case_ref", "channel", "console_url", "id", "lang", "level", "raised_at", "summary", "test"}
	if !slices.Equal(keys, want) {
		t.Errorf("alert JSON fields %v, want %v", keys, want)
	}
	forbidden := []string{"phone", "number", "contact", "chat", "text", "body", "message", "msisdn",
		"from", "to", "name", "address", "location", "lat", "lon", "position", "coord"}
	typ := reflect.TypeFor[Alert]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		names := strings.ToLower(f.Name) + "," + strings.ToLower(f.Tag.Get("json"))
		for _, word := range strings.FieldsFunc(names, func(r rune) bool { return r == ',' || r == '_' }) {
			for _, bad := range forbidden {
				if word == bad || (len(bad) > 3 && strings.Contains(word, bad)) {
					t.Errorf("Alert field %s (%q) looks like personal data (%q)", f.Name, f.Tag.Get("json"), bad)
				}
			}
		}
	}
}

func TestIsPermanent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("x"), false},
		{"final", &Error{Notifier: "webhook", Final: true, Err: errors.New("x")}, true},
		{"retryable", &Error{Notifier: "webhook", Err: errors.New("x")}, false},
		{"wrapped final", fmt.Errorf("level 0: %w", &Error{Final: true, Err: errors.New("x")}), true},
		// A provider's SendError is classified by the notifier that wraps it, not read
		// directly.
		{"send error", &channels.SendError{Permanent: true}, false},
	} {
		if got := IsPermanent(tc.err); got != tc.want {
			t.Errorf("%s: IsPermanent = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestAlertCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*Alert)
	}{
		{"no id", func(a *Alert) { a.ID = "" }},
		{"no case", func(a *Alert) { a.CaseRef = "" }},
		{"negative level", func(a *Alert) { a.Level = -1 }},
		{"negative attempt", func(a *Alert) { a.Attempt = -1 }},
	} {
		a := alert()
		tc.edit(&a)
		for _, n := range []Notifier{&Webhook{URL: "http://127.0.0.1:1/", Secret: "0123456789abcdef"},
			&TelegramGroup{Chat: "-1"}, &SMS{To: []string{"+447700900123"}}} {
			if err := n.Notify(t.Context(), a); !IsPermanent(err) {
				t.Errorf("%s: %s: got %v, want a permanent error", tc.name, n.Name(), err)
			}
		}
	}
}

func TestTexts(t *testing.T) {
	t.Parallel()
	test := alert()
	test.Test, test.Level, test.Attempt = true, 2, 2
	bare := alert()
	bare.ConsoleURL, bare.Lang, bare.Summary, bare.Raised = "", "", "", time.Time{}
	long := alert()
	long.ConsoleURL = "https://hotline.example.org/" + strings.Repeat("x", 150)
	for _, tc := range []struct {
		name     string
		a        Alert
		telegram string
		sms      string
	}{
		{"duty", alert(),
			"🚨 DISTRESS alert — case HK7-QM4-XTN9 — WhatsApp, language ar — level 0 (duty)\n" +
				"raised 27 Nov 14:03 UTC\nat sea, 40 people, position known\nOpen the console: https://hotline.example.org/console",
			"DISTRESS case HK7-QM4-XTN9 (whatsapp, ar), level 0 (duty). Open the console: https://hotline.example.org/console"},
		{"test repeat", test,
			"TEST — simulator, nobody is in danger\n🚨 DISTRESS alert — case HK7-QM4-XTN9 — WhatsApp, language ar — level 2 (supervisors), repeat 2\n" +
				"raised 27 Nov 14:03 UTC\nat sea, 40 people, position known\nOpen the console: https://hotline.example.org/console",
			"TEST DISTRESS case HK7-QM4-XTN9 (whatsapp, ar), level 2 (supervisors), repeat 2. Open the console: https://hotline.example.org/console"},
		{"bare", bare,
			"🚨 DISTRESS alert — case HK7-QM4-XTN9 — WhatsApp, language not chosen — level 0 (duty)\nOpen the console.",
			"DISTRESS case HK7-QM4-XTN9 (whatsapp, no language), level 0 (duty). Open the console."},
		{"console URL too long for one SMS", long, "", "DISTRESS case HK7-QM4-XTN9 (whatsapp, ar), level 0 (duty). Open the console."},
	} {
		if got := telegramText(tc.a); tc.telegram != "" && got != tc.telegram {
			t.Errorf("%s: telegram\n%s\nwant\n%s", tc.name, got, tc.telegram)
		}
		got := smsText(tc.a)
		if got != tc.sms {
			t.Errorf("%s: sms\n%s\nwant\n%s", tc.name, got, tc.sms)
		}
		if !channels.IsGSM7(got) || channels.Segments(got) != 1 {
			t.Errorf("%s: sms %q is not one GSM-7 segment", tc.name, got)
		}
	}
}
