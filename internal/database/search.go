package database

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unicode/utf8"

	atlas "ariga.io/atlas/sql/schema"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/predicate"
	"github.com/berth-registry/berth/ent/tag"
)

// The portal's search box finds tags by any part of their name and
// artifacts by the first digits of their digest, across every repository
// a user can read. At a million tags neither is served by the indexes
// ent declares: a substring match reads every tag, and LIKE 'sha256:ab%'
// cannot use a B-tree under PostgreSQL's linguistic collations or
// SQLite's case-insensitive LIKE. So berth keeps search indexes of its
// own, named with searchPrefix, which schema migration leaves alone:
//
//   - PostgreSQL: a trigram GIN index on tags.name (pg_trgm), which the
//     ILIKE '%text%' of a nameContainsFold filter uses, and a
//     text_pattern_ops B-tree on artifacts.digest, which the LIKE
//     'prefix%' of a digestHasPrefix filter uses.
//   - SQLite: a NOCASE index on artifacts.digest, which its LIKE
//     'prefix%' uses, and an FTS5 trigram table over tags.name
//     (SearchTagsFTS), kept by triggers, which TagNameContains asks.
const searchPrefix = "search_"

// SearchTagsFTS is SQLite's full-text table of tag names: external
// content (the names stay in tags only), rowid = tags.id, the trigram
// tokenizer (any substring of three characters or more, case-insensitive).
const SearchTagsFTS = "search_tags_fts"

// createSearchIndexes creates the search indexes that do not exist yet.
// Creating them over existing rows happens once, on the first start of a
// version that has them: at a million artifacts, seconds.
func (db *DB) createSearchIndexes(ctx context.Context) error {
	var stmts []string
	switch db.Kind {
	case Postgres:
		// pg_trgm is a trusted extension (PostgreSQL 13 and later): the
		// database's owner may create it. Where it cannot be created, tag
		// search still works, reading every tag.
		if _, err := db.sql.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_trgm"); err != nil {
			db.Warnings = append(db.Warnings, fmt.Sprintf("tag search reads every tag: creating the pg_trgm extension failed (%v); a superuser can run CREATE EXTENSION pg_trgm in berth's database", err))
		} else {
			stmts = append(stmts, "CREATE INDEX IF NOT EXISTS search_tags_name_trgm ON tags USING gin (name gin_trgm_ops)")
		}
		stmts = append(stmts, "CREATE INDEX IF NOT EXISTS search_artifacts_digest_prefix ON artifacts (digest text_pattern_ops)")
	case SQLite:
		stmts = append(stmts, "CREATE INDEX IF NOT EXISTS search_artifacts_digest_prefix ON artifacts (digest COLLATE NOCASE)")
		var exists int
		if err := db.sql.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE name = ?", SearchTagsFTS).Scan(&exists); err != nil {
			return err
		}
		if exists == 0 {
			stmts = append(stmts,
				"CREATE VIRTUAL TABLE "+SearchTagsFTS+" USING fts5(name, content='tags', content_rowid='id', tokenize='trigram')",
				// Filled from the tags already there once, when created.
				"INSERT INTO "+SearchTagsFTS+"("+SearchTagsFTS+") VALUES ('rebuild')",
			)
		}
		stmts = append(stmts,
			"CREATE TRIGGER IF NOT EXISTS search_tags_fts_insert AFTER INSERT ON tags BEGIN INSERT INTO "+SearchTagsFTS+"(rowid, name) VALUES (new.id, new.name); END",
			"CREATE TRIGGER IF NOT EXISTS search_tags_fts_delete AFTER DELETE ON tags BEGIN INSERT INTO "+SearchTagsFTS+"("+SearchTagsFTS+", rowid, name) VALUES ('delete', old.id, old.name); END",
			"CREATE TRIGGER IF NOT EXISTS search_tags_fts_rename AFTER UPDATE OF name ON tags BEGIN "+
				"INSERT INTO "+SearchTagsFTS+"("+SearchTagsFTS+", rowid, name) VALUES ('delete', old.id, old.name); "+
				"INSERT INTO "+SearchTagsFTS+"(rowid, name) VALUES (new.id, new.name); END",
		)
	}
	return withSQLTx(ctx, db.sql, func(tx *sql.Tx) error {
		for _, s := range stmts {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("creating the search indexes: %w", err)
			}
		}
		return nil
	})
}

func withSQLTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// keepSearchIndexes stops schema migration from dropping the search
// indexes, which ent's schema does not declare.
func keepSearchIndexes(next schema.Differ) schema.Differ {
	return schema.DiffFunc(func(current, desired *atlas.Schema) ([]atlas.Change, error) {
		changes, err := next.Diff(current, desired)
		if err != nil {
			return nil, err
		}
		kept := changes[:0]
		for _, c := range changes {
			switch c := c.(type) {
			case *atlas.ModifyTable:
				inner := c.Changes[:0]
				for _, ic := range c.Changes {
					if d, ok := ic.(*atlas.DropIndex); ok && strings.HasPrefix(d.I.Name, searchPrefix) {
						continue
					}
					inner = append(inner, ic)
				}
				c.Changes = inner
				if len(c.Changes) == 0 {
					continue
				}
			}
			kept = append(kept, c)
		}
		return kept, nil
	})
}

// TagNameContains matches the tags whose name contains text, ignoring
// case, from the search index: on SQLite the FTS5 trigram table (for
// text of three characters or more; shorter text reads the tags), on
// PostgreSQL the ILIKE that the trigram GIN index serves. Order the
// matches with NewestTagsFirst.
func (db *DB) TagNameContains(text string) predicate.Tag {
	if db.Kind != SQLite || !indexedSearch(text) {
		return tag.NameContainsFold(text)
	}
	// A phrase of one quoted string: the text's trigrams in a row, which
	// is the text as a substring; a quote inside is doubled.
	phrase := `"` + strings.ReplaceAll(text, `"`, `""`) + `"`
	return predicate.Tag(func(s *entsql.Selector) {
		s.Where(entsql.ExprP(s.C(tag.FieldID)+" IN (SELECT rowid FROM "+SearchTagsFTS+" WHERE "+SearchTagsFTS+" MATCH ?)", phrase))
	})
}

// indexedSearch reports whether the trigram indexes can answer a search
// for text: they need three characters.
func indexedSearch(text string) bool { return utf8.RuneCountInString(text) >= 3 }

// NewestTagsFirst orders the matches of TagNameContains(text), newest tag
// first. Where the search index answers, the order is by an expression
// the primary key does not serve ("id + 0"): otherwise PostgreSQL, asked
// for the first few rows in key order, walks the key backwards testing
// every tag against the pattern (a third of a second at a million tags
// for a name that matches one), rather than reading the few matches from
// the trigram index and sorting them. Shorter text cannot use the index,
// and walking the key finds the first matches of a common fragment soon.
func (db *DB) NewestTagsFirst(text string) tag.OrderOption {
	if !indexedSearch(text) {
		return ent.Desc(tag.FieldID)
	}
	return func(s *entsql.Selector) {
		s.OrderExpr(entsql.Expr(s.C(tag.FieldID) + " + 0 DESC"))
	}
}
