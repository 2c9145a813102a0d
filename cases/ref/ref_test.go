package ref

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
)

// valid is a reference whose check character matches; the table cases write it in the
// ways people do.
const valid = "HK7QM4XTN9"

var parseCases = []struct {
	name  string
	input string
	want  string // compact form, when Parse accepts
	err   error
}{
	{"compact", "HK7QM4XTN9", valid, nil},
	{"grouped", "HK7-QM4-XTN9", valid, nil},
	{"lower case", "hk7-qm4-xtn9", valid, nil},
	{"mixed case", "Hk7qM4xTn9", valid, nil},
	{"spaces", "  HK7 QM4 XTN9 ", valid, nil},
	{"space between every character", "H K 7 Q M 4 X T N 9", valid, nil},
	{"dots", "HK7.QM4.XTN9", valid, nil},
	{"dashes of other kinds", "HK7–QM4—XTN9", valid, nil},
	{"minus sign and underscore", "HK7−QM4_XTN9", valid, nil},
	{"tab and newline", "HK7\tQM4\nXTN9", valid, nil},
	{"no-break space", "HK7\u00a0QM4\u00a0XTN9", valid, nil},
	{"direction marks around it", "\u200fHK7-QM4-XTN9\u200f", valid, nil},
	{"Arabic-Indic digits", "HK٧-QM٤-XTN٩", valid, nil},
	{"Extended Arabic-Indic digits", "HK۷-QM۴-XTN۹", valid, nil},
	{"Urdu full stop", "HK7۔QM4۔XTN9", valid, nil},
	{"Bengali digits", "HK৭-QM৪-XTN৯", valid, nil},
	{"Devanagari digits", "HK७-QM४-XTN९", valid, nil},
	{"full-width forms", "ＨＫ７－ＱＭ４－ＸＴＮ９", valid, nil},
	{"full-width lower case and ideographic space", "ｈｋ７\u3000ｑｍ４\u3000ｘｔｎ９", valid, nil},
	{"wrong check character", "HK7-QM4-XTN8", "", ErrCheck},
	{"one character wrong", "HK7-QM4-XTM9", "", ErrCheck},
	{"neighbours swapped", "HK7-QM4-TXN9", "", ErrCheck},
	{"letter O", "HK7-QM4-XON9", "", ErrBadChar},
	{"digit 0", "HK7-QM4-X0N9", "", ErrBadChar},
	{"digit 1", "HK7-QM1-XTN9", "", ErrBadChar},
	{"letter I", "HK7-QMI-XTN9", "", ErrBadChar},
	{"lower-case l", "HK7-QMl-XTN9", "", ErrBadChar},
	{"Arabic-Indic zero", "HK7-QM٠-XTN9", "", ErrBadChar},
	{"Cyrillic look-alike", "НK7-QM4-XTN9", "", ErrBadChar}, // Cyrillic Н
	{"a sentence", "my ref is HK7-QM4-XTN9", "", ErrBadChar},
	{"slash", "HK7/QM4/XTN9", "", ErrBadChar},
	{"invalid UTF-8", "HK7-QM4-XTN\xff", "", ErrBadChar},
	{"empty", "", "", ErrLength},
	{"only separators", " - . - ", "", ErrLength},
	{"one short", "HK7-QM4-XTN", "", ErrLength},
	{"one long", "HK7-QM4-XTN92", "", ErrLength},
	{"far too long", strings.Repeat("HK7-", 100), "", ErrLength},
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.input)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Parse(%q) = %v, %v; want %v", tc.input, got.Compact(), err, tc.err)
				}
				if !got.IsZero() {
					t.Errorf("Parse(%q) returned %q with its error, want the zero Ref", tc.input, got.Compact())
				}
				if strings.Contains(err.Error(), "XTN") {
					t.Errorf("error %q repeats the input, which is a secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.input, err)
			}
			if got.Compact() != tc.want {
				t.Errorf("Parse(%q) = %q, want %q", tc.input, got.Compact(), tc.want)
			}
		})
	}
}

