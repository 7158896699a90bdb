package database_test

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
)

// TestUnsyncedCommitsWithoutWaitingForTheLogOnly: on PostgreSQL the writes
// of Unsynced commit with synchronous_commit off, for that transaction
// alone, and an error rolls them back; on both databases they are
// committed (SQLite runs them as they come, without a transaction).
func TestUnsyncedCommitsWithoutWaitingForTheLogOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := viewer.SystemContext(context.Background())
		err := db.Unsynced(ctx, func(client *ent.Client) error {
			if db.Kind == database.Postgres {
				if got := synchronousCommit(t, ctx, client); got != "off" {
					t.Errorf("synchronous_commit inside Unsynced = %q, want off", got)
				}
			}
			return client.UploadSession.Create().SetUUID("u-1").SetRepository("p/r").SetAlgorithm("sha256").Exec(ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
		if db.Kind == database.Postgres {
			if got := synchronousCommit(t, ctx, db.Client); got != "on" {
				t.Errorf("synchronous_commit after Unsynced = %q, want on", got)
			}
		}
		failed := db.Unsynced(ctx, func(client *ent.Client) error {
			if err := client.UploadSession.Create().SetUUID("u-2").SetRepository("p/r").SetAlgorithm("sha256").Exec(ctx); err != nil {
				return err
			}
			return client.UploadSession.Create().SetUUID("u-1").SetRepository("p/r").SetAlgorithm("sha256").Exec(ctx) // duplicate
		})
		if failed == nil {
			t.Fatal("a duplicate upload id was accepted")
		}
		n, err := db.UploadSession.Query().Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 && db.Kind == database.Postgres {
			t.Fatalf("%d sessions after a committed and a failed Unsynced, want 1", n)
		}
	})
}

func synchronousCommit(t *testing.T, ctx context.Context, client *ent.Client) string {
	t.Helper()
	rows, err := client.QueryContext(ctx, "SHOW synchronous_commit")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var v string
	for rows.Next() {
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
	}
	return v
}
