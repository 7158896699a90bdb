// Package secrets encrypts the secrets berth keeps in its database (webhook
// signing secrets and auth headers, token signing keys, the OIDC client
// secret and sign-in cookie key) with AES-256-GCM under the installation's
// secret key (BERTH_SECRET_KEY), so that a dump, a backup or a read-only
// look at the database does not give them away.
//
// A sealed value is text: "v1:" and the standard base64 of a random
// 12-byte nonce followed by the ciphertext and its tag. The AES key is
// derived from the secret key with HKDF-SHA256 under a label of its own,
// so the configured key is never used directly and another use of it gets
// another key. Every value is sealed with associated data naming what it
// is and whose (a column and the row's identity), so a ciphertext copied
// into another column or row does not open.
//
// Values stored before berth encrypted them have no "v1:" prefix; Open
// returns them as they are, and the owners of each column re-seal them at
// start-up (see Sealed).
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is how many random bytes a secret key holds at least.
const KeySize = 32

// Prefix starts every sealed value; it names the format's version.
const Prefix = "v1:"

// Setting names the secret key in errors, the way operators set it.
const Setting = "BERTH_SECRET_KEY"

// GenerateAdvice is how to make a key, for error messages and docs.
const GenerateAdvice = "generate one with `openssl rand -base64 32`"

// hkdfInfo labels the AES key derived for stored secrets.
const hkdfInfo = "berth stored secrets v1 AES-256-GCM"

// ErrUndecryptable is the error of a sealed value that does not open:
// sealed under another secret key, for another row or column, or altered.
var ErrUndecryptable = errors.New("a stored secret does not decrypt with the configured " + Setting +
	": it was encrypted with another key, or altered; start berth with the key it was written with")

// Box seals and opens stored secrets under one secret key.
type Box struct {
	aead cipher.AEAD
}

// New returns the box of a secret key given as text (see ParseKey).
func New(key string) (*Box, error) {
	raw, err := ParseKey(key)
	if err != nil {
		return nil, err
	}
	k, err := hkdf.Key(sha256.New, raw, nil, hkdfInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// ParseKey decodes a secret key: at least KeySize random bytes written in
// hex or base64 (standard or URL alphabet, padded or not), as
// `openssl rand -base64 32` and `openssl rand -hex 32` print them.
func ParseKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, fmt.Errorf("empty: %s", GenerateAdvice)
	}
	key, ok := decode(text)
	if !ok {
		return nil, fmt.Errorf("not hex or base64: %s", GenerateAdvice)
	}
	if len(key) < KeySize {
		return nil, fmt.Errorf("%d bytes, fewer than %d random bytes: %s", len(key), KeySize, GenerateAdvice)
	}
	// Random bytes repeat little: 32 of them take 30 different values on
	// average, and even 32 characters of a 16-letter alphabet take fewer
	// than 8 once in 30 million. Fewer than 8 is a pattern: zeros, a
	// repeated word.
	seen := map[byte]bool{}
	for _, b := range key {
		seen[b] = true
	}
	if len(seen) < 8 {
		return nil, fmt.Errorf("not random (%d different byte values in %d bytes): %s", len(seen), len(key), GenerateAdvice)
	}
	return key, nil
}

func decode(text string) ([]byte, bool) {
	if len(text)%2 == 0 && strings.Trim(text, "0123456789abcdefABCDEF") == "" {
		b, err := hex.DecodeString(text)
		return b, err == nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(text); err == nil {
			return b, true
		}
	}
	return nil, false
}

// GenerateKey returns a new secret key: KeySize random bytes in base64.
func GenerateKey() string {
	return base64.StdEncoding.EncodeToString(random(KeySize))
}

// random returns n random bytes; crypto/rand.Read never fails (it
// crashes the program if the system's generator does).
func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// Sealed reports whether a stored value was sealed by a Box, rather than
// written in plaintext by a version of berth before encryption.
func Sealed(text string) bool { return strings.HasPrefix(text, Prefix) }

// Seal encrypts plaintext bound to associatedData, which Open must be
// given again: say what the value is and whose, e.g.
// "signing_key.private_key kid=...".
func (b *Box) Seal(plaintext, associatedData string) string {
	nonce := random(b.aead.NonceSize())
	out := b.aead.Seal(nonce, nonce, []byte(plaintext), []byte(associatedData))
	return Prefix + base64.StdEncoding.EncodeToString(out)
}

// Open decrypts a value Seal returned for the same associated data. A
// value without the "v1:" prefix is one stored before encryption and is
// returned as it is. A sealed value that does not open gives an error
// wrapping ErrUndecryptable.
func (b *Box) Open(text, associatedData string) (string, error) {
	if !Sealed(text) {
		return text, nil
	}
	raw, err := base64.StdEncoding.DecodeString(text[len(Prefix):])
	n := b.aead.NonceSize()
	if err != nil || len(raw) < n+b.aead.Overhead() {
		return "", fmt.Errorf("%w (it is not valid %sbase64 of nonce and ciphertext)", ErrUndecryptable, Prefix)
	}
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(associatedData))
	if err != nil {
		return "", ErrUndecryptable
	}
	return string(plain), nil
}

// LoadOrCreateKeyFile reads the secret key in the file at path, first
// generating one there (GenerateKey, mode 0600) when there is none;
// created says it did. It checks the key it returns with ParseKey.
func LoadOrCreateKeyFile(path string) (key string, created bool, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if created, err = createKeyFile(path); err != nil {
			return "", false, err
		}
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return "", false, fmt.Errorf("reading the secret key: %w", err)
	}
	key = strings.TrimSpace(string(raw))
	if _, err := ParseKey(key); err != nil {
		return "", false, fmt.Errorf("the secret key in %s is %w", path, err)
	}
	return key, created, nil
}

// createKeyFile writes a new key to a temporary file and links it into
// place, so that a concurrent starter never reads half a key and the
// first one wins; created says this one did.
func createKeyFile(path string) (created bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return false, fmt.Errorf("creating the secret key's directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".secret-key-*")
	if err != nil {
		return false, fmt.Errorf("writing the secret key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(GenerateKey() + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("writing the secret key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("saving the secret key: %w", err)
	}
	return true, nil
}
