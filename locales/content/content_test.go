package content

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-org/hotline/channels"
)

var langs = []string{"en", "fr", "es", "ar"}

// TestShippedContent checks the content the binary carries: every route and section
// in every language, dated, with known placeholders, within the SMS budget, and no
// required slot left empty.
func TestShippedContent(t *testing.T) {
	c, err := Parse(Shipped(), langs)
	if err != nil {
		t.Fatalf("shipped content has problems:\n%v", err)
	}
	if len(c.Routes()) < 8 {
		t.Errorf("%d routes, want the 8 of the issue", len(c.Routes()))
	}
	for _, l := range langs {
		for _, r := range append(c.Routes(), General) {
			for _, s := range Sections {
				text := c.Section(l, r, s)
				if strings.Contains(text, "{") {
					t.Errorf("%s %s %s: a placeholder is left: %q", l, r, s, text)
				}
				for _, part := range channels.SplitSMS(text) {
					if !channels.FitsSMS(part) {
						t.Errorf("%s %s %s: a part over the SMS budget: %q", l, r, s, part)
					}
				}
				if r == General {
					break
				}
			}
		}
	}
}

// files is a set of content files in memory: the shipped ones, with changes.
func files(t *testing.T, change map[string]string) Files {
	t.Helper()
	return func(name string) ([]byte, error) {
		if v, ok := change[name]; ok {
			if v == "" {
				return nil, fs.ErrNotExist
			}
			return []byte(v), nil
		}
		return Shipped()(name)
	}
}

