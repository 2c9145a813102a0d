package locales

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

var clipNames = []struct {
	name string
	clip string
	ok   bool
}{
	{"welcome.mp3", "welcome", true},
	{"voice.menu.main.wav", "voice.menu.main", true},
	{"press.1.mp3", "press.1", true},
	{"voice.to_person.mp3", "voice.to_person", true},
	{"Welcome.mp3", "", false},
	{"welcome.MP3", "", false},
	{"welcome.ogg", "", false},
	{".mp3", "", false},
	{"..mp3", "", false},
	{".hidden.mp3", "", false},
	{"../welcome.mp3", "", false},
	{"fr/welcome.mp3", "", false},
	{`..\welcome.mp3`, "", false},
	{"welcome.mp3\x00.wav", "", false},
	{"welcome", "", false},
	{strings.Repeat("a", 81) + ".mp3", strings.Repeat("a", 81), true},
	{strings.Repeat("a", 82) + ".mp3", "", false},
}

func TestClipFile(t *testing.T) {
	for _, tt := range clipNames {
		t.Run(tt.name, func(t *testing.T) {
			clip, _, ok := ClipFile(tt.name)
			if ok != tt.ok || clip != tt.clip {
				t.Errorf("ClipFile(%q) = %q, %v; want %q, %v", tt.name, clip, ok, tt.clip, tt.ok)
			}
		})
	}
}

// FuzzClipFile: whatever the name, one taken is a plain file name in its folder.
func FuzzClipFile(f *testing.F) {
	for _, tt := range clipNames {
		f.Add(tt.name)
	}
	f.Fuzz(func(t *testing.T, name string) {
		clip, ext, ok := ClipFile(name)
		if !ok {
			return
		}
		if clip+ext != name || filepath.Base(name) != name || filepath.Clean(name) != name || !fs.ValidPath(name) ||
			strings.ContainsAny(name, `/\:`) || strings.HasPrefix(name, ".") {
			t.Errorf("ClipFile(%q) took it as %q + %q", name, clip, ext)
		}
	})
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestClipsFolderOverShipped: a content folder's recording replaces the shipped one
// (whatever its type) or adds to them; a name that is not a recording's, or leads out
// of the folder, is never found; a link in the folder is followed (a mounted volume).
func TestClipsFolderOverShipped(t *testing.T) {
	shipped := fstest.MapFS{
		"fr/welcome.mp3":     {Data: []byte("shipped welcome")},
		"fr/press.1.wav":     {Data: []byte("shipped press 1")},
		"fr/lang.choose.mp3": {Data: []byte("shipped choose")},
	}
	dir := t.TempDir()
	audio := filepath.Join(dir, ClipsFolder)
	write(t, filepath.Join(audio, "fr", "welcome.wav"), "folder welcome")
	write(t, filepath.Join(audio, "fr", "menu.distress.mp3"), "folder distress")
	write(t, filepath.Join(audio, "ps", "lang.name.mp3"), "folder pashto")
	write(t, filepath.Join(dir, "secret.mp3"), "outside")
	write(t, filepath.Join(dir, "elsewhere", "take.mp3"), "linked")
	if err := os.Symlink(filepath.Join(dir, "elsewhere", "take.mp3"), filepath.Join(audio, "fr", "voice.keys.mp3")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(audio, "fr", "menu.route.mp3"), 0o700); err != nil {
		t.Fatal(err)
	}
	c := newClips(shipped, dir)
	tests := []struct {
		lang, clip string
		file       string // "" when there is none
		body       string
	}{
		{"fr", "welcome", "welcome.wav", "folder welcome"},
		{"fr", "press.1", "press.1.wav", "shipped press 1"},
		{"fr", "menu.distress", "menu.distress.mp3", "folder distress"},
		{"ps", "lang.name", "lang.name.mp3", "folder pashto"},
		{"fr", "voice.keys", "voice.keys.mp3", "linked"},
		{"fr", "menu.route", "", ""}, // a folder, not a file
		{"es", "welcome", "", ""},
		{"fr", "../secret", "", ""},
		{"..", "secret", "", ""},
		{"fr/..", "secret", "", ""},
		{"FR", "welcome", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.lang+"/"+tt.clip, func(t *testing.T) {
			file, ok := c.File(tt.lang, tt.clip)
			if file != tt.file || ok != (tt.file != "") || c.Has(tt.lang, tt.clip) != ok {
				t.Fatalf("File = %q, %v; want %q", file, ok, tt.file)
			}
			if !ok {
				return
			}
			r, err := c.Open(tt.lang, file)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			b, _ := io.ReadAll(r)
			if string(b) != tt.body {
				t.Errorf("plays %q, want %q", b, tt.body)
			}
			if want := map[bool]string{true: "audio/wav", false: "audio/mpeg"}[strings.HasSuffix(file, ".wav")]; r.Type != want {
				t.Errorf("type %s, want %s", r.Type, want)
			}
		})
	}
	// The shipped file of the name asked for, even when the folder has the clip in
	// another type: Twilio asks only for the names it was given.
	if r, err := c.Open("fr", "welcome.mp3"); err != nil {
		t.Errorf("shipped welcome.mp3: %v", err)
	} else {
		r.Close()
	}
	for _, bad := range [][2]string{{"fr", "../../secret.mp3"}, {"fr", "..%2fsecret.mp3"}, {"..", "secret.mp3"}, {"fr", "welcome.ogg"},
		{"fr", "menu.route.mp3"}, {"xx", "none.mp3"}, {"fr", "README.md"}} {
		if _, err := c.Open(bad[0], bad[1]); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q, %q): %v, want not found", bad[0], bad[1], err)
		}
	}
	// Put there while running: plays at once.
	write(t, filepath.Join(audio, "es", "welcome.mp3"), "new")
	if !c.Has("es", "welcome") {
		t.Error("a recording added to the folder is not found")
	}
	// Without a folder: the shipped ones.
	if file, ok := newClips(shipped, "").File("fr", "welcome"); !ok || file != "welcome.mp3" {
		t.Errorf("no folder: %q %v", file, ok)
	}
}

