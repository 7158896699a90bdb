package database

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// cachedTexts returns the statements conn's cache holds.
func cachedTexts(t *testing.T, conn *sql.Conn) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := conn.Raw(func(dc any) error {
		for text := range dc.(*cachingConn).byText {
			out[text] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSQLiteStatementsArePreparedOnceAndReused: a query run again on a
// connection runs on the statement prepared the first time; the same
// query run while the first one's rows are open gets a statement of its
// own and both read right; the cache keeps at most maxCachedStmts, long
// statements are not kept, an evicted statement whose rows are open
// still reads to the end, and a cached statement sees a schema change.
func TestSQLiteStatementsArePreparedOnceAndReused(t *testing.T) {
	ctx := context.Background()
	db, err := openCachingSQLite(sqliteDSN(filepath.Join(t.TempDir(), "cache.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "CREATE TABLE t (a INTEGER)"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := conn.ExecContext(ctx, "INSERT INTO t (a) VALUES (?)", i); err != nil {
			t.Fatal(err)
		}
	}
	if !cachedTexts(t, conn)["INSERT INTO t (a) VALUES (?)"] {
		t.Fatal("the insert run five times is not cached")
	}

	const q = "SELECT a FROM t WHERE a >= ? ORDER BY a"
	sum := func(rows *sql.Rows) (n int) {
		t.Helper()
		defer rows.Close()
		for rows.Next() {
			var a int
			if err := rows.Scan(&a); err != nil {
				t.Fatal(err)
			}
			n += a
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for range 3 {
		rows, err := conn.QueryContext(ctx, q, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got := sum(rows); got != 2+3+4 {
			t.Fatalf("sum of a >= 2: %d", got)
		}
	}
	// The same text while its rows are open: a statement of its own.
	outer, err := conn.QueryContext(ctx, q, 0)
	if err != nil {
		t.Fatal(err)
	}
	outer.Next()
	inner, err := conn.QueryContext(ctx, q, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := sum(inner); got != 3+4 {
		t.Fatalf("inner sum: %d", got)
	}
	var first int
	if err := outer.Scan(&first); err != nil {
		t.Fatal(err)
	}
	if got := first + sum(outer); got != 0+1+2+3+4 {
		t.Fatalf("outer sum, read around the inner query: %d", got)
	}

	// Rows open while their statement is evicted still read to the end.
	open, err := conn.QueryContext(ctx, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxCachedStmts + 10 {
		var n int
		if err := conn.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) + %d FROM t", i)).Scan(&n); err != nil || n != 5+i {
			t.Fatalf("query %d: %d %v", i, n, err)
		}
	}
	if got := sum(open); got != 1+2+3+4 {
		t.Fatalf("sum read after eviction: %d", got)
	}
	cached := cachedTexts(t, conn)
	if len(cached) != maxCachedStmts || cached[q] {
		t.Fatalf("cache holds %d statements (the evicted one: %v), want %d", len(cached), cached[q], maxCachedStmts)
	}

	long := "SELECT COUNT(*) FROM t WHERE a NOT IN (" + strings.Repeat("-1, ", maxCachedSQL/4) + "-1)"
	var n int
	if err := conn.QueryRowContext(ctx, long).Scan(&n); err != nil || n != 5 {
		t.Fatalf("long query: %d %v", n, err)
	}
	if cachedTexts(t, conn)[long] {
		t.Fatal("a statement over maxCachedSQL was cached")
	}

	// A schema change: the cached statement is planned again by SQLite.
	const all = "SELECT * FROM t LIMIT 1"
	cols := func() int {
		rows, err := conn.QueryContext(ctx, all)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		c, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		return len(c)
	}
	if cols() != 1 {
		t.Fatal("one column before the change")
	}
	if _, err := conn.ExecContext(ctx, "ALTER TABLE t ADD COLUMN b TEXT"); err != nil {
		t.Fatal(err)
	}
	if got := cols(); got != 2 {
		t.Fatalf("the cached SELECT * sees %d columns after ADD COLUMN", got)
	}
}
