package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Tag names an artifact inside a repository.
type Tag struct {
	ent.Schema
}

// Mixin of Tag.
func (Tag) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of Tag.
func (Tag) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(128).Immutable().
			Annotations(entgql.OrderField("NAME")),
		field.Int("repository_id").Immutable(),
		field.Int("artifact_id"),
	}
}

// Edges of Tag.
func (Tag) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("repository", Repository.Type).Ref("tags").Field("repository_id").
			Unique().Required().Immutable(),
		edge.From("artifact", Artifact.Type).Ref("tags").Field("artifact_id").
			Unique().Required(),
	}
}

// Indexes of Tag.
func (Tag) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("repository_id", "name").Unique(),
		index.Fields("artifact_id"),
	}
}

// Annotations of Tag.
func (Tag) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of Tag.
func (Tag) Policy() ent.Policy { return tagPolicy() }
