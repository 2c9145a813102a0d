package ref

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"unicode"
)

// Alphabet holds the characters of a reference, in the order of their values 0–30.
//
// Digits and upper-case letters without 0 and O, 1, I and L, which are mistaken for one
// another on paper, on small screens and over a bad line. U stays, unlike in Crockford's
// Base32, which drops it only to avoid spelling words by accident: keeping it makes 31
// symbols, a prime, and a prime is what lets one weighted check character catch every
// single wrong character and every swap of neighbours (see check). A word spelled by
// chance is rare, and nobody chose it; that risk is not worth a weaker check.
const Alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

const (
	base = len(Alphabet) // 31, a prime

	// RandomLen is how many characters of a reference are drawn at random:
	// 9 × log2(31) ≈ 44.6 bits.
	RandomLen = 9
	// Len is the length of a reference without separators: the random characters
	// and one check character at the end.
	Len = RandomLen + 1

	// maxInput bounds what Parse reads, in bytes: enough for a reference typed with a
	// space between every character in full-width forms, far too little for a letter.
	maxInput = 256
)

// Errors of Parse, to be told apart with errors.Is, so that the bot can ask again with the
// right hint. Their texts never carry the input: a reference is a secret, and errors end up
// in logs.
var (
	// ErrLength: not Len characters once separators are dropped.
	ErrLength = errors.New("ref: wrong length")
	// ErrBadChar: a character that no reference has, such as O, 0, I, 1 or L.
	ErrBadChar = errors.New("ref: character not in a reference")
	// ErrCheck: the check character does not match, so at least one character is mistyped.
	ErrCheck = errors.New("ref: check character does not match")
)

// Ref is a case reference: nine random characters of Alphabet and a check character.
// Written for people it is grouped 3-3-4, "HK7-QM4-XTN9", like a phone number, so that
// it can be read aloud and typed in three short breaths; the last group is the one
// with the check character. Stored and used in keys, it is compact: "HK7QM4XTN9".
//
// A reference is a bearer secret: whoever knows it can follow up the case. Do not log it.
// The zero Ref is no reference; its String is "".
type Ref struct {
	c [Len]byte // characters of Alphabet, in order
}

// values maps an ASCII character to its value in Alphabet, or -1.
var values = func() (v [128]int8) {
	for i := range v {
		v[i] = -1
	}
	for i := 0; i < base; i++ {
		v[Alphabet[i]] = int8(i)
	}
	return v
}()

