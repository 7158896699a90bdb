package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// ArtifactBlob is a reference from a manifest to a blob it needs: its
// config or one of its layers (foreign layers, which no registry stores,
// are not referenced). References are kept apart from links
// (RepositoryBlob: a repository may serve a blob because it was uploaded
// or mounted there): garbage collection and quotas read references, and
// none of them re-parses manifests. A reference goes with its artifact.
type ArtifactBlob struct {
	ent.Schema
}

// Fields of ArtifactBlob.
func (ArtifactBlob) Fields() []ent.Field {
	return []ent.Field{
		field.Int("artifact_id").Immutable(),
		field.Int("blob_id").Immutable(),
		// project_id is the project of the artifact, copied here so that
		// "does project P reference blob B" is one index probe however
		// many artifacts share B (a base layer under a million images).
		// Rows from before it are filled in at start-up.
		field.Int("project_id").Optional().Immutable(),
	}
}

// Edges of ArtifactBlob.
func (ArtifactBlob) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("artifact", Artifact.Type).Ref("blob_refs").Field("artifact_id").
			Unique().Required().Immutable(),
		edge.From("blob", Blob.Type).Ref("refs").Field("blob_id").
			Unique().Required().Immutable(),
	}
}

// Indexes of ArtifactBlob.
func (ArtifactBlob) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("artifact_id", "blob_id").Unique(),
		index.Fields("blob_id", "project_id"),
	}
}

// Annotations of ArtifactBlob.
func (ArtifactBlob) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
