package database_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
)

// TestSearchIndexesServeThePortalsSearchAndSurviveMigration: the queries
// of the portal's search box (a tag by part of its name, an artifact by
// the first digits of its digest) are answered from berth's search
// indexes, and migrating again keeps those indexes as they are rather than
// dropping and rebuilding them (at a million tags that would cost every
// start seconds).
func TestSearchIndexesServeThePortalsSearchAndSurviveMigration(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := viewer.SystemContext(context.Background())
		before := searchIndexIdentity(t, db)
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second migration: %v", err)
		}
		if after := searchIndexIdentity(t, db); after != before {
			t.Fatalf("the search indexes changed over a migration: %q, then %q", before, after)
		}
		if len(db.Warnings) != 0 {
			t.Fatalf("warnings: %v", db.Warnings)
		}
		switch db.Kind {
		case database.Postgres:
			plan := explain(t, db, "SET enable_seqscan = off", `EXPLAIN SELECT id FROM tags WHERE name ILIKE '%elea%'`)
			if !strings.Contains(plan, "search_tags_name_trgm") {
				t.Fatalf("tag search does not use the trigram index:\n%s", plan)
			}
			plan = explain(t, db, "SET enable_seqscan = off", `EXPLAIN SELECT id FROM artifacts WHERE digest LIKE 'sha256:ab12%'`)
			if !strings.Contains(plan, "search_artifacts_digest_prefix") {
				t.Fatalf("digest search does not use the prefix index:\n%s", plan)
			}
		case database.SQLite:
			plan := explain(t, db, "", `EXPLAIN QUERY PLAN SELECT id FROM artifacts WHERE digest LIKE 'sha256:ab12%'`)
			if !strings.Contains(plan, "search_artifacts_digest_prefix") {
				t.Fatalf("digest search does not use the prefix index:\n%s", plan)
			}
		}
	})
}

// searchIndexIdentity names the search indexes with what changes when one
// is dropped and created again (PostgreSQL's oid, SQLite's root page).
func searchIndexIdentity(t *testing.T, db *database.DB) string {
	t.Helper()
	q := `SELECT name || ':' || rootpage FROM sqlite_master WHERE type = 'index' AND name LIKE 'search\_%' ESCAPE '\' ORDER BY name`
	if db.Kind == database.Postgres {
		q = `SELECT indexrelid::regclass::text || ':' || indexrelid::text FROM pg_index WHERE indexrelid::regclass::text LIKE 'search\_%' ORDER BY 1`
	}
	rows, err := db.SQL().Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	want := 1
	if db.Kind == database.Postgres {
		want = 2
	}
	if len(names) != want {
		t.Fatalf("search indexes %v, want %d", names, want)
	}
	return strings.Join(names, ",")
}

// explain returns the plan of query, after setup on the same connection.
func explain(t *testing.T, db *database.DB, setup, query string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if setup != "" {
		if _, err := conn.ExecContext(ctx, setup); err != nil {
			t.Fatal(err)
		}
		defer conn.ExecContext(ctx, "RESET ALL")
	}
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var plan []string
	for rows.Next() {
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(sql.NullString)
		}
		if err := rows.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			plan = append(plan, v.(*sql.NullString).String)
		}
	}
	return strings.Join(plan, "\n")
}
