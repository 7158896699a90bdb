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

// Change is the outbox of the write path: one row for every change of
// registry content (a blob linked, a manifest pushed, a tag moved, an
// artifact, repository or project deleted), written in the transaction
// that made the change. Events, webhooks and replication read it in id
// order; nothing else writes it. Events that change no content (pulls,
// quota warnings, finished retention and GC runs) are recorded here too,
// so that every event reaches subscribers and webhooks the same way.
type Change struct {
	ent.Schema
}

// Fields of Change.
func (Change) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("operation").Values(
			"BLOB_LINKED", "BLOB_MOUNTED", "BLOB_UNLINKED",
			"ARTIFACT_PUSHED", "ARTIFACT_COPIED", "ARTIFACT_DELETED",
			"TAG_CREATED", "TAG_DELETED",
			"REPOSITORY_DELETED", "PROJECT_DELETED",
			"ARTIFACT_PULLED", "QUOTA_WARNING", "QUOTA_EXCEEDED",
			"RETENTION_COMPLETED", "GC_COMPLETED", "SCAN_COMPLETED",
		).Immutable(),
		field.String("project").Immutable(),
		field.String("repository").Default("").Immutable(),
		field.String("digest").Default("").Immutable().
			Comment("the artifact's manifest digest, or the blob's digest for blob operations"),
		field.String("media_type").Default("").Immutable(),
		field.Strings("tags").Optional().Immutable().
			Comment("the tags the change set or removed"),
		field.Int64("size").Default(0).Immutable(),
		field.String("actor").Default("").Immutable().
			Comment("who made the change: a user name, robot$name, or berth for its own jobs"),
		field.JSON("detail", map[string]any{}).Optional().Immutable().
			Comment("what else the event says: quota figures, a run's counts, a pull count"),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("published_at").Optional().Nillable().
			Comment("when the event dispatcher turned the row into events; null until then"),
	}
}

// Indexes of Change.
func (Change) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("created_at"),
		index.Fields("published_at"),
		// The dispatcher's queue: the unpublished rows in order. Without
		// it, after a bulk import each batch walked the rows published
		// before it again.
		index.Fields("id").StorageKey("changes_unpublished").
			Annotations(entsql.IndexWhere("published_at IS NULL")),
	}
}

// Annotations of Change.
func (Change) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of Change.
func (Change) Policy() ent.Policy { return auditPolicy() }
