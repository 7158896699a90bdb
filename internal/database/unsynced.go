package database

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/berth-registry/berth/ent"
)

// Unsynced runs fn with a client whose writes commit without waiting for
// PostgreSQL to flush its write-ahead log (synchronous_commit off; the
// flush follows within the WAL writer's delay, 200 ms by default). After a
// crash of the database server the last such commits may be lost, never
// half-applied, so it is only for state berth can lose and recover from:
// an upload session's row, which every later request checks against the
// bytes in storage.
//
// Each statement fn runs commits on its own, in one round trip: fn is for
// one write (a conditional UPDATE, an INSERT). The client is a pool of its
// own whose sessions have synchronous_commit off from their start, so no
// transaction is needed to set it; a transaction with SET LOCAL cost four
// round trips for every such write, and a chunked upload makes a dozen.
// On SQLite fn runs on the client as it is.
func (db *DB) Unsynced(ctx context.Context, fn func(client *ent.Client) error) error {
	if db.unsynced == nil {
		return fn(db.Client)
	}
	return fn(db.unsynced)
}

// UnsyncedClient is the client Unsynced runs fn with: on PostgreSQL, on a
// pool whose sessions commit without waiting for the log's flush, for
// single statements that may be lost; nil on SQLite. Transactions that
// hold a connection through storage work (a blob's commit, which places
// its bytes in the store, on S3 a copy) stay off it, so that they never
// keep an upload's bookkeeping waiting for a connection; they use
// SkipCommitFlush.
func (db *DB) UnsyncedClient() *ent.Client { return db.unsynced }

// openUnsynced opens Unsynced's pool on dsn: at most four connections
// (its writes are single statements of a fraction of a millisecond, and
// every replica's pools count against PostgreSQL's max_connections), each
// starting its session with synchronous_commit off (a startup parameter,
// not a SET, so that no pooler can carry it over to another client's
// session).
func openUnsynced(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	cfg.RuntimeParams["synchronous_commit"] = "off"
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// SkipCommitFlush makes the commit of PostgreSQL transaction tx return
// without waiting for the write-ahead log's flush (SET LOCAL
// synchronous_commit TO OFF), for a transaction of several statements
// that may be lost as a whole (see Unsynced).
func SkipCommitFlush(ctx context.Context, tx *ent.Tx) error {
	if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit TO OFF"); err != nil {
		return fmt.Errorf("turning synchronous commit off: %w", err)
	}
	return nil
}
