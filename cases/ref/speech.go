package ref

import (
	"errors"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// FromSpeech turns what speech recognition heard a caller read out (Twilio's SpeechResult,
// in English, French, Spanish or Arabic) into the compact candidate that Parse then
// checks: "my reference is H for hotel, K, seven…", "hache ka sept…", "اتش كي سبعة…" all
// give "HK7…".
//
// It reads, word by word:
//   - a word with a digit or in capitals ("HK7", "QM", "ＸＴＮ٩") character by character:
//     recognition writes spelled characters that way;
//   - the names of letters and of the digits 0–9 in the four languages, and the NATO words
//     (see spoken), whatever lang is, since people mix languages; "double seven" as 77;
//   - "H for hotel", "H as in hotel", "X comme Xavier", "B como Barcelona", "B de Barcelona"
//     as the letter once.
//
// It does not guess. Filler words ("my reference is", "c'est", "tiret", "رقمي") are
// dropped; any other word it does not know, such as "seventy" or "banana", becomes '?',
// and so does a name that stands for several letters (Arabic "بي" is B or P), so that
// Parse refuses the result (ErrBadChar) and the bot asks again rather than finding another
// family's case. ParseSpoken tries each of those letters instead (see Candidates). Zero
// and one ("zero", "oh", "one", "واحد") become 0 and 1, which Parse refuses too, rather
// than disappearing.
//
// lang ("en", "fr", "es", "ar", or a code such as "es-US") only settles the few words that
// read differently in two languages: "en" is N in English and "in" in French and Spanish,
// "el" is L in English and "the" in Spanish, "y" is Y except in Spanish, where it is
// "and". In any other language, English reads first.
//
// The result is upper-case ASCII letters, digits and '?', no longer than text. Text over
// 256 bytes gives "" (ErrLength from Parse). Like the text, the result may be a
// reference: do not log either.
func FromSpeech(text, lang string) string {
	return marked(heard(text, lang))
}

// maxCandidates bounds how many readings Candidates returns: six names of two letters,
// or three of three. Speech with more is asked again, as FromSpeech's '?' would have it.
const maxCandidates = 64

// Candidates returns every reading of the speech that FromSpeech reads: where FromSpeech
// writes '?' for a name of several letters, each candidate has one of them. Arabic "بي"
// is B or P (Arabic has no P), and اي or اى without its hamza is A (إيه), E (إي) or I
// (آي). I is in no reference, so readings with it only fail Parse.
//
// The order is fixed: the letters of a name in the order just given, the first name
// changing slowest; the first candidate reads B for every بي and A for every اي.
// Speech with one reading gives one candidate, FromSpeech's; speech with more than 64
// readings gives FromSpeech's alone, '?' and all, so that Parse refuses it as before.
// There is always at least one candidate, all of one length.
func Candidates(text, lang string) []string {
	cs := heard(text, lang)
	n := 1
	for _, c := range cs {
		if n *= len(c); n > maxCandidates {
			return []string{marked(cs)}
		}
	}
	out := make([]string, 1, n)
	for _, c := range cs {
		next := make([]string, 0, len(out)*len(c))
		for _, prefix := range out {
			for k := range len(c) {
				next = append(next, prefix+c[k:k+1])
			}
		}
		out = next
	}
	return out
}

// ErrAmbiguous: speech that reads as two or more references, each with a matching check
// character. Like the errors of Parse, its text never carries the input.
var ErrAmbiguous = errors.New("ref: speech reads as more than one reference")

// ParseSpoken reads a reference from speech: it runs Parse on each of the Candidates and
// returns the reference when exactly one of them passes. When none does, it returns
// Parse's error for the first candidate, so that the bot gives the right hint: all
// candidates have one length and the same unknown words, and the first reads A, not I
// (in no reference), so it fails with ErrLength or ErrBadChar when every candidate does,
// and with ErrCheck otherwise. When two or more pass, it returns ErrAmbiguous, and the bot
// asks again.
//
// Trying every letter a name may stand for lets no mistake through. The check character
// catches any single wrong character (see check): a weight (1–10) times the difference of
// two values is non-zero mod 31, a prime. Readings that differ in one position only, as
// those of speech with one name of several letters do, cannot both pass: at most one
// does, and it is the reference read out if the rest was heard right. Readings that differ
// in two or more positions can both pass: a B/P name at weight w and an A/E name at weight
// w′ do when 11·w ≡ ±4·w′ (mod 31), such as weights 2 and 10, and so can three B/P names
// (weights 1, 2 and 3). No check character can tell such readings apart, so ParseSpoken
// does not choose between them: ErrAmbiguous. Two B/P names, or two A/E names, never both
// pass: that would need w ± w′ ≡ 0 (mod 31), which weights 1–10 never give.
//
// Like the text, the result is a secret: do not log it.
func ParseSpoken(text, lang string) (Ref, error) {
	var found Ref
	var first error
	for i, c := range Candidates(text, lang) {
		r, err := Parse(c)
		switch {
		case err != nil:
			if i == 0 {
				first = err
			}
		case found.IsZero():
			found = r
		case r != found:
			return Ref{}, ErrAmbiguous
		}
	}
	if found.IsZero() {
		return Ref{}, first
	}
	return found, nil
}

// heard reads speech into the characters of a candidate, one string for each: the
// character, '?' for a word it does not know, or the letters of a name that stands for
// several ("BP" for بي). Text over maxInput bytes gives none.
func heard(text, lang string) []string {
	if len(text) > maxInput {
		return nil
	}
	lang = strings.ToLower(lang)
	if i := strings.IndexAny(lang, "-_"); i >= 0 {
		lang = lang[:i]
	}
	ws := words(text)
	var out []string
	for i := 0; i < len(ws); i++ {
		s := ws[i].read(lang)
		// A word read from the tables names one character; several letters are the ones
		// it may stand for. A spelled word is one character per letter.
		several := !ws[i].spelled && len(s) > 1
		switch {
		case ws[i].plain == "de" && i+1 < len(ws) && ws[i+1].read(lang) == "":
			// "número de caso", "numéro de dossier": before a filler word "de" is the
			// preposition, not D.
			s = ""
		case ws[i].plain == "double" && i+1 < len(ws):
			// "double seven" is 77 in British English ("double u" is already one word, W).
			if c := ws[i+1].read(lang); len(c) == 1 && c != "?" {
				s, several = c+c, false
				i++
			}
		}
		// "H for hotel", "X comme Xavier", "B de Barcelona": the letter once. The word after
		// the connector must start with the letter and name no other character, so that
		// "de, de, dos" (D D 2) stays three characters.
		if len(s) == 1 && 'A' <= s[0] && s[0] <= 'Z' && i+2 < len(ws) && connectors[ws[i+1].plain] {
			if after := ws[i+2]; after.initial() == s[0] {
				if r := after.read(lang); r == "?" || r == s {
					i += 2
				}
			}
		}
		if several {
			out = append(out, s)
			continue
		}
		for k := range len(s) {
			out = append(out, s[k:k+1])
		}
	}
	return out
}

// marked writes the characters that heard gives, '?' for a name of several letters.
func marked(cs []string) string {
	b := make([]byte, len(cs))
	for i, c := range cs {
		b[i] = c[0]
		if len(c) > 1 {
			b[i] = '?'
		}
	}
	return string(b)
}

// connectors join a letter to a word that starts with it: "H for hotel".
var connectors = map[string]bool{"for": true, "as in": true, "comme": true, "como": true, "de": true}

// word is one word of the speech, in the forms it is looked up by.
type word struct {
	raw     string // as recognised
	lower   string // lower case, composed (NFC), apostrophes as '
	plain   string // lower without accents, hamza and short vowels (see plain)
	spelled bool   // a digit, or capitals only: read character by character
}

// words splits speech into words at anything but letters, digits, marks and apostrophes
// (spaces, dashes, commas, full stops), and joins two words that name one character
// ("double u", "i grec", "x ray", "دبل يو") or one connector ("as in").
func words(text string) []word {
	var ws []word
	for _, raw := range strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) && r != '\'' && r != '’'
	}) {
		raw = strings.Trim(raw, "'’")
		if raw == "" {
			continue
		}
		lower := norm.NFC.String(strings.ReplaceAll(strings.ToLower(raw), "’", "'"))
		w := word{raw: raw, lower: lower, plain: plain(lower)}
		hasDigit, hasUpper, hasLower := false, false, false
		for _, r := range raw {
			hasDigit = hasDigit || unicode.IsDigit(r)
			hasUpper = hasUpper || unicode.IsUpper(r)
			hasLower = hasLower || unicode.IsLower(r)
		}
		w.spelled = hasDigit || hasUpper && !hasLower
		if n := len(ws); n > 0 {
			pair := ws[n-1].plain + " " + w.plain
			if _, ok := lookup(pair, ""); ok || connectors[pair] {
				ws[n-1] = word{raw: ws[n-1].raw + " " + raw, lower: pair, plain: pair}
				continue
			}
		}
		ws = append(ws, w)
	}
	return ws
}

