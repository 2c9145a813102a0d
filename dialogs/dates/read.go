package dates

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// tokKind is what a piece of the text is.
type tokKind int

const (
	tNum     tokKind = iota // digits
	tSep                    // '/', '-' or '.' between two numbers
	tWord                   // letters, before the lexicon says what they mean
	tMonth                  // a month name; n is the month
	tUnit                   // day, week, month or year; n is the unit
	tApprox                 // "about", "~", "?"
	tFiller                 // "in", "le", "de", "في": no meaning here
	tAgoPre                 // "il y a", "hace", "قبل"
	tAgoPost                // "ago", "atrás"
	tSince                  // "since", "depuis", "منذ": "ago" before a duration, filler before a date
	tAge                    // "age", "edad", "عمره"
	tOne                    // "a", "un", "una": 1 before a unit
	tRel                    // "yesterday", "last month"; n indexes relatives
)

type token struct {
	kind   tokKind
	n      int    // the number, month, unit or relative
	digits int    // tNum: how many digits were typed
	ord    bool   // tNum: with an ordinal suffix ("1er", "2nd")
	sep    rune   // tSep
	word   string // tWord
	dual   bool   // tUnit: an Arabic dual ("سنتين", two years) that counts 2
}

// Units of durations.
const (
	uDay = iota
	uWeek
	uMonth
	uYear
)

// normalize folds text for reading: lower case, Latin accents and Arabic diacritics and
// tatweel dropped, Arabic letter variants unified, Arabic-Indic, Persian and full-width
// digits made ASCII, Arabic punctuation and dashes made ASCII.
func normalize(s string) string {
	var b strings.Builder
	for _, r := range s {
		r = unicode.ToLower(r)
		switch {
		case r >= '٠' && r <= '٩':
			r = '0' + r - '٠'
		case r >= '۰' && r <= '۹':
			r = '0' + r - '۰'
		case r >= '０' && r <= '９':
			r = '0' + r - '０'
		case unicode.Is(unicode.Mn, r), r == 'ـ':
			continue
		}
		if f, ok := fold[r]; ok {
			b.WriteString(f)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

var fold = map[rune]string{
	'à': "a", 'á': "a", 'â': "a", 'ã': "a", 'ä': "a", 'å': "a", 'ç': "c",
	'è': "e", 'é': "e", 'ê': "e", 'ë': "e", 'ì': "i", 'í': "i", 'î': "i", 'ï': "i",
	'ñ': "n", 'ò': "o", 'ó': "o", 'ô': "o", 'õ': "o", 'ö': "o", 'ù': "u", 'ú': "u",
	'û': "u", 'ü': "u", 'ý': "y", 'ÿ': "y", 'œ': "oe", 'æ': "ae",
	'º': "o", '°': "o", 'ª': "a",
	'أ': "ا", 'إ': "ا", 'آ': "ا", 'ٱ': "ا", 'ى': "ي", 'ی': "ي", 'ة': "ه", 'ک': "ك",
	'،': ",", '؛': ";", '؟': "?", '٫': ".", '٬': ",",
	'\\': "/", '‐': "-", '‑': "-", '‒': "-", '–': "-", '—': "-", '−': "-",
}

// ordinals are the suffixes glued to a day number: "1er", "2nd", "1º", "12e".
var ordinals = map[string]bool{
	"st": true, "nd": true, "rd": true, "th": true,
	"er": true, "re": true, "ere": true, "e": true, "eme": true,
	"o": true, "ro": true, "ero": true,
}

// tokenize splits normalized text into numbers, separators, words and approximation marks.
// Spaces, punctuation, emoji and invisible marks only separate; other symbols ("+", "<")
// and digits of other scripts make the text unrecognised. A separator is kept only
// between two numbers: "12-mar-2001", "avant-hier" and "env." lose theirs.
func tokenize(s string) ([]token, error) {
	rs := []rune(s)
	var t []token
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r >= '0' && r <= '9':
			j := i
			n := 0
			for ; j < len(rs) && rs[j] >= '0' && rs[j] <= '9'; j++ {
				if j-i == 4 {
					return nil, fmt.Errorf("number of more than 4 digits: %w", ErrUnrecognised)
				}
				n = n*10 + int(rs[j]-'0')
			}
			tok := token{kind: tNum, n: n, digits: j - i}
			k := j
			for k < len(rs) && unicode.IsLetter(rs[k]) {
				k++
			}
			if ordinals[string(rs[j:k])] {
				tok.ord, j = true, k
			}
			t = append(t, tok)
			i = j
			continue
		case unicode.IsLetter(r):
			j := i
			for j < len(rs) && unicode.IsLetter(rs[j]) {
				j++
			}
			t = append(t, token{kind: tWord, word: string(rs[i:j])})
			i = j
			continue
		case r == '/' || r == '-' || r == '.':
			t = append(t, token{kind: tSep, sep: r})
		case r == '~' || r == '?' || r == '≈' || r == '±':
			t = append(t, token{kind: tApprox})
		case unicode.IsDigit(r), unicode.IsNumber(r), unicode.Is(unicode.Sm, r):
			return nil, fmt.Errorf("unexpected character: %w", ErrUnrecognised)
		}
		i++ // spaces, punctuation, emoji, control and format characters
	}
	kind := func(i int) tokKind { return kindAt(t, i) }
	kept := t[:0]
	for i, k := range t {
		if k.kind != tSep {
			kept = append(kept, k)
			continue
		}
		j := i + 1
		for kind(j) == tSep {
			j++
		}
		switch {
		case i == 0 && kind(j) == tNum, kind(i-1) == tNum && kind(j) == tNum && j > i+1:
			return nil, fmt.Errorf("a sign or doubled separator: %w", ErrUnrecognised) // "-5", "12//03"
		case kind(i-1) == tNum && kind(i+1) == tNum:
			kept = append(kept, k)
		}
	}
	return kept, nil
}

// kindAt is the kind of t[i], or -1 outside t.
func kindAt(t []token, i int) tokKind {
	if i < 0 || i >= len(t) {
		return -1
	}
	return t[i].kind
}

// words splits normalized text into its runs of letters, as tokenize does.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
}

