package locales

import (
	"strings"
	"testing"

	"github.com/hotline-org/hotline/channels"
)

// sampleArgs fills every template argument any message uses, with long values, so
// that a rendered message is measured at its longest.
var sampleArgs = map[string]any{"Position": 1234, "N": 1234, "Ref": "HK7-QM4-XTN9", "Age": 120,
	"Label": "Description", "Value": "a long answer that a family might type about their relative",
	"List": "Sea rescue for your area: +000 0000 0000", "Route": "Darién et Amérique centrale.", "Until": "2027-02-25", "Key": "5",
	"Day": 28, "Month": "September", "Year": "2024"}

func TestEveryMessageInEveryLanguageRendersWithinTheSMSBudget(t *testing.T) {
	var missing []string
	b, err := Load(func(lang, id string) { missing = append(missing, lang+":"+id) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"en", "fr", "es", "ar"}
	if got := strings.Join(b.Languages(), ","); got != strings.Join(want, ",") {
		t.Fatalf("languages = %s, want %s", got, strings.Join(want, ","))
	}
	if len(b.IDs()) == 0 {
		t.Fatal("no message IDs loaded")
	}
	for _, lang := range b.Languages() {
		for _, id := range b.IDs() {
			text := b.Localize(lang, id, sampleArgs)
			if text == "" || text == id {
				t.Errorf("%s %s: renders empty or as its ID", lang, id)
			}
			if strings.Contains(text, "<no value>") || strings.Contains(text, "{{") {
				t.Errorf("%s %s: template argument not filled: %q", lang, id, text)
			}
			if !channels.FitsSMS(text) {
				n, gsm := channels.SMSLength(text)
				t.Errorf("%s %s: %d units (gsm=%v) is over the SMS budget: %q", lang, id, n, gsm, text)
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("messages that fell back to English: %v", missing)
	}
}

func TestEveryFileSaysItsReviewStatus(t *testing.T) {
	names, _ := files.ReadDir(".")
	for _, n := range names {
		data, _ := files.ReadFile(n.Name())
		if !strings.Contains(string(data), "Review:") {
			t.Errorf("%s has no 'Review:' line saying who checked the wording", n.Name())
		}
	}
}

func TestMissingMessageFallsBackAndIsCounted(t *testing.T) {
	var missing []string
	b, err := Load(func(lang, id string) { missing = append(missing, lang+":"+id) })
	if err != nil {
		t.Fatal(err)
	}
	// Twice: words without arguments are kept once rendered, and a gap must still be
	// counted every time it is met.
	for range 2 {
		if got := b.Localize("ar", "no.such.message", nil); got != "no.such.message" {
			t.Errorf("missing everywhere: got %q", got)
		}
	}
	if got := b.Localize("xx", "menu.main", nil); got != b.Localize("en", "menu.main", nil) {
		t.Errorf("unknown language did not fall back to English: %q", got)
	}
	if len(missing) != 2 || missing[0] != "ar:no.such.message" || missing[1] != missing[0] {
		t.Errorf("missing = %v", missing)
	}
}

// TestEmergencyNumbersShipEmpty: the shipped content invents no number; every slot is
// there to be filled by the deploying organisation, labelled in every language.
func TestEmergencyNumbersShipEmpty(t *testing.T) {
	nums, err := EmergencyNumbers()
	if err != nil {
		t.Fatal(err)
	}
	if len(nums) != 0 {
		t.Errorf("emergency.toml ships %d filled numbers; it must ship only empty slots", len(nums))
	}
	if !strings.Contains(string(emergencyFile), "SLOT") {
		t.Error("emergency.toml does not mark its slots")
	}
}

// TestConsoleWordsInEveryLanguage: an operator reading the console in Arabic never
// meets an English word or a bare ID, and the contacts' words stay apart.
func TestConsoleWordsInEveryLanguage(t *testing.T) {
	var missing []string
	b, err := LoadConsole(func(lang, id string) { missing = append(missing, lang+":"+id) })
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(b.Languages(), ","); got != "en,fr,es,ar" {
		t.Fatalf("console languages = %s", got)
	}
	if !b.HasID("console.name") || b.HasID("menu.main") {
		t.Fatalf("console IDs mixed up with the contacts' ones")
	}
	for _, lang := range b.Languages() {
		for _, id := range b.IDs() {
			text := b.Localize(lang, id, map[string]any{"N": 3, "Name": "Ana", "Team": "العربية", "Where": "1,2",
				"Type": "image/jpeg", "Label": "HK7-QM4", "Count": 3})
			if text == "" || text == id || strings.Contains(text, "<no value>") {
				t.Errorf("%s %s renders as %q", lang, id, text)
			}
		}
	}
	if len(missing) > 0 {
		t.Errorf("console words that fell back to English: %v", missing)
	}
}
