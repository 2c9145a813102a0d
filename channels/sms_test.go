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
		Choices: []Choice{{"1", "One"}, {"2", "Two"}}}
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
