package token_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
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
			keys, err := token.OpenKeyring(ctx, db.Client, legacy, token.KeyKeep)
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

		kid, err := token.RotateKey(ctx, db.Client, token.KeyKeep)
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
		if _, err := token.RotateKey(ctx, db.Client, time.Nanosecond); err != nil {
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
