package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Label is a coloured marker put on artifacts, defined system-wide or in one project.
type Label struct {
	ent.Schema
}

// Mixin of Label.
func (Label) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of Label.
func (Label) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(128).
			Annotations(entgql.OrderField("NAME")),
		field.String("description").Default(""),
		field.String("color").Default("#5c7cfa"),
		field.Enum("scope").Values("GLOBAL", "PROJECT").Immutable().
			Annotations(entgql.Type("LabelScope")),
		field.Int("project_id").Optional().Nillable().Immutable(),
	}
}

// Edges of Label.
func (Label) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("project", Project.Type).Ref("labels").Field("project_id").Unique().Immutable(),
		edge.From("artifacts", Artifact.Type).Ref("labels").Annotations(entgql.Skip()),
	}
}

// Indexes of Label.
func (Label) Indexes() []ent.Index {
	return []ent.Index{index.Fields("project_id", "name")}
}

// Annotations of Label.
func (Label) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField(), entgql.RelayConnection()}
}

// Policy of Label.
func (Label) Policy() ent.Policy { return labelPolicy() }
