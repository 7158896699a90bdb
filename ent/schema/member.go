package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Member gives a user a role in a project.
type Member struct {
	ent.Schema
}

// Mixin of Member.
func (Member) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of Member.
func (Member) Fields() []ent.Field {
	return []ent.Field{
		field.Int("project_id"),
		field.Int("user_id").Optional().Nillable().
			Comment("the member user; nil when the member is a group"),
		field.String("group_name").Optional().Nillable().MaxLen(255).
			Comment("the member group, as an OIDC groups claim names it; nil for a user"),
		field.Enum("role").
			Values("PROJECT_ADMIN", "MAINTAINER", "DEVELOPER", "GUEST", "LIMITED_GUEST").
			Annotations(entgql.Type("Role"), entgql.OrderField("ROLE")),
	}
}

// Edges of Member.
func (Member) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("project", Project.Type).Ref("members").Field("project_id").Unique().Required(),
		edge.From("user", User.Type).Ref("memberships").Field("user_id").Unique(),
	}
}

// Indexes of Member.
func (Member) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("project_id", "user_id").Unique(),
		index.Fields("project_id", "group_name").Unique(),
		index.Fields("user_id"),
		index.Fields("group_name"),
	}
}

// Policy of Member.
func (Member) Policy() ent.Policy { return memberPolicy() }
