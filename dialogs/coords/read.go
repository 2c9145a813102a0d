package coords

import (
	"strings"
	"unicode"
)

// normalize folds text for reading: lower case; Arabic-Indic, Persian and full-width digits
// made ASCII; the Arabic decimal separator, comma and semicolon made ASCII; primes, smart
// quotes and the other degree signs made ' " and °; Latin accents, Arabic diacritics,
// tatweel and invisible direction marks dropped.
func normalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r >= '٠' && r <= '٩':
			r = '0' + r - '٠'
		case r >= '۰' && r <= '۹':
			r = '0' + r - '۰'
		case r >= '０' && r <= '９':
			r = '0' + r - '０'
		case r >= 'ً' && r <= 'ْ', r == 'ٰ', r == 'ـ', // Arabic diacritics and tatweel
			r >= '\u200b' && r <= '\u200f', r >= '\u202a' && r <= '\u202e',
			r >= '\u2066' && r <= '\u2069', r == '\u061c', r == '\ufeff':
			continue
		}
		r = unicode.ToLower(r)
		if f, ok := fold[r]; ok {
			r = f
		}
		b.WriteRune(r)
	}
	return b.String()
}

var fold = map[rune]rune{
	'٫': '.', '٬': ',', '،': ',', '؛': ';',
	'−': '-', '‐': '-', '‑': '-',
	'′': '\'', '’': '\'', '‘': '\'', '´': '\'', '`': '\'', 'ʹ': '\'', 'ʼ': '\'',
	'″': '"', '“': '"', '”': '"', 'ʺ': '"', '〃': '"',
	'º': '°', '˚': '°',
	'à': 'a', 'á': 'a', 'â': 'a', 'ç': 'c', 'è': 'e', 'é': 'e', 'ê': 'e', 'ë': 'e',
	'í': 'i', 'î': 'i', 'ï': 'i', 'ñ': 'n', 'ó': 'o', 'ô': 'o', 'ú': 'u', 'û': 'u', 'ü': 'u',
	'أ': 'ا', 'إ': 'ا', 'آ': 'ا',
}

// axis is what a coordinate measures, when the text says.
type axis int

const (
	anyAxis axis = iota // not said: the order decides
	latAxis
	lonAxis
)

// mark is the unit sign written after a number.
type mark int

const (
	noMark mark = iota
	degMark
	minMark
	secMark
)

// number is one number as typed: its sign, digits and unit sign.
type number struct {
	sign      rune   // 0, '-' or '+'
	whole     string // the digits before the decimal separator
	frac      string // the digits after it
	mark      mark
	letter    bool // the mark was a letter ("35d12m30s")
	sepBefore bool // a ',', ';' or '/' separates it from the number before
}

type tokKind int

const (
	tNum    tokKind = iota
	tHemi           // a hemisphere: N, S, E, W, O, Nord, Sur, ش, …
	tLabel          // lat, lon, خط العرض, …
	tSep            // ',', ';' or '/'
	tFiller         // gps, position, and, …: no meaning; never kept
)

type token struct {
	kind tokKind
	num  number
	axis axis // tHemi, tLabel
	neg  bool // tHemi: south or west
}

// words are the words a position may hold. O is West, as in French and Spanish (never Ost,
// East in German); since a hemisphere needs one on the other coordinate too, an O is only
// ever read beside an N or S. ش ج ق غ are the Arabic letters for north, south, east, west.
var words = map[string]token{}

func init() {
	add := func(t token, ws ...string) {
		for _, w := range ws {
			words[w] = t
		}
	}
	add(token{kind: tHemi, axis: latAxis}, "n", "north", "nord", "norte", "ش", "شمال", "شمالا")
	add(token{kind: tHemi, axis: latAxis, neg: true}, "s", "south", "sud", "sur", "ج", "جنوب", "جنوبا")
	add(token{kind: tHemi, axis: lonAxis}, "e", "east", "est", "este", "ق", "شرق", "شرقا")
	add(token{kind: tHemi, axis: lonAxis, neg: true}, "w", "o", "west", "ouest", "oeste", "غ", "غرب", "غربا")
	add(token{kind: tLabel, axis: latAxis}, "lat", "latitude", "latitud", "عرض", "العرض")
	add(token{kind: tLabel, axis: lonAxis}, "lon", "lng", "long", "longitude", "longitud", "طول", "الطول")
	add(token{kind: tFiller}, "gps", "pos", "position", "posicion", "location", "coordinates",
		"coordonnees", "coordenadas", "coords", "موقعي", "الموقع", "احداثيات", "الاحداثيات", "خط",
		"and", "et", "y", "و")
}

// letterMarks are the unit letters glued to a number, longest spelling first.
var letterMarks = []struct {
	spelling string
	mark     mark
}{{"deg", degMark}, {"d", degMark}, {"min", minMark}, {"m", minMark}, {"sec", secMark}, {"s", secMark}}

