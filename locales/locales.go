package locales

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed active.*.toml console.*.toml
var files embed.FS

// Fallback is the language used when a message is missing in the contact's language.
const Fallback = "en"

// Bundle localizes message IDs into the hotline's languages.
type Bundle struct {
	bundle     *i18n.Bundle
	localizers map[string]*i18n.Localizer
	langs      []string
	ids        []string
	idset      map[string]bool
	missing    func(lang, id string)
	plainMu    sync.RWMutex
	plain      map[plainKey]plainText
}

// Load reads the embedded message files of what the hotline says to contacts
// (active.<lang>.toml). missing is called each time a message has to fall back to
// English (or is missing everywhere), so that a gap shows up as a metric.
func Load(missing func(lang, id string)) (*Bundle, error) {
	return load("active.*.toml", missing)
}

// LoadConsole reads the operators' console's words (console.<lang>.toml): kept apart
// from what contacts read, which has an SMS budget and a different reader.
func LoadConsole(missing func(lang, id string)) (*Bundle, error) {
	return load("console.*.toml", missing)
}

func load(glob string, missing func(lang, id string)) (*Bundle, error) {
	b := &Bundle{
		bundle:     i18n.NewBundle(language.English),
		localizers: map[string]*i18n.Localizer{},
		missing:    missing,
		plain:      map[plainKey]plainText{},
	}
	b.bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	names, err := fs.Glob(files, glob)
	if err != nil {
		return nil, fmt.Errorf("list message files: %w", err)
	}
	for _, name := range names {
		data, err := files.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		mf, err := b.bundle.ParseMessageFileBytes(data, name)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		// A file whose name is not a language tag loads as "undetermined" and would
		// silently never be used.
		if mf.Tag == language.Und {
			return nil, fmt.Errorf("%s: file name is not a language tag", name)
		}
		lang := mf.Tag.String()
		if !slices.Contains(b.langs, lang) { // a language may have several files
			b.langs = append(b.langs, lang)
		}
		if lang == Fallback {
			for _, m := range mf.Messages {
				b.ids = append(b.ids, m.ID)
			}
		}
	}
	sort.Strings(b.ids)
	b.idset = make(map[string]bool, len(b.ids))
	for _, id := range b.ids {
		b.idset[id] = true
	}
	// English first, then the order people see in the language menu.
	sort.SliceStable(b.langs, func(i, j int) bool { return rank(b.langs[i]) < rank(b.langs[j]) })
	for _, l := range b.langs {
		b.localizers[l] = i18n.NewLocalizer(b.bundle, l, Fallback)
	}
	return b, nil
}

func rank(lang string) int {
	for i, l := range []string{"en", "fr", "es", "ar"} {
		if l == lang {
			return i
		}
	}
	return 100
}

// Languages lists the languages that have a message file, English first.
func (b *Bundle) Languages() []string { return b.langs }

// IDs lists every message ID of the English file.
func (b *Bundle) IDs() []string { return b.ids }

// HasID reports whether the English file has a message id (a voice form of a message
// exists only where the text one does not suit a call).
func (b *Bundle) HasID(id string) bool { return b.idset[id] }

// Has reports whether lang has its own message file.
func (b *Bundle) Has(lang string) bool { _, ok := b.localizers[lang]; return ok }

// Localize renders message id in lang with args. It never panics: a message missing in
// lang comes in English, and one missing everywhere comes back as its ID, so that the
// contact still gets an answer and the gap is counted.
func (b *Bundle) Localize(lang, id string, args map[string]any) string {
	if _, ok := b.localizers[lang]; !ok {
		lang = Fallback
	}
	if len(args) > 0 {
		text, missing := b.render(lang, id, args)
		if missing {
			b.noteMissing(lang, id)
		}
		return text
	}
	// Most of what a turn says takes no arguments, and the same words come back turn
	// after turn: rendering them through go-i18n each time was 2% of the CPU of a turn.
	k := plainKey{lang, id}
	b.plainMu.RLock()
	p, ok := b.plain[k]
	b.plainMu.RUnlock()
	if !ok {
		p.text, p.missing = b.render(lang, id, nil)
		b.plainMu.Lock()
		b.plain[k] = p // lang is one of ours and ids come from the code: this stays small
		b.plainMu.Unlock()
	}
	if p.missing {
		b.noteMissing(lang, id)
	}
	return p.text
}

type plainKey struct{ lang, id string }

type plainText struct {
	text    string
	missing bool // fell back to English, or is missing everywhere
}

// render localizes id in lang, one of the bundle's languages, and reports whether it
// had to fall back.
func (b *Bundle) render(lang, id string, args map[string]any) (string, bool) {
	var plural any
	if n, ok := args["Count"]; ok {
		plural = n
	}
	text, tag, err := b.localizers[lang].LocalizeWithTag(&i18n.LocalizeConfig{MessageID: id, TemplateData: args, PluralCount: plural})
	if err != nil && text == "" {
		return id, true
	}
	return strings.TrimSpace(text), tag.String() != lang
}

func (b *Bundle) noteMissing(lang, id string) {
	if b.missing != nil {
		b.missing(lang, id)
	}
}

// Direction is "rtl" for languages written right to left, else "ltr".
func Direction(lang string) string {
	switch lang {
	case "ar", "fa", "fa-AF", "ps", "ur", "he":
		return "rtl"
	}
	return "ltr"
}
