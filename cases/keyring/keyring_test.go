package keyring

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// testKey returns a 32-byte key filled with b, base64-encoded.
func testKey(b byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, keySize))
}

func entry(id string, b byte) string { return id + ":" + testKey(b) }

func mustParse(t testing.TB, spec string, opts ...Option) *Ring {
	t.Helper()
	r, err := Parse(spec, opts...)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return r
}

func mustSeal(t testing.TB, r *Ring, plaintext, aad string) []byte {
	t.Helper()
	sealed, err := r.SealString(plaintext, aad)
	if err != nil {
		t.Fatalf("SealString(%q): %v", plaintext, err)
	}
	return sealed
}

// countingRand hands out 0, 1, 2, … so that sealing is the same in every run and process.
type countingRand struct{ next byte }

func (c *countingRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.next
		c.next++
	}
	return len(p), nil
}

type failingRand struct{ err error }

func (f failingRand) Read([]byte) (int, error) { return 0, f.err }

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		spec    string
		primary string
		str     string
	}{
		{name: "one key", spec: entry("k1", 1), primary: "k1", str: "keyring.Ring{k1}"},
		{name: "the first key is the primary", spec: entry("k2", 2) + "," + entry("k1", 1), primary: "k2", str: "keyring.Ring{k2,k1}"},
		{name: "blanks around entries", spec: " " + entry("k2", 2) + " ,\n" + entry("k1", 1) + "\n", primary: "k2", str: "keyring.Ring{k2,k1}"},
		{name: "longest id and every kind of character", spec: entry("2026-03_rotation", 1), primary: "2026-03_rotation", str: "keyring.Ring{2026-03_rotation}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := mustParse(t, tt.spec)
			if got := r.Primary(); got != tt.primary {
				t.Errorf("Primary() = %q, want %q", got, tt.primary)
			}
			for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
				if got := fmt.Sprintf(verb, r); got != tt.str {
					t.Errorf("Sprintf(%s) = %q, want %q", verb, got, tt.str)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	short := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 16))
	long := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{8}, 64))
	urlSafe := base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, keySize))
	unpadded := base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{9}, keySize))
	tests := []struct {
		name    string
		spec    string
		wantErr string
	}{
		{name: "empty", spec: "", wantErr: "no keys"},
		{name: "blank", spec: " \n", wantErr: "no keys"},
		{name: "trailing comma", spec: entry("k1", 1) + ",", wantErr: "entry 2 is empty"},
		{name: "empty entry in the middle", spec: entry("k1", 1) + ",," + entry("k2", 2), wantErr: "entry 2 is empty"},
		{name: "no colon", spec: testKey(1), wantErr: "entry 1: want id:base64key"},
		{name: "empty id", spec: ":" + testKey(1), wantErr: "entry 1: key id must be"},
		{name: "id too long", spec: entry("k23456789abcdefgh", 1), wantErr: "entry 1: key id must be"},
		{name: "id with a dot", spec: entry("k.1", 1), wantErr: "entry 1: key id must be"},
		{name: "id not ascii", spec: entry("clé", 1), wantErr: "entry 1: key id must be"},
		{name: "key and id swapped", spec: testKey(1) + ":k1", wantErr: "entry 1: key id must be"},
		{name: "bad base64", spec: "k1:not base64!", wantErr: `key "k1": not standard base64`},
		{name: "url-safe base64", spec: "k1:" + urlSafe, wantErr: `key "k1": not standard base64`},
		{name: "base64 without padding", spec: "k1:" + unpadded, wantErr: `key "k1": not standard base64`},
		{name: "empty key", spec: "k1:", wantErr: `key "k1": 0 bytes, want 32`},
		{name: "short key", spec: "k1:" + short, wantErr: `key "k1": 16 bytes, want 32`},
		{name: "long key", spec: "k1:" + long, wantErr: `key "k1": 64 bytes, want 32`},
		{name: "duplicate id", spec: entry("k1", 1) + "," + entry("k1", 2), wantErr: `entry 2: duplicate key id "k1"`},
		{name: "bad second entry", spec: entry("k1", 1) + ",k2:" + short, wantErr: `key "k2": 16 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(tt.spec)
			if err == nil {
				t.Fatalf("Parse = %v, want an error containing %q", r, tt.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantErr) {
				t.Errorf("Parse error = %q, want it to contain %q", msg, tt.wantErr)
			}
			// No part of a key, good or bad, is in the message.
			for _, secret := range []string{testKey(1), testKey(2), short, long, urlSafe, unpadded, "not base64"} {
				if strings.Contains(msg, secret[:8]) {
					t.Errorf("Parse error %q contains key material %q", msg, secret[:8])
				}
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	a, err := Generate("k2")
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	b, err := Generate("k1")
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	if a[3:] == b[3:] {
		t.Errorf("two generated keys are the same")
	}
	r := mustParse(t, a+","+b)
	if got := r.Primary(); got != "k2" {
		t.Errorf("Primary() = %q, want k2", got)
	}
	if got, err := r.OpenString(mustSeal(t, r, "x", "aad"), "aad"); err != nil || got != "x" {
		t.Errorf("round trip under a generated key = %q, %v", got, err)
	}
	for _, id := range []string{"", "k 1", "k23456789abcdefgh"} {
		if spec, err := Generate(id); err == nil {
			t.Errorf("Generate(%q) = %q, want an error", id, spec)
		}
	}
}

var roundTrips = []struct {
	name      string
	plaintext []byte
	aad       []byte
}{
	{name: "empty", plaintext: []byte{}, aad: []byte("case:K7M4QX9PA:enquirer_phone")},
	{name: "nil plaintext", plaintext: nil, aad: []byte("case:K7M4QX9PA:enquirer_phone")},
	{name: "name", plaintext: []byte("Amina Yusuf"), aad: []byte("case:K7M4QX9PA:missing_name")},
	{name: "non-latin", plaintext: []byte("محمد عبد الله — ትግርኛ"), aad: []byte("case:K7M4QX9PA:missing_name")},
	{name: "no aad", plaintext: []byte("last seen near Agadez"), aad: nil},
	{name: "binary with zero bytes", plaintext: []byte{0, 1, 0, 0xff, 0}, aad: []byte{0}},
	{name: "long", plaintext: bytes.Repeat([]byte("he wore a red jacket. "), 3000), aad: []byte("case:H3RTW8ZKC:description")},
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	r := mustParse(t, entry("k2", 2)+","+entry("k1", 1))
	for _, tt := range roundTrips {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sealed, err := r.Seal(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if want := 2 + len("k2") + nonceSize + len(tt.plaintext) + tagSize; len(sealed) != want {
				t.Errorf("len(sealed) = %d, want %d", len(sealed), want)
			}
			if !bytes.HasPrefix(sealed, []byte{version, 2, 'k', '2'}) {
				t.Errorf("sealed starts % x, want version, id length, id", sealed[:4])
			}
			got, err := r.Open(sealed, tt.aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got == nil || !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open = %q, want %q (non-nil)", got, tt.plaintext)
			}
			s, err := r.OpenString(sealed, string(tt.aad))
			if err != nil || s != string(tt.plaintext) {
				t.Errorf("OpenString = %q, %v; want %q", s, err, tt.plaintext)
			}
		})
	}
}

func TestSealedHidesPlaintext(t *testing.T) {
	t.Parallel()
	r := mustParse(t, entry("k1", 1))
	for _, tt := range roundTrips {
		if len(tt.plaintext) < 4 {
			continue // a byte or three may turn up by chance
		}
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := r.Seal(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			b, err := r.Seal(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if bytes.Equal(a, b) {
				t.Errorf("sealing twice gave the same bytes: the nonce is not fresh")
			}
			for _, sealed := range [][]byte{a, b} {
				if bytes.Contains(sealed, tt.plaintext[:4]) {
					t.Errorf("sealed value % x contains the start of the plaintext", sealed)
				}
				if len(tt.aad) >= 4 && bytes.Contains(sealed, tt.aad) {
					t.Errorf("sealed value contains the aad, which is not stored")
				}
			}
		})
	}
}

func TestWithRand(t *testing.T) {
	t.Parallel()
	seal := func(opt Option) ([]byte, error) {
		return mustParse(t, entry("k1", 1), opt).SealString("Amina Yusuf", "case:K7M4QX9PA:missing_name")
	}
	a, err := seal(WithRand(&countingRand{}))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	b, err := seal(WithRand(&countingRand{}))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("same source, different bytes:\n% x\n% x", a, b)
	}
	if nonce := a[4 : 4+nonceSize]; !bytes.Equal(nonce, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}) {
		t.Errorf("nonce = % x, want the source's bytes", nonce)
	}

	broken := errors.New("entropy gone")
	if sealed, err := seal(WithRand(failingRand{broken})); !errors.Is(err, broken) {
		t.Errorf("Seal with a failing source = % x, %v; want %v", sealed, err, broken)
	}
	if _, err := seal(WithRand(nil)); err != nil {
		t.Errorf("Seal with WithRand(nil): %v, want crypto/rand", err)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	const aad = "case:K7M4QX9PA:missing_name"
	old := mustParse(t, entry("k1", 1))
	rotated := mustParse(t, entry("k2", 2)+","+entry("k1", 1))
	retired := mustParse(t, entry("k2", 2))

	sealedOld := mustSeal(t, old, "Amina Yusuf", aad)
	if old.NeedsRekey(sealedOld) {
		t.Errorf("old ring: NeedsRekey(own value) = true")
	}
	if !rotated.NeedsRekey(sealedOld) {
		t.Errorf("rotated ring: NeedsRekey(value under k1) = false")
	}
	got, err := rotated.OpenString(sealedOld, aad)
	if err != nil || got != "Amina Yusuf" {
		t.Fatalf("rotated ring opens old value = %q, %v", got, err)
	}
	if _, err := retired.Open(sealedOld, []byte(aad)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("ring without k1 opens old value: %v, want ErrUnknownKey", err)
	}

	// What "hotline cases rekey" does: open and seal again under the primary.
	resealed := mustSeal(t, rotated, got, aad)
	if rotated.NeedsRekey(resealed) {
		t.Errorf("rotated ring: NeedsRekey(re-sealed value) = true")
	}
	if got, err := retired.OpenString(resealed, aad); err != nil || got != "Amina Yusuf" {
		t.Errorf("ring without k1 opens re-sealed value = %q, %v", got, err)
	}
	if _, err := old.Open(resealed, []byte(aad)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old ring opens re-sealed value: %v, want ErrUnknownKey", err)
	}
}

func TestNeedsRekey(t *testing.T) {
	t.Parallel()
	r := mustParse(t, entry("k2", 2)+","+entry("k1", 1))
	underK1 := mustSeal(t, mustParse(t, entry("k1", 1)), "x", "")
	underK2 := mustSeal(t, r, "x", "")
	underK3 := mustSeal(t, mustParse(t, entry("k3", 3)), "x", "")
	tests := []struct {
		name   string
		sealed []byte
		want   bool
	}{
		{name: "primary", sealed: underK2, want: false},
		{name: "older key of the ring", sealed: underK1, want: true},
		{name: "key not in the ring", sealed: underK3, want: true},
		{name: "empty", sealed: nil, want: true},
		{name: "other version", sealed: append([]byte{version + 1}, underK2[1:]...), want: true},
		{name: "header cut short", sealed: underK2[:3], want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := r.NeedsRekey(tt.sealed); got != tt.want {
				t.Errorf("NeedsRekey(% x) = %v, want %v", tt.sealed, got, tt.want)
			}
		})
	}
}

func TestTamper(t *testing.T) {
	t.Parallel()
	const aad = "case:K7M4QX9PA:missing_name"
	r := mustParse(t, entry("k2", 2)+","+entry("k1", 1))
	sealed := mustSeal(t, r, "Amina Yusuf, born 1998", aad)
	header := 2 + len("k2")

	// 0x03 turns id "k2" into "k1", a key the ring has: the header is authenticated, so it
	// must still fail.
	for _, mask := range []byte{0x01, 0x03, 0x80, 0xff} {
		for i := range sealed {
			t.Run(fmt.Sprintf("flip %#02x at %d", mask, i), func(t *testing.T) {
				t.Parallel()
				bad := bytes.Clone(sealed)
				bad[i] ^= mask
				got, err := r.OpenString(bad, aad)
				switch {
				case err == nil:
					t.Fatalf("Open succeeded: %q", got)
				case i >= header && !errors.Is(err, ErrTampered):
					t.Errorf("Open: %v, want ErrTampered", err)
				case !errors.Is(err, ErrTampered) && !errors.Is(err, ErrUnknownKey):
					t.Errorf("Open: %v, want ErrTampered or ErrUnknownKey", err)
				}
			})
		}
	}
	for n := range len(sealed) {
		t.Run(fmt.Sprintf("cut to %d bytes", n), func(t *testing.T) {
			t.Parallel()
			if got, err := r.OpenString(sealed[:n], aad); !errors.Is(err, ErrTampered) {
				t.Errorf("Open = %q, %v; want ErrTampered", got, err)
			}
		})
	}
	t.Run("byte appended", func(t *testing.T) {
		t.Parallel()
		if got, err := r.OpenString(append(bytes.Clone(sealed), 0), aad); !errors.Is(err, ErrTampered) {
			t.Errorf("Open = %q, %v; want ErrTampered", got, err)
		}
	})
	t.Run("same id, other key", func(t *testing.T) {
		t.Parallel()
		elsewhere := mustParse(t, entry("k2", 9))
		if got, err := elsewhere.OpenString(sealed, aad); !errors.Is(err, ErrTampered) {
			t.Errorf("Open = %q, %v; want ErrTampered", got, err)
		}
	})
}

func TestWrongAAD(t *testing.T) {
	t.Parallel()
	const aad = "case:K7M4QX9PA:missing_name"
	r := mustParse(t, entry("k1", 1))
	sealed := mustSeal(t, r, "Amina Yusuf", aad)
	tests := []struct {
		name string
		aad  string
	}{
		{name: "other case", aad: "case:H3RTW8ZKC:missing_name"},
		{name: "other field", aad: "case:K7M4QX9PA:enquirer_name"},
		{name: "none", aad: ""},
		{name: "prefix", aad: "case:K7M4QX9PA:"},
		{name: "longer", aad: aad + "x"},
		{name: "other letter case", aad: "CASE:K7M4QX9PA:missing_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, err := r.OpenString(sealed, tt.aad); !errors.Is(err, ErrTampered) {
				t.Errorf("Open with aad %q = %q, %v; want ErrTampered", tt.aad, got, err)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	r := mustParse(t, entry("k1", 1))
	l, err := NewLookup(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatalf("NewLookup: %v", err)
	}
	want := l.Hash("sms", "+15551234567")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				aad := fmt.Sprintf("case:%d:%d", g, i)
				sealed, err := r.SealString("Amina Yusuf", aad)
				if err != nil {
					t.Errorf("Seal: %v", err)
					return
				}
				if got, err := r.OpenString(sealed, aad); err != nil || got != "Amina Yusuf" {
					t.Errorf("Open = %q, %v", got, err)
				}
				if got := l.Hash("sms", "+15551234567"); got != want {
					t.Errorf("Hash changed: %s", got)
				}
			}
		})
	}
	wg.Wait()
}

func FuzzOpen(f *testing.F) {
	// Deterministic nonces: fuzz workers run this setup in their own processes and must
	// arrive at the same seeds.
	r := mustParse(f, entry("k2", 2)+","+entry("k1", 1), WithRand(&countingRand{}))
	genuine := make(map[[2]string]bool)
	for _, tt := range roundTrips {
		sealed, err := r.Seal(tt.plaintext, tt.aad)
		if err != nil {
			f.Fatalf("Seal: %v", err)
		}
		genuine[[2]string{string(sealed), string(tt.aad)}] = true
		f.Add(sealed, tt.aad)
		f.Add(sealed[:len(sealed)/2], tt.aad)
		f.Add(sealed, []byte("case:other:field"))
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte{version}, []byte{})
	f.Add([]byte{version, maxIDLen + 1}, []byte{})
	f.Add([]byte{version, 2, 'k', '1'}, []byte{})
	f.Add([]byte{version, 2, 'k', '9', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{})
	f.Fuzz(func(t *testing.T, sealed, aad []byte) {
		r.NeedsRekey(sealed)
		got, err := r.Open(sealed, aad)
		if err == nil {
			if !genuine[[2]string{string(sealed), string(aad)}] {
				t.Fatalf("Open accepted a value it never sealed: % x (aad %q) → %q", sealed, aad, got)
			}
			return
		}
		if !errors.Is(err, ErrTampered) && !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("Open: %v, want ErrTampered or ErrUnknownKey", err)
		}
	})
}

func TestLookupHash(t *testing.T) {
	t.Parallel()
	key := []byte("0123456789abcdef0123456789abcdef")
	l, err := NewLookup(key)
	if err != nil {
		t.Fatalf("NewLookup: %v", err)
	}
	// Expected values from: printf 'sms\0+15551234567' | openssl dgst -sha256 -hmac <key>
	tests := []struct {
		name, kind, value, want string
	}{
		{name: "sms", kind: "sms", value: "+15551234567", want: "1595814df4a32be7ad7a3c837f93268e9c5018ece628591423cde5f4d6ca6c70"},
		{name: "whatsapp", kind: "whatsapp", value: "+15551234567", want: "19fe5997f3a72d7bc306c199804de9351f31754f6f1076035399a04eb2a18b21"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := l.Hash(tt.kind, tt.value); got != tt.want {
				t.Errorf("Hash(%q, %q) = %s, want %s", tt.kind, tt.value, got, tt.want)
			}
		})
	}

	t.Run("stable, hex, 64 long", func(t *testing.T) {
		t.Parallel()
		a, b := l.Hash("telegram", "123456789"), l.Hash("telegram", "123456789")
		if a != b {
			t.Errorf("two hashes of the same value differ: %s, %s", a, b)
		}
		if len(a) != 64 || strings.Trim(a, "0123456789abcdef") != "" {
			t.Errorf("Hash = %q, want 64 lower-case hex digits", a)
		}
	})
	t.Run("differs per kind", func(t *testing.T) {
		t.Parallel()
		seen := make(map[string]string)
		for _, kind := range []string{"sms", "whatsapp", "telegram", "phone"} {
			h := l.Hash(kind, "+15551234567")
			if other, ok := seen[h]; ok {
				t.Errorf("kinds %q and %q hash alike", kind, other)
			}
			seen[h] = kind
		}
	})
	t.Run("kind and value do not run into each other", func(t *testing.T) {
		t.Parallel()
		if l.Hash("sm", "s+1555") == l.Hash("sms", "+1555") {
			t.Errorf(`Hash("sm", "s+1555") == Hash("sms", "+1555")`)
		}
	})
	t.Run("differs per value", func(t *testing.T) {
		t.Parallel()
		if l.Hash("sms", "+15551234567") == l.Hash("sms", "+15551234568") {
			t.Errorf("two numbers hash alike")
		}
	})
	t.Run("differs per key", func(t *testing.T) {
		t.Parallel()
		other, err := NewLookup(bytes.Repeat([]byte{1}, 32))
		if err != nil {
			t.Fatalf("NewLookup: %v", err)
		}
		if l.Hash("sms", "+15551234567") == other.Hash("sms", "+15551234567") {
			t.Errorf("two keys hash alike")
		}
	})
	t.Run("keeps its own copy of the key", func(t *testing.T) {
		t.Parallel()
		k := bytes.Clone(key)
		m, err := NewLookup(k)
		if err != nil {
			t.Fatalf("NewLookup: %v", err)
		}
		clear(k)
		if got, want := m.Hash("sms", "+15551234567"), tests[0].want; got != want {
			t.Errorf("after the caller cleared its key, Hash = %s, want %s", got, want)
		}
	})
	t.Run("never prints the key", func(t *testing.T) {
		t.Parallel()
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if got := fmt.Sprintf(verb, l); strings.Contains(got, "0123") || strings.Contains(got, "48 49 50") {
				t.Errorf("Sprintf(%s) = %q shows the key", verb, got)
			}
		}
	})
}

func TestNewLookupKeyLength(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		key     []byte
		wantErr bool
	}{
		{name: "nil", key: nil, wantErr: true},
		{name: "31 bytes", key: make([]byte, 31), wantErr: true},
		{name: "32 bytes", key: make([]byte, 32)},
		{name: "64 bytes", key: make([]byte, 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewLookup(tt.key)
			if (err != nil) != tt.wantErr {
				t.Errorf("NewLookup(%d bytes) error = %v, want error %v", len(tt.key), err, tt.wantErr)
			}
		})
	}
}
