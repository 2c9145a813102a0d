package ref

import (
	"errors"
	"fmt"
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
			if s != "" && (spell(s) != s || len(s) > 1 && !several(s)) {
				t.Errorf("%s: %q reads %q, want one letter or digit, \"\" or distinct letters", lang, key, s)
			}
			if readings[key] == nil {
				readings[key] = map[string]bool{}
			}
			readings[key][s] = true
		}
	}
	for _, key := range []string{"بي", "اي"} {
		if !several(spoken["ar"][key]) {
			t.Errorf("ar: %q reads %q, want the letters it may stand for", key, spoken["ar"][key])
		}
	}
	for key, rs := range readings {
		if tie := slices.Contains(ties, key); tie != (len(rs) > 1) {
			t.Errorf("%q reads %v: a tie is %v, want %v (document it in FromSpeech)", key, rs, len(rs) > 1, tie)
		}
	}
}

// several reports whether s is two or more distinct letters, the reading of a name that
// stands for any of them.
func several(s string) bool {
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' || strings.IndexByte(s[:i], s[i]) >= 0 {
			return false
		}
	}
	return len(s) > 1
}

// arabic names each character of a reference as an Arabic speaker does, with the names
// that stand for several letters where there are any: بي for B and P, اي for A and E.
var arabic = map[byte]string{
	'2': "اثنين", '3': "ثلاثه", '4': "اربعه", '5': "خمسه", '6': "سته", '7': "سبعه", '8': "ثمانيه",
	'9': "تسعه", 'A': "اي", 'B': "بي", 'C': "سي", 'D': "دي", 'E': "اي", 'F': "اف", 'G': "جي",
	'H': "اتش", 'J': "جاي", 'K': "كي", 'M': "ام", 'N': "ان", 'P': "بي", 'Q': "كيو", 'R': "ار",
	'S': "اس", 'T': "تي", 'U': "يو", 'V': "في", 'W': "دبليو", 'X': "اكس", 'Y': "واي", 'Z': "زد",
}

// inArabic reads a reference out with the names of arabic.
func inArabic(r Ref) string {
	names := make([]string, 0, Len)
	for _, c := range []byte(r.Compact()) {
		names = append(names, arabic[c])
	}
	return strings.Join(names, " ")
}

var candidatesCases = []struct {
	name, text string
	want       []string
}{
	{"no name of several letters", "F F W", []string{"FFW"}},
	{"بي is B, then P", "بي ٢", []string{"B2", "P2"}},
	{"اي is A, E, then I", "اي", []string{"A", "E", "I"}},
	{"اى with alef maksura, أي with hamza above", "اى أي", []string{"AA", "AE", "AI", "EA", "EE", "EI", "IA", "IE", "II"}},
	{"the first name changes slowest", "بي اي ٢", []string{"BA2", "BE2", "BI2", "PA2", "PE2", "PI2"}},
	{"و joined to بي", "كي وبي", []string{"KB", "KP"}},
	{"hamza and پي tell the letter", "إي آي إيه پي", []string{"EIAP"}},
	{"an unknown word stays ?", "بي banana", []string{"B?", "P?"}},
	{"double before بي is not read", "double بي", []string{"?B", "?P"}},
	{"nothing heard", "", []string{""}},
	{"over 256 bytes", strings.Repeat("بي ", 65), []string{""}},
	{"over 64 readings: FromSpeech's alone", "بي بي بي بي بي بي اي ٢ ٣ ٤", []string{"???????234"}},
	{"four اي: 81 readings", "اي اي اي اي", []string{"????"}},
}

