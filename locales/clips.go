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
	"regexp"
	"sort"
	"strings"
	"time"
)

//go:embed audio
var audio embed.FS

// ClipsFolder is where recordings are, in the binary (locales/audio) and in a content
// folder: one folder per language, one file per clip.
const ClipsFolder = "audio"

// clipExts are the files a clip may be, the first found plays.
var clipExts = []string{".mp3", ".wav"}

var (
	clipLang = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$`)
	clipName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,80}$`)
)

// ClipFile reads a recording's file name: the clip it plays ("welcome", "press.2") and
// its type. ok is false for any other name, so that a name never leads out of its
// language's folder.
func ClipFile(name string) (clip, ext string, ok bool) {
	for _, e := range clipExts {
		if c, found := strings.CutSuffix(name, e); found && clipName.MatchString(c) {
			return c, e, true
		}
	}
	return "", "", false
}

// Recording is a clip's file, open to be served.
type Recording struct {
	io.ReadSeekCloser
	Type string // audio/mpeg or audio/wav
	// Modified is when the file changed; zero for a shipped one.
	Modified time.Time
}

// Clips are the recorded prompts a call plays instead of text-to-speech: the ones
// shipped in the binary, and those of a content folder's audio/<lang>/, which replace
// them or add to them. The folder is looked at on each use, so that a recording put
// there plays from the next call on.
type Clips struct {
	from []fs.FS // the folder's first
}

// NewClips returns the shipped recordings, under those of content folder dir when dir
// is set.
func NewClips(dir string) *Clips {
	shipped, _ := fs.Sub(audio, ClipsFolder) // a constant, present folder
	return newClips(shipped, dir)
}

func newClips(shipped fs.FS, dir string) *Clips {
	c := &Clips{}
	if dir != "" {
		// os.DirFS takes no name with "..", and follows links (a mounted volume).
		c.from = append(c.from, os.DirFS(filepath.Join(dir, ClipsFolder)))
	}
	c.from = append(c.from, shipped)
	return c
}

// File is the file that plays clip in lang ("welcome.mp3"); ok is false when there
// is none.
func (c *Clips) File(lang, clip string) (file string, ok bool) {
	if !clipLang.MatchString(lang) || !clipName.MatchString(clip) {
		return "", false
	}
	for _, from := range c.from {
		for _, ext := range clipExts {
			if st, err := fs.Stat(from, lang+"/"+clip+ext); err == nil && st.Mode().IsRegular() {
				return clip + ext, true
			}
		}
	}
	return "", false
}

// Has reports whether there is a recording of clip in lang.
func (c *Clips) Has(lang, clip string) bool {
	_, ok := c.File(lang, clip)
	return ok
}

// Open opens file of lang's recordings, the folder's before the shipped one. A name
// that is not a recording's is not there (fs.ErrNotExist).
func (c *Clips) Open(lang, file string) (*Recording, error) {
	_, ext, ok := ClipFile(file)
	if !ok || !clipLang.MatchString(lang) {
		return nil, fmt.Errorf("recording %s/%s: %w", lang, file, fs.ErrNotExist)
	}
	for _, from := range c.from {
		f, err := from.Open(lang + "/" + file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open recording %s/%s: %w", lang, file, err)
		}
		st, err := f.Stat()
		rs, seeks := f.(io.ReadSeekCloser)
		if err != nil || !st.Mode().IsRegular() || !seeks {
			f.Close()
			continue
		}
		r := &Recording{ReadSeekCloser: rs, Type: "audio/mpeg", Modified: st.ModTime()}
		if ext == ".wav" {
			r.Type = "audio/wav"
		}
		return r, nil
	}
	return nil, fmt.Errorf("recording %s/%s: %w", lang, file, fs.ErrNotExist)
}

// CheckClips finds the recordings of content folder dir that would never play: badly
// named, in a folder that is no language of b, for a message the hotline never says,
// or behind another file of the same clip. Each is said with its path, so that the
// person who put it there can fix it.
func CheckClips(dir string, b *Bundle) []string {
	return checkClips(os.DirFS(filepath.Join(dir, ClipsFolder)), b)
}

func checkClips(fsys fs.FS, b *Bundle) []string {
	langs, err := fs.ReadDir(fsys, ".")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", ClipsFolder, err)}
	}
	var problems []string
	add := func(name, format string, args ...any) {
		problems = append(problems, path.Join(ClipsFolder, name)+": "+fmt.Sprintf(format, args...))
	}
	for _, l := range langs {
		lang := l.Name()
		switch {
		case strings.HasPrefix(lang, ".") || lang == "README.md":
			continue
		case !l.IsDir() && !isDir(fsys, lang):
			add(lang, "not a folder: put recordings in %s/<language>/", ClipsFolder)
			continue
		case !clipLang.MatchString(lang) || !b.Has(lang):
			add(lang, "not a language of the hotline (%s)", strings.Join(b.Languages(), ", "))
			continue
		}
		files, err := fs.ReadDir(fsys, lang)
		if err != nil {
			add(lang, "%v", err)
			continue
		}
		seen := map[string]string{}
		for _, f := range files {
			name := f.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			clip, _, ok := ClipFile(name)
			switch {
			case !ok:
				add(lang+"/"+name, "name it <message id>.mp3 or .wav, in lower case (welcome.mp3, press.1.mp3)")
			case !b.HasID(clip) && !isPress(clip):
				add(lang+"/"+name, "the hotline says no message %q (a typo?)", clip)
			case seen[clip] != "":
				add(lang+"/"+name, "%s plays instead: keep one", seen[clip])
			default:
				seen[clip] = name
			}
		}
	}
	sort.Strings(problems)
	return problems
}

func isDir(fsys fs.FS, name string) bool {
	st, err := fs.Stat(fsys, name)
	return err == nil && st.IsDir()
}

// isPress reports whether clip is "press N", said after an option's label.
func isPress(clip string) bool {
	key, ok := strings.CutPrefix(clip, "press.")
	return ok && len(key) == 1 && key[0] >= '0' && key[0] <= '9'
}
