package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// User is a person who signs in, locally or through SSO.
type User struct {
	ent.Schema
}

// Mixin of User.
func (User) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("username").NotEmpty().MaxLen(255).Unique().
			Annotations(entgql.OrderField("USERNAME")),
		field.String("email").Default("").MaxLen(255).
			Annotations(entgql.OrderField("EMAIL")),
		field.String("display_name").Default(""),
		field.String("password_hash").Sensitive().Default("").
			Annotations(entgql.Skip()),
		field.Bool("admin").Default(false),
		field.Bool("disabled").Default(false),
		field.String("oidc_subject").Optional().Nillable().Unique().
			Comment("the OIDC issuer-qualified subject, for users who sign in with SSO").
			Annotations(entgql.Skip()),
		field.Time("last_login_at").Optional().Nillable(),
		field.Strings("groups").Optional().
			Comment("the groups the identity provider reported at the last sign-in"),
		field.String("security_stamp").Sensitive().Default("").
			Comment("changes when the password changes or the account is disabled; credentials issued under an older stamp stop working").
			Annotations(entgql.Skip()),
	}
}

// Edges of User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("memberships", Member.Type).Annotations(entgql.Skip()),
		edge.To("access_tokens", AccessToken.Type).Annotations(entgql.Skip()),
		edge.To("sessions", Session.Type).Annotations(entgql.Skip()),
	}
}

// Annotations of User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField(),
		entgql.RelayConnection(),
	}
}

// Policy of User.
func (User) Policy() ent.Policy { return userPolicy() }
