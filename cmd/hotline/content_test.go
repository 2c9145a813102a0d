package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotline-org/hotline/locales/content"
)

// TestContentCheck runs `hotline content check DIR` as an organisation would after
// editing its content: the shipped content passes; a file with a problem is refused
// with where and what; names that each fit but together make the route menu two SMS
// are caught too.
func TestContentCheck(t *testing.T) {
	check := func(dir string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), []string{"hotline", "content", "check", dir}, func(string) string { return "" }, &out, &out)
		return out.String(), err
	}
	if _, err := check(filepath.Join(t.TempDir(), "no-such-folder")); err == nil {
		t.Error("a folder that is not there passed the check")
	}
	dir := t.TempDir()
	if out, err := check(dir); err != nil || !strings.Contains(out, "ok: 8 routes in en, fr, es, ar") {
		t.Fatalf("empty folder (the shipped content): %v\n%s", err, out)
	}

	es, err := content.Shipped()("es.toml")
	if err != nil {
		t.Fatal(err)
	}
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "es.toml"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(strings.Replace(string(es), `reviewed = "2026-11-27"`, `reviewed = ""`, 1))
	out, err := check(dir)
	if err == nil || !strings.Contains(out, "es.toml: [general]: reviewed must be the date") {
		t.Errorf("undated text: %v\n%s", err, out)
	}

	// Every name under 28 characters, and all of them too long for one SMS.
	long := string(es)
	for _, name := range []string{"Hacia España", "Balcanes", "Sahara"} {
		long = strings.Replace(long, `name = "`+name+`"`, `name = "`+name+` (ruta larga)"`, 1)
	}
	if long == string(es) {
		t.Fatal("test setup: no Spanish route name replaced")
	}
	write(long)
	out, err = check(dir)
	if err == nil || !strings.Contains(out, "es: the choose menu") {
		t.Errorf("route menu over one SMS: %v\n%s", err, out)
	}

	// Recordings that would never play: a name in capitals, a language the hotline
	// does not have.
	audio := t.TempDir()
	for _, f := range []string{"fr/voice.welcome.mp3", "fr/Welcome.MP3", "xx/voice.welcome.mp3"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(audio, "audio", f)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(audio, "audio", f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err = check(audio)
	if err == nil || !strings.Contains(out, "audio/fr/Welcome.MP3: name it") || !strings.Contains(out, "audio/xx: not a language") ||
		strings.Contains(out, "voice.welcome") {
		t.Errorf("badly named recordings: %v\n%s", err, out)
	}
}
