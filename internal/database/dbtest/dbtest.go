// Package dbtest gives tests a fresh, migrated database on every dialect berth
// supports: SQLite in a temporary directory and PostgreSQL in a database
// created for the test and dropped after it.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/database"
)

// PostgresAdminURL is the server tests create their databases on:
// BERTH_TEST_POSTGRES_URL, or the local server.
func PostgresAdminURL() string {
	if u := os.Getenv("BERTH_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RequireServices reports whether tests must fail rather than skip when
// PostgreSQL or Redis does not answer (BERTH_TEST_REQUIRE_SERVICES=1, set in CI).
func RequireServices() bool { return os.Getenv("BERTH_TEST_REQUIRE_SERVICES") == "1" }

// SecretKey is the BERTH_SECRET_KEY (config.Config.SecretKey) of every
// berth tests start on PostgreSQL, which refuses to start without one;
// on SQLite tests leave it unset, so berth generates its own into the
// data dir. Fixed, so that servers sharing a test database share it.
const SecretKey = "WWmcbP5hxiwqwdl9Ss5vEJWywxHAzkhkTSUdCW3V+00="

// Dialects lists the database kinds every database test runs on.
var Dialects = []string{database.SQLite, database.Postgres}

// URL returns a database URL of the given kind for one test, creating a
// PostgreSQL database and registering its removal. It skips the test when
// PostgreSQL is unreachable, unless services are required.
func URL(t testing.TB, kind string) string {
	t.Helper()
	switch kind {
	case database.SQLite:
		return "sqlite://" + t.TempDir() + "/berth.db"
	case database.Postgres:
		return newPostgresDatabase(t)
	}
	t.Fatalf("unknown database kind %q", kind)
	return ""
}

// Open returns a migrated database of the given kind for one test.
func Open(t testing.TB, kind string) *database.DB {
	t.Helper()
	ctx := context.Background()
	db, err := database.Open(ctx, URL(t, kind), t.TempDir())
	if err != nil {
		t.Fatalf("opening %s: %v", kind, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrating %s: %v", kind, err)
	}
	return db
}

// Each runs fn as a subtest on a fresh database of every dialect.
func Each(t *testing.T, fn func(t *testing.T, db *database.DB)) {
	t.Helper()
	for _, kind := range Dialects {
		t.Run(kind, func(t *testing.T) { fn(t, Open(t, kind)) })
	}
}

// OpenLinguistic returns a migrated PostgreSQL database whose default
// collation is ICU's linguistic "en-US" (case and punctuation fold), the
// kind of collation a production database often has, for tests of
// byte-order listings.
func OpenLinguistic(t testing.TB) *database.DB {
	t.Helper()
	ctx := context.Background()
	db, err := database.Open(ctx, newPostgresDatabase(t, "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8' TEMPLATE template0"), t.TempDir())
	if err != nil {
		t.Fatalf("opening a linguistic PostgreSQL database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	return db
}

// newPostgresDatabase creates a database for one test, with options
// appended to CREATE DATABASE, and returns its URL.
func newPostgresDatabase(t testing.TB, options ...string) string {
	t.Helper()
	admin := PostgresAdminURL()
	conn, err := sql.Open("pgx", admin)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = conn.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		if RequireServices() {
			t.Fatalf("PostgreSQL at %s is required but unreachable: %v", admin, err)
		}
		t.Skipf("PostgreSQL unreachable (%v); set BERTH_TEST_REQUIRE_SERVICES=1 to fail instead", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "berth_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec("CREATE DATABASE " + name + " " + strings.Join(options, " ")); err != nil {
		conn.Close()
		t.Fatalf("creating database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer conn.Close()
		if _, err := conn.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("dropping database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parsing %s: %v", admin, err)
	}
	u.Path = "/" + name
	return u.String()
}
