package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// AccessToken is a named secret a user mints for docker login and scripts.
// Only a hash of the secret is stored.
type AccessToken struct {
	ent.Schema
}

// Fields of AccessToken.
func (AccessToken) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(128),
		field.String("token_hash").Sensitive().Unique().Immutable().Annotations(entgql.Skip()),
		field.Int("user_id").Immutable(),
		field.Bool("read_only").Default(false).Immutable(),
		field.Time("expires_at").Optional().Nillable().Immutable(),
		field.Time("last_used_at").Optional().Nillable(),
		field.Time("created_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Edges of AccessToken.
func (AccessToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("access_tokens").Field("user_id").
			Unique().Required().Immutable(),
	}
}

// Annotations of AccessToken.
func (AccessToken) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of AccessToken.
func (AccessToken) Policy() ent.Policy { return accessTokenPolicy() }

// Session is a signed-in portal session, referenced by an HttpOnly cookie.
type Session struct {
	ent.Schema
}

// Fields of Session.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		field.String("token_hash").Sensitive().Unique().Immutable(),
		field.String("csrf_token").Sensitive().Immutable(),
		field.Int("user_id").Immutable(),
		field.Time("expires_at"),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Edges of Session.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("sessions").Field("user_id").
			Unique().Required().Immutable(),
	}
}

// Annotations of Session.
func (Session) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of Session.
func (Session) Policy() ent.Policy { return sessionPolicy() }
