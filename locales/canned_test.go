package locales

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hotline-org/hotline/channels"
)

// TestShippedCannedReplies: every language of the hotline ships the same replies, each
// says who reviewed it, each reply fits one SMS part, and none carries a number (no
// phone number is ever invented).
func TestShippedCannedReplies(t *testing.T) {
	b, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ShippedCannedLanguages(), slices.Sorted(slices.Values(b.Languages())); !slices.Equal(slices.Sorted(slices.Values(got)), want) {
		t.Fatalf("prepared replies in %v, the hotline speaks %v", got, want)
	}
	english, err := CannedReplies("", "en")
	if err != nil || len(english) < 6 {
		t.Fatalf("English replies: %d, %v", len(english), err)
	}
	digits := regexp.MustCompile(`[0-9٠-٩]`)
	for _, lang := range b.Languages() {
		raw, err := ShippedCannedFile(lang)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), "Review:") {
			t.Errorf("canned/%s.toml has no 'Review:' line saying who checked the wording", lang)
		}
		replies, err := CannedReplies("", lang)
		if err != nil {
			t.Errorf("%s: %v", lang, err)
			continue
		}
		if len(replies) != len(english) {
			t.Errorf("%s: %d replies, English has %d", lang, len(replies), len(english))
		}
		for i, r := range replies {
			if !channels.FitsSMS(r.Text) {
				n, gsm := channels.SMSLength(r.Text)
				t.Errorf("%s reply %d: %d units (gsm=%v), over one SMS part: %q", lang, i+1, n, gsm, r.Text)
			}
			if digits.MatchString(r.Text + r.Title) {
				t.Errorf("%s reply %d carries a number: %q", lang, i+1, r.Text)
			}
		}
	}
}

// TestCannedRepliesFromTheContentFolder: an organisation's file replaces the shipped
// one of its language, from the next call on; a broken one is refused (saying which
// file and what is wrong, never its words) and the shipped replies stay in use; a
// language without replies gets the English ones; a language is never a path.
func TestCannedRepliesFromTheContentFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, CannedFolder), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(lang, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, CannedFolder, lang+".toml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shipped := func(lang string) []Reply {
		t.Helper()
		r, err := CannedReplies("", lang)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	write("fr", "# Review: the organisation\n[[reply]]\ntitle = \"Bonjour\"\ntext = \"Bonjour, ici l'équipe.\"\n")
	write("es", "[[reply]]\ntitle = \"Hola\"\ntext = \"secreto de la organización\"\nsubject = \"x\"\n")
	write("ar", "[[reply]]\ntitle = \"\"\ntext = \"\"\n")
	cases := []struct {
		name, dir, lang string
		want            []Reply
		err             string // part of the error; "" for none
	}{
		{"no folder", "", "fr", shipped("fr"), ""},
		{"the folder's file replaces the shipped one", dir, "fr", []Reply{{"Bonjour", "Bonjour, ici l'équipe."}}, ""},
		{"a language the folder has no file for", dir, "en", shipped("en"), ""},
		{"an unknown key", dir, "es", shipped("es"), "canned/es.toml: unknown key reply.subject"},
		{"empty title and text", dir, "ar", shipped("ar"), "reply 1 has no title; reply 1 has no text"},
		{"no language yet", dir, "", shipped("en"), ""},
		{"a language without replies", dir, "pt", shipped("en"), ""},
		{"a path for a language", dir, "../fr", shipped("en"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CannedReplies(c.dir, c.lang)
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Errorf("error %v, want one with %q", err, c.err)
			}
			if err != nil && strings.Contains(err.Error(), "secreto") {
				t.Errorf("the error carries the file's words: %v", err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("replies %q, want %q", got, c.want)
			}
		})
	}
	// A change shows from the next call on; a file too large is refused.
	write("fr", "[[reply]]\ntitle = \"Autre\"\ntext = \"Autre texte.\"\n")
	if got, _ := CannedReplies(dir, "fr"); len(got) != 1 || got[0].Title != "Autre" {
		t.Errorf("after a change: %q", got)
	}
	write("fr", strings.Repeat("# padding\n", 8000))
	if got, err := CannedReplies(dir, "fr"); err == nil || !slices.Equal(got, shipped("fr")) {
		t.Errorf("a huge file: %v, %d replies", err, len(got))
	}
}
