package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
)

// TestLeaseHasOneHolderUntilItExpires: a second holder is refused while
// the lease is held and renewed, gets it once it expired, and the first
// holder then can neither renew nor release it.
func TestLeaseHasOneHolderUntilItExpires(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		must := func(ok bool, err error) bool {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !must(database.AcquireLease(ctx, db.Client, "gc", "a", time.Hour)) {
			t.Fatal("a did not get a free lease")
		}
		if must(database.AcquireLease(ctx, db.Client, "gc", "b", time.Hour)) {
			t.Fatal("b got a lease a holds")
		}
		if !must(database.AcquireLease(ctx, db.Client, "gc", "a", time.Hour)) {
			t.Fatal("a could not take its own lease again")
		}
		if !must(database.AcquireLease(ctx, db.Client, "other", "b", time.Hour)) {
			t.Fatal("b did not get another lease")
		}
		if !must(database.RenewLease(ctx, db.Client, "gc", "a", -time.Second)) {
			t.Fatal("a could not renew its lease")
		}
		// a's lease has lapsed (renewed into the past): b takes it.
		if !must(database.AcquireLease(ctx, db.Client, "gc", "b", time.Hour)) {
			t.Fatal("b did not get a lapsed lease")
		}
		if must(database.RenewLease(ctx, db.Client, "gc", "a", time.Hour)) {
			t.Fatal("a renewed a lease b holds")
		}
		if err := database.ReleaseLease(ctx, db.Client, "gc", "a"); err != nil {
			t.Fatal(err)
		}
		if must(database.AcquireLease(ctx, db.Client, "gc", "c", time.Hour)) {
			t.Fatal("a's release freed b's lease")
		}
		if err := database.ReleaseLease(ctx, db.Client, "gc", "b"); err != nil {
			t.Fatal(err)
		}
		if !must(database.AcquireLease(ctx, db.Client, "gc", "c", time.Hour)) {
			t.Fatal("c did not get a released lease")
		}
	})
}