// plain drops what speech recognition writes one way or another: accents (zède, zede),
// hamza on alef and the other Arabic variants (أربعة, اربعه), short vowels and tatweel. It
// keeps the tilde, so that eñe (Ñ, in no reference) does not read as ene (N).
func plain(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case r == '\u0303':
			b.WriteRune(r)
		case unicode.Is(unicode.Mn, r), r == 'ـ': // accents, hamza, harakat; tatweel
		case r == 'ٱ':
			b.WriteRune('ا')
		case r == 'ى':
			b.WriteRune('ي')
		case r == 'ة':
			b.WriteRune('ه')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// read returns what a word stands for: characters, "" for a filler word, "?" for a word
// it does not know. A word that is not spelled names one character, or several letters
// when it may stand for any of them (spoken).
func (w word) read(lang string) string {
	if w.spelled {
		return spell(w.raw)
	}
	// The form as heard first: its accent or hamza can tell two words apart
	// ("èn" is N, "en" is "in"; "إي" is E, "آي" is I).
	for _, key := range []string{w.lower, w.plain} {
		if s, ok := lookup(key, lang); ok {
			return s
		}
		// Arabic joins "and" (و) to the next word: "وسبعة", "وإي".
		if rest, ok := strings.CutPrefix(key, "و"); ok {
			if s, ok := lookup(rest, lang); ok {
				return s
			}
		}
	}
	if len(w.plain) == 1 && 'a' <= w.plain[0] && w.plain[0] <= 'z' {
		return string(w.plain[0] - 'a' + 'A')
	}
	return "?"
}

// initial returns the first letter of a word in upper case, or 0 if it is not a Latin one.
func (w word) initial() byte {
	if w.plain != "" && 'a' <= w.plain[0] && w.plain[0] <= 'z' {
		return w.plain[0] - 'a' + 'A'
	}
	return 0
}

// spell reads a word character by character, as Parse does (full-width forms, digits of
// any script, lower case); a character that is no ASCII letter or digit becomes '?'.
func spell(raw string) string {
	b := make([]byte, 0, len(raw))
	for _, r := range raw {
		c := fold(r)
		if 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b = append(b, byte(c))
		} else {
			b = append(b, '?')
		}
	}
	return string(b)
}

