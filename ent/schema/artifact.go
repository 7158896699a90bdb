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

// Artifact is one manifest (image, index, chart, signature...) stored in a repository.
type Artifact struct {
	ent.Schema
}

// Fields of Artifact.
func (Artifact) Fields() []ent.Field {
	return []ent.Field{
		field.Int("repository_id").Immutable(),
		field.String("digest").NotEmpty().Immutable().
			Annotations(entgql.OrderField("DIGEST")),
		field.String("media_type").Immutable().
			Comment("the manifest's media type"),
		field.Enum("artifact_type").
			Values("IMAGE", "IMAGE_INDEX", "CHART", "SIGNATURE", "SBOM", "ATTESTATION", "OTHER").
			Immutable().
			Annotations(entgql.Type("ArtifactType"), entgql.OrderField("ARTIFACT_TYPE")),
		field.String("oci_artifact_type").Default("").Immutable().
			Comment("the artifactType the manifest declares, or its config media type"),
		field.Int64("size").Immutable().
			Comment("manifest plus config and layers (for an index: plus its children)").
			Annotations(entgql.OrderField("SIZE")),
		field.Bytes("manifest").Immutable().
			Comment("the manifest exactly as pushed").
			Annotations(entgql.Skip()),
		field.JSON("annotations", map[string]string{}).Optional().
			Annotations(entgql.Type("Map")),
		field.String("subject_digest").Optional().Nillable().Immutable(),
		field.Time("pushed_at").Default(time.Now).
			Annotations(entgql.OrderField("PUSHED_AT")),
		field.Time("pulled_at").Optional().Nillable().
			Annotations(entgql.OrderField("PULLED_AT")),
	}
}

// Edges of Artifact.
func (Artifact) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("repository", Repository.Type).Ref("artifacts").Field("repository_id").
			Unique().Required().Immutable(),
		edge.To("tags", Tag.Type),
		edge.To("labels", Label.Type),
		edge.To("blob_refs", ArtifactBlob.Type).
			Comment("the config and layers this manifest needs").
			Annotations(entgql.Skip(), entsql.OnDelete(entsql.Cascade)),
		edge.To("children", Artifact.Type).
			Comment("the manifests an index lists").
			Annotations(entgql.Skip()).
			From("parents").Annotations(entgql.Skip()),
	}
}

// Indexes of Artifact.
func (Artifact) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("repository_id", "digest").Unique(),
		index.Fields("repository_id", "subject_digest"),
		index.Fields("repository_id", "pushed_at"),
		index.Fields("digest"),
	}
}

// Annotations of Artifact.
func (Artifact) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of Artifact.
func (Artifact) Policy() ent.Policy { return artifactPolicy() }
