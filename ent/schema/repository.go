package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Repository is a named collection of artifacts inside a project, such as "team-a/app".
type Repository struct {
	ent.Schema
}

// Mixin of Repository.
func (Repository) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of Repository.
func (Repository) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(255).Unique().Immutable().
			Comment("the full name, project included").
			Annotations(entgql.OrderField("NAME")),
		field.Int("project_id").Immutable(),
		field.String("description").Default(""),
		field.Int64("pull_count").Default(0).
			Annotations(entgql.OrderField("PULL_COUNT")),
		field.Time("pushed_at").Optional().Nillable().
			Annotations(entgql.OrderField("PUSHED_AT")),
		// artifact_count is kept by the write path, so that a list of
		// repositories and totals over many need no COUNT over their
		// artifacts. Rows from before it have -1 (the column's default)
		// until start-up counts them.
		field.Int64("artifact_count").Default(0).
			Comment("how many artifacts the repository holds").
			Annotations(entsql.Default("-1"), entgql.Skip(entgql.SkipWhereInput, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)),
	}
}

// Edges of Repository.
func (Repository) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("project", Project.Type).Ref("repositories").Field("project_id").
			Unique().Required().Immutable(),
		edge.To("artifacts", Artifact.Type).Annotations(entgql.RelayConnection()),
		edge.To("tags", Tag.Type).Annotations(entgql.RelayConnection()),
		edge.To("blob_links", RepositoryBlob.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of Repository.
func (Repository) Indexes() []ent.Index {
	return []ent.Index{index.Fields("project_id", "name")}
}

// Annotations of Repository.
func (Repository) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField(),
		entgql.RelayConnection(),
	}
}

// Policy of Repository.
func (Repository) Policy() ent.Policy { return repositoryPolicy() }
