package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
)

// TestAVerifiedPasswordIsReusedWhileInUse: an entry lives verifiedIdle
// past its last use, however long ago it was made, and no longer.
func TestAVerifiedPasswordIsReusedWhileInUse(t *testing.T) {
	var c verifiedChecks
	key, other := verifiedKey("hash", "password"), verifiedKey("hash", "other")
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	if c.used(key, start) {
		t.Fatal("an unknown key was reused")
	}
	c.put(key, start)
	at := start
	for range 6 { // half an hour of use every four minutes
		at = at.Add(4 * time.Minute)
		if !c.used(key, at) {
			t.Fatalf("%v after the check, used 4 minutes before: not reused", at.Sub(start))
		}
	}
	if c.used(other, at) {
		t.Fatal("another password for the same hash was reused")
	}
	if c.used(key, at.Add(verifiedIdle)) {
		t.Fatalf("reused %v after its last use", verifiedIdle)
	}
}

// TestVerifiedChecksStayBounded: a full cache makes room, even when every
// entry is in use.
func TestVerifiedChecksStayBounded(t *testing.T) {
	var c verifiedChecks
	now := time.Now()
	for i := range 3 * maxVerified {
		c.put(verifiedKey("hash", string(rune(i))), now)
	}
	if n := len(c.entries); n > maxVerified {
		t.Fatalf("%d entries kept, want at most %d", n, maxVerified)
	}
	last := verifiedKey("hash", string(rune(3*maxVerified-1)))
	if !c.used(last, now) {
		t.Fatal("the newest entry was dropped")
	}
}

// TestASignInAfterTheSignInCacheNeedsNoHash: once the one-second sign-in
// cache has let go, a password used a moment ago still signs in without
// an argon2id check (every hash slot is taken, so a check would wait for
// the context and fail); after another replica changed the password, the
// old one needs the check again.
func TestASignInAfterTheSignInCacheNeedsNoHash(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		s, u := newAuth(t, db)
		ctx := context.Background()
		if _, err := s.Password(ctx, "alice", alicePassword); err != nil {
			t.Fatal(err)
		}
		time.Sleep(signInCacheFor + 50*time.Millisecond)
		for range cap(s.hashSlots) {
			s.hashSlots <- struct{}{}
		}
		defer func() {
			for range cap(s.hashSlots) {
				<-s.hashSlots
			}
		}()
		signIn := func(password string) (*viewer.Viewer, error) {
			short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			return s.Password(short, "alice", password)
		}
		if v, err := signIn(alicePassword); err != nil || v.UserID != u.ID {
			t.Fatalf("a recently verified password: got %+v, %v", v, err)
		}
		// Another replica changes the password: the stored hash, and so
		// the key, changes.
		hash, err := HashPassword("new-password-1")
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Client.User.UpdateOneID(u.ID).SetPasswordHash(hash).Exec(viewer.SystemContext(ctx)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(signInCacheFor + 50*time.Millisecond)
		if _, err := signIn(alicePassword); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("the old password after a change: want bad credentials, got %v", err)
		}
		if _, err := signIn("wrong-password-1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("a wrong password: want bad credentials, got %v", err)
		}
	})
}
