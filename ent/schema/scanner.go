package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// ScannerRegistration is a Harbor Pluggable Scanner Adapter the system
// admin registered (internal/scan/adapter): scans of the projects that
// use it go to the adapter instead of berth's built-in scanner. What the
// adapter said of itself at registration (its scanner's name, vendor and
// version, and the report type berth asks for) is kept with it. It is in
// GraphQL through scanners.graphql, not ent.graphql.
type ScannerRegistration struct {
	ent.Schema
}

// Mixin of ScannerRegistration.
func (ScannerRegistration) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of ScannerRegistration.
func (ScannerRegistration) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(40).Unique().Immutable().
			Comment("what projects and reports call the scanner"),
		field.String("url").NotEmpty().MaxLen(2048).
			Comment("the adapter's base URL, its API under /api/v1"),
		field.String("authorization").Sensitive().Default("").
			Comment("the Authorization header berth sends the adapter, sealed (internal/secrets); empty for none"),
		field.String("description").Default("").MaxLen(1024),
		field.Bool("is_default").Default(false).
			Comment("the system-wide scanner: at most one registration has it; none means the built-in scanner"),
		field.Bool("disabled").Default(false).
			Comment("a disabled scanner is not used: its projects are scanned by the built-in scanner"),
		field.String("scanner_name").Default("").MaxLen(256),
		field.String("scanner_vendor").Default("").MaxLen(256),
		field.String("scanner_version").Default("").MaxLen(256),
		field.String("report_mime_type").Default("").MaxLen(256).
			Comment("the vulnerability report type berth asks the adapter for"),
		field.String("created_by").Default("").Immutable(),
	}
}

// Annotations of ScannerRegistration.
func (ScannerRegistration) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of ScannerRegistration: only admins (and berth itself) read or
// change registrations through ent; the scanners query shows others the
// public fields through berth's own context.
func (ScannerRegistration) Policy() ent.Policy { return adminOnlyPolicy() }
