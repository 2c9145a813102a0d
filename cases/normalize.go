package cases

import (
	"slices"
	"strings"
	"unicode"
)

// latinFold takes the accents off the Latin letters of the hotline's languages, so that
// "José" and "Jose" name the same person in a look-up key.
var latinFold = strings.NewReplacer(
	"á", "a", "à", "a", "â", "a", "ä", "a", "ã", "a", "å", "a",
	"é", "e", "è", "e", "ê", "e", "ë", "e",
	"í", "i", "ì", "i", "î", "i", "ï", "i",
	"ó", "o", "ò", "o", "ô", "o", "ö", "o", "õ", "o",
	"ú", "u", "ù", "u", "û", "u", "ü", "u",
	"ç", "c", "ñ", "n", "ý", "y", "ÿ", "y", "œ", "oe", "æ", "ae", "ß", "ss",
)

// arabicFold folds the Arabic letters that people write either way: hamza forms of
// alef, taa marbuta and haa, alef maqsura and yaa.
var arabicFold = strings.NewReplacer("أ", "ا", "إ", "ا", "آ", "ا", "ٱ", "ا", "ة", "ه", "ى", "ي", "ؤ", "و", "ئ", "ي")

// normName is a name as a look-up key sees it: case, accents, Arabic variants, vowel
// marks and punctuation folded, and its words sorted ("Ali Ahmed" is "Ahmed Ali").
func normName(s string) string {
	if strings.HasPrefix(s, Recorded) {
		// A recording's address is no name: it must not link two reports.
		return ""
	}
	s = arabicFold.Replace(latinFold.Replace(strings.ToLower(s)))
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r), r == 'ـ': // vowel marks, tatweel
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		default:
			b.WriteByte(' ')
		}
	}
	words := strings.Fields(b.String())
	if len(words) == 1 && words[0] == DontKnow {
		return ""
	}
	slices.Sort(words)
	return strings.Join(words, " ")
}

// normNationality is a nationality as counted: trimmed and folded, "" for unknown.
func normNationality(s string) string {
	if strings.HasPrefix(s, Recorded) {
		// A recording's address, which the statistics' clear column must not hold.
		return ""
	}
	s = strings.Join(strings.Fields(strings.ToLower(clean(s))), " ")
	if s == DontKnow {
		return ""
	}
	return s
}

// clean drops control characters (NUL above all, which PostgreSQL refuses in text)
// from a value kept in a clear column.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}
