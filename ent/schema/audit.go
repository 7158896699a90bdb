package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// AuditLog records one action: who did what to which resource, and how it ended.
type AuditLog struct {
	ent.Schema
}

// Fields of AuditLog.
func (AuditLog) Fields() []ent.Field {
	return []ent.Field{
		field.String("actor").Immutable().Annotations(entgql.OrderField("ACTOR")),
		field.String("operation").Immutable().Annotations(entgql.OrderField("OPERATION")),
		field.String("resource_type").Immutable(),
		field.String("resource").Immutable(),
		field.String("project").Default("").Immutable(),
		field.String("client_ip").Default("").Immutable(),
		field.String("user_agent").Default("").Immutable(),
		field.String("result").Default("success").Immutable(),
		field.String("detail").Default("").Immutable(),
		field.Time("created_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Indexes of AuditLog.
func (AuditLog) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("created_at"),
		index.Fields("project", "created_at"),
		index.Fields("operation"),
	}
}

// Annotations of AuditLog.
func (AuditLog) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.QueryField(), entgql.RelayConnection()}
}

// Policy of AuditLog.
func (AuditLog) Policy() ent.Policy { return auditPolicy() }
