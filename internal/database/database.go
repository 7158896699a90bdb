// Package database opens the ent client on SQLite (the embedded default) or
// PostgreSQL, and brings the schema up to date.
package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/migrate"
	_ "github.com/berth-registry/berth/ent/runtime" // privacy policies and defaults
)

// Kinds of database berth runs on.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// DB is an open database: the ent client and the pool underneath it.
type DB struct {
	*ent.Client
	// Kind is SQLite or Postgres.
	Kind string
	// URL is the PostgreSQL URL, for pools other than database/sql's.
	URL string
	sql *sql.DB
	// unsynced is PostgreSQL's second pool, whose sessions commit without
	// waiting for the log flush (Unsynced).
	unsynced *ent.Client
	// dsn reopens SQLite's file.
	dsn string
	// Warnings are what Migrate could not do but berth works without,
	// for the server to log.
	Warnings []string
}

// ErrBadURL is returned for a database URL berth cannot use.
var ErrBadURL = errors.New("unsupported database URL")

// DriverWrapper decorates the driver the ent client talks to, for
// instrumentation such as tracing (internal/telemetry).
type DriverWrapper func(dialect.Driver) dialect.Driver

// Open connects to rawURL: "postgres://..." (or "postgresql://...") for
// PostgreSQL, "sqlite:///path/to/file.db" or a plain file path for SQLite.
// An empty URL means SQLite at dataDir/berth.db. Open pings the database, so
// an unreachable server fails here and not at the first request. The
// client uses the driver as wrapped by wrap, in order.
func Open(ctx context.Context, rawURL, dataDir string, wrap ...DriverWrapper) (*DB, error) {
	kind, dsn, err := parse(rawURL, dataDir)
	if err != nil {
		return nil, err
	}
	var db *sql.DB
	var drv *entsql.Driver
	switch kind {
	case Postgres:
		db, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(32)
		db.SetMaxIdleConns(16)
		db.SetConnMaxIdleTime(5 * time.Minute)
		drv = entsql.OpenDB(dialect.Postgres, db)
	case SQLite:
		if err := os.MkdirAll(filepath.Dir(dsn), 0o750); err != nil {
			return nil, fmt.Errorf("creating database directory: %w", err)
		}
		dsn = sqliteDSN(dsn)
		db, err = openCachingSQLite(dsn)
		if err != nil {
			return nil, err
		}
		// SQLite allows one writer at a time; a small pool with immediate
		// transactions and a busy timeout keeps writers queueing instead of
		// failing with SQLITE_BUSY. Idle connections are kept, all of
		// them: opening one (with its pragmas) per request under load cost
		// more than the queries it ran.
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
		drv = entsql.OpenDB(dialect.SQLite, db)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to %s database: %w", kind, err)
	}
	wrapped := func(d dialect.Driver) *ent.Client {
		for _, w := range wrap {
			d = w(d)
		}
		return ent.NewClient(ent.Driver(d))
	}
	out := &DB{Client: wrapped(drv), Kind: kind, sql: db, dsn: dsn}
	if kind == Postgres {
		out.URL = dsn
		unsynced, err := openUnsynced(dsn)
		if err != nil {
			db.Close()
			return nil, err
		}
		out.unsynced = wrapped(entsql.OpenDB(dialect.Postgres, unsynced))
	}
	return out, nil
}

func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// OpenAnother opens a second pool on the same SQLite file, with the same
// settings, for a library that wants a pool of its own (the job queue).
func (db *DB) OpenAnother() (*sql.DB, error) {
	if db.Kind != SQLite {
		return nil, fmt.Errorf("OpenAnother is for SQLite")
	}
	return openCachingSQLite(db.dsn)
}

func parse(rawURL, dataDir string) (kind, dsn string, err error) {
	switch {
	case rawURL == "":
		return SQLite, filepath.Join(dataDir, "berth.db"), nil
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		if _, err := url.Parse(rawURL); err != nil {
			return "", "", fmt.Errorf("%w: %v", ErrBadURL, err)
		}
		return Postgres, rawURL, nil
	case strings.HasPrefix(rawURL, "sqlite://"):
		p := strings.TrimPrefix(rawURL, "sqlite://")
		if p == "" {
			return "", "", fmt.Errorf("%w: sqlite:// needs a file path", ErrBadURL)
		}
		return SQLite, p, nil
	case strings.Contains(rawURL, "://"):
		return "", "", fmt.Errorf("%w: %q (use postgres://... or sqlite:///path)", ErrBadURL, redact(rawURL))
	default:
		return SQLite, rawURL, nil
	}
}

// redact hides a password in a URL so it can go into an error message.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	return u.Redacted()
}

// migrateLock is the PostgreSQL advisory lock key replicas take to migrate
// one at a time.
const migrateLock = 0x62657274682d6d // "berth-m"

// Migrate creates or upgrades every table and index. It is safe to run on
// every start and from several replicas: on PostgreSQL they take an
// advisory lock and migrate one after the other (SQLite has one writer).
func (db *DB) Migrate(ctx context.Context) error {
	if db.Kind == Postgres {
		conn, err := db.sql.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrateLock); err != nil {
			return fmt.Errorf("waiting for other replicas to migrate: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLock)
	}
	if err := db.Schema.Create(ctx, migrate.WithDropIndex(true), schema.WithDiffHook(keepSearchIndexes)); err != nil {
		return fmt.Errorf("migrating %s schema: %w", db.Kind, err)
	}
	return db.createSearchIndexes(ctx)
}

// Ping checks that the database answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// SQL returns the underlying pool, for the few callers that need raw SQL.
func (db *DB) SQL() *sql.DB { return db.sql }

// Close closes the clients and their pools.
func (db *DB) Close() error {
	if db.unsynced != nil {
		db.unsynced.Close()
	}
	return db.Client.Close()
}

// WithTx runs fn in a transaction of client, committing when fn returns nil
// and rolling back when it returns an error or panics.
func WithTx(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) error {
	tx, err := client.Tx(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if v := recover(); v != nil {
			tx.Rollback()
			panic(v)
		}
	}()
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
