package token_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/ent/signingkey"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/secrets"
	"github.com/berth-registry/berth/internal/viewer"
)

var alice = &viewer.Viewer{Kind: viewer.User, UserID: 1, Username: "alice"}

// TestKeysAreSharedAndRotate: two token services on one database (two
// replicas) verify each other's tokens; a key file of an earlier version
// becomes the first key; after a rotation through the database a replica
// verifies new tokens at once, and tokens signed before stay valid.
func TestKeysAreSharedAndRotate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := viewer.SystemContext(context.Background())
		box := testBox(t)
		legacy := filepath.Join(t.TempDir(), "token-signing-key.pem")
		old, err := token.LoadOrCreateKey(legacy)
		if err != nil {
			t.Fatal(err)
		}
		before := token.New(token.Options{Key: old, Client: db.Client, Auth: auth.New(db.Client)})
		tokBefore, _, err := before.Issue(alice, nil)
		if err != nil {
			t.Fatal(err)
		}
		open := func() *token.Service {
			keys, err := token.OpenKeyring(ctx, db.Client, box, legacy, token.KeyKeep)
			if err != nil {
				t.Fatal(err)
			}
			return token.New(token.Options{Keys: keys, Client: db.Client, Auth: auth.New(db.Client)})
		}
		a, b := open(), open()
		if _, err := a.Verify(tokBefore); err != nil {
			t.Fatalf("a token of the legacy key file no longer verifies: %v", err)
		}
		tokA, _, _ := a.Issue(alice, nil)
		if _, err := b.Verify(tokA); err != nil {
			t.Fatalf("replica b refuses replica a's token: %v", err)
		}
		if n := db.SigningKey.Query().CountX(ctx); n != 1 {
			t.Fatalf("%d keys after two replicas started, want 1", n)
		}

		kid, err := token.RotateKey(ctx, db.Client, box, token.KeyKeep)
		if err != nil {
			t.Fatal(err)
		}
		// A third replica started after the rotation signs with the new
		// key; the others verify its tokens at once.
		c := open()
		tokC, _, _ := c.Issue(alice, nil)
		for name, s := range map[string]*token.Service{"a": a, "b": b} {
			if _, err := s.Verify(tokC); err != nil {
				t.Errorf("replica %s refuses a token of the new key %s: %v", name, kid, err)
			}
		}
		for _, tok := range []string{tokBefore, tokA} {
			if _, err := c.Verify(tok); err != nil {
				t.Errorf("a token signed before the rotation no longer verifies: %v", err)
			}
		}
		// A rotation deletes the keys retired longer than keep ago.
		if _, err := token.RotateKey(ctx, db.Client, box, time.Nanosecond); err != nil {
			t.Fatal(err)
		}
		if n := db.SigningKey.Query().CountX(ctx); n != 2 {
			t.Errorf("%d keys after a rotation that expires the retired ones, want 2", n)
		}
		if _, err := os.Stat(legacy); err != nil {
			t.Errorf("the legacy key file was removed: %v", err)
		}
	})
}

