package accounts

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// small keeps the tests fast; the code path is the one of the defaults.
var small = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	const pw = "correct horse battery staple"
	h, err := Hash(pw, small)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(h, pw) || strings.Contains(h, "=$") {
		t.Errorf("hash %q: want the PHC form, unpadded, without the password", h)
	}
	if ok, err := Verify(pw, h); !ok || err != nil {
		t.Errorf("Verify(right password) = %v, %v", ok, err)
	}
	for _, wrong := range []string{"", "correct horse battery stapl", "Correct horse battery staple", pw + " ", strings.Repeat("x", 2000)} {
		if ok, err := Verify(wrong, h); ok || err != nil {
			t.Errorf("Verify(%.30q) = %v, %v; want false, nil", wrong, ok, err)
		}
	}
	h2, _ := Hash(pw, small)
	if h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	p, salt, key, err := ParseHash(h)
	if err != nil || p != small || len(salt) != SaltLen || len(key) != KeyLen {
		t.Errorf("ParseHash = %+v, %d-byte salt, %d-byte key, %v", p, len(salt), len(key), err)
	}
}

// TestVerifyReadsParametersFromTheHash: a hash made with other parameters (older
// defaults, say) still verifies, and NeedsRehash says it should be replaced.
func TestVerifyReadsParametersFromTheHash(t *testing.T) {
	t.Parallel()
	older := Params{Memory: 32, Time: 2, Threads: 2}
	h, err := Hash("an older password", older)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h, "$m=32,t=2,p=2$") {
		t.Errorf("hash %q does not carry its parameters", h)
	}
	if ok, err := Verify("an older password", h); !ok || err != nil {
		t.Errorf("Verify under other parameters = %v, %v", ok, err)
	}
	if !NeedsRehash(h, small) || NeedsRehash(h, older) || !NeedsRehash("garbage", small) {
		t.Error("NeedsRehash does not compare the parameters")
	}
	// The same salt and key under other parameters is another hash.
	moved := strings.Replace(h, "t=2", "t=1", 1)
	if ok, err := Verify("an older password", moved); ok || err != nil {
		t.Errorf("Verify with changed parameters = %v, %v; want false", ok, err)
	}
	if _, err := Hash("x", Params{Memory: 4, Time: 1, Threads: 1}); err == nil {
		t.Error("Hash took 4 KiB for one lane (argon2 needs 8 per lane)")
	}
	def := DefaultParams()
	if def.Memory != 47104 || def.Time != 1 || def.Threads != 1 {
		t.Errorf("DefaultParams = %+v, want OWASP's m=47104 t=1 p=1", def)
	}
}