func TestCandidates(t *testing.T) {
	t.Parallel()
	for _, tc := range candidatesCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Candidates(tc.text, "ar"); !slices.Equal(got, tc.want) {
				t.Errorf("Candidates(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
	t.Run("64 readings, the most", func(t *testing.T) {
		got := Candidates("بي بي بي بي بي بي ٢ ٣ ٤ ٥", "ar")
		if len(got) != maxCandidates || got[0] != "BBBBBB2345" || got[1] != "BBBBBP2345" || got[63] != "PPPPPP2345" {
			t.Errorf("Candidates = %d: %q…, want 64 from BBBBBB2345 to PPPPPP2345", len(got), got[:min(len(got), 2)])
		}
		if got := len(slices.Compact(slices.Sorted(slices.Values(got)))); got != maxCandidates {
			t.Errorf("%d distinct candidates, want %d", got, maxCandidates)
		}
	})
}

// spokenCases read out the references of speechSeed (FFW-3K5-JWKB, 4EE-H8X-DQN3,
// EZQ-SXN-AJPG, X49-A8T-CDAW) with names that stand for several letters.
var spokenCases = []struct {
	name, lang, text string
	want             string // the reference ParseSpoken returns, compact; "" for an error
	err              error
}{
	{"ar بي as B, the check character", "ar-EG", "إف إف دبليو ٣ كي ٥ جاي دبليو كي بي", "FFW3K5JWKB", nil},
	{"ar اي as E twice", "ar-EG", "أربعة اي اي اتش ثمانية اكس دي كيو ان ثلاثة", "4EEH8XDQN3", nil},
	{"ar اى and أي as E", "ar-EG", "أربعة اى أي اتش ثمانية اكس دي كيو ان ثلاثة", "4EEH8XDQN3", nil},
	{"ar اي as A twice", "ar-EG", "اكس ٤ ٩ اي ٨ تي سي دي اي ودبليو", "X49A8TCDAW", nil},
	{"ar اي as A and بي as P, E said with hamza", "ar-EG", "إي زد كيو اس اكس ان اي جاي بي جي", "EZQSXNAJPG", nil},
	{"ar only one reading passes, of many", "ar-EG", inArabic(mustParse("FFW3K5JWKB")), "FFW3K5JWKB", nil},
	{"ar Latin names still read", "ar-EG", "E Z Q S X N A J P G", "EZQSXNAJPG", nil},
	// E at weight 10 and P at weight 2: 10·4 + 2·11 = 62 ≡ 0 (mod 31), so AZQ-SXN-AJBG
	// passes too.
	{"ar two readings pass", "ar-EG", "اي زد كيو اس اكس ان اي جاي بي جي", "", ErrAmbiguous},
	{"ar wrong check character", "ar-EG", "اي زد كيو اس اكس ان اي جاي بي كي", "", ErrCheck},
	{"ar آي is I, in no reference", "ar-EG", "أربعة آي اي اتش ثمانية اكس دي كيو ان ثلاثة", "", ErrBadChar},
	{"ar an unknown word", "ar-EG", "إف إف دبليو ٣ كي ٥ جاي دبليو بي سبعين", "", ErrBadChar},
	{"ar one character short", "ar-EG", "إف دبليو ٣ كي ٥ جاي دبليو كي بي", "", ErrLength},
	{"ar over 64 readings", "ar-EG", "بي بي بي بي بي بي بي ٣ كي ٥", "", ErrBadChar},
	{"ar over 256 bytes", "ar-EG", strings.Repeat("بي ", 65), "", ErrLength},
	{"en no names of several letters", "en-GB", "eff eff double you three kay five jay double u kay bee", "FFW3K5JWKB", nil},
}

// mustParse parses a reference that a table case reads out.
func mustParse(s string) Ref {
	r, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return r
}

func TestParseSpoken(t *testing.T) {
	t.Parallel()
	var refs []string
	for _, r := range drawn(t, speechSeed, 4) {
		refs = append(refs, r.Compact())
	}
	for _, tc := range spokenCases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseSpoken(tc.text, tc.lang)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !r.IsZero() {
					t.Errorf("ParseSpoken(%q) = %q, %v; want %v", tc.text, r.Compact(), err, tc.err)
				}
				return
			}
			if err != nil || r.Compact() != tc.want || !slices.Contains(refs, tc.want) {
				t.Errorf("ParseSpoken(%q) = %q, %v; want %q of %q", tc.text, r.Compact(), err, tc.want, refs)
			}
		})
	}
	t.Run("the rows of FromSpeech", func(t *testing.T) {
		// Where no name stands for several letters, ParseSpoken is Parse of FromSpeech.
		for _, tc := range speechCases {
			got, err := ParseSpoken(tc.text, tc.lang)
			want, wantErr := Parse(FromSpeech(tc.text, tc.lang))
			if len(Candidates(tc.text, tc.lang)) == 1 && (got != want || fmt.Sprint(err) != fmt.Sprint(wantErr)) {
				t.Errorf("%s: ParseSpoken = %q, %v; Parse(FromSpeech) = %q, %v", tc.name, got.Compact(), err, want.Compact(), wantErr)
			}
		}
	})
}

