package content

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/hotline-org/hotline/channels"
	"github.com/hotline-org/hotline/locales"
)

// Sections are the parts of every route's information, in the order of its menu.
var Sections = []string{"dangers", "prepare", "help", "services", "family"}

// General is the pseudo-route of someone who does not know their route.
const General = "general"

// Limits of the content, checked when it loads.
const (
	// MaxParts is how many SMS parts a section may take: more is a page nobody reads on
	// a small screen.
	MaxParts = 3
	// MaxName is the longest route name or section title: the route menu lists nine.
	MaxName = 28
)

// NumbersFile is the emergency numbers' file name in a content folder.
const NumbersFile = "emergency.toml"

// Text is one piece of content and the date someone last checked it.
type Text struct {
	Reviewed string `toml:"reviewed"`
	Text     string `toml:"text"`
}

type routeText struct {
	Name     string `toml:"name"`
	Dangers  Text   `toml:"dangers"`
	Prepare  Text   `toml:"prepare"`
	Help     Text   `toml:"help"`
	Services Text   `toml:"services"`
	Family   Text   `toml:"family"`
}

func (r routeText) section(id string) Text {
	switch id {
	case "dangers":
		return r.Dangers
	case "prepare":
		return r.Prepare
	case "help":
		return r.Help
	case "services":
		return r.Services
	case "family":
		return r.Family
	}
	return Text{}
}

// langFile is one language's file.
type langFile struct {
	Language string            `toml:"language"`
	Review   string            `toml:"review"`
	Unfilled string            `toml:"unfilled"`
	Titles   map[string]string `toml:"sections"`
	General  struct {
		Name string `toml:"name"`
		Text
	} `toml:"general"`
	Routes map[string]routeText `toml:"routes"`
}

// Slot is a piece of content only the deploying organisation can write: services it
// checked on a route. Empty, it is never shown.
type Slot struct {
	ID       string            `toml:"id"`
	Required bool              `toml:"required"`
	Checked  string            `toml:"checked"`
	Text     map[string]string `toml:"text"`
}

type routesFile struct {
	Routes []struct {
		ID string `toml:"id"`
	} `toml:"route"`
	Slots []Slot `toml:"slot"`
}

// Content is one loaded, checked set of content. It is read-only once made.
type Content struct {
	routes  []string
	langs   map[string]*langFile
	slots   map[string]Slot
	numbers []locales.EmergencyNumber
}

// Routes lists the route IDs in menu order (General not among them).
func (c *Content) Routes() []string { return c.routes }

// HasRoute reports whether id is a route (or General).
func (c *Content) HasRoute(id string) bool { return id == General || slices.Contains(c.routes, id) }

// Numbers are the checked emergency numbers.
func (c *Content) Numbers() []locales.EmergencyNumber { return c.numbers }

// file is lang's file, or English's when lang has none.
func (c *Content) file(lang string) *langFile {
	if f, ok := c.langs[lang]; ok {
		return f
	}
	return c.langs[locales.Fallback]
}

// Name is a route's name in lang; for General, the "I don't know" label.
func (c *Content) Name(lang, route string) string {
	f := c.file(lang)
	if route == General {
		return f.General.Name
	}
	if n := f.Routes[route].Name; n != "" {
		return n
	}
	return c.langs[locales.Fallback].Routes[route].Name
}

// Title is a section's title in lang.
func (c *Content) Title(lang, section string) string {
	if t := c.file(lang).Titles[section]; t != "" {
		return t
	}
	return c.langs[locales.Fallback].Titles[section]
}

// Section is a route's section in lang, ready to send: the emergency numbers and the
// organisation's slots filled in. For General, section is ignored.
func (c *Content) Section(lang, route, section string) string {
	f := c.file(lang)
	t := c.raw(f, route, section)
	if t.Text == "" && f != c.langs[locales.Fallback] {
		f = c.langs[locales.Fallback]
		lang = locales.Fallback
		t = c.raw(f, route, section)
	}
	return c.render(f, lang, route, t.Text, c.numbers)
}

