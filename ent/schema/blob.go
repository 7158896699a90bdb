package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Blob is content in the blob store, stored once whatever the number of
// repositories that link it.
type Blob struct {
	ent.Schema
}

// Fields of Blob.
func (Blob) Fields() []ent.Field {
	return []ent.Field{
		field.String("digest").NotEmpty().Unique().Immutable(),
		field.Int64("size").Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("last_used_at").Default(time.Now).Annotations(entsql.Default("CURRENT_TIMESTAMP")).
			Comment("when the blob was last linked into a repository or stopped being referenced: garbage collection's grace period counts from here"),
		field.Time("sweeping_at").Optional().Nillable().
			Comment("set when garbage collection decided to delete the blob: from then on it is gone for every reader, whether or not its bytes are still there"),
	}
}

// Edges of Blob. Garbage collection deletes a blob's row only when nothing
// references it; its links go with it.
func (Blob) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("links", RepositoryBlob.Type).Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("refs", ArtifactBlob.Type),
	}
}

// Indexes of Blob.
func (Blob) Indexes() []ent.Index {
	return []ent.Index{index.Fields("last_used_at")}
}

// Annotations of Blob.
func (Blob) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// RepositoryBlob records that a repository may serve a blob: an upload or a
// mount into it, or a manifest referencing it. Garbage collection and quotas
// are computed from these links.
type RepositoryBlob struct {
	ent.Schema
}

// Fields of RepositoryBlob.
func (RepositoryBlob) Fields() []ent.Field {
	return []ent.Field{
		field.Int("repository_id").Immutable(),
		field.Int("blob_id").Immutable(),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Edges of RepositoryBlob.
func (RepositoryBlob) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("repository", Repository.Type).Ref("blob_links").Field("repository_id").
			Unique().Required().Immutable(),
		edge.From("blob", Blob.Type).Ref("links").Field("blob_id").
			Unique().Required().Immutable(),
	}
}

// Indexes of RepositoryBlob.
func (RepositoryBlob) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("repository_id", "blob_id").Unique(),
		index.Fields("blob_id"),
	}
}

// Annotations of RepositoryBlob.
func (RepositoryBlob) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// UploadSession is a blob upload in progress. Its state lives here, not in a
// process, so an upload survives a restart and continues on any replica.
type UploadSession struct {
	ent.Schema
}

// Fields of UploadSession.
func (UploadSession) Fields() []ent.Field {
	return []ent.Field{
		field.String("uuid").NotEmpty().Unique().Immutable(),
		field.String("repository").NotEmpty().Immutable(),
		field.Int64("offset").Default(0),
		field.String("algorithm").Default("sha256"),
		field.Bytes("hash_state").Optional().
			Comment("the running digest, from encoding.BinaryMarshaler"),
		field.String("writer").Optional().Nillable().
			Comment("the request that holds the upload: at most one writes to it at a time"),
		field.Time("writer_until").Optional().Nillable().
			Comment("when the writer's hold lapses unless renewed (a crashed writer frees the upload)"),
		field.Time("started_at").Default(time.Now).Immutable(),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now),
	}
}

// Annotations of UploadSession.
func (UploadSession) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
