package ref

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// speechSeed draws the references that the rows below read out, so that every row that
// Parse accepts is a reference New really gives: FFW-3K5-JWKB, 4EE-H8X-DQN3, EZQ-SXN-AJPG
// and X49-A8T-CDAW.
var speechSeed = [32]byte{1}

var speechCases = []struct {
	name, lang, text string
	want             string // what FromSpeech returns
	err              error  // what Parse says of it; nil: one of the references above
}{
	{"en compact", "en-GB", "FFW3K5JWKB", "FFW3K5JWKB", nil},
	{"en grouped, with a full stop", "en-GB", "FFW 3K5 JWKB.", "FFW3K5JWKB", nil},
	{"en grouped with dashes", "en-GB", "FFW-3K5-JWKB", "FFW3K5JWKB", nil},
	{"en one character at a time", "en-GB", "F F W 3 K 5 J W K B", "FFW3K5JWKB", nil},
	{"en lower case, a digit in each group", "en-GB", "4ee h8x dqn3", "4EEH8XDQN3", nil},
	{"en digits as words", "en-GB", "f f w three k five j w k b", "FFW3K5JWKB", nil},
	{"en letter names", "en-GB", "eff eff double you three kay five jay double u kay bee", "FFW3K5JWKB", nil},
	{"en NATO words", "en-GB", "Foxtrot foxtrot whiskey three kilo five Juliett whiskey kilo bravo", "FFW3K5JWKB", nil},
	{"en for and as in", "en-GB", "F for Freddie, F as in foxtrot, W for whiskey, 3, K for kilo, 5, J for Juliet, W, K, B for bravo.", "FFW3K5JWKB", nil},
	{"en x-ray, alpha and alfa", "en-GB", "X-ray, four, nine, alpha, eight, tango, Charlie, delta, alfa, whiskey", "X49A8TCDAW", nil},
	{"en filler words and dash", "en-GB", "Um, my reference is F F W dash 3 K 5 dash J W K B, thank you.", "FFW3K5JWKB", nil},
	{"en double", "en-GB", "double F W 3 K 5 J W K B", "FFW3K5JWKB", nil},
	{"en tie: en is N", "en-GB", "E Z Q S X en A J P G", "EZQSXNAJPG", nil},
	{"en tie: y is Y", "en-GB", "e zeta cu ese equis ene a jota pe y ge", "EZQSXNAJPYG", ErrLength},
	{"en a two-digit word is not read", "en-GB", "X forty-nine A8T CDAW", "X?9A8TCDAW", ErrBadChar},
	{"en unknown word", "en-GB", "F F W 3 K 5 J W K banana", "FFW3K5JWK?", ErrBadChar},
	{"en for before a word of another letter", "en-GB", "F for kilo F W 3 K 5 J W K B", "F?KFW3K5JWKB", ErrBadChar},
	{"en one is kept, as 1", "en-GB", "F F W 3 K 5 J W one B", "FFW3K5JW1B", ErrBadChar},
	{"en oh is kept, as 0", "en-GB", "4 E E H 8 X D Q N oh", "4EEH8XDQN0", ErrBadChar},
	{"en letters run together in lower case could be a word", "en-GB", "ffw 3k5 jwkb", "?3K5?", ErrBadChar},
	{"en wrong check character", "en-GB", "F F W 3 K 5 J W K D", "FFW3K5JWKD", ErrCheck},

	{"fr letter names", "fr-FR", "quatre e e hache huit iks dé ku èn trois", "4EEH8XDQN3", nil},
	{"fr without accents", "fr-FR", "quatre, e, e, ach, huit, ixe, de, cu, enne, trois", "4EEH8XDQN3", nil},
	{"fr c'est and tiret", "fr-FR", "C'est 4EE tiret H8X tiret DQN3.", "4EEH8XDQN3", nil},
	{"fr comme", "fr-FR", "E comme Eugène, zède, Q comme Quentin, S, X, N, A, J comme Jules, P, G", "EZQSXNAJPG", nil},
	{"fr numéro de dossier", "fr-FR", "Mon numéro de dossier est EZQ-SXN-AJPG", "EZQSXNAJPG", nil},
	{"fr double vé", "fr-FR", "effe effe double vé trois ka cinq ji double v ka bé", "FFW3K5JWKB", nil},
	{"fr tie: en is in", "fr-FR", "E Z Q S X en A J P G", "EZQSXAJPG", ErrLength},
	{"fr a two-digit word is not read", "fr-FR", "quatre e e hache huit iks dé ku èn soixante", "4EEH8XDQN?", ErrBadChar},
	{"fr wrong check character", "fr-FR", "quatre e e hache huit iks dé ku èn deux", "4EEH8XDQN2", ErrCheck},

	{"es letter names", "es-US", "e, zeta, cu, ese, equis, ene, a, jota, pe, ge", "EZQSXNAJPG", nil},
	{"es filler words; tie: y is and", "es-US", "Mi número de caso es e zeta cu ese equis ene a jota pe y ge.", "EZQSXNAJPG", nil},
	{"es como and de", "es-US", "E de España, Z como Zaragoza, Q, S, X, N, A, J de Juan, P de Pedro, G", "EZQSXNAJPG", nil},
	{"es ache and digit words", "es-US", "cuatro, e, e, ache, ocho, equis, de, cu, ene, tres", "4EEH8XDQN3", nil},
	{"es doble u, uve doble, be larga", "es-US", "efe efe doble u tres ka cinco jota uve doble ka be larga", "FFW3K5JWKB", nil},
	{"es guion", "es-US", "Es X49 guion A8T guion CDAW", "X49A8TCDAW", nil},
	{"es a two-digit word is not read", "es-US", "e zeta cu ese equis ene a jota pe setenta", "EZQSXNAJP?", ErrBadChar},
	{"es eñe is not ene", "es-US", "e zeta cu ese equis eñe a jota pe ge", "EZQSX?AJPG", ErrBadChar},
	{"es wrong check character", "es-US", "e zeta cu ese equis ene a jota pe ka", "EZQSXNAJPK", ErrCheck},

	{"ar letter names and digit words", "ar-EG", "أربعة إي إي إتش ثمانية إكس دي كيو إن ثلاثة", "4EEH8XDQN3", nil},
	{"ar without hamza, Egyptian digits, filler", "ar-EG", "رقمي هو اربعه، إي، إي، اتش، تمانيه، اكس، دي، كيو، ان، تلاته", "4EEH8XDQN3", nil},
	{"ar Arabic-Indic digits and و", "ar-EG", "اكس ٤ ٩ ايه ٨ تي سي دي ايه ودبليو", "X49A8TCDAW", nil},
	{"ar پي and short vowels", "ar-EG", "إي زَد كيو إس إكس إن إيه جاي پي جي", "EZQSXNAJPG", nil},
	{"ar Latin characters", "ar-EG", "رقمي X49-A8T-CDAW", "X49A8TCDAW", nil},
	{"ar بي is B or P", "ar-EG", "إف إف دبليو ٣ كي ٥ جاي دبليو كي بي", "FFW3K5JWK?", ErrBadChar},
	{"ar اي without hamza is A, E or I", "ar-EG", "أربعة اي اي اتش ثمانية اكس دي كيو ان ثلاثة", "4??H8XDQN3", ErrBadChar},
	{"ar a two-digit word is not read", "ar-EG", "اكس ٤ ٩ ايه ٨ تي سي دي ايه سبعين", "X49A8TCDA?", ErrBadChar},
	{"ar wrong check character", "ar-EG", "أربعة إي إي إتش ثمانية إكس دي كيو إن اثنين", "4EEH8XDQN2", ErrCheck},

	{"full-width forms", "en", "ＦＦＷ３Ｋ５ＪＷＫＢ", "FFW3K5JWKB", nil},
	{"another language: English reads first", "de", "E Z Q S X en A J P G", "EZQSXNAJPG", nil},
	{"nothing heard", "en", "", "", ErrLength},
	{"over 256 bytes", "en", strings.Repeat("F F W 3 K 5 J W K B ", 13), "", ErrLength},
}

