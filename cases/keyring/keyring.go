package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// A sealed value reads, byte by byte:
//
//	version (1) | key id length n (1) | key id (n) | nonce (12) | ciphertext | tag (16)
//
// Everything before the nonce is the header. The header and the caller's additional data
// are both authenticated, so a value moved to another record or field fails to open.
const (
	version   = 1
	keySize   = 32
	nonceSize = 12
	tagSize   = 16
	maxIDLen  = 16
)

var (
	// ErrUnknownKey means the value names a key id that is not in the ring: the key was
	// removed before every value sealed under it was re-sealed, or the value is damaged.
	ErrUnknownKey = errors.New("keyring: unknown key id")
	// ErrTampered means the value cannot be authenticated: it was changed, cut short, sealed
	// under another key with the same id, or opened with other additional data than it was
	// sealed with (a value moved to another record or field).
	ErrTampered = errors.New("keyring: value tampered with or not sealed for this place")
)

// Ring holds the data keys. The first key seals; every key opens. A Ring is safe for
// concurrent use.
type Ring struct {
	keys []key // keys[0] is the primary
	rand io.Reader
}

type key struct {
	id   string
	aead cipher.AEAD
}

// Option changes how Parse builds a Ring.
type Option func(*Ring)

// WithRand sets the source of nonces; nil or no option means crypto/rand. It is meant for
// tests; a reader shared by concurrent Seal calls must be safe for concurrent use.
func WithRand(r io.Reader) Option {
	return func(k *Ring) {
		if r != nil {
			k.rand = r
		}
	}
}

// Parse reads a key ring spec, the value of HOTLINE_DATA_KEYS: comma-separated entries
// "id:base64key", the key in standard base64 with padding and 32 bytes long, the id 1 to 16
// of A-Z a-z 0-9 _ - and unique. Errors never contain key material.
func Parse(spec string, opts ...Option) (*Ring, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("keyring: no keys: want id:base64key[,id:base64key…]")
	}
	r := &Ring{rand: rand.Reader}
	seen := make(map[string]bool)
	for i, entry := range strings.Split(spec, ",") {
		n := i + 1
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("keyring: entry %d is empty", n)
		}
		id, encoded, ok := strings.Cut(entry, ":")
		if !ok {
			return nil, fmt.Errorf("keyring: entry %d: want id:base64key", n)
		}
		// The id is not echoed here: an entry written the wrong way round would put the
		// key where the id belongs.
		if !validID(id) {
			return nil, fmt.Errorf("keyring: entry %d: key id must be 1 to %d of A-Z a-z 0-9 _ -", n, maxIDLen)
		}
		if seen[id] {
			return nil, fmt.Errorf("keyring: entry %d: duplicate key id %q", n, id)
		}
		seen[id] = true
		raw, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %q: not standard base64", id)
		}
		if len(raw) != keySize {
			return nil, fmt.Errorf("keyring: key %q: %d bytes, want %d", id, len(raw), keySize)
		}
		aead, err := newAEAD(raw)
		clear(raw)
		if err != nil {
			return nil, fmt.Errorf("keyring: key %q: %w", id, err)
		}
		r.keys = append(r.keys, key{id: id, aead: aead})
	}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