func testBox(t *testing.T) *secrets.Box {
	t.Helper()
	box, err := secrets.New(dbtest.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// rawPrivateKeys reads the private_key column past ent.
func rawPrivateKeys(t *testing.T, db *database.DB) []string {
	t.Helper()
	rows, err := db.SQL().Query(fmt.Sprintf("SELECT %s FROM %s ORDER BY %s", signingkey.FieldPrivateKey, signingkey.Table, signingkey.FieldGeneration))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// TestPrivateKeysAreStoredEncrypted: the first key and a rotated one are
// stored sealed (v1:..., no PEM), tokens they sign verify on another
// replica with the same secret key, and a replica with another secret
// key refuses to start, naming BERTH_SECRET_KEY.
func TestPrivateKeysAreStoredEncrypted(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := viewer.SystemContext(context.Background())
		box := testBox(t)
		open := func() *token.Service {
			keys, err := token.OpenKeyring(ctx, db.Client, box, filepath.Join(t.TempDir(), "none.pem"), token.KeyKeep)
			if err != nil {
				t.Fatal(err)
			}
			return token.New(token.Options{Keys: keys, Client: db.Client, Auth: auth.New(db.Client)})
		}
		a := open()
		if _, err := token.RotateKey(ctx, db.Client, box, token.KeyKeep); err != nil {
			t.Fatal(err)
		}
		stored := rawPrivateKeys(t, db)
		if len(stored) != 2 {
			t.Fatalf("%d keys stored, want 2", len(stored))
		}
		for i, v := range stored {
			if !strings.HasPrefix(v, "v1:") || strings.Contains(v, "PRIVATE KEY") {
				t.Errorf("key %d is stored in plaintext: %.40q", i+1, v)
			}
		}
		b := open()
		tokA, _, err := a.Issue(alice, nil)
		if err != nil {
			t.Fatal(err)
		}
		tokB, _, err := b.Issue(alice, nil)
		if err != nil {
			t.Fatal(err)
		}
		for name, tok := range map[string]string{"first key": tokA, "rotated key": tokB} {
			if _, err := b.Verify(tok); err != nil {
				t.Errorf("a token of the %s does not verify: %v", name, err)
			}
		}

		other, _ := secrets.New(secrets.GenerateKey())
		_, err = token.OpenKeyring(ctx, db.Client, other, "", token.KeyKeep)
		if !errors.Is(err, secrets.ErrUndecryptable) || !strings.Contains(err.Error(), "BERTH_SECRET_KEY") {
			t.Errorf("opening the keys under another secret key: %v; want an error naming BERTH_SECRET_KEY", err)
		}
	})
}

// TestPlaintextKeyFromBeforeIsSealedAndKeepsSigning: a key an earlier
// version stored in plaintext signs and verifies as before, is sealed by
// SealPlaintextKeys once, and tokens it signed before stay valid.
func TestPlaintextKeyFromBeforeIsSealedAndKeepsSigning(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := viewer.SystemContext(context.Background())
		box := testBox(t)
		pemFile := filepath.Join(t.TempDir(), "old.pem")
		if _, err := token.LoadOrCreateKey(pemFile); err != nil {
			t.Fatal(err)
		}
		pemText, _ := os.ReadFile(pemFile)
		db.SigningKey.Create().SetGeneration(1).SetKid("OLD0:KEY0").SetPrivateKey(string(pemText)).SaveX(ctx)
		open := func() *token.Service {
			keys, err := token.OpenKeyring(ctx, db.Client, box, "", token.KeyKeep)
			if err != nil {
				t.Fatal(err)
			}
			return token.New(token.Options{Keys: keys, Client: db.Client, Auth: auth.New(db.Client)})
		}
		before, _, err := open().Issue(alice, nil)
		if err != nil {
			t.Fatal(err)
		}
		seal := func() int {
			t.Helper()
			tx, err := db.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n, err := token.SealPlaintextKeys(ctx, tx, box)
			if err != nil {
				tx.Rollback()
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := seal(); n != 1 {
			t.Errorf("sealed %d keys, want 1", n)
		}
		stored := rawPrivateKeys(t, db)
		if len(stored) != 1 || !strings.HasPrefix(stored[0], "v1:") || strings.Contains(stored[0], "PRIVATE KEY") {
			t.Fatalf("after sealing the key is stored as %.40q", stored)
		}
		if n := seal(); n != 0 || rawPrivateKeys(t, db)[0] != stored[0] {
			t.Errorf("a second run sealed %d keys, want 0", n)
		}
		s := open()
		if _, err := s.Verify(before); err != nil {
			t.Errorf("a token signed with the plaintext key no longer verifies: %v", err)
		}
		after, _, err := s.Issue(alice, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Verify(after); err != nil {
			t.Errorf("the sealed key's token does not verify: %v", err)
		}
	})
}