func TestFromSpeech(t *testing.T) {
	t.Parallel()
	var refs []string
	for _, r := range drawn(t, speechSeed, 4) {
		refs = append(refs, r.Compact())
	}
	for _, tc := range speechCases {
		t.Run(tc.name, func(t *testing.T) {
			got := FromSpeech(tc.text, tc.lang)
			if got != tc.want {
				t.Fatalf("FromSpeech(%q, %q) = %q, want %q", tc.text, tc.lang, got, tc.want)
			}
			r, err := Parse(got)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Errorf("Parse(%q) = %q, %v; want %v", got, r.Compact(), err, tc.err)
				}
				return
			}
			if err != nil || !slices.Contains(refs, r.Compact()) {
				t.Errorf("Parse(%q) = %q, %v; want one of %q", got, r.Compact(), err, refs)
			}
		})
	}
}

// TestSpokenTables keeps the tables as FromSpeech documents them: every key in the form
// it is looked up by, every reading one character, and no word read differently in two
// languages beyond the ties that lang settles.
func TestSpokenTables(t *testing.T) {
	t.Parallel()
	exact := []string{"èn", "èr", "ès", "إي", "آي"} // their accent or hamza tells them apart
	ties := []string{"el", "en", "y"}
	readings := map[string]map[string]bool{}
	for lang, table := range spoken {
		for key, s := range table {
			if plain(key) != key && !slices.Contains(exact, key) {
				t.Errorf("%s: key %q, want %q", lang, key, plain(key))
			}
			if strings.ToLower(key) != key {
				t.Errorf("%s: key %q is not lower case", lang, key)
			}
			if s != "" && s != "?" && (len(s) != 1 || spell(s) != s) {
				t.Errorf("%s: %q reads %q, want one letter or digit, \"\" or \"?\"", lang, key, s)
			}
			if readings[key] == nil {
				readings[key] = map[string]bool{}
			}
			readings[key][s] = true
		}
	}
	for key, rs := range readings {
		if tie := slices.Contains(ties, key); tie != (len(rs) > 1) {
			t.Errorf("%q reads %v: a tie is %v, want %v (document it in FromSpeech)", key, rs, len(rs) > 1, tie)
		}
	}
}

// FuzzFromSpeech: FromSpeech never panics, gives only what Parse can judge (upper-case
// letters, digits and '?'), never more characters than the text has bytes, and reads its
// own answer back unchanged.
func FuzzFromSpeech(f *testing.F) {
	for _, tc := range speechCases {
		f.Add(tc.text, tc.lang)
	}
	f.Fuzz(func(t *testing.T, text, lang string) {
		got := FromSpeech(text, lang)
		if len(got) > len(text) || len(got) > maxInput {
			t.Fatalf("FromSpeech(%q) = %q: longer than the text", text, got)
		}
		if len(text) > maxInput && got != "" {
			t.Fatalf("FromSpeech of %d bytes = %q, want \"\"", len(text), got)
		}
		for _, c := range []byte(got) {
			if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '?') {
				t.Fatalf("FromSpeech(%q) = %q: byte %q", text, got, c)
			}
		}
		if !strings.Contains(got, "?") {
			if again := FromSpeech(got, lang); again != got {
				t.Fatalf("FromSpeech(%q) = %q, but FromSpeech(%q) = %q", text, got, got, again)
			}
		}
	})
}