// lookup reads a key in the table of lang first, then in English, French, Spanish and
// Arabic.
func lookup(key, lang string) (string, bool) {
	for _, l := range []string{lang, "en", "fr", "es", "ar"} {
		if s, ok := spoken[l][key]; ok {
			return s, true
		}
	}
	return "", false
}

// spoken maps, per language, words to the character they name, "" for a filler word and
// the letters of a name that stands for any of several, in the order of Candidates. Keys
// are in the form plain leaves them (no accents, ة as ه, أ إ آ as ا), except a few whose
// accent or hamza tells them from another word.
// Single letters ("h", "k") need no entry; numbers above 9 ("seventy") have none, on
// purpose.
var spoken = map[string]map[string]string{
	"en": {
		"bee": "B", "cee": "C", "dee": "D", "ef": "F", "eff": "F", "gee": "G", "aitch": "H", "haitch": "H",
		"jay": "J", "kay": "K", "el": "L", "ell": "L", "em": "M", "en": "N", "pee": "P", "cue": "Q",
		"queue": "Q", "ar": "R", "ess": "S", "tee": "T", "vee": "V", "double u": "W", "double you": "W",
		"ex": "X", "y": "Y", "zed": "Z", "zee": "Z",

		// The NATO alphabet, which callers use in every language.
		"alfa": "A", "alpha": "A", "bravo": "B", "charlie": "C", "delta": "D", "echo": "E",
		"foxtrot": "F", "golf": "G", "hotel": "H", "india": "I", "juliett": "J", "juliet": "J",
		"kilo": "K", "lima": "L", "mike": "M", "november": "N", "oscar": "O", "papa": "P",
		"quebec": "Q", "romeo": "R", "sierra": "S", "tango": "T", "uniform": "U", "victor": "V",
		"whiskey": "W", "whisky": "W", "xray": "X", "x ray": "X", "yankee": "Y", "zulu": "Z",

		"zero": "0", "oh": "0", "o": "0", "nought": "0", "one": "1", "two": "2", "three": "3",
		"four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",

		"my": "", "the": "", "our": "", "reference": "", "ref": "", "number": "", "code": "",
		"case": "", "id": "", "is": "", "it": "", "it's": "", "its": "", "that's": "", "um": "",
		"uh": "", "er": "", "erm": "", "hmm": "", "ok": "", "okay": "", "yes": "", "yeah": "",
		"so": "", "and": "", "please": "", "thanks": "", "thank you": "", "dash": "", "hyphen": "",
	},
	"fr": {
		"be": "B", "ce": "C", "de": "D", "effe": "F", "ge": "G", "hache": "H", "ach": "H", "ji": "J",
		"ka": "K", "elle": "L", "emme": "M", "enne": "N", "èn": "N", "pe": "P", "ku": "Q", "cu": "Q",
		"erre": "R", "èr": "R", "esse": "S", "ès": "S", "te": "T", "ve": "V", "double ve": "W",
		"double v": "W", "ixe": "X", "iks": "X", "i grec": "Y", "zede": "Z",

		"zero": "0", "un": "1", "une": "1", "deux": "2", "trois": "3", "quatre": "4", "cinq": "5",
		"six": "6", "sept": "7", "huit": "8", "neuf": "9",

		"mon": "", "ma": "", "le": "", "la": "", "numero": "", "reference": "", "dossier": "",
		"code": "", "c'est": "", "cest": "", "est": "", "euh": "", "alors": "", "oui": "",
		"voila": "", "et": "", "en": "", "tiret": "", "merci": "",
	},
	"es": {
		"be": "B", "be larga": "B", "be grande": "B", "ce": "C", "de": "D", "efe": "F", "ge": "G",
		"hache": "H", "ache": "H", "jota": "J", "ka": "K", "ele": "L", "eme": "M", "ene": "N",
		"pe": "P", "cu": "Q", "ere": "R", "erre": "R", "ese": "S", "te": "T", "uve": "V", "ve": "V",
		"ve corta": "V", "ve chica": "V", "doble u": "W", "doble ve": "W", "doble v": "W",
		"uve doble": "W", "equis": "X", "i griega": "Y", "ye": "Y", "zeta": "Z",

		"cero": "0", "uno": "1", "una": "1", "dos": "2", "tres": "3", "cuatro": "4", "cinco": "5",
		"seis": "6", "siete": "7", "ocho": "8", "nueve": "9",

		"mi": "", "el": "", "la": "", "numero": "", "referencia": "", "codigo": "", "caso": "",
		"es": "", "este": "", "pues": "", "eh": "", "si": "", "bueno": "", "y": "", "en": "",
		"guion": "", "gracias": "",
	},
	// How Arabic speakers name Latin letters. Without its hamza, اي could be A (إيه), E (إي)
	// or I (آي); بي is said for both B and P, as Arabic has no P. The order of their letters
	// is the order of Candidates.
	"ar": {
		"ايه": "A", "بي": "BP", "سي": "C", "دي": "D", "إي": "E", "اي": "AEI", "اف": "F", "جي": "G",
		"اتش": "H", "آي": "I", "جاي": "J", "جيه": "J", "كي": "K", "كاي": "K", "كيه": "K", "ال": "L",
		"ام": "M", "ان": "N", "او": "O", "اوه": "O", "پي": "P", "كيو": "Q", "ار": "R", "اس": "S",
		"تي": "T", "يو": "U", "في": "V", "ڤي": "V", "دبليو": "W", "دابليو": "W", "دبل يو": "W",
		"اكس": "X", "واي": "Y", "زد": "Z", "زي": "Z",

		"صفر": "0", "واحد": "1", "اثنان": "2", "اثنين": "2", "اتنين": "2", "ثلاثه": "3",
		"تلاته": "3", "اربعه": "4", "خمسه": "5", "سته": "6", "سبعه": "7", "ثمانيه": "8",
		"تمانيه": "8", "تسعه": "9",

		"رقمي": "", "رقم": "", "الرقم": "", "مرجع": "", "المرجع": "", "مرجعي": "", "كود": "",
		"الكود": "", "بتاعي": "", "هو": "", "هي": "", "يعني": "", "اه": "", "ايوه": "", "نعم": "",
		"و": "", "شرطه": "", "شكرا": "",
	},
}