func shipped(t *testing.T, name string) string {
	t.Helper()
	b, err := Shipped()(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestProblemsAreFound edits the shipped files the ways a person editing them might
// get wrong, and checks that each is reported where it is.
func TestProblemsAreFound(t *testing.T) {
	en := shipped(t, "en.toml")
	routes := shipped(t, "routes.toml")
	long := strings.Repeat("Carry water and keep your phone charged. ", 40)
	tests := []struct {
		name   string
		change map[string]string
		want   string
	}{
		{"missing language file", map[string]string{"en.toml": ""}, "en.toml: file does not exist"},
		{"typo in a key", map[string]string{"en.toml": strings.Replace(en, "reviewed =", "reviwed =", 1)}, "unknown keys (a typo?)"},
		{"no reviewed date", map[string]string{"en.toml": strings.Replace(en, `reviewed = "2026-11-27"`, `reviewed = "last week"`, 1)}, "reviewed must be the date"},
		{"unknown placeholder", map[string]string{"en.toml": strings.Replace(en, "\n{emergency}\n", "\n{numbers}\n", 1)}, "unknown placeholder {numbers}"},
		{"slot that does not exist", map[string]string{"en.toml": strings.Replace(en, "\n{slot:services}\n", "\n{slot:shelters}\n", 1)}, `names no slot "general.shelters"`},
		{"section too long", map[string]string{"en.toml": strings.Replace(en, "Carry water.", long, 1)}, "SMS parts; at most 3"},
		{"route without content", map[string]string{"routes.toml": routes + "\n[[route]]\nid = \"new-route\"\n"}, "[routes.new-route] is missing"},
		{"required slot empty", map[string]string{"routes.toml": strings.Replace(routes, "required = false", "required = true", 1)}, "is required and has no text in en"},
		{"bad emergency number", map[string]string{NumbersFile: "[[numbers]]\nnumber = \"0800 123\"\nchecked = \"2026-11-01\"\n[numbers.label]\nen = \"x\"\n"}, "international format"},
		{"name too long", map[string]string{"en.toml": strings.Replace(en, `name = "I don't know"`, `name = "I really do not know which route I am on"`, 1)}, "at most 28 fit a menu line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(files(t, tt.change), []string{"en"})
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("no problems reported, want %q (err %v)", tt.want, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("problems:\n%v\nwant one saying %q", err, tt.want)
			}
		})
	}
}

// TestPlaceholders checks what the organisation's data turns into: numbers and slots
// filled in, and an empty {emergency} line gone rather than left blank.
func TestPlaceholders(t *testing.T) {
	c, err := Parse(Shipped(), []string{"en"})
	if err != nil {
		t.Fatal(err)
	}
	help := c.Section("en", "central-med", "help")
	if strings.Contains(help, "\n\n") || strings.Contains(help, "{") {
		t.Errorf("no numbers filled: the placeholder should leave no trace:\n%s", help)
	}
	if !strings.Contains(c.Section("en", "central-med", "services"), c.file("en").Unfilled) {
		t.Error("an empty slot should read as the language's 'unfilled' sentence")
	}

	routes := shipped(t, "routes.toml")
	// The first slot of the file is central-med's.
	filled := strings.Replace(routes, "checked = \"\"", "checked = \"2026-11-20\"", 1)
	filled = strings.Replace(filled, "[slot.text]\nen = \"\"", "[slot.text]\nen = \"Clinic at the port, daily 8-16 (checked by us)\"", 1)
	if filled == routes {
		t.Fatal("test setup: the central-med slot was not found in routes.toml")
	}
	numbers := "[[numbers]]\nnumber = \"+39 06 0000 0000\"\nchecked = \"2026-11-20\"\n[numbers.label]\nen = \"Sea rescue\"\n"
	c, err = Parse(files(t, map[string]string{"routes.toml": filled, NumbersFile: numbers}), []string{"en"})
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Section("en", "central-med", "services"); !strings.Contains(s, "Clinic at the port") {
		t.Errorf("filled slot not shown:\n%s", s)
	}
	if s := c.Section("en", "east-med", "services"); strings.Contains(s, "Clinic at the port") {
		t.Errorf("one route's slot shown on another:\n%s", s)
	}
	if s := c.Section("en", "central-med", "help"); !strings.Contains(s, "Sea rescue: +39 06 0000 0000") {
		t.Errorf("checked number not shown:\n%s", s)
	}
}

// TestFolderOverridesAndReloads checks HOTLINE_CONTENT_DIR: a file there replaces the
// shipped one, a change is picked up without a restart, and a broken change is refused
// while the content in use stays.
func TestFolderOverridesAndReloads(t *testing.T) {
	dir := t.TempDir()
	en := shipped(t, "en.toml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "en.toml"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(strings.Replace(en, `name = "Central Mediterranean"`, `name = "Central Med (edited)"`, 1))
	s, err := Open(dir, []string{"en"}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Current().Name("en", "central-med"); got != "Central Med (edited)" {
		t.Fatalf("name %q, want the folder's", got)
	}
	ctx := t.Context()
	go s.Watch(ctx, 10*time.Millisecond)

	write(strings.Replace(en, `name = "Central Mediterranean"`, `name = "Central Med (again)"`, 1))
	eventually(t, func() bool { return s.Current().Name("en", "central-med") == "Central Med (again)" })

	// Half-edited: the change is refused; what was in use stays.
	write(strings.Replace(en, "[routes.central-med.dangers]", "[routes.central-med.dangerz]", 1))
	time.Sleep(100 * time.Millisecond)
	if got := s.Current().Name("en", "central-med"); got != "Central Med (again)" {
		t.Errorf("after a broken edit the name is %q; the last good content should stay", got)
	}
	if err := s.Reload(); err == nil || s.Refused() == nil {
		t.Error("Reload took a broken file")
	}
	// Started on a broken folder: the shipped content serves, and says why.
	s2, err := Open(dir, []string{"en"}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || s2.Refused() == nil || s2.Current().Name("en", "central-med") != "Central Mediterranean" {
		t.Errorf("start on a broken folder: %v, refused %v; want the shipped content and the reason", err, s2.Refused())
	}
	// Fixed: taken, and no longer refused.
	write(strings.Replace(en, `name = "Central Mediterranean"`, `name = "Central Med (fixed)"`, 1))
	eventually(t, func() bool {
		return s.Current().Name("en", "central-med") == "Central Med (fixed)" && s.Refused() == nil
	})
	// The folder goes away: the content in use stays, it is not swapped for the shipped one.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil || s.Current().Name("en", "central-med") != "Central Med (fixed)" {
		t.Errorf("after the folder went: %v, name %q", err, s.Current().Name("en", "central-med"))
	}
}

// TestFolderMountedAsAConfigMap: Kubernetes links each file to a folder it swaps on
// update; the change is seen through the links.
func TestFolderMountedAsAConfigMap(t *testing.T) {
	dir := t.TempDir()
	en := shipped(t, "en.toml")
	version := func(name, text string) {
		t.Helper()
		v := filepath.Join(dir, name)
		if err := os.MkdirAll(v, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(v, "en.toml"), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, "..data_tmp")
		os.Remove(tmp)
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..v1", strings.Replace(en, `name = "Central Mediterranean"`, `name = "Version one"`, 1))
	if err := os.Symlink("..data/en.toml", filepath.Join(dir, "en.toml")); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, []string{"en"}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || s.Current().Name("en", "central-med") != "Version one" {
		t.Fatalf("open: %v", err)
	}
	go s.Watch(t.Context(), 10*time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	version("..v2", strings.Replace(en, `name = "Central Mediterranean"`, `name = "Version two, longer"`, 1))
	eventually(t, func() bool { return s.Current().Name("en", "central-med") == "Version two, longer" })
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("not within 5s")
}
