package database

import (
	"context"
	"fmt"

	"github.com/berth-registry/berth/ent"
)

// Unsynced runs fn in a transaction whose commit does not wait for
// PostgreSQL to flush its write-ahead log (synchronous_commit off; the
// flush follows within the WAL writer's delay, 200 ms by default). After a
// crash of the database server the last such commits may be lost, never
// half-applied, so it is only for state berth can lose and recover from:
// an upload session's row, which every later request checks against the
// bytes in storage. On SQLite fn runs on the client as it is.
func (db *DB) Unsynced(ctx context.Context, fn func(client *ent.Client) error) error {
	if db.Kind != Postgres {
		return fn(db.Client)
	}
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		return err
	}
	if err := SkipCommitFlush(ctx, tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := fn(tx.Client()); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// SkipCommitFlush makes the commit of PostgreSQL transaction tx return
// without waiting for the write-ahead log's flush (SET LOCAL
// synchronous_commit TO OFF); Unsynced says when that is safe.
func SkipCommitFlush(ctx context.Context, tx *ent.Tx) error {
	if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit TO OFF"); err != nil {
		return fmt.Errorf("turning synchronous commit off: %w", err)
	}
	return nil
}
