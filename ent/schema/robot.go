package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/berth-registry/berth/ent/schema/robotperm"
)

// Robot is a non-human account for CI systems: a login name, a hashed
// secret, an explicit permission list and an expiry. A project robot acts
// in its project; a system robot in the projects its permissions name.
type Robot struct {
	ent.Schema
}

// Mixin of Robot.
func (Robot) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of Robot.
func (Robot) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(255).Immutable().
			Comment("the name without prefix or project").
			Annotations(entgql.OrderField("NAME")),
		field.String("login").NotEmpty().Unique().Immutable().
			Comment("the full login name, such as robot$team-a+ci"),
		field.String("description").Default(""),
		field.Int("project_id").Optional().Nillable().Immutable(),
		field.String("secret_hash").Sensitive().Unique().Annotations(entgql.Skip()),
		field.JSON("permissions", []robotperm.Permission{}).Annotations(entgql.Skip()),
		field.Time("expires_at").Optional().Nillable().
			Annotations(entgql.OrderField("EXPIRES_AT")),
		field.Bool("disabled").Default(false),
		field.String("created_by").Default(""),
		field.Time("last_used_at").Optional().Nillable(),
	}
}

// Edges of Robot.
func (Robot) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("project", Project.Type).Ref("robots").Field("project_id").Unique().Immutable(),
	}
}

// Indexes of Robot.
func (Robot) Indexes() []ent.Index {
	return []ent.Index{index.Fields("project_id")}
}

// Annotations of Robot.
func (Robot) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of Robot.
func (Robot) Policy() ent.Policy { return robotPolicy() }

// Setting is one system setting changed at run time by a system admin
// (OIDC provider, robot defaults...), stored as JSON under its key.
type Setting struct {
	ent.Schema
}

// Fields of Setting.
func (Setting) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").NotEmpty().Unique().Immutable(),
		field.Text("value"),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now),
	}
}

// Annotations of Setting.
func (Setting) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of Setting.
func (Setting) Policy() ent.Policy { return adminOnlyPolicy() }