// TestParseSpokenDrawn reads references from New out in Arabic, with بي for every B and P
// and اي for every A and E, and checks ParseSpoken against every reading: it gives the
// reference when no other reading passes, ErrAmbiguous when one does, and ErrBadChar over
// 64 readings; never another reference. With one such name a reference is always read
// back. ErrAmbiguous does happen (57 of these 3000, and EZQ-SXN-AJPG in spokenCases): the
// test fails if it finds none.
func TestParseSpokenDrawn(t *testing.T) {
	t.Parallel()
	var read, ambiguous, capped int
	for _, r := range drawn(t, [32]byte{2}, 3000) {
		text := inArabic(r)
		names := strings.Count(text, "بي") + strings.Count(text, "اي")
		cs := Candidates(text, "ar")
		passing := 0
		for _, c := range cs {
			if _, err := Parse(c); err == nil {
				passing++
			}
		}
		got, err := ParseSpoken(text, "ar")
		switch {
		case len(cs) == 1 && strings.Contains(cs[0], "?"):
			capped++
			if !errors.Is(err, ErrBadChar) {
				t.Errorf("%s: %d names, ParseSpoken = %q, %v; want ErrBadChar", r, names, got.Compact(), err)
			}
		case !slices.Contains(cs, r.Compact()):
			t.Errorf("%s: not among the candidates %q", r, cs)
		case passing == 1:
			read++
			if err != nil || got != r {
				t.Errorf("%s: ParseSpoken = %q, %v; want it", r, got.Compact(), err)
			}
		default:
			ambiguous++
			if !errors.Is(err, ErrAmbiguous) || !got.IsZero() {
				t.Errorf("%s: %d readings pass, ParseSpoken = %q, %v; want ErrAmbiguous", r, passing, got.Compact(), err)
			}
			if names < 2 {
				t.Errorf("%s: %d readings pass with %d name of several letters", r, passing, names)
			}
		}
	}
	t.Logf("3000 references: %d read, %d ambiguous, %d over 64 readings", read, ambiguous, capped)
	if ambiguous == 0 {
		t.Error("no reference read out is ambiguous: the test no longer shows ErrAmbiguous")
	}
}

// TestTwoNamesOfOneKind checks the arithmetic of ParseSpoken's comment: two B/P names, or
// two A/E names, never pass together, whatever their positions; a B/P and an A/E name can.
func TestTwoNamesOfOneKind(t *testing.T) {
	t.Parallel()
	diff := func(a, b byte) int { return int(values[a]) - int(values[b]) }
	bp, ae := diff('P', 'B'), diff('E', 'A')
	mixed := 0
	for w := 1; w <= Len; w++ {
		for w2 := 1; w2 <= Len; w2++ {
			if w == w2 {
				continue
			}
			for _, sign := range []int{1, -1} {
				for _, d := range []int{bp, ae} {
					if (w*d+sign*w2*d)%base == 0 {
						t.Errorf("weights %d and %d: two names of difference %d can both pass", w, w2, d)
					}
				}
				if (w*bp+sign*w2*ae)%base == 0 {
					mixed++
				}
			}
		}
	}
	if mixed == 0 {
		t.Error("no B/P and A/E names can pass together: ParseSpoken's comment is wrong")
	}
}

// FuzzFromSpeech: FromSpeech never panics, gives only what Parse can judge (upper-case
// letters, digits and '?'), never more characters than the text has bytes, and reads its
// own answer back unchanged. Candidates are 1 to 64 readings of FromSpeech's answer, and
// FromSpeech's alone when there is one; ParseSpoken never panics, returns one of its
// errors or a reference among the candidates that Parse reads back from its String.
func FuzzFromSpeech(f *testing.F) {
	for _, tc := range speechCases {
		f.Add(tc.text, tc.lang)
	}
	for _, tc := range spokenCases {
		f.Add(tc.text, tc.lang)
	}
	for _, tc := range candidatesCases {
		f.Add(tc.text, "ar")
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

		cs := Candidates(text, lang)
		if len(cs) == 0 || len(cs) > maxCandidates || len(cs) == 1 && cs[0] != got {
			t.Fatalf("Candidates(%q) = %q, FromSpeech %q", text, cs, got)
		}
		for _, c := range cs {
			if len(c) != len(got) {
				t.Fatalf("Candidates(%q): %q, FromSpeech %q", text, c, got)
			}
			for i := range len(c) {
				if got[i] != '?' && c[i] != got[i] || got[i] == '?' && c[i] != '?' && (c[i] < 'A' || c[i] > 'Z') {
					t.Fatalf("Candidates(%q): %q does not read FromSpeech's %q", text, c, got)
				}
			}
		}
		r, err := ParseSpoken(text, lang)
		if err != nil {
			if !r.IsZero() || !errors.Is(err, ErrLength) && !errors.Is(err, ErrBadChar) && !errors.Is(err, ErrCheck) && !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("ParseSpoken(%q) = %q, %v", text, r.Compact(), err)
			}
			return
		}
		if back, err := Parse(r.String()); err != nil || back != r || !slices.Contains(cs, r.Compact()) {
			t.Fatalf("ParseSpoken(%q) = %q, but Parse(%q) = %q, %v; candidates %q", text, r.Compact(), r.String(), back.Compact(), err, cs)
		}
	})
}
