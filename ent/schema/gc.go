package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// GarbageCollection is one run of the garbage collector: what it was asked
// to do, how it ended and what it freed.
type GarbageCollection struct {
	ent.Schema
}

// Fields of GarbageCollection.
func (GarbageCollection) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("status").Values("RUNNING", "SUCCEEDED", "FAILED").Default("RUNNING"),
		field.Bool("dry_run").Default(false).Immutable(),
		field.Bool("delete_untagged").Default(false).Immutable(),
		field.Int64("grace_seconds").Default(0).Immutable().
			Annotations(entgql.Skip()),
		field.String("triggered_by").Default("").Immutable(),
		field.Int64("job_id").Default(0).Immutable().Annotations(entgql.Skip()).
			Comment("the job that ran it; 0 for runs of the berth gc command"),
		field.Time("started_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("STARTED_AT")),
		field.Time("finished_at").Optional().Nillable(),
		field.Int("blobs_deleted").Default(0),
		field.Int64("bytes_freed").Default(0),
		field.Int("artifacts_deleted").Default(0),
		field.Text("log").Default(""),
	}
}

// Indexes of GarbageCollection.
func (GarbageCollection) Indexes() []ent.Index {
	return []ent.Index{index.Fields("status")}
}

// Annotations of GarbageCollection.
func (GarbageCollection) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of GarbageCollection: system admins only.
func (GarbageCollection) Policy() ent.Policy { return auditPolicy() }

// Lease is a named lock shared by every process on one database, held
// until it expires unless renewed: at most one garbage collection runs at
// a time across replicas and CLI runs, and a process killed mid-run frees
// it when its lease lapses.
type Lease struct {
	ent.Schema
}

// Fields of Lease.
func (Lease) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().Unique().Immutable(),
		field.String("holder").NotEmpty(),
		field.Time("expires_at"),
	}
}

// Annotations of Lease.
func (Lease) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
