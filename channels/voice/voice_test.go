package voice

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/hotline-org/hotline/channels"
)

func TestRender(t *testing.T) {
	h := New(nil, Config{PublicURL: "https://h.example.org", Operator: "+15005550500",
		Speakers: map[string]Speaker{"en": {Say: "en-GB", Speech: "en-GB"}, "fr": {Say: "fr-FR"}}})
	tests := []struct {
		name string
		o    channels.Outbound
		want []string
		not  []string
	}{
		{"a menu: keys while it plays, silence to the next turn", channels.Outbound{Lang: "en", Expect: channels.ExpectChoice,
			Speech: []channels.Utterance{{Text: "Main menu.", Lang: "en"}, {Text: "Menu", Lang: "xx"}}},
			[]string{`<Gather`, `numDigits="1"`, `input="dtmf"`, `Main menu.`, `<Redirect>https://h.example.org/webhooks/twilio/voice?ev=silence&amp;l=en&amp;t=4</Redirect>`},
			[]string{">Menu<"}}, // a language the call cannot speak is left out
		{"free text: speech where the language has it", channels.Outbound{Lang: "en", Expect: channels.ExpectText,
			Speech: []channels.Utterance{{Text: "His name?", Lang: "en"}}},
			[]string{`input="dtmf speech"`, `language="en-GB"`, `numDigits="1"`, `speechTimeout="auto"`}, []string{"finishOnKey"}},
		{"a date: typed and ended with hash, or said", channels.Outbound{Lang: "en", Expect: channels.ExpectNumber,
			Speech: []channels.Utterance{{Text: "Year of birth?", Lang: "en"}}},
			[]string{`input="dtmf speech"`, `finishOnKey="#"`, `language="en-GB"`}, []string{"numDigits"}},
		{"free text: keypad only without speech", channels.Outbound{Lang: "fr", Expect: channels.ExpectText,
			Speech: []channels.Utterance{{Text: "Son nom ?", Lang: "fr"}}},
			[]string{`input="dtmf"`}, []string{"speech"}},
		{"a person: put through", channels.Outbound{Lang: "en", Expect: channels.ExpectPerson,
			Speech: []channels.Utterance{{Text: "Stay on the line.", Lang: "en"}}},
			[]string{`<Dial`, `+15005550500`, `ev=dialed`}, []string{"<Gather"}},
	}
	for _, tt := range tests {
		x, err := h.render(tt.o, 4)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(x, w) {
				t.Errorf("%s: no %s in\n%s", tt.name, w, x)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(x, n) {
				t.Errorf("%s: %s should not be in\n%s", tt.name, n, x)
			}
		}
	}
}