func (c *Content) raw(f *langFile, route, section string) Text {
	if route == General {
		return f.General.Text
	}
	return f.Routes[route].section(section)
}

var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

// render fills a text's placeholders. A placeholder alone on its line that comes out
// empty takes its line with it.
func (c *Content) render(f *langFile, lang, route, text string, numbers []locales.EmergencyNumber) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	out := lines[:0]
	for _, line := range lines {
		alone := placeholder.MatchString(line) && strings.TrimSpace(placeholder.ReplaceAllString(line, "")) == ""
		line = placeholder.ReplaceAllStringFunc(line, func(p string) string {
			return c.fill(f, lang, route, p, numbers)
		})
		if alone && strings.TrimSpace(line) == "" {
			continue
		}
		out = append(out, line)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

func (c *Content) fill(f *langFile, lang, route, p string, numbers []locales.EmergencyNumber) string {
	name := strings.Trim(p, "{}")
	if name == "emergency" {
		var b []string
		for _, n := range numbers {
			b = append(b, n.LabelIn(lang)+": "+n.Number)
		}
		return strings.Join(b, "\n")
	}
	if s, ok := strings.CutPrefix(name, "slot:"); ok {
		if v := strings.TrimSpace(c.slots[route+"."+s].Text[lang]); v != "" {
			return v
		}
		return f.Unfilled
	}
	return p
}

// Problem is one thing wrong with content, said so that the person who edits the file
// can find and fix it.
type Problem struct {
	File    string
	Message string
}

func (p Problem) String() string { return p.File + ": " + p.Message }

// Problems is every problem found in a set of content.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Parse reads a set of content from files (routes.toml, one <lang>.toml per
// language, emergency.toml) and checks it: every route and section in every one of
// langs, reviewed dates, placeholders, slots, names and SMS budgets. It returns every
// problem at once, as Problems.
func Parse(files Files, langs []string) (*Content, error) {
	var ps Problems
	add := func(file, format string, args ...any) {
		ps = append(ps, Problem{File: file, Message: fmt.Sprintf(format, args...)})
	}
	c := &Content{langs: map[string]*langFile{}, slots: map[string]Slot{}}

	var rf routesFile
	if err := decode(files, "routes.toml", &rf); err != nil {
		add("routes.toml", "%v", err)
		return nil, ps
	}
	for _, r := range rf.Routes {
		switch {
		case !validID.MatchString(r.ID) || r.ID == General:
			add("routes.toml", "route id %q: use lower-case letters, digits and dashes (and not %q)", r.ID, General)
		case slices.Contains(c.routes, r.ID):
			add("routes.toml", "route %q is listed twice", r.ID)
		default:
			c.routes = append(c.routes, r.ID)
		}
	}
	if len(c.routes) == 0 {
		add("routes.toml", "no [[route]] listed")
	}
	if len(c.routes) > 8 {
		// The route menu keeps one key for "I don't know" and must stay single digits.
		add("routes.toml", "%d routes: at most 8 fit the route menu", len(c.routes))
	}
	for _, s := range rf.Slots {
		route, name, _ := strings.Cut(s.ID, ".")
		switch {
		case name == "" || !c.HasRoute(route):
			add("routes.toml", "slot %q: name it <route id>.<name>, with a route listed above or %q", s.ID, General)
			continue
		case s.Checked != "" && !isDate(s.Checked):
			add("routes.toml", "slot %q: checked must be a date like 2026-01-31", s.ID)
		}
		filled := false
		for _, v := range s.Text {
			filled = filled || strings.TrimSpace(v) != ""
		}
		if filled && s.Checked == "" {
			add("routes.toml", "slot %q is filled but has no checked date: write the date you checked it", s.ID)
		}
		if s.Required {
			for _, l := range langs {
				if strings.TrimSpace(s.Text[l]) == "" {
					add("routes.toml", "slot %q is required and has no text in %s", s.ID, l)
				}
			}
		}
		c.slots[s.ID] = s
	}

	if raw, err := files(NumbersFile); err == nil {
		if c.numbers, err = locales.ParseEmergency(raw); err != nil {
			add(NumbersFile, "%v", err)
		}
	} else {
		add(NumbersFile, "%v", err)
	}

	for _, lang := range langs {
		name := lang + ".toml"
		var f langFile
		if err := decode(files, name, &f); err != nil {
			add(name, "%v", err)
			continue
		}
		if f.Language != lang {
			add(name, "language = %q, want %q", f.Language, lang)
		}
		if strings.TrimSpace(f.Review) == "" {
			add(name, "review is empty: say who reviewed this language, or that nobody has")
		}
		c.langs[lang] = &f
		c.check(name, lang, &f, add)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return c, nil
}

var validID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func decode(files Files, name string, v any) error {
	raw, err := files(name)
	if err != nil {
		return err
	}
	md, err := toml.Decode(string(raw), v)
	if err != nil {
		return err
	}
	if un := md.Undecoded(); len(un) > 0 {
		keys := make([]string, len(un))
		for i, k := range un {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return fmt.Errorf("unknown keys (a typo?): %s", strings.Join(keys, ", "))
	}
	return nil
}

// check finds what is wrong in one language's file.
func (c *Content) check(file, lang string, f *langFile, add func(string, string, ...any)) {
	if strings.TrimSpace(f.Unfilled) == "" {
		add(file, "unfilled is empty: it is said where the organisation has not filled a slot")
	}
	for _, s := range Sections {
		checkName(file, "[sections] "+s, f.Titles[s], add)
	}
	for k := range f.Titles {
		if !slices.Contains(Sections, k) {
			add(file, "[sections] %s: not a section (they are %s)", k, strings.Join(Sections, ", "))
		}
	}
	checkName(file, "[general] name", f.General.Name, add)
	c.checkText(file, lang, f, General, "[general]", f.General.Text, add)
	for _, r := range c.routes {
		rt, ok := f.Routes[r]
		if !ok {
			add(file, "[routes.%s] is missing", r)
			continue
		}
		checkName(file, "[routes."+r+"] name", rt.Name, add)
		for _, s := range Sections {
			c.checkText(file, lang, f, r, "[routes."+r+"."+s+"]", rt.section(s), add)
		}
	}
	for r := range f.Routes {
		if !c.HasRoute(r) || r == General {
			add(file, "[routes.%s] is not a route of routes.toml", r)
		}
	}
}

func checkName(file, where, name string, add func(string, string, ...any)) {
	switch n := len([]rune(strings.TrimSpace(name))); {
	case n == 0:
		add(file, "%s is missing", where)
	case n > MaxName:
		add(file, "%s is %d characters; at most %d fit a menu line", where, n, MaxName)
	}
}

func (c *Content) checkText(file, lang string, f *langFile, route, where string, t Text, add func(string, string, ...any)) {
	if strings.TrimSpace(t.Text) == "" {
		add(file, "%s has no text", where)
		return
	}
	if !isDate(t.Reviewed) {
		add(file, "%s: reviewed must be the date it was last checked, like 2026-01-31", where)
	}
	for _, p := range placeholder.FindAllString(t.Text, -1) {
		name := strings.Trim(p, "{}")
		if s, ok := strings.CutPrefix(name, "slot:"); ok {
			if _, ok := c.slots[route+"."+s]; !ok {
				add(file, "%s: %s names no slot %q in routes.toml", where, p, route+"."+s)
			}
			continue
		}
		if name != "emergency" {
			add(file, "%s: unknown placeholder %s (there are {emergency} and {slot:name})", where, p)
		}
	}
	// The budget holds with and without the organisation's numbers and slots.
	for _, numbers := range [][]locales.EmergencyNumber{nil, c.numbers} {
		text := c.render(f, lang, route, t.Text, numbers)
		if n := len(channels.SplitSMS(text)); n > MaxParts {
			add(file, "%s takes %d SMS parts; at most %d (shorten it)", where, n, MaxParts)
			break
		}
	}
}