// TestShippedClips: every file shipped under audio/ would play (and a README says how
// to add them).
func TestShippedClips(t *testing.T) {
	b, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	shipped, _ := fs.Sub(audio, ClipsFolder)
	if ps := checkClips(shipped, b); len(ps) > 0 {
		t.Errorf("shipped recordings that never play:\n%s", strings.Join(ps, "\n"))
	}
	if _, err := fs.Stat(shipped, "README.md"); err != nil {
		t.Error("audio/README.md is missing")
	}
}

func TestCheckClips(t *testing.T) {
	b, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	audio := filepath.Join(dir, ClipsFolder)
	if ps := CheckClips(dir, b); len(ps) > 0 {
		t.Errorf("no audio folder: %v", ps)
	}
	for _, f := range []string{"fr/welcome.mp3", "fr/press.1.mp3", "fr/voice.welcome.mp3", "fr/voice.welcome.wav", "fr/Welcome.MP3",
		"fr/welcom.mp3", "fr/.DS_Store", "xx/welcome.mp3", "notes.txt"} {
		write(t, filepath.Join(audio, f), "x")
	}
	got := strings.Join(CheckClips(dir, b), "\n")
	for _, want := range []string{
		"audio/fr/Welcome.MP3: name it <message id>.mp3 or .wav",
		`audio/fr/welcom.mp3: the hotline says no message "welcom"`,
		"audio/fr/voice.welcome.wav: voice.welcome.mp3 plays instead",
		"audio/xx: not a language of the hotline",
		"audio/notes.txt: not a folder",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	for _, fine := range []string{"fr/welcome.mp3", "fr/press.1.mp3", "DS_Store"} {
		if strings.Contains(got, fine+":") {
			t.Errorf("%s reported:\n%s", fine, got)
		}
	}
}

func TestVoices(t *testing.T) {
	if v, err := Voices(); err != nil || v["en"].Say == "" || v["en"].Recorded {
		t.Fatalf("shipped voices.toml: %v %v", v, err)
	}
	tests := []struct {
		name, toml string
		err        string
	}{
		{"text-to-speech", "[fr]\nsay = \"fr-FR\"\n", ""},
		{"recordings only", "[ps]\nrecorded = true\n", ""},
		{"recordings, heard in speech", "[ps]\nrecorded = true\nspeech = \"ps-AF\"\n", ""},
		{"neither", "[ps]\nspeech = \"ps-AF\"\n", "has no say"},
		{"both", "[ps]\nrecorded = true\nsay = \"fa-IR\"\n", "keep one"},
		{"typo", "[ps]\nrecord = true\n", "unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseVoices([]byte(tt.toml))
			if (err == nil) != (tt.err == "") || err != nil && !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err %v, want %q", err, tt.err)
			}
		})
	}
}
