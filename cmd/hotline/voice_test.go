package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hotline-org/hotline/dialogs"
	"github.com/hotline-org/hotline/locales"
	"github.com/hotline-org/hotline/locales/content"
)

// TestOfferVoices: a language with recordings only is offered on calls once its
// greeting and menus are recorded, and not before (the log says what is missing);
// leaving one out moves the keys of the next, whose recordings are looked at again.
func TestOfferVoices(t *testing.T) {
	b, err := locales.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := content.Parse(content.Shipped(), b.Languages())
	if err != nil {
		t.Fatal(err)
	}
	voices, err := locales.Voices()
	if err != nil {
		t.Fatal(err)
	}
	voices["fr"], voices["ar"] = locales.Voice{Recorded: true}, locales.Voice{Recorded: true}
	dir := t.TempDir()
	record := func(lang string, clips ...string) {
		t.Helper()
		for _, clip := range clips {
			p := filepath.Join(dir, "audio", lang, clip+".mp3")
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, silentMP3(), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	offer := func() ([]string, string) {
		var logs strings.Builder
		m := dialogs.NewMachine(b.Languages(), func() *content.Content { return c }, dialogs.DefaultAlertsFor).WithRecordedOnly([]string{"fr", "ar"})
		langs := offerVoices(m, b, voices, locales.NewClips(dir), slog.New(slog.NewTextHandler(&logs, nil)))
		return langs, logs.String()
	}
	if langs, logs := offer(); !slices.Equal(langs, []string{"en", "es"}) || !strings.Contains(logs, "lang=fr") ||
		!strings.Contains(logs, `missing="voice.welcome, lang.choose, lang.name, press.2, voice.menu.main, menu.distress, press.1, menu.language, voice.keys.main"`) {
		t.Errorf("nothing recorded: %v\n%s", langs, logs)
	}
	// Arabic recorded as the third language of the menu, French not: French is left
	// out, Arabic comes third.
	menu := []string{"voice.welcome", "lang.choose", "lang.name", "voice.menu.main", "menu.distress", "press.1", "menu.language", "press.2", "voice.keys.main"}
	record("ar", append(menu, "press.3")...)
	if langs, logs := offer(); !slices.Equal(langs, []string{"en", "es", "ar"}) || strings.Contains(logs, "lang=ar") {
		t.Errorf("Arabic recorded: %v\n%s", langs, logs)
	}
	record("fr", menu...)
	if langs, logs := offer(); !slices.Equal(langs, []string{"en", "fr", "es"}) || !strings.Contains(logs, `lang=ar missing=press.4`) {
		t.Errorf("French recorded too, which moves Arabic to 4: %v\n%s", langs, logs)
	}
}
