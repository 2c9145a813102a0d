package channels

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSMSLengthAndSegments(t *testing.T) {
	cases := []struct {
		name     string
		text     string
		units    int
		gsm      bool
		segments int
	}{
		{"plain", "Hello", 5, true, 1},
		{"extension chars count twice", "[]{}€", 10, true, 1},
		{"french accents in GSM", "été à Noël", 10, false, 1}, // ë is not GSM-7
		{"french GSM only", "été à la mer", 12, true, 1},
		{"cedilla is UCS-2", "ça", 2, false, 1},
		{"arabic", "مرحبا", 5, false, 1},
		{"emoji takes two units", "ok 👍", 5, false, 1},
		{"160 GSM is one segment", strings.Repeat("a", 160), 160, true, 1},
		{"161 GSM is two", strings.Repeat("a", 161), 161, true, 2},
		{"70 UCS-2 is one", strings.Repeat("ب", 70), 70, false, 1},
		{"71 UCS-2 is two", strings.Repeat("ب", 71), 71, false, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, gsm := SMSLength(c.text)
			if n != c.units || gsm != c.gsm {
				t.Errorf("SMSLength = %d, %v; want %d, %v", n, gsm, c.units, c.gsm)
			}
			if s := Segments(c.text); s != c.segments {
				t.Errorf("Segments = %d, want %d", s, c.segments)
			}
		})
	}
}

func TestSplitSMSKeepsEveryPartWithinBudget(t *testing.T) {
	cases := []struct {
		name  string
		text  string
		parts int
	}{
		{"short stays whole", "Hello.", 1},
		{"exactly the GSM budget", strings.Repeat("a", GSMBudget), 1},
		{"long GSM splits", strings.Repeat("word ", 100), 2},
		{"long arabic splits", strings.Repeat("كلمة ", 60), 2},
		{"paragraphs split between them", strings.Repeat("a", 150) + "\n\n" + strings.Repeat("b", 200), 2},
		{"one endless word is cut", strings.Repeat("x", 700), 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parts := SplitSMS(c.text)
			if len(parts) != c.parts {
				t.Fatalf("%d parts, want %d: %q", len(parts), c.parts, parts)
			}
			var joined []string
			for i, p := range parts {
				if !FitsSMS(p) {
					n, _ := SMSLength(p)
					t.Errorf("part %d is %d units, over budget", i, n)
				}
				if len(parts) > 1 && !strings.HasPrefix(p, "(") {
					t.Errorf("part %d lacks its (n/m) marker: %q", i, p)
				}
				if len(parts) > 1 {
					_, p, _ = strings.Cut(p, ") ")
				}
				joined = append(joined, p)
			}
			if got, want := strings.Join(strings.Fields(strings.Join(joined, " ")), ""), strings.Join(strings.Fields(c.text), ""); got != want {
				t.Errorf("text changed by splitting")
			}
		})
	}
	// A paragraph break is where the cut falls when there is one.
	parts := SplitSMS(strings.Repeat("a", 150) + "\n\n" + strings.Repeat("b", 200))
	if !strings.HasSuffix(parts[0], "a") || !strings.Contains(parts[1], "bbb") {
		t.Errorf("split not at the paragraph: %q", parts)
	}
}

func TestRenderTextPutsTheMenuUnderItsQuestion(t *testing.T) {
	o := Outbound{Parts: []string{strings.Repeat("x ", 150), "Main menu:"},
		Choices: []Choice{{Key: "1", Label: "One"}, {Key: "2", Label: "Two"}}}
	parts := RenderText(o)
	if len(parts) != 2 {
		t.Fatalf("parts %q", parts)
	}
	if !strings.HasSuffix(parts[1], "Main menu:\n1 One\n2 Two") {
		t.Errorf("menu separated from its question: %q", parts[1])
	}
	if RenderText(Outbound{}) != nil {
		t.Error("empty outbound renders something")
	}
}

func FuzzSplitSMS(f *testing.F) {
	for _, s := range []string{"", "hi", strings.Repeat("ab ", 200), strings.Repeat("مرحبا\n\n", 50), "😀😀😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		for _, p := range SplitSMS(s) {
			if !FitsSMS(p) {
				t.Fatalf("part over budget: %q", p)
			}
		}
	})
}

// TestSplitAtSentencesNeverMidWord: without paragraphs or lines to cut at, a long text
// is cut after a sentence, and a part never ends inside a word.
func TestSplitAtSentencesNeverMidWord(t *testing.T) {
	sentence := "Stay with your group and keep your phone charged. "
	cases := []struct {
		name  string
		text  string
		split func(string) []string
	}{
		{"sms english", strings.Repeat(sentence, 12), SplitSMS},
		{"sms arabic", strings.Repeat("ابقَ مع مجموعتك واشحن هاتفك؟ ", 20), SplitSMS},
		{"whatsapp english", strings.Repeat(sentence, 70), SplitWhatsApp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parts := c.split(c.text)
			if len(parts) < 2 {
				t.Fatalf("%d parts; the case should need several", len(parts))
			}
			words := map[string]bool{}
			for _, w := range strings.Fields(c.text) {
				words[w] = true
			}
			for i, p := range parts {
				if want := "(" + itoa(i+1) + "/" + itoa(len(parts)) + ") "; !strings.HasPrefix(p, want) {
					t.Errorf("part %d does not start with %q: %.20q", i, want, p)
				}
				body := strings.TrimPrefix(p, "("+itoa(i+1)+"/"+itoa(len(parts))+") ")
				if !strings.HasSuffix(body, ".") && !strings.HasSuffix(body, "؟") {
					t.Errorf("part %d does not end a sentence: …%q", i, body[max(0, len(body)-20):])
				}
				for _, w := range strings.Fields(body) {
					if !words[w] {
						t.Errorf("part %d holds a cut word %q", i, w)
					}
				}
			}
		})
	}
}

func TestRenderWhatsAppKeepsLongTextWhole(t *testing.T) {
	o := Outbound{Parts: []string{strings.Repeat("Keep water with you. ", 40), "Main menu:"},
		Choices: []Choice{{Key: "1", Label: "One"}, {Key: "2", Label: "Two"}}}
	if sms := RenderText(o); len(sms) < 3 {
		t.Fatalf("SMS rendering should need several parts, got %d", len(sms))
	}
	parts := RenderWhatsApp(o)
	if len(parts) != 1 || !strings.HasSuffix(parts[0], "Main menu:\n1 One\n2 Two") {
		t.Errorf("WhatsApp rendering: %d parts, want one ending with the menu", len(parts))
	}
	long := RenderWhatsApp(Outbound{Parts: []string{strings.Repeat("Keep water with you. ", 200)}})
	for i, p := range long {
		if !FitsWhatsApp(p) {
			t.Errorf("part %d over WhatsApp's limit", i)
		}
	}
	if len(long) != 3 {
		t.Errorf("%d parts for 4200 characters, want 3", len(long))
	}
}

func FuzzSplitWhatsApp(f *testing.F) {
	for _, s := range []string{"", "hi", strings.Repeat("ab. ", 600), strings.Repeat("😀", 900)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		for _, p := range SplitWhatsApp(s) {
			if !FitsWhatsApp(p) {
				t.Fatalf("part over budget: %q", p)
			}
		}
	})
}
