package dialogs

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/locales"
)

// TestRecordedOnlyMenu: a call in a language with recordings only hears a menu of what
// works without words of the hotline's own (danger, another language, 0 a person); a
// key of the full menu is not taken. A language with text-to-speech keeps the full menu.
func TestRecordedOnlyMenu(t *testing.T) {
	langs := []string{"en", "fr", "es", "ar"}
	m := newMachine(t, langs).WithRecordedOnly([]string{"ar"}).WithVoiceLanguages(langs)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	menu := func(key string) (Session, []string) {
		t.Helper()
		s, _, _ := m.Step(Session{Channel: channels.Voice}, Event{Kind: EventText}, now)
		s, prompts, _ := m.Step(s, Event{Kind: EventText, Text: key}, now)
		var labels []string
		for _, c := range prompts[len(prompts)-1].Choices {
			labels = append(labels, c.Key+" "+c.Label)
		}
		return s, labels
	}
	s, labels := menu("4")
	if want := []string{"1 menu.distress", "2 menu.language"}; s.Lang != "ar" || !slices.Equal(labels, want) {
		t.Fatalf("recorded-only menu: %s %v, want %v", s.Lang, labels, want)
	}
	for key, want := range map[string]Position{"2": {FlowLanguage, "voice"}, "1": {FlowPerson, "queued"}, "0": {FlowPerson, "queued"}, "4": {FlowMenu, "recorded"}} {
		if got, _, _ := m.Step(s, Event{Kind: EventText, Text: key}, now); got.At != want {
			t.Errorf("key %s at the recorded-only menu: at %v, want %v", key, got.At, want)
		}
	}
	if _, labels := menu("2"); len(labels) != 5 || !strings.Contains(strings.Join(labels, ","), "menu.report") {
		t.Errorf("French keeps the full menu: %v", labels)
	}
}

// TestSpeechClips: what is the same on every call names its recordings; what changes
// (arguments, content text) names none.
func TestSpeechClips(t *testing.T) {
	b, err := locales.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := Session{Channel: channels.Voice, Lang: "fr"}
	tests := []struct {
		name    string
		prompts []Prompt
		want    [][]string // the clips of each utterance, in order
	}{
		{"a message, in its voice form; its options, then the keys",
			[]Prompt{{ID: "menu.main", Expect: channels.ExpectChoice, Choices: []PromptChoice{{Key: "1", Label: "menu.distress"}, {Key: "2", Label: "x", Text: "Route des Balkans"}}}},
			[][]string{{"voice.menu.main"}, {"menu.distress", "press.1"}, nil, {"voice.keys.main"}}},
		{"arguments and content text: no recording",
			[]Prompt{{ID: "person.position", Args: map[string]any{"Position": 3}}, {Text: "Portez de l'eau."}, {ID: "person.queued"}},
			[][]string{nil, nil, {"voice.person.queued"}}},
		{"a hint after the question", []Prompt{{ID: "report.q.m_names", Expect: channels.ExpectText, Hint: "voice.keys.question"}},
			[][]string{{"report.q.m_names"}, {"voice.keys.question"}}},
	}
	for _, tt := range tests {
		o, _ := Localize(b, s, tt.prompts)
		var got [][]string
		for _, u := range o.Speech {
			got = append(got, u.Clips)
		}
		if !slices.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("%s: clips %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestVoiceClips: what a language with recordings only must have before a call offers
// it: its lines of the greeting and the language menu, and its own menu.
func TestVoiceClips(t *testing.T) {
	b, err := locales.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := newMachine(t, b.Languages()).WithRecordedOnly([]string{"ar"}).WithVoiceLanguages(b.Languages())
	want := []string{"voice.welcome", "lang.choose", "lang.name", "press.4", "voice.menu.main", "menu.distress", "press.1", "menu.language", "press.2", "voice.keys.main"}
	if got := VoiceClips(b, m, "ar"); !slices.Equal(got, want) {
		t.Errorf("clips %q, want %q", got, want)
	}
}
