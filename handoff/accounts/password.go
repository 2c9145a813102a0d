package accounts

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's costs. A hash carries the parameters it was made with, so
// that the defaults can rise while older hashes still verify (and NeedsRehash says
// which ones to replace at the next login).
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes
}

// DefaultParams are OWASP's first argon2id setting: 46 MiB, one pass, one lane
// (about 50 ms and 46 MiB per login on a small server; bound concurrent logins).
func DefaultParams() Params { return Params{Memory: 46 * 1024, Time: 1, Threads: 1} }

// Sizes of what a hash holds.
const (
	SaltLen = 16
	KeyLen  = 32
)

// Bounds on what a stored hash may ask for: a tampered or corrupt row must not make
// a login allocate gigabytes or spin for minutes.
const (
	maxMemory    = 1 << 20 // KiB: 1 GiB
	maxTime      = 64
	maxThreads   = 64
	minSalt      = 8
	maxSalt      = 64
	minKey       = 16
	maxKey       = 64
	maxEncoded   = 512
	maxVerifyLen = 1024 // bytes of a password tried at login
)

// ErrMalformedHash is a stored hash that is not an argon2id PHC string this package
// can verify.
var ErrMalformedHash = errors.New("malformed password hash")

var b64 = base64.RawStdEncoding.Strict()

func (p Params) check() error {
	switch {
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("argon2id: %d threads, want 1 to %d", p.Threads, maxThreads)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2id: %d passes, want 1 to %d", p.Time, maxTime)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("argon2id: %d KiB, want %d to %d", p.Memory, 8*uint32(p.Threads), maxMemory)
	}
	return nil
}

// Hash derives a key from password with a new random salt and returns it in the PHC
// string format: $argon2id$v=19$m=47104,t=1,p=1$<salt>$<key> (unpadded base64).
func Hash(password string, p Params) (string, error) {
	if err := p.check(); err != nil {
		return "", err
	}
	salt := make([]byte, SaltLen)
	rand.Read(salt) // never fails: crypto/rand crashes the program rather than return weak bytes
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, KeyLen)
	return encode(p, salt, key), nil
}

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password is the one encoded was made from, with the
// parameters read from encoded, comparing in constant time. A malformed hash is an
// error (wrapping ErrMalformedHash), never a match.
func Verify(password, encoded string) (bool, error) {
	p, salt, want, err := ParseHash(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > maxVerifyLen {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NeedsRehash reports whether encoded was made with other parameters or sizes than
// p and the package's: after a successful login, hash the password again and store it.
func NeedsRehash(encoded string, p Params) bool {
	got, salt, key, err := ParseHash(encoded)
	return err != nil || got != p || len(salt) != SaltLen || len(key) != KeyLen
}

// ParseHash reads an argon2id PHC string: its parameters, salt and key. It accepts
// only the canonical form that Hash writes, within bounds that keep a login cheap.
func ParseHash(encoded string) (p Params, salt, key []byte, err error) {
	bad := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, why)
	}
	if len(encoded) > maxEncoded {
		return bad("too long")
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("want $argon2id$v=…$m=…,t=…,p=…$salt$key")
	}
	if parts[1] != "argon2id" {
		return bad("not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unknown argon2 version")
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return bad("want m=…,t=…,p=…")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return bad("want m=…,t=…,p=…")
		}
		// Decimal without sign or leading zeros, as PHC writes numbers.
		if digits == "" || len(digits) > 10 || (digits[0] == '0' && len(digits) > 1) || strings.Trim(digits, "0123456789") != "" {
			return bad("parameters are not decimal numbers")
		}
		if vals[i], err = strconv.ParseUint(digits, 10, 32); err != nil {
			return bad("parameter out of range")
		}
	}
	if vals[2] > maxThreads {
		return bad("parameter out of range")
	}
	p = Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}
	if err := p.check(); err != nil {
		return bad("parameter out of range")
	}
	// The decoder skips line breaks; a canonical string has none.
	if strings.ContainsAny(parts[4]+parts[5], "\r\n") {
		return bad("line break")
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < minSalt || len(salt) > maxSalt {
		return bad("bad salt")
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < minKey || len(key) > maxKey {
		return bad("bad key")
	}
	return p, salt, key, nil
}

// The password policy, after NIST SP 800-63B: length counts, composition rules do not.
const (
	MinPasswordLen = 12  // characters
	MaxPasswordLen = 256 // bytes
)

// ErrPasswordPolicy is a password that CheckPassword refuses.
var ErrPasswordPolicy = errors.New("password refused")

// CheckPassword applies the policy to a password someone chose. The error says why,
// never what the password was.
func CheckPassword(password string) error {
	refuse := func(why string) error { return fmt.Errorf("%w: %s", ErrPasswordPolicy, why) }
	switch {
	case len(password) > MaxPasswordLen:
		return refuse(fmt.Sprintf("longer than %d bytes", MaxPasswordLen))
	case !utf8.ValidString(password):
		return refuse("not valid UTF-8 text")
	case strings.ContainsFunc(password, unicode.IsControl):
		return refuse("it holds a control character (a line break or a tab?)")
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return refuse(fmt.Sprintf("shorter than %d characters", MinPasswordLen))
	}
	first, _ := utf8.DecodeRuneInString(password)
	if strings.Trim(password, string(first)) == "" {
		return refuse("one character repeated")
	}
	return nil
}

// GeneratedLen is the length of a generated password: 20 characters of a 55-letter
// alphabet, about 115 bits.
const GeneratedLen = 20

// passwordAlphabet leaves out what reads alike on paper and on screens: 0 O o, 1 I l i.
const passwordAlphabet = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"

// GeneratePassword returns a new random password of GeneratedLen characters from an
// alphabet without look-alikes, drawn uniformly from crypto/rand.
func GeneratePassword() string {
	const n = len(passwordAlphabet)
	const limit = 256 / n * n // bytes at or above it would favour the first letters
	out := make([]byte, 0, GeneratedLen)
	var buf [2 * GeneratedLen]byte
	for len(out) < GeneratedLen {
		rand.Read(buf[:])
		for _, b := range buf {
			if int(b) < limit && len(out) < GeneratedLen {
				out = append(out, passwordAlphabet[int(b)%n])
			}
		}
	}
	return string(out)
}
