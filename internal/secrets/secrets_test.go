package secrets_test

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/secrets"
)

// testKey is 32 bytes of 0x00..0x1f in hex.
const testKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func newBox(t *testing.T, key string) *secrets.Box {
	t.Helper()
	b, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealedValueOpensWithTheSameKeyAndAssociatedData(t *testing.T) {
	b := newBox(t, testKey)
	for _, plain := range []string{"", "s3cret", strings.Repeat("long ", 1000), "-----BEGIN PRIVATE KEY-----\nMIG...\n"} {
		sealed := b.Seal(plain, "webhook_policy.secret project=1")
		if !strings.HasPrefix(sealed, "v1:") || !secrets.Sealed(sealed) {
			t.Fatalf("sealed value %q lacks the v1: prefix", sealed)
		}
		if plain != "" && strings.Contains(sealed, plain) {
			t.Fatalf("sealed value contains its plaintext")
		}
		got, err := b.Open(sealed, "webhook_policy.secret project=1")
		if err != nil || got != plain {
			t.Fatalf("Open = %q, %v; want %q", got, err, plain)
		}
	}
	if a, c := b.Seal("same", "ad"), b.Seal("same", "ad"); a == c {
		t.Error("two seals of the same value are equal: the nonce is not random")
	}
}

func TestSealedValueDoesNotOpenWhenTamperedWithOrMoved(t *testing.T) {
	b := newBox(t, testKey)
	sealed := b.Seal("s3cret", "webhook_policy.secret project=1")
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	for name, tc := range map[string]struct{ text, ad string }{
		"flipped ciphertext bit": {"v1:" + base64.StdEncoding.EncodeToString(flip(raw, len(raw)-20)), "webhook_policy.secret project=1"},
		"flipped nonce bit":      {"v1:" + base64.StdEncoding.EncodeToString(flip(raw, 0)), "webhook_policy.secret project=1"},
		"truncated":              {sealed[:len(sealed)-8], "webhook_policy.secret project=1"},
		"too short":              {"v1:AAAA", "webhook_policy.secret project=1"},
		"not base64":             {"v1:%%%", "webhook_policy.secret project=1"},
		"another row":            {sealed, "webhook_policy.secret project=2"},
		"another column":         {sealed, "signing_key.private_key kid=X"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := b.Open(tc.text, tc.ad)
			if !errors.Is(err, secrets.ErrUndecryptable) || got != "" {
				t.Fatalf("Open = %q, %v; want ErrUndecryptable", got, err)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}

func TestWrongKeyFailsNamingTheSetting(t *testing.T) {
	sealed := newBox(t, testKey).Seal("s3cret", "ad")
	_, err := newBox(t, secrets.GenerateKey()).Open(sealed, "ad")
	if !errors.Is(err, secrets.ErrUndecryptable) || !strings.Contains(err.Error(), "BERTH_SECRET_KEY") {
		t.Fatalf("Open with another key: %v; want ErrUndecryptable naming BERTH_SECRET_KEY", err)
	}
}

func TestPlaintextFromBeforeEncryptionIsReadAsItIs(t *testing.T) {
	b := newBox(t, testKey)
	for _, plain := range []string{"", "0123abcd", "Bearer abc", "-----BEGIN PRIVATE KEY-----\n"} {
		if secrets.Sealed(plain) {
			t.Errorf("%q counts as sealed", plain)
		}
		if got, err := b.Open(plain, "ad"); err != nil || got != plain {
			t.Errorf("Open(%q) = %q, %v", plain, got, err)
		}
	}
}

func TestKeyFormats(t *testing.T) {
	raw := make([]byte, 32)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	accepted := map[string]string{
		"hex":                hex.EncodeToString(raw),
		"upper-case hex":     strings.ToUpper(hex.EncodeToString(raw)),
		"base64":             base64.StdEncoding.EncodeToString(raw),
		"base64 unpadded":    base64.RawStdEncoding.EncodeToString(raw),
		"base64url":          base64.URLEncoding.EncodeToString(raw),
		"base64url unpadded": base64.RawURLEncoding.EncodeToString(raw),
		"with a newline":     base64.StdEncoding.EncodeToString(raw) + "\n",
		"64 random bytes":    base64.StdEncoding.EncodeToString(append(raw, raw...)),
		"generated":          secrets.GenerateKey(),
	}
	for name, key := range accepted {
		if _, err := secrets.New(key); err != nil {
			t.Errorf("%s %q refused: %v", name, key, err)
		}
	}
	// The same bytes in any encoding are the same key.
	sealed := newBox(t, accepted["hex"]).Seal("x", "ad")
	if got, err := newBox(t, accepted["base64url unpadded"]).Open(sealed, "ad"); err != nil || got != "x" {
		t.Errorf("hex and base64 of the same bytes are different keys: %v", err)
	}

	refused := map[string]string{
		"empty":                  "",
		"16 bytes in hex":        "0123456789abcdef0123456789abcdef",
		"31 bytes in base64":     base64.StdEncoding.EncodeToString(raw[:31]),
		"a passphrase":           "correct horse battery staple!",
		"32 zero bytes in hex":   strings.Repeat("00", 32),
		"a word repeated":        strings.Repeat("deadbeef", 8),
		"32 zero bytes, base64":  base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"randAlphaNum 32 (helm)": "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE",
	}
	for name, key := range refused {
		_, err := secrets.New(key)
		if err == nil {
			t.Errorf("%s %q accepted", name, key)
			continue
		}
		if !strings.Contains(err.Error(), "openssl rand -base64 32") {
			t.Errorf("%s: error %q does not say how to generate a key", name, err)
		}
	}
}

func TestKeyFileIsGeneratedOnceWithMode0600AndReused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "secret.key")
	var wg sync.WaitGroup
	keys := make([]string, 8)
	created := make([]bool, 8)
	for i := range keys {
		wg.Go(func() {
			var err error
			keys[i], created[i], err = secrets.LoadOrCreateKeyFile(path)
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	n := 0
	for i := range keys {
		if keys[i] != keys[0] {
			t.Fatalf("concurrent starters got different keys")
		}
		if created[i] {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d starters say they generated the key, want 1", n)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	again, created2, err := secrets.LoadOrCreateKeyFile(path)
	if err != nil || again != keys[0] || created2 {
		t.Errorf("second start: key changed or regenerated (%v, %v)", created2, err)
	}
	os.WriteFile(path, []byte("short\n"), 0o600)
	if _, _, err := secrets.LoadOrCreateKeyFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a bad key file: %v; want an error naming the file", err)
	}
}