func TestForms(t *testing.T) {
	t.Parallel()
	r, err := Parse(valid)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.String(), "HK7-QM4-XTN9"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := r.Compact(), "HK7QM4XTN9"; got != want {
		t.Errorf("Compact() = %q, want %q", got, want)
	}
	if got, want := strings.Join(r.Spoken(), " "), "H K 7 Q M 4 X T N 9"; got != want {
		t.Errorf("Spoken() = %q, want %q", got, want)
	}

	var zero Ref
	if !zero.IsZero() || r.IsZero() {
		t.Error("IsZero: want true for the zero Ref only")
	}
	if zero.String() != "" || zero.Compact() != "" || zero.Spoken() != nil {
		t.Errorf("zero Ref: %q %q %q, want nothing", zero.String(), zero.Compact(), zero.Spoken())
	}

	type event struct {
		Ref  Ref `json:"ref"`
		None Ref `json:"none"`
	}
	b, err := json.Marshal(event{Ref: r})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"ref":"HK7-QM4-XTN9","none":""}`; got != want {
		t.Errorf("JSON = %s, want %s", got, want)
	}
	var back event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Ref != r || !back.None.IsZero() {
		t.Errorf("JSON round trip = %+v, want %+v", back, event{Ref: r})
	}
	if err := json.Unmarshal([]byte(`{"ref":"HK7-QM4-XTN8"}`), &back); !errors.Is(err, ErrCheck) {
		t.Errorf("unmarshal of a mistyped reference: %v, want ErrCheck", err)
	}
}

// TestCheckCatchesTypos proves on random references what check promises: every single
// wrong character and every swap of two different neighbours is refused with ErrCheck.
func TestCheckCatchesTypos(t *testing.T) {
	t.Parallel()
	if !prime(len(Alphabet)) {
		t.Fatalf("alphabet of %d symbols: not a prime", len(Alphabet))
	}
	if strings.ContainsAny(Alphabet, "01OIL") || strings.ToUpper(Alphabet) != Alphabet {
		t.Fatalf("alphabet %q has a confusable or lower-case character", Alphabet)
	}
	rnd := rand.NewChaCha8([32]byte{1})
	for range 2000 {
		r, err := New(rnd)
		if err != nil {
			t.Fatal(err)
		}
		s := r.Compact()
		if _, err := Parse(s); err != nil {
			t.Fatalf("Parse(New()) = %v", err)
		}
		for i := range Len {
			for _, c := range []byte(Alphabet) {
				if c == s[i] {
					continue
				}
				typo := s[:i] + string(c) + s[i+1:]
				if _, err := Parse(typo); !errors.Is(err, ErrCheck) {
					t.Fatalf("%s with character %d changed to %c (%s): %v, want ErrCheck", s, i+1, c, typo, err)
				}
			}
		}
		for i := range Len - 1 {
			if s[i] == s[i+1] {
				continue
			}
			swap := s[:i] + string(s[i+1]) + string(s[i]) + s[i+2:]
			if _, err := Parse(swap); !errors.Is(err, ErrCheck) {
				t.Fatalf("%s with characters %d and %d swapped (%s): %v, want ErrCheck", s, i+1, i+2, swap, err)
			}
		}
	}
}

func prime(n int) bool {
	if n < 2 {
		return false
	}
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}

// TestEntropy: a reference carries at least 40 random bits, so that it cannot be guessed.
func TestEntropy(t *testing.T) {
	t.Parallel()
	bits := float64(RandomLen) * math.Log2(float64(len(Alphabet)))
	if bits < 40 {
		t.Errorf("%d random characters of %d: %.1f bits, want at least 40", RandomLen, len(Alphabet), bits)
	}
	t.Logf("%d random characters of %d symbols: %.1f bits", RandomLen, len(Alphabet), bits)
}

// TestNewUniform: every character of every random position is about equally likely.
// Folding bytes modulo 31 without rejection would make eight characters 12% likelier,
// which this chi-squared test sees plainly.
func TestNewUniform(t *testing.T) {
	t.Parallel()
	const draws = 31 * 1000
	rnd := rand.NewChaCha8([32]byte{2})
	var counts [RandomLen][31]int
	for range draws {
		r, err := New(rnd)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range r.Compact()[:RandomLen] {
			counts[i][strings.IndexRune(Alphabet, c)]++
		}
	}
	const expected = draws / 31
	for i, row := range counts {
		chi2 := 0.0
		for _, n := range row {
			d := float64(n - expected)
			chi2 += d * d / expected
		}
		// 30 degrees of freedom: the 0.9999 quantile is about 66.
		if chi2 > 66 {
			t.Errorf("position %d: chi² = %.1f over 30 degrees of freedom, counts %v", i+1, chi2, row)
		}
	}
}

func TestNewReadError(t *testing.T) {
	t.Parallel()
	if _, err := New(strings.NewReader("short")); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("New from a reader that runs dry: %v, want io.ErrUnexpectedEOF", err)
	}
	// All bytes of 248 and above are thrown away: a reader of nothing else never yields.
	if _, err := New(io.LimitReader(constReader(0xff), 1000)); err == nil {
		t.Error("New from bytes that are all rejected: want an error once they run out")
	}
	if r, err := New(nil); err != nil || r.IsZero() {
		t.Errorf("New(nil) = %q, %v; want a reference from crypto/rand", r.Compact(), err)
	}
}

type constReader byte

func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// TestDigitRuns checks what digit relies on, against the Unicode tables Go was built with:
// decimal digits come in maximal ranges of whole runs of ten, so every range starts at a 0.
func TestDigitRuns(t *testing.T) {
	t.Parallel()
	for _, r := range unicode.Nd.R16 {
		if r.Stride != 1 || (int(r.Hi)-int(r.Lo)+1)%10 != 0 {
			t.Errorf("Nd range %U–%U stride %d: not whole runs of ten", r.Lo, r.Hi, r.Stride)
		}
	}
	for _, r := range unicode.Nd.R32 {
		if r.Stride != 1 || (int(r.Hi)-int(r.Lo)+1)%10 != 0 {
			t.Errorf("Nd range %U–%U stride %d: not whole runs of ten", r.Lo, r.Hi, r.Stride)
		}
	}
	for _, tc := range []struct {
		r    rune
		want rune
	}{{'٠', 0}, {'٩', 9}, {'۴', 4}, {'০', 0}, {'৯', 9}, {'७', 7}, {'၅', 5}, {'𝟘', 0}, {'𝟡', 9}, {'𝟿', 9}} {
		if got := digit(tc.r); got != tc.want {
			t.Errorf("digit(%c %U) = %d, want %d", tc.r, tc.r, got, tc.want)
		}
	}
}

// FuzzParse: Parse never panics, and what it accepts comes back the same through both
// written forms.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.input)
	}
	f.Fuzz(func(t *testing.T, input string) {
		r, err := Parse(input)
		if err != nil {
			if !errors.Is(err, ErrLength) && !errors.Is(err, ErrBadChar) && !errors.Is(err, ErrCheck) {
				t.Fatalf("Parse(%q): %v is none of ErrLength, ErrBadChar, ErrCheck", input, err)
			}
			return
		}
		if r.IsZero() {
			t.Fatalf("Parse(%q) accepted the zero Ref", input)
		}
		for _, s := range []string{r.String(), r.Compact()} {
			back, err := Parse(s)
			if err != nil || back != r {
				t.Fatalf("Parse(%q) = %q, but Parse(%q) = %q, %v", input, r.Compact(), s, back.Compact(), err)
			}
		}
		if len(r.String()) != Len+2 || len(r.Spoken()) != Len {
			t.Fatalf("Parse(%q): forms %q and %q", input, r.String(), r.Spoken())
		}
	})
}