func newAEAD(raw []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Generate returns a new ring entry "id:base64key" with a random key: the whole spec for a
// fresh ring, or the entry to put first when rotating.
func Generate(id string) (string, error) {
	if !validID(id) {
		return "", fmt.Errorf("keyring: key id must be 1 to %d of A-Z a-z 0-9 _ -", maxIDLen)
	}
	raw := make([]byte, keySize)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("keyring: generate key %q: %w", id, err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(raw), nil
}

func validID(id string) bool {
	if len(id) == 0 || len(id) > maxIDLen {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Primary returns the id of the key that seals.
func (r *Ring) Primary() string { return r.keys[0].id }

// String names the keys, never their material.
func (r *Ring) String() string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.id
	}
	return "keyring.Ring{" + strings.Join(ids, ",") + "}"
}

// GoString is String, so that %#v does not print key material either.
func (r *Ring) GoString() string { return r.String() }

// Seal encrypts plaintext under the primary key. aad binds the value to its place, for
// example "case:K7M4QX9PA:enquirer_name"; Open must be given the same aad. An empty
// plaintext seals too: telling "" from a missing value is the caller's job.
func (r *Ring) Seal(plaintext, aad []byte) ([]byte, error) {
	k := r.keys[0]
	hdr := 2 + len(k.id)
	out := make([]byte, hdr+nonceSize, hdr+nonceSize+len(plaintext)+tagSize)
	out[0] = version
	out[1] = byte(len(k.id))
	copy(out[2:], k.id)
	nonce := out[hdr:]
	if _, err := io.ReadFull(r.rand, nonce); err != nil {
		return nil, fmt.Errorf("keyring: seal: read nonce: %w", err)
	}
	return k.aead.Seal(out, nonce, plaintext, additional(out[:hdr], aad)), nil
}

// SealString is Seal for text.
func (r *Ring) SealString(plaintext, aad string) ([]byte, error) {
	return r.Seal([]byte(plaintext), []byte(aad))
}

// Open decrypts a value sealed under any key of the ring with the same aad. It fails with
// ErrUnknownKey when the value names a key that is not in the ring and with ErrTampered when
// the value cannot be authenticated.
func (r *Ring) Open(sealed, aad []byte) ([]byte, error) {
	id, body, err := split(sealed)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(r.keys, func(k key) bool { return k.id == id })
	if i < 0 {
		return nil, fmt.Errorf("keyring: open: key %q: %w", id, ErrUnknownKey)
	}
	if len(body) < nonceSize+tagSize {
		return nil, fmt.Errorf("keyring: open: %d bytes after the header, want at least %d: %w", len(body), nonceSize+tagSize, ErrTampered)
	}
	hdr := sealed[:len(sealed)-len(body)]
	out := make([]byte, 0, len(body)-nonceSize-tagSize)
	out, err = r.keys[i].aead.Open(out, body[:nonceSize], body[nonceSize:], additional(hdr, aad))
	if err != nil {
		return nil, fmt.Errorf("keyring: open under key %q: %w", id, ErrTampered)
	}
	return out, nil
}

// OpenString is Open for text.
func (r *Ring) OpenString(sealed []byte, aad string) (string, error) {
	b, err := r.Open(sealed, []byte(aad))
	return string(b), err
}

// NeedsRekey reports whether sealed should be sealed again under the primary key. It is
// false only for a value whose header names the primary key; a value it cannot read is
// reported too, so that re-sealing meets it and says what is wrong with it.
func (r *Ring) NeedsRekey(sealed []byte) bool {
	id, _, err := split(sealed)
	return err != nil || id != r.keys[0].id
}

// split checks the header and returns the key id and what follows it.
func split(sealed []byte) (id string, body []byte, err error) {
	if len(sealed) < 2 {
		return "", nil, fmt.Errorf("keyring: open: %d bytes, too short for a header: %w", len(sealed), ErrTampered)
	}
	if sealed[0] != version {
		return "", nil, fmt.Errorf("keyring: open: format version %d, want %d: %w", sealed[0], version, ErrTampered)
	}
	n := int(sealed[1])
	if n == 0 || n > maxIDLen || len(sealed) < 2+n {
		return "", nil, fmt.Errorf("keyring: open: key id length %d does not fit: %w", n, ErrTampered)
	}
	return string(sealed[2 : 2+n]), sealed[2+n:], nil
}

// additional is the data GCM authenticates besides the plaintext: the header, then the
// caller's aad. The header has its own length prefix, so the two cannot run into each other.
func additional(hdr, aad []byte) []byte {
	return append(slices.Clip(hdr), aad...)
}

// Lookup hashes phone numbers and chat IDs so that a contact's records can be found without
// storing the number. Its key is HOTLINE_LOOKUP_KEY, never rotated with the data keys: a new
// key would orphan every stored hash. A Lookup is safe for concurrent use.
type Lookup struct {
	key []byte
}

// NewLookup returns a Lookup with a copy of key, which must be at least 32 bytes long.
func NewLookup(key []byte) (*Lookup, error) {
	if len(key) < keySize {
		return nil, fmt.Errorf("keyring: lookup key is %d bytes, want at least %d", len(key), keySize)
	}
	return &Lookup{key: slices.Clone(key)}, nil
}

// Hash returns the hex HMAC-SHA256 of kind, a zero byte and value. kind names the namespace
// ("sms", "whatsapp", "telegram", "phone"): the same value hashes alike within a kind and
// differently across kinds. value is hashed as given; normalise it before.
func (l *Lookup) Hash(kind, value string) string {
	m := hmac.New(sha256.New, l.key)
	io.WriteString(m, kind)
	m.Write([]byte{0})
	io.WriteString(m, value)
	return hex.EncodeToString(m.Sum(nil))
}

// String hides the key.
func (l *Lookup) String() string { return "keyring.Lookup{…}" }

// GoString hides the key from %#v too.
func (l *Lookup) GoString() string { return l.String() }