// phcCases are malformed or tampered hashes; each must be refused with
// ErrMalformedHash. They seed the fuzz test.
var phcCases = []struct{ name, hash string }{
	{"empty", ""},
	{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
	{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"old version", "$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"no leading $", "argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"a field too many", "$argon2id$v=19$m=64,t=1,p=1$x$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"parameters reordered", "$argon2id$v=19$t=1,m=64,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"a parameter missing", "$argon2id$v=19$m=64,t=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"a sign", "$argon2id$v=19$m=+64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"a leading zero", "$argon2id$v=19$m=064,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"zero passes", "$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"zero lanes", "$argon2id$v=19$m=64,t=1,p=0$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"256 lanes", "$argon2id$v=19$m=4096,t=1,p=256$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"64 GiB", "$argon2id$v=19$m=67108864,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"a million passes", "$argon2id$v=19$m=64,t=1000000,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"over 32 bits", "$argon2id$v=19$m=4294967296,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"padded base64", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"URL base64", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2_"},
	{"short salt", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"short key", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA"},
	{"empty key", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$"},
	{"trailing bits", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdB$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
	{"very long", "$argon2id$v=19$m=64,t=1,p=1$" + strings.Repeat("A", 600) + "$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"},
}

func TestVerifyRefusesMalformedHashes(t *testing.T) {
	t.Parallel()
	for _, tt := range phcCases {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := Verify("anything at all", tt.hash)
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformedHash", tt.hash, ok, err)
			}
		})
	}
}

// TestTamperedHashDoesNotVerify: any change to the salt or key of a good hash,
// that still parses, makes it fail.
func TestTamperedHashDoesNotVerify(t *testing.T) {
	t.Parallel()
	h, _ := Hash("the real password", small)
	parts := strings.Split(h, "$")
	for _, i := range []int{4, 5} {
		for _, pos := range []int{0, len(parts[i]) / 2} {
			p := append([]string(nil), parts...)
			b := []byte(p[i])
			if b[pos] == 'A' {
				b[pos] = 'B'
			} else {
				b[pos] = 'A'
			}
			p[i] = string(b)
			tampered := strings.Join(p, "$")
			if ok, _ := Verify("the real password", tampered); ok {
				t.Errorf("tampered hash %q verified", tampered)
			}
		}
	}
}

// FuzzParseHash: no input panics the parser or Verify, anything accepted is within
// bounds, and what is accepted encodes back to itself (one canonical form).
func FuzzParseHash(f *testing.F) {
	good, _ := Hash("seed password", small)
	f.Add(good)
	for _, tt := range phcCases {
		f.Add(tt.hash)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := ParseHash(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("ParseHash(%q): %v, not ErrMalformedHash", s, err)
			}
			return
		}
		if p.check() != nil || len(salt) < minSalt || len(salt) > maxSalt || len(key) < minKey || len(key) > maxKey {
			t.Fatalf("ParseHash(%q) accepted %+v, %d-byte salt, %d-byte key", s, p, len(salt), len(key))
		}
		if back := encode(p, salt, key); back != s {
			t.Fatalf("ParseHash(%q) encodes back as %q", s, back)
		}
		if p.Memory <= 1024 && p.Time <= 4 {
			if _, err := Verify("x", s); err != nil {
				t.Fatalf("Verify(%q): %v after ParseHash accepted it", s, err)
			}
		}
	})
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, password string
		ok             bool
	}{
		{"12 characters", "abcdefghijkl", true},
		{"a passphrase", "correct horse battery staple", true},
		{"11 characters", "abcdefghijk", false},
		{"empty", "", false},
		{"12 characters, not bytes", "ééééééaaaaaa", true},
		{"6 two-byte characters", "éééééé", false},
		{"Arabic, 12 characters", "كلمة سر طويلة", true},
		{"one character repeated", "aaaaaaaaaaaaaaaa", false},
		{"one non-ASCII character repeated", strings.Repeat("ß", 14), false},
		{"256 bytes", strings.Repeat("ab", 128), true},
		{"257 bytes", strings.Repeat("ab", 128) + "c", false},
		{"a line break", "abcdefghijkl\n", false},
		{"a tab", "abcdef\tghijkl", false},
		{"invalid UTF-8", "abcdefghijkl\xff", false},
		{"spaces inside", "a b c d e f g h", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPassword(tt.password)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckPassword(%q) = %v, want ok %v", tt.password, err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrPasswordPolicy) {
					t.Errorf("error %v is not ErrPasswordPolicy", err)
				}
				if len(tt.password) > 3 && strings.Contains(err.Error(), tt.password) {
					t.Errorf("error %q repeats the password", err)
				}
			}
		})
	}
}

func TestGeneratePassword(t *testing.T) {
	t.Parallel()
	if len(passwordAlphabet) != 55 {
		t.Errorf("alphabet of %d letters, want 55", len(passwordAlphabet))
	}
	for _, c := range "0O1lIio" {
		if strings.ContainsRune(passwordAlphabet, c) {
			t.Errorf("the alphabet holds the look-alike %q", c)
		}
	}
	seen := map[string]bool{}
	counts := map[rune]int{}
	const n = 2000
	for range n {
		pw := GeneratePassword()
		if utf8.RuneCountInString(pw) != GeneratedLen || len(pw) != GeneratedLen {
			t.Fatalf("%q: want %d characters", pw, GeneratedLen)
		}
		if err := CheckPassword(pw); err != nil {
			t.Fatalf("generated %q fails the policy: %v", pw, err)
		}
		for _, c := range pw {
			if !strings.ContainsRune(passwordAlphabet, c) {
				t.Fatalf("%q holds %q, not in the alphabet", pw, c)
			}
			counts[c]++
		}
		if seen[pw] {
			t.Fatalf("%q generated twice", pw)
		}
		seen[pw] = true
	}
	// 40,000 letters over 55: each is expected about 727 times. Every letter shows up
	// and none is drawn twice as often as it should (a bias, such as a modulo one).
	for _, c := range passwordAlphabet {
		if got := counts[c]; got < 500 || got > 1000 {
			t.Errorf("letter %q drawn %d times in %d, want about %d", c, got, n*GeneratedLen, n*GeneratedLen/55)
		}
	}
}