// read makes a value of tokens, with lang settling words that differ between languages.
func read(raw []token, lang string, now time.Time) (Value, error) {
	toks, err := classify(raw, lang)
	if err != nil {
		return Value{}, err
	}
	approx := false
	var t []token
	for _, k := range toks {
		switch k.kind {
		case tApprox:
			approx = true
		case tFiller:
		default:
			t = append(t, k)
		}
	}
	t, need, err := resolve(t)
	if err != nil {
		return Value{}, err
	}
	v, err := match(t, now)
	if err != nil {
		return Value{}, err
	}
	if v.Kind > need {
		return Value{}, fmt.Errorf("a unit names more than was given: %w", ErrUnrecognised)
	}
	v.Approx = v.Approx || approx
	if err := check(v, now); err != nil {
		return Value{}, err
	}
	return v, nil
}

// classify looks words up in the lexicon, longest phrase first. An unknown word makes
// the text unrecognised.
func classify(raw []token, lang string) ([]token, error) {
	var out []token
	for i := 0; i < len(raw); {
		if raw[i].kind != tWord {
			out = append(out, raw[i])
			i++
			continue
		}
		n := 0
		var tok token
		for try := min(maxPhrase, len(raw)-i); try > 0 && n == 0; try-- {
			ws := make([]string, 0, try)
			for _, k := range raw[i : i+try] {
				if k.kind != tWord {
					break
				}
				ws = append(ws, k.word)
			}
			if len(ws) < try {
				continue
			}
			if found, ok := lookup(strings.Join(ws, " "), lang); ok {
				tok, n = found, try
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("unknown word: %w", ErrUnrecognised)
		}
		if tok.dual {
			out = append(out, token{kind: tNum, n: 2, digits: 1})
			tok.dual = false
		}
		out = append(out, tok)
		i += n
	}
	return out, nil
}

// resolve settles the words whose meaning depends on their neighbours: "one" counts a
// unit; "since" is "ago" before a duration; a unit with no count in front names what
// follows ("year 2001", "mois de mars 2001", "el día 12 de marzo"), which the result must
// then have (need), or counts one after "ago" words ("منذ سنة", a year ago).
func resolve(t []token) ([]token, Kind, error) {
	need := Age
	at := func(i int) tokKind { return kindAt(t, i) }
	var out []token
	for i, k := range t {
		switch k.kind {
		case tOne:
			if at(i+1) != tUnit {
				return nil, 0, fmt.Errorf("a count without a unit: %w", ErrUnrecognised)
			}
			out = append(out, token{kind: tNum, n: 1, digits: 1})
		case tSince:
			next, after := at(i+1), at(i+2)
			if next == tNum && after == tUnit || next == tOne ||
				next == tUnit && after != tNum && after != tMonth {
				out = append(out, token{kind: tAgoPre})
			}
		case tUnit:
			switch prev, next := kindAt(out, len(out)-1), at(i+1); {
			case prev == tNum:
				out = append(out, k)
			case next == tNum || next == tMonth:
				need = min(need, []Kind{Exact, Exact, MonthYear, Year}[k.n])
			case prev == tAgoPre || next == tAgoPost:
				out = append(out, token{kind: tNum, n: 1, digits: 1}, k)
			default:
				return nil, 0, fmt.Errorf("a unit alone: %w", ErrUnrecognised)
			}
		default:
			out = append(out, k)
		}
	}
	return out, need, nil
}

// shapes names each kind of token by a letter, for match.
var shapes = [...]byte{
	tNum: 'n', tSep: 's', tWord: 'w', tMonth: 'M', tUnit: 'u', tApprox: '~', tFiller: 'f',
	tAgoPre: 'p', tAgoPost: 'a', tSince: 'S', tAge: 'g', tOne: '1', tRel: 'r',
}

// match reads the tokens left by resolve, by their shape: one letter a token.
func match(t []token, now time.Time) (Value, error) {
	b := make([]byte, len(t))
	for i, k := range t {
		b[i] = shapes[k.kind]
	}
	shape := string(b)
	unrecognised := fmt.Errorf("form %q: %w", shape, ErrUnrecognised)
	day, named := map[string]int{"nMn": 0, "Mnn": 1}[shape]
	for i, k := range t {
		if k.ord && (!named || i != day) { // "1er" is a day, never an age or a year
			return Value{}, unrecognised
		}
	}
	switch shape {
	case "r":
		return relatives[t[0].n].value(now), nil
	case "pnu":
		return ago(t[1].n, t[2].n, now), nil
	case "nua":
		return ago(t[0].n, t[1].n, now), nil
	case "n":
		if t[0].digits == 4 {
			return Value{Kind: Year, Year: t[0].n}, nil
		}
		return Value{Kind: Age, Age: t[0].n}, nil
	case "nu", "gn", "gnu", "nug":
		n, u := t[0], t[1]
		if t[0].kind == tAge {
			n, u = t[1], token{kind: tUnit, n: uYear}
			if len(t) == 3 {
				u = t[2]
			}
		}
		if u.n != uYear {
			return Value{}, fmt.Errorf("an age not in years: %w", ErrUnrecognised)
		}
		return Value{Kind: Age, Age: n.n}, nil
	case "nsn", "nn":
		a, b := t[0], t[len(t)-1]
		switch {
		case a.digits == 4 && b.digits <= 2:
			return Value{Kind: MonthYear, Year: a.n, Month: b.n}, nil
		case a.digits <= 2 && b.digits == 4:
			return Value{Kind: MonthYear, Year: b.n, Month: a.n}, nil
		}
	case "nsnsn", "nnn":
		a, b, c := t[0], t[len(t)/2], t[len(t)-1]
		if len(t) == 5 && t[1].sep != t[3].sep {
			break
		}
		switch {
		case a.digits == 4 && b.digits <= 2 && c.digits <= 2:
			return Value{Kind: Exact, Year: a.n, Month: b.n, Day: c.n}, nil
		case a.digits <= 2 && b.digits <= 2 && (c.digits == 4 || c.digits == 2):
			d, m := a.n, b.n
			if m > 12 && d <= 12 { // only month first makes sense: 03/25/2001
				d, m = m, d
			}
			return Value{Kind: Exact, Year: fullYear(c, now), Month: m, Day: d}, nil
		}
	case "nMn":
		if t[0].digits <= 2 && (t[2].digits == 4 || t[2].digits == 2) {
			return Value{Kind: Exact, Year: fullYear(t[2], now), Month: t[1].n, Day: t[0].n}, nil
		}
	case "Mnn":
		if t[1].digits <= 2 && (t[2].digits == 4 || t[2].digits == 2) {
			return Value{Kind: Exact, Year: fullYear(t[2], now), Month: t[0].n, Day: t[1].n}, nil
		}
	case "Mn":
		if t[1].digits == 4 {
			return Value{Kind: MonthYear, Year: t[1].n, Month: t[0].n}, nil
		}
	case "nM":
		if t[0].digits == 4 {
			return Value{Kind: MonthYear, Year: t[0].n, Month: t[1].n}, nil
		}
	}
	return Value{}, unrecognised
}

// fullYear reads a year of 4 digits, or of 2: 20yy unless that is after now's year, then 19yy.
func fullYear(k token, now time.Time) int {
	if k.digits != 2 {
		return k.n
	}
	if y := 2000 + k.n; y <= now.Year() {
		return y
	}
	return 1900 + k.n
}

// ago is the date n units before now. Weeks, months and years are approximate: people
// round them.
func ago(n, unit int, now time.Time) Value {
	return relative{n: n, unit: unit, approx: unit != uDay}.value(now)
}

// relative is a shift back from now, in one unit.
type relative struct {
	n, unit int
	approx  bool
}

func (r relative) value(now time.Time) Value {
	y, m, d := now.Date()
	switch r.unit {
	case uDay, uWeek:
		days := r.n
		if r.unit == uWeek {
			days *= 7
		}
		t := time.Date(y, m, d-days, 12, 0, 0, 0, time.UTC)
		return Value{Kind: Exact, Year: t.Year(), Month: int(t.Month()), Day: t.Day(), Approx: r.approx}
	case uMonth:
		months := y*12 + int(m) - 1 - r.n
		return Value{Kind: MonthYear, Year: months / 12, Month: months%12 + 1, Approx: r.approx}
	}
	return Value{Kind: Year, Year: y - r.n, Approx: r.approx}
}
