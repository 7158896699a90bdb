package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// SigningKey is a key registry tokens are signed with. Every replica reads
// them from here, so a token one issues the others verify. The newest key
// not retired signs; retired keys still verify until the tokens they signed
// have expired, then they are deleted.
type SigningKey struct {
	ent.Schema
}

// Fields of SigningKey.
func (SigningKey) Fields() []ent.Field {
	return []ent.Field{
		field.Int("generation").Unique().Immutable().
			Comment("1 for the first key, one more for each rotation: replicas creating the first key, or rotating, at once cannot both succeed"),
		field.String("kid").NotEmpty().Unique().Immutable().
			Comment("the key id tokens carry in their header"),
		field.Text("private_key").Sensitive().Immutable().
			Comment("PEM-encoded PKCS#8 ECDSA P-256 private key"),
		field.Time("created_at").Default(time.Now).Immutable(),
		field.Time("retired_at").Optional().Nillable().
			Comment("when a newer key took over signing"),
	}
}

// Annotations of SigningKey.
func (SigningKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of SigningKey: berth itself only.
func (SigningKey) Policy() ent.Policy { return adminOnlyPolicy() }
