package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Project groups repositories under one name, one visibility and one set of members.
type Project struct {
	ent.Schema
}

// Mixin of Project.
func (Project) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of Project.
func (Project) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(255).Unique().Immutable().
			Annotations(entgql.OrderField("NAME")),
		field.Bool("public").Default(false),
		field.String("description").Default(""),
		field.Int64("quota_bytes").Default(-1).
			Comment("storage quota in bytes; -1 means unlimited"),
		field.Int64("used_bytes").Default(0).
			Comment("bytes of distinct blobs referenced by the project's repositories").
			Annotations(entgql.OrderField("USED_BYTES")),
		field.Bool("scan_on_push").Default(false).
			Comment("scan every image pushed to the project for vulnerabilities"),
		field.Bool("prevent_vulnerable").Default(false).Annotations(entgql.Skip()).
			Comment("refuse pulls of images with a finding at prevent_severity or worse"),
		field.Enum("prevent_severity").Values("CRITICAL", "HIGH", "MEDIUM", "LOW").Default("CRITICAL").
			Annotations(entgql.Skip()).
			Comment("the threshold of prevent_vulnerable: this severity and worse"),
		field.Bool("allow_unscanned").Default(false).Annotations(entgql.Skip()).
			Comment("under prevent_vulnerable, serve images not (successfully) scanned"),
		field.Strings("cosign_public_keys").Optional().Annotations(entgql.Skip()).
			Comment("PEM public keys; with notation_certificates, a pull needs a signature one verifies"),
		field.Strings("notation_certificates").Optional().Annotations(entgql.Skip()).
			Comment("PEM certificates of Notation's trust store"),
		field.String("scanner").Default("").MaxLen(40).Annotations(entgql.Skip()).
			Comment(`the scanner of the project's images: a registered adapter's name, "berth" for the built-in one, "" for the system default`),
	}
}

// Edges of Project.
func (Project) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("repositories", Repository.Type).
			Annotations(entgql.RelayConnection()),
		edge.To("members", Member.Type),
		edge.To("labels", Label.Type),
		edge.To("robots", Robot.Type).Annotations(entgql.Skip()),
	}
}

// Annotations of Project.
func (Project) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.QueryField(),
		entgql.RelayConnection(),
	}
}

// Policy of Project.
func (Project) Policy() ent.Policy { return projectPolicy() }