// TestRenderRecordings: an utterance plays its recordings when its language has all of
// them, in a language with text-to-speech too; otherwise it is said, or, in a language
// with recordings only, left out and noted once per clip.
func TestRenderRecordings(t *testing.T) {
	have := map[string]bool{"fr/voice.welcome": true, "ps/voice.welcome": true, "ps/lang.name": true, "ps/press.2": true, "ps/menu.distress": true}
	var unsaid []string
	var logs strings.Builder
	h := New(nil, Config{PublicURL: "https://h.example.org",
		Speakers: map[string]Speaker{"en": {Say: "en-GB"}, "fr": {Say: "fr-FR"}, "ps": {Recorded: true}},
		Clip: func(lang, clip string) (string, bool) {
			return "https://h.example.org/audio/" + lang + "/" + clip + ".mp3", have[lang+"/"+clip]
		},
		Unsaid: func(lang, clip string) { unsaid = append(unsaid, lang+"/"+clip) },
		// No time in the lines: a timestamp's milliseconds can read "112", the number
		// the check below makes sure is never logged.
		Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))})
	tests := []struct {
		name   string
		speech []channels.Utterance
		want   []string
		not    []string
		unsaid []string
	}{
		{"a language with text-to-speech plays a recording it has", []channels.Utterance{
			{Text: "Bonjour.", Lang: "fr", Clips: []string{"voice.welcome"}},
			{Text: "Menu principal.", Lang: "fr", Clips: []string{"voice.menu.main"}}},
			[]string{`<Play>https://h.example.org/audio/fr/voice.welcome.mp3</Play>`, `>Menu principal.</Say>`}, []string{"Bonjour"}, nil},
		{"an option is two recordings: its label, then press N", []channels.Utterance{
			{Text: "Pashto: press 2.", Lang: "ps", Clips: []string{"lang.name", "press.2"}}},
			[]string{`<Play>https://h.example.org/audio/ps/lang.name.mp3</Play><Play>https://h.example.org/audio/ps/press.2.mp3</Play>`}, []string{"<Say"}, nil},
		{"recordings only: what has none is left out", []channels.Utterance{
			{Text: "Danger: press 1.", Lang: "ps", Clips: []string{"menu.distress", "press.1"}},
			{Text: "Call 112.", Lang: "ps"},
			{Text: "Welcome.", Lang: "ps", Clips: []string{"voice.welcome"}}},
			[]string{`<Play>https://h.example.org/audio/ps/voice.welcome.mp3</Play>`},
			[]string{"<Say", "menu.distress"}, []string{"ps/press.1", "ps/"}},
		{"the same again: counted, not logged again", []channels.Utterance{{Text: "Call 112.", Lang: "ps"}},
			nil, []string{"<Say", "<Play"}, []string{"ps/"}},
		{"recordings only: in English rather than not at all", []channels.Utterance{{Text: "(ps) Call 112.", Lang: "ps", Fallback: "Call 112."}},
			[]string{`<Say language="en-GB">Call 1 1 2.</Say>`}, []string{"(ps)"}, []string{"ps/"}},
	}
	for _, tt := range tests {
		unsaid = nil
		x, err := h.render(channels.Outbound{Lang: tt.speech[0].Lang, Expect: channels.ExpectChoice, Speech: tt.speech}, 4)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(x, w) {
				t.Errorf("%s: no %s in\n%s", tt.name, w, x)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(x, n) {
				t.Errorf("%s: %s should not be in\n%s", tt.name, n, x)
			}
		}
		if strings.Join(unsaid, " ") != strings.Join(tt.unsaid, " ") {
			t.Errorf("%s: unsaid %v, want %v", tt.name, unsaid, tt.unsaid)
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 || !strings.Contains(logs.String(), "clip=press.1") || strings.Contains(logs.String(), "112") {
		t.Errorf("want one warning per clip, naming it and nothing said:\n%s", logs.String())
	}
	// Cannot run the call: the guidance, with the numbers, in English rather than
	// nothing.
	if x := h.degraded("ps", 3, false); !strings.Contains(x, `language="en-GB"`) || !strings.Contains(x, "1 1 2") {
		t.Errorf("fallback answer in a language with recordings only:\n%s", x)
	}
}

func TestDegradedNeverHangsUp(t *testing.T) {
	h := New(nil, Config{PublicURL: "https://h.example.org", Speakers: map[string]Speaker{"en": {Say: "en-GB"}}})
	x := h.degraded("en", 3, false)
	if !strings.Contains(x, "1 1 2") || strings.Contains(x, "<Hangup") || !strings.Contains(x, "<Redirect>") || strings.Contains(x, "<Dial") {
		t.Errorf("without a fallback number: the guidance, a pause and a new try, no hang-up:\n%s", x)
	}
	h.cfg.Fallback = "+15005550911"
	h.cfg.Again = func(string) string { return "To be put through again, press 1." }
	if x := h.degraded("en", 3, false); !strings.Contains(x, "<Dial") || !strings.Contains(x, "ev=fallback") {
		t.Errorf("with a fallback number: put through, and back to the hotline after:\n%s", x)
	}
	// Back from the fallback call: offered again, not dialled again and again.
	if x := h.degraded("en", 3, true); strings.Contains(x, "<Dial") || !strings.Contains(x, "ev=redial") || !strings.Contains(x, "press 1") {
		t.Errorf("after the fallback call:\n%s", x)
	}
}

func TestSpoken(t *testing.T) {
	for in, want := range map[string]string{
		"Call 112 now, or 911 in the Americas.": "Call 1 1 2 now, or 9 1 1 in the Americas.",
		"Sea rescue: +39 06 5908 4527":          "Sea rescue: + 3 9, 0 6, 5 9 0 8, 4 5 2 7",
		"press 9, or 0, within 72 hours":        "press 9, or 0, within 72 hours",
		"bad\x01char":                           "badchar",
		"about March \u20602024":                "about March 2024", // a year, said as one
		"\u20601990, call 112":                  "1990, call 1 1 2",
	} {
		if got := spoken(in); got != want {
			t.Errorf("spoken(%q) = %q, want %q", in, got, want)
		}
	}
}
