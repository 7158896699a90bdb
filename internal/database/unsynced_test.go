package database_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/uploadsession"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
)

// TestUnsyncedCommitsWithoutWaitingForTheLogOnly: on PostgreSQL the writes
// of Unsynced commit with synchronous_commit off, and nothing else does;
// on both databases they are committed, and a write that fails changes
// nothing.
func TestUnsyncedCommitsWithoutWaitingForTheLogOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := viewer.SystemContext(context.Background())
		create := func(client *ent.Client, uuid string) error {
			return client.UploadSession.Create().SetUUID(uuid).SetRepository("p/r").SetAlgorithm("sha256").Exec(ctx)
		}
		err := db.Unsynced(ctx, func(client *ent.Client) error {
			if db.Kind == database.Postgres {
				if got := synchronousCommit(t, ctx, client); got != "off" {
					t.Errorf("synchronous_commit inside Unsynced = %q, want off", got)
				}
			}
			return create(client, "u-1")
		})
		if err != nil {
			t.Fatal(err)
		}
		if db.Kind == database.Postgres {
			if got := synchronousCommit(t, ctx, db.Client); got != "on" {
				t.Errorf("synchronous_commit outside Unsynced = %q, want on", got)
			}
			// A transaction of the main pool, after Unsynced used its own
			// connections many times over, still waits for the flush.
			for i := range 20 {
				if err := db.Unsynced(ctx, func(client *ent.Client) error { return create(client, fmt.Sprintf("v-%d", i)) }); err != nil {
					t.Fatal(err)
				}
			}
			err := database.WithTx(ctx, db.Client, func(tx *ent.Tx) error {
				if got := synchronousCommit(t, ctx, tx.Client()); got != "on" {
					t.Errorf("synchronous_commit in a transaction after Unsynced = %q, want on", got)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Unsynced(ctx, func(client *ent.Client) error { return create(client, "u-1") }); err == nil {
			t.Fatal("a duplicate upload id was accepted")
		}
		got, err := db.UploadSession.Query().Where(uploadsession.UUID("u-1")).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("%d sessions u-1 after a committed and a refused Unsynced write, want 1", len(got))
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
