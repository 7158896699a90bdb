package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/signingkey"
	"github.com/berth-registry/berth/internal/secrets"
	"github.com/berth-registry/berth/internal/viewer"
)

// Keyring holds the signing keys of every replica, kept in the database:
// the newest key that is not retired signs, and every key still in the
// table verifies. A replica reloads the keys every reloadEvery, and at
// once (at most once a second) when a token names a key it does not know,
// so a key rotated through another process verifies everywhere
// immediately and signs everywhere within reloadEvery.
type Keyring struct {
	client *ent.Client
	// box seals the private keys in the database.
	box *secrets.Box
	// keep is how long a retired key still verifies: the lifetime of the
	// longest token it may have signed.
	keep time.Duration

	mu      sync.RWMutex
	current *ecdsa.PrivateKey
	kid     string
	keys    map[string]*ecdsa.PublicKey
	loaded  time.Time
	tried   time.Time
}

const reloadEvery = 30 * time.Second

// KeyKeep is how long a retired key verifies: a little longer than the
// default lifetime of refresh tokens (30 days), the longest tokens berth
// signs.
const KeyKeep = 31 * 24 * time.Hour

// OpenKeyring loads the keys from the database, creating the first one on
// a new installation. A key file of an earlier version of berth at
// legacyPath (if any) becomes that first key, so the tokens it signed stay
// valid. keep is how long retired keys still verify. The private keys are
// stored sealed by box.
func OpenKeyring(ctx context.Context, client *ent.Client, box *secrets.Box, legacyPath string, keep time.Duration) (*Keyring, error) {
	k := &Keyring{client: client, box: box, keep: keep}
	if err := k.reload(ctx); err != nil {
		return nil, err
	}
	if k.current != nil {
		return k, nil
	}
	var first *ecdsa.PrivateKey
	if raw, err := os.ReadFile(legacyPath); err == nil {
		if first, err = ParseKey(raw); err != nil {
			return nil, fmt.Errorf("reading the token signing key of an earlier version at %s: %w", legacyPath, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := addKey(ctx, client, box, first, 1); err != nil && !ent.IsConstraintError(err) {
		return nil, err
	}
	// Another replica starting at the same time may have added the first
	// key instead (generation 1 is unique): it signs for both.
	if err := k.reload(ctx); err != nil {
		return nil, err
	}
	if k.current == nil {
		return nil, errors.New("no token signing key after creating one")
	}
	return k, nil
}

// RotateKey adds a new signing key and retires the others; they verify
// until keep has passed, then the next rotation deletes them. It returns
// the new key's id.
func RotateKey(ctx context.Context, client *ent.Client, box *secrets.Box, keep time.Duration) (string, error) {
	sys := viewer.SystemContext(ctx)
	now := time.Now()
	last, err := client.SigningKey.Query().Order(ent.Desc(signingkey.FieldGeneration)).First(sys)
	gen := 1
	switch {
	case err == nil:
		gen = last.Generation + 1
	case !ent.IsNotFound(err):
		return "", err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	if err := addKey(ctx, client, box, k, gen); err != nil {
		if ent.IsConstraintError(err) {
			return "", fmt.Errorf("another rotation ran at the same time; run it again if its key is not the one you want")
		}
		return "", err
	}
	kid := keyID(&k.PublicKey)
	if err := client.SigningKey.Update().Where(signingkey.RetiredAtIsNil(), signingkey.KidNEQ(kid)).SetRetiredAt(now).Exec(sys); err != nil {
		return "", err
	}
	if _, err := client.SigningKey.Delete().Where(signingkey.RetiredAtLT(now.Add(-keep))).Exec(sys); err != nil {
		return "", err
	}
	return kid, nil
}

// privateKeyAD binds a sealed private key to its key id.
func privateKeyAD(kid string) string { return "signing_key.private_key kid=" + kid }

// addKey stores k (a new key when k is nil) as generation gen, its private
// key sealed by box.
func addKey(ctx context.Context, client *ent.Client, box *secrets.Box, k *ecdsa.PrivateKey, gen int) error {
	if k == nil {
		var err error
		if k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return err
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	kid := keyID(&k.PublicKey)
	return client.SigningKey.Create().SetGeneration(gen).SetKid(kid).
		SetPrivateKey(box.Seal(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), privateKeyAD(kid))).
		Exec(viewer.SystemContext(ctx))
}

// openKey decrypts and parses a stored private key.
func (k *Keyring) openKey(r *ent.SigningKey) (*ecdsa.PrivateKey, error) {
	pemText, err := k.box.Open(r.PrivateKey, privateKeyAD(r.Kid))
	if err != nil {
		return nil, fmt.Errorf("token signing key %s: %w", r.Kid, err)
	}
	priv, err := ParseKey([]byte(pemText))
	if err != nil {
		return nil, fmt.Errorf("token signing key %s: %w", r.Kid, err)
	}
	return priv, nil
}

// SealPlaintextKeys encrypts, through tx, the private keys that versions of
// berth before encryption stored in plaintext, and returns how many it
// encrypted; run again, it encrypts none. On PostgreSQL it locks the keys
// it reads, so replicas starting together encrypt each key once.
func SealPlaintextKeys(ctx context.Context, tx *ent.Tx, box *secrets.Box) (int, error) {
	sys := viewer.SystemContext(ctx)
	rows, err := tx.SigningKey.Query().Where(forUpdate).All(sys)
	if err != nil {
		return 0, fmt.Errorf("reading token signing keys: %w", err)
	}
	n := 0
	for _, r := range rows {
		if secrets.Sealed(r.PrivateKey) {
			continue
		}
		// The column is immutable to ent's builders: the statement sets
		// it itself.
		sealed := box.Seal(r.PrivateKey, privateKeyAD(r.Kid))
		err := tx.SigningKey.Update().Where(signingkey.ID(r.ID)).
			Modify(func(u *entsql.UpdateBuilder) { u.Set(signingkey.FieldPrivateKey, sealed) }).
			Exec(sys)
		if err != nil {
			return n, fmt.Errorf("encrypting token signing key %s: %w", r.Kid, err)
		}
		n++
	}
	return n, nil
}

// forUpdate locks the rows a query reads until the transaction ends, on
// PostgreSQL (SQLite serialises writing transactions instead).
func forUpdate(s *entsql.Selector) {
	if s.Dialect() == dialect.Postgres {
		s.ForUpdate()
	}
}

func (k *Keyring) reload(ctx context.Context) error {
	rows, err := k.client.SigningKey.Query().Order(ent.Asc(signingkey.FieldGeneration)).All(viewer.SystemContext(ctx))
	if err != nil {
		return fmt.Errorf("loading token signing keys: %w", err)
	}
	keys := map[string]*ecdsa.PublicKey{}
	var current *ecdsa.PrivateKey
	var kid string
	for _, r := range rows {
		priv, err := k.openKey(r)
		if err != nil {
			return err
		}
		if r.RetiredAt != nil && time.Since(*r.RetiredAt) > k.keep {
			continue
		}
		keys[r.Kid] = &priv.PublicKey
		if r.RetiredAt == nil {
			current, kid = priv, r.Kid
		}
	}
	if current == nil {
		// Every key retired (a rotation died half-way): the newest signs.
		for i := len(rows) - 1; i >= 0 && current == nil; i-- {
			if _, ok := keys[rows[i].Kid]; ok {
				current, _ = k.openKey(rows[i])
				kid = rows[i].Kid
			}
		}
	}
	k.mu.Lock()
	k.current, k.kid, k.keys, k.loaded = current, kid, keys, time.Now()
	k.mu.Unlock()
	return nil
}

// signer returns the key to sign with and its id, reloading when stale.
func (k *Keyring) signer() (*ecdsa.PrivateKey, string) {
	k.mu.RLock()
	stale := time.Since(k.loaded) > reloadEvery
	k.mu.RUnlock()
	if stale {
		k.refresh()
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.current, k.kid
}

// verifier returns the public key of kid, reloading once when it is
// unknown (a key rotated by another process).
func (k *Keyring) verifier(kid string) *ecdsa.PublicKey {
	k.mu.RLock()
	pub := k.keys[kid]
	stale := time.Since(k.loaded) > reloadEvery
	k.mu.RUnlock()
	if pub != nil && !stale {
		return pub
	}
	k.refresh()
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys[kid]
}

// refresh reloads the keys, at most once a second whatever asks.
func (k *Keyring) refresh() {
	k.mu.Lock()
	if time.Since(k.tried) < time.Second {
		k.mu.Unlock()
		return
	}
	k.tried = time.Now()
	k.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	k.reload(ctx) // on error the keys loaded before stay in use
}