// New draws a reference from rnd, crypto/rand when rnd is nil. Each character is
// uniform over Alphabet: bytes of 248 and above (8 × 31) are thrown away rather than
// folded, which would make the first eight characters likelier.
func New(rnd io.Reader) (Ref, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	const limit = 256 - 256%base // 248
	var r Ref
	var buf [16]byte
	n := 0
	for n < RandomLen {
		if _, err := io.ReadFull(rnd, buf[:]); err != nil {
			return Ref{}, fmt.Errorf("ref: reading random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			r.c[n] = Alphabet[int(b)%base]
			if n++; n == RandomLen {
				break
			}
		}
	}
	r.c[RandomLen] = Alphabet[check(r.c[:RandomLen])]
	return r, nil
}

// check returns the value of the check character for the random characters c.
//
// Character i of a reference (0-based, the check character last) has weight Len−i, from
// 10 down to 1, and the weighted sum of the values of all ten is 0 mod 31. A single wrong
// character changes the sum by w·d, a swap of neighbours by (w−w′)·d, with d the
// difference of two values of the alphabet: both are non-zero mod 31 because 31 is prime
// and the weights, all below 31, are non-zero and distinct. So either mistake always
// breaks the sum. (Swaps of characters further apart are caught too, for the same reason.)
func check(c []byte) int {
	// The check character has weight 1: its value is what brings the sum to 0.
	return (base - weighted(c)%base) % base
}

// weighted returns the sum of the values of the characters c, weighted by Len−i.
func weighted(c []byte) int {
	sum := 0
	for i, ch := range c {
		sum += (Len - i) * int(values[ch])
	}
	return sum
}

// Parse reads a reference as people type it, say or paste it. It forgives:
//   - lower case, and full-width forms (ＨＫ７);
//   - spaces of any kind, dashes and hyphens of any kind, the minus sign, underscores and
//     dots (. · ۔ 。 ・), anywhere;
//   - invisible format characters, such as the direction marks that phones put around
//     Latin text in Arabic-script messages;
//   - decimal digits of any script: Arabic-Indic ٢٣, Extended Arabic-Indic (Persian, Urdu)
//     ۲۳, Bengali ২৩, Devanagari २३ and the rest, read as 2, 3.
//
// It does not guess at look-alikes. 0 and O, 1, I and L are all left out of the
// alphabet, so none of them has a single right reading (O might be a D or a Q, 1 a 7):
// Parse returns ErrBadChar and the bot asks again, rather than turning a typo into
// another family's case. Look-alikes from other scripts (Cyrillic А, Greek Ο) are
// refused the same way.
//
// Errors wrap, in the order Parse checks: ErrBadChar for the first character that no
// reference has, ErrLength for the count (or at once, for input over 256 bytes), ErrCheck
// for the check character.
func Parse(input string) (Ref, error) {
	if len(input) > maxInput {
		return Ref{}, fmt.Errorf("%w: over %d bytes", ErrLength, maxInput)
	}
	var r Ref
	n := 0
	for _, ch := range input {
		ch = fold(ch)
		if separator(ch) {
			continue
		}
		if ch >= 128 || values[ch] < 0 {
			return Ref{}, fmt.Errorf("%w: character %d", ErrBadChar, n+1)
		}
		if n < Len {
			r.c[n] = byte(ch)
		}
		n++
	}
	if n != Len {
		return Ref{}, fmt.Errorf("%w: %d characters, want %d", ErrLength, n, Len)
	}
	if weighted(r.c[:])%base != 0 {
		return Ref{}, ErrCheck
	}
	return r, nil
}

// fold maps a character to the ASCII one it stands for, when there is exactly one:
// full-width forms to ASCII, decimal digits of any script to 0–9, lower case to upper.
// Anything else comes back unchanged.
func fold(ch rune) rune {
	if ch >= 0xFF01 && ch <= 0xFF5E { // full-width forms of ! to ~
		ch -= 0xFF01 - '!'
	}
	if ch >= 'a' && ch <= 'z' {
		return ch - 'a' + 'A'
	}
	if ch >= 128 && unicode.IsDigit(ch) {
		return '0' + digit(ch)
	}
	return ch
}

// digit returns the value of a decimal digit (category Nd). Unicode encodes every decimal
// digit in a run of ten consecutive code points from 0 to 9, each run starting a range of
// the Nd table (TestDigitRuns checks this against the tables Go was built with).
func digit(ch rune) rune {
	for _, r := range unicode.Nd.R16 {
		if ch >= rune(r.Lo) && ch <= rune(r.Hi) {
			return (ch - rune(r.Lo)) % 10
		}
	}
	for _, r := range unicode.Nd.R32 {
		if ch >= rune(r.Lo) && ch <= rune(r.Hi) {
			return (ch - rune(r.Lo)) % 10
		}
	}
	return -1 // not reached for a rune that unicode.IsDigit accepts
}

// separator reports whether a (folded) character is one that people put between the
// characters of a reference, or one they cannot see.
func separator(ch rune) bool {
	switch ch {
	case '-', '_', '.', '−', '·', '۔', '。', '｡', '・', '･', '․':
		return true
	}
	return unicode.IsSpace(ch) || unicode.Is(unicode.Pd, ch) || unicode.Is(unicode.Cf, ch)
}

// String returns the reference grouped for people: "HK7-QM4-XTN9".
func (r Ref) String() string {
	if r.IsZero() {
		return ""
	}
	return string(r.c[0:3]) + "-" + string(r.c[3:6]) + "-" + string(r.c[6:10])
}

// Compact returns the reference without separators, for storage and keys: "HK7QM4XTN9".
func (r Ref) Compact() string {
	if r.IsZero() {
		return ""
	}
	return string(r.c[:])
}

// Spoken returns the characters one by one, to be read back on a voice call:
// "H", "K", "7", … Saying them in a language (and pausing between the groups) is for
// the voice prompts.
func (r Ref) Spoken() []string {
	if r.IsZero() {
		return nil
	}
	s := make([]string, Len)
	for i, ch := range r.c {
		s[i] = string(ch)
	}
	return s
}

// IsZero reports whether r is the zero Ref, which is no reference.
func (r Ref) IsZero() bool { return r == Ref{} }

// MarshalText returns the grouped form, so that a Ref in JSON reads as people see it;
// the zero Ref marshals as empty text.
func (r Ref) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses text with Parse; empty text gives the zero Ref.
func (r *Ref) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*r = Ref{}
		return nil
	}
	p, err := Parse(string(text))
	if err != nil {
		return err
	}
	*r = p
	return nil
}
