package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// UsageDelta is what one push added to its project's used bytes and to
// its repository's artifact count and push time, not yet folded into
// their rows. On PostgreSQL pushes into a project without a quota share
// the project's lock instead of taking it in turn, so that they commit
// (and wait for the log flush) side by side; a row each of them writes
// here, rather than updating the project's and the repository's rows,
// keeps them from queueing on those rows. The write path folds the rows
// into the counters as soon as no push holds the project (see
// internal/artifacts/usage.go), and before any change that reads the
// counters under the project's exclusive lock.
type UsageDelta struct {
	ent.Schema
}

// Fields of UsageDelta.
func (UsageDelta) Fields() []ent.Field {
	return []ent.Field{
		// No edges: a foreign key would have every push lock the project's
		// and the repository's rows again (KEY SHARE), and the rows never
		// outlive a fold, which runs before a project or repository goes.
		field.Int("project_id").Immutable(),
		field.Int("repository_id").Immutable(),
		field.Int64("bytes").Default(0).Immutable(),
		field.Int64("artifacts").Default(0).Immutable(),
		field.Time("pushed_at").Default(time.Now).Immutable(),
	}
}

// Indexes of UsageDelta.
func (UsageDelta) Indexes() []ent.Index {
	return []ent.Index{index.Fields("project_id")}
}

// Annotations of UsageDelta.
func (UsageDelta) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Annotation{Table: "usage_deltas"}, entgql.Skip(entgql.SkipAll)}
}

// Policy of UsageDelta: only the write path (a system context) reads and
// writes the rows.
func (UsageDelta) Policy() ent.Policy { return auditPolicy() }