// tokenize splits normalized text into numbers (with their unit signs), hemispheres,
// labels and separators. It fails on anything else: unknown words and symbols, a ':' or '='
// not after a label (so "12:30" fails), a dash or dot between two numbers ("2001-03-12",
// "12.03.2001"), a sign or unit sign with no number, and a comma that could be a decimal
// comma or a separator ("35,2083,12,5017").
func tokenize(s string) ([]token, bool) {
	rs := []rune(s)
	comma := decimalComma(rs)
	var toks []token
	lastNum := func() *number {
		if len(toks) > 0 && toks[len(toks)-1].kind == tNum {
			return &toks[len(toks)-1].num
		}
		return nil
	}
	labelled := false // the last word was a label or filler, so ':' or '=' may follow
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r), r == '(', r == ')', r == '[', r == ']':
			i++
			continue
		case isDigit(r), (r == '-' || r == '+') && i+1 < len(rs) && isDigit(rs[i+1]):
			if i > 0 && (isDigit(rs[i-1]) || rs[i-1] == '.') {
				return nil, false // 35.2-12.5, 2001-03-12
			}
			n, j, ok := readNumber(rs, i, comma)
			if !ok {
				return nil, false
			}
			toks = append(toks, token{kind: tNum, num: n})
			i = j
		case unicode.IsLetter(r):
			j := i
			for j < len(rs) && unicode.IsLetter(rs[j]) {
				j++
			}
			w := string(rs[i:j])
			glued := i > 0 && isDigit(rs[i-1])
			i = j
			if glued && letterMark(lastNum(), prevNum(toks), w, &toks) {
				labelled = false
				continue
			}
			t, ok := words[w]
			if !ok || glued && t.kind != tHemi { // "35.2y", "12.5lat"
				return nil, false
			}
			labelled = t.kind == tLabel || t.kind == tFiller
			if t.kind != tFiller {
				toks = append(toks, t)
			}
			continue
		case r == '°' || r == '\'' || r == '"':
			m, width := degMark, 1
			switch {
			case r == '"':
				m = secMark
			case r == '\'' && i+1 < len(rs) && rs[i+1] == '\'':
				m, width = secMark, 2
			case r == '\'':
				m = minMark
			}
			n := lastNum()
			if n == nil || n.mark != noMark {
				return nil, false
			}
			n.mark = m
			i += width
		case r == ',' || r == ';' || r == '/':
			toks = append(toks, token{kind: tSep})
			i++
		case (r == ':' || r == '=') && labelled:
			i++
			continue // keeps labelled: "lat := 35.2" is odd but harmless
		case r == '.' && (i+1 == len(rs) || !isDigit(rs[i+1])):
			i++ // "N.", "lat.", a full stop
			continue
		default:
			return nil, false
		}
		labelled = false
	}
	return toks, true
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// decimalComma reports whether a comma between two digits is a decimal comma: only when
// the text has no decimal point.
func decimalComma(rs []rune) bool {
	between := func(c rune) bool {
		for i := 1; i+1 < len(rs); i++ {
			if rs[i] == c && isDigit(rs[i-1]) && isDigit(rs[i+1]) {
				return true
			}
		}
		return false
	}
	return !between('.') && between(',')
}

// readNumber reads a signed number from rs[i:], with a decimal point, or a decimal comma
// when comma is set. It fails on a second separator followed by a digit.
func readNumber(rs []rune, i int, comma bool) (number, int, bool) {
	var n number
	if rs[i] == '-' || rs[i] == '+' {
		n.sign = rs[i]
		i++
	}
	j := i
	for j < len(rs) && isDigit(rs[j]) {
		j++
	}
	n.whole = string(rs[i:j])
	if j+1 < len(rs) && (rs[j] == '.' || comma && rs[j] == ',') && isDigit(rs[j+1]) {
		sep := rs[j]
		i = j + 1
		for j = i; j < len(rs) && isDigit(rs[j]); j++ {
		}
		n.frac = string(rs[i:j])
		if j+1 < len(rs) && (rs[j] == '.' || rs[j] == sep) && isDigit(rs[j+1]) {
			return n, j, false
		}
	}
	return n, j, true
}

// prevNum is the number before the last token, when the last token is a number.
func prevNum(toks []token) *number {
	for i := len(toks) - 2; i >= 0; i-- {
		if toks[i].kind == tNum {
			return &toks[i].num
		}
	}
	return nil
}

// letterMark reads a word glued to the number n as a unit letter ("35d", "12m", "30s"),
// maybe followed by a hemisphere ("30sN"), and adds the hemisphere token. An s is seconds
// only after minutes written with a letter ("12m30s"); otherwise it is south ("35.2s").
func letterMark(n, prev *number, w string, toks *[]token) bool {
	if n == nil || n.mark != noMark {
		return false
	}
	for _, lm := range letterMarks {
		rest, ok := strings.CutPrefix(w, lm.spelling)
		if !ok || lm.mark == secMark && (prev == nil || prev.mark != minMark || !prev.letter) {
			continue
		}
		h, isHemi := words[rest]
		if rest != "" && (!isHemi || h.kind != tHemi) {
			continue
		}
		n.mark, n.letter = lm.mark, true
		if rest != "" {
			*toks = append(*toks, h)
		}
		return true
	}
	return false
}
