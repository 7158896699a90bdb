package database_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/tag"
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
			// Newest first, as NewestTagsFirst orders: still from the
			// trigram index, not a walk down the primary key (which
			// enable_seqscan off leaves the planner to prefer).
			plan = explain(t, db, "SET enable_seqscan = off", `EXPLAIN SELECT id FROM tags WHERE name ILIKE '%elea%' ORDER BY tags.id + 0 DESC LIMIT 10`)
			if !strings.Contains(plan, "search_tags_name_trgm") {
				t.Fatalf("newest-first tag search does not use the trigram index:\n%s", plan)
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
			plan = explain(t, db, "", `EXPLAIN QUERY PLAN SELECT id FROM tags WHERE id IN (SELECT rowid FROM `+database.SearchTagsFTS+` WHERE `+database.SearchTagsFTS+` MATCH '"elea"') ORDER BY id DESC LIMIT 10`)
			if !strings.Contains(plan, "VIRTUAL TABLE INDEX") || !strings.Contains(plan, "INTEGER PRIMARY KEY") {
				t.Fatalf("tag search does not read the trigram table and then the matching tags:\n%s", plan)
			}
		}
	})
}

// searchIndexIdentity names the search indexes with what changes when one
// is dropped and created again (PostgreSQL's oid, SQLite's root page).
func searchIndexIdentity(t *testing.T, db *database.DB) string {
	t.Helper()
	q := `SELECT type || ' ' || name || ':' || rootpage FROM sqlite_master WHERE name LIKE 'search\_%' ESCAPE '\' ORDER BY name`
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
	// SQLite: the digest index, the FTS5 table, its four shadow tables
	// and its three triggers.
	want := 9
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

// TestSQLiteTagSearchTableIsFilledOnUpgrade: a database whose tags were
// written by a berth without the trigram table gets it filled from those
// tags on the first migration that creates it, and the triggers keep it
// in step from then on.
func TestSQLiteTagSearchTableIsFilledOnUpgrade(t *testing.T) {
	db := dbtest.Open(t, database.SQLite)
	ctx := viewer.SystemContext(context.Background())
	for _, s := range []string{"DROP TRIGGER search_tags_fts_insert", "DROP TRIGGER search_tags_fts_delete", "DROP TRIGGER search_tags_fts_rename", "DROP TABLE " + database.SearchTagsFTS} {
		if _, err := db.SQL().ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	p := db.Project.Create().SetName("team").SaveX(ctx)
	r := db.Repository.Create().SetName("team/app").SetProjectID(p.ID).SaveX(ctx)
	a := db.Artifact.Create().SetRepositoryID(r.ID).SetDigest("sha256:" + strings.Repeat("ab", 32)).
		SetMediaType("application/vnd.oci.image.manifest.v1+json").SetArtifactType("IMAGE").SetSize(2).SetManifest([]byte("{}")).SaveX(ctx)
	db.Tag.Create().SetName("Release-1.0").SetRepositoryID(r.ID).SetArtifactID(a.ID).SaveX(ctx)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.Tag.Create().SetName("release-2.0").SetRepositoryID(r.ID).SetArtifactID(a.ID).SaveX(ctx)
	names := db.Tag.Query().Where(db.TagNameContains("RELEASE")).Order(ent.Asc(tag.FieldName)).Select(tag.FieldName).StringsX(ctx)
	if strings.Join(names, ",") != "Release-1.0,release-2.0" {
		t.Fatalf("tags containing RELEASE: %v", names)
	}
}

// TestSQLiteTagSearchForgetsDeletedTags: a deleted tag leaves the
// trigram table (its name finds nothing any more), and the tag created
// after it is found by its own name.
func TestSQLiteTagSearchForgetsDeletedTags(t *testing.T) {
	db := dbtest.Open(t, database.SQLite)
	ctx := viewer.SystemContext(context.Background())
	p := db.Project.Create().SetName("team").SaveX(ctx)
	r := db.Repository.Create().SetName("team/app").SetProjectID(p.ID).SaveX(ctx)
	a := db.Artifact.Create().SetRepositoryID(r.ID).SetDigest("sha256:" + strings.Repeat("cd", 32)).
		SetMediaType("application/vnd.oci.image.manifest.v1+json").SetArtifactType("IMAGE").SetSize(2).SetManifest([]byte("{}")).SaveX(ctx)
	old := db.Tag.Create().SetName("release-old").SetRepositoryID(r.ID).SetArtifactID(a.ID).SaveX(ctx)
	db.Tag.DeleteOne(old).ExecX(ctx)
	newer := db.Tag.Create().SetName("v2.0.0").SetRepositoryID(r.ID).SetArtifactID(a.ID).SaveX(ctx)
	if n := db.Tag.Query().Where(db.TagNameContains("release")).CountX(ctx); n != 0 {
		t.Fatalf("%d tags match the deleted tag's name", n)
	}
	if ids := db.Tag.Query().Where(db.TagNameContains("2.0.0")).IDsX(ctx); len(ids) != 1 || ids[0] != newer.ID {
		t.Fatalf("tags matching the new tag's name: %v, want [%d]", ids, newer.ID)
	}
}
