package locales

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

//go:embed canned/*.toml
var cannedFiles embed.FS

// CannedFolder is where the prepared replies are, in the binary (locales/canned) and in
// a content folder: one file per language (canned/fr.toml).
const CannedFolder = "canned"

// Limits of a replies file: an operator scrolls a short menu at night, and a reply
// is sent through the same box as a typed one (1600 characters at most).
const (
	maxReplies    = 40
	maxReplyTitle = 80
	maxReplyText  = 1600
	maxCannedFile = 64 << 10
)

// Reply is a prepared reply: the title an operator picks it by, and the text that goes
// into the reply box, to read and edit before it is sent.
type Reply struct {
	Title string `toml:"title"`
	Text  string `toml:"text"`
}

// CannedReplies are the prepared replies in lang: the content folder dir's
// canned/<lang>.toml when there is one (it replaces the shipped file whole: an
// organisation words its replies its own way), else the shipped file, else the English
// one. The folder is read on each call, so that a change shows from the next page on,
// as recordings do. A folder file that cannot be used leaves the shipped replies in
// place and is returned as the error, naming the file and what is wrong, never its
// text.
func CannedReplies(dir, lang string) ([]Reply, error) {
	if lang == "" || !clipLang.MatchString(lang) {
		lang = Fallback
	}
	var refused error
	if dir != "" {
		name := filepath.Join(dir, CannedFolder, lang+".toml")
		data, err := readSmall(name)
		switch {
		case err == nil:
			replies, err := parseReplies(data)
			if err == nil {
				return replies, nil
			}
			refused = fmt.Errorf("%s/%s.toml: %w; the shipped replies are in use", CannedFolder, lang, err)
		case !errors.Is(err, fs.ErrNotExist):
			refused = fmt.Errorf("%s/%s.toml: %w; the shipped replies are in use", CannedFolder, lang, err)
		}
	}
	replies, err := shippedReplies(lang)
	if errors.Is(err, fs.ErrNotExist) {
		replies, err = shippedReplies(Fallback)
	}
	if err != nil {
		return nil, errors.Join(refused, err)
	}
	return replies, refused
}

// ShippedCannedLanguages lists the languages the binary has prepared replies in.
func ShippedCannedLanguages() []string {
	names, _ := fs.Glob(cannedFiles, CannedFolder+"/*.toml") // a constant, valid pattern
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.TrimSuffix(path.Base(n), ".toml"))
	}
	return out
}

// ShippedCannedFile is a shipped replies file as it is, for tests and for an
// organisation to start its own from.
func ShippedCannedFile(lang string) ([]byte, error) {
	return cannedFiles.ReadFile(CannedFolder + "/" + lang + ".toml")
}

func shippedReplies(lang string) ([]Reply, error) {
	data, err := ShippedCannedFile(lang)
	if err != nil {
		return nil, err
	}
	replies, err := parseReplies(data)
	if err != nil {
		return nil, fmt.Errorf("shipped %s/%s.toml: %w", CannedFolder, lang, err)
	}
	return replies, nil
}

// readSmall reads a file of at most maxCannedFile bytes: a replies file is small, and
// a huge one put there by mistake must not be read on every page.
func readSmall(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCannedFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxCannedFile {
		return nil, fmt.Errorf("larger than %d KiB", maxCannedFile>>10)
	}
	return data, nil
}

// parseReplies reads a replies file: [[reply]] tables with a title and a text, in the
// order the menu shows them. Every problem is said at once, by reply number.
func parseReplies(data []byte) ([]Reply, error) {
	var f struct {
		Reply []Reply `toml:"reply"`
	}
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, err
	}
	var bad []string
	if u := md.Undecoded(); len(u) > 0 {
		bad = append(bad, fmt.Sprintf("unknown key %s (a reply has a title and a text)", u[0]))
	}
	if len(f.Reply) > maxReplies {
		bad = append(bad, fmt.Sprintf("%d replies; at most %d", len(f.Reply), maxReplies))
	}
	for i := range f.Reply {
		r := &f.Reply[i]
		r.Title, r.Text = strings.TrimSpace(r.Title), strings.TrimSpace(r.Text)
		for _, p := range []struct {
			what, s string
			max     int
		}{{"title", r.Title, maxReplyTitle}, {"text", r.Text, maxReplyText}} {
			switch n := utf8.RuneCountInString(p.s); {
			case n == 0:
				bad = append(bad, fmt.Sprintf("reply %d has no %s", i+1, p.what))
			case n > p.max:
				bad = append(bad, fmt.Sprintf("reply %d: the %s is %d characters; at most %d", i+1, p.what, n, p.max))
			case !utf8.ValidString(p.s) || strings.ContainsFunc(p.s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }):
				bad = append(bad, fmt.Sprintf("reply %d: the %s has control characters", i+1, p.what))
			}
		}
	}
	if len(bad) > 0 {
		return nil, errors.New(strings.Join(bad, "; "))
	}
	return f.Reply, nil
}
