package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/berth-registry/berth/ent/schema/rules"
)

// The project policies: tag immutability, tag retention and webhooks, and
// the schedules of periodic jobs. They hang off a project by id and are
// deleted with it by the write path; services check auth.Can and then
// read and write them with auth.Allow.

// Schedule is when a periodic job runs: garbage collection and scan-all
// system-wide, or one project's retention. Every berth process reads this
// table to drive the job queue's periodic jobs, so an edit takes effect
// everywhere.
type Schedule struct {
	ent.Schema
}

// Mixin of Schedule.
func (Schedule) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of Schedule.
func (Schedule) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("GARBAGE_COLLECTION", "RETENTION", "SCAN_ALL").Immutable(),
		field.Int("project_id").Default(0).Immutable().
			Comment("the project of a RETENTION schedule, 0 for system-wide ones"),
		field.String("cron").Default("").MaxLen(128).
			Comment("a cron expression (5 fields, or @daily, @every 1h)"),
		field.Bool("enabled").Default(false),
		field.String("updated_by").Default(""),
	}
}

// Indexes of Schedule.
func (Schedule) Indexes() []ent.Index {
	return []ent.Index{index.Fields("kind", "project_id").Unique()}
}

// Annotations of Schedule.
func (Schedule) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of Schedule.
func (Schedule) Policy() ent.Policy { return adminOnlyPolicy() }

// ImmutabilityRule makes the tags it selects immutable: once a tag it
// selects exists, nothing moves or deletes it.
type ImmutabilityRule struct {
	ent.Schema
}

// Mixin of ImmutabilityRule.
func (ImmutabilityRule) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of ImmutabilityRule.
func (ImmutabilityRule) Fields() []ent.Field {
	return []ent.Field{
		field.Int("project_id").Immutable(),
		field.JSON("repositories", rules.Pattern{}),
		field.JSON("tags", rules.Pattern{}),
		field.Bool("disabled").Default(false),
	}
}

// Indexes of ImmutabilityRule.
func (ImmutabilityRule) Indexes() []ent.Index {
	return []ent.Index{index.Fields("project_id")}
}

// Annotations of ImmutabilityRule.
func (ImmutabilityRule) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of ImmutabilityRule.
func (ImmutabilityRule) Policy() ent.Policy { return adminOnlyPolicy() }

// RetentionPolicy is a project's tag retention rules; its schedule is a
// Schedule row of kind RETENTION.
type RetentionPolicy struct {
	ent.Schema
}

// Mixin of RetentionPolicy.
func (RetentionPolicy) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of RetentionPolicy.
func (RetentionPolicy) Fields() []ent.Field {
	return []ent.Field{
		field.Int("project_id").Unique().Immutable(),
		field.JSON("rules", []rules.RetentionRule{}),
		field.String("updated_by").Default(""),
	}
}

// Annotations of RetentionPolicy.
func (RetentionPolicy) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of RetentionPolicy.
func (RetentionPolicy) Policy() ent.Policy { return adminOnlyPolicy() }

// RetentionExecution is one run of a project's retention policy, real or
// dry: what it deleted, and why it kept the rest.
type RetentionExecution struct {
	ent.Schema
}

// Fields of RetentionExecution.
func (RetentionExecution) Fields() []ent.Field {
	return []ent.Field{
		field.Int("project_id").Immutable().Annotations(entgql.Skip()),
		field.String("status").Default("RUNNING").
			Comment("RUNNING, SUCCEEDED or FAILED"),
		field.Bool("dry_run").Default(false).Immutable(),
		field.String("triggered_by").Default("").Immutable(),
		field.Time("started_at").Optional().Nillable().Default(time.Now).
			Annotations(entgql.OrderField("STARTED_AT")),
		field.Time("finished_at").Optional().Nillable(),
		field.JSON("deleted", []rules.Candidate{}).Optional().Annotations(entgql.Skip()),
		field.JSON("retained", []rules.Candidate{}).Optional().Annotations(entgql.Skip()),
		field.JSON("repositories", []rules.RepositoryCount{}).Optional().Annotations(entgql.Skip()),
		field.Int("retained_count").Default(0),
		field.Text("log").Default(""),
	}
}

// Indexes of RetentionExecution.
func (RetentionExecution) Indexes() []ent.Index {
	return []ent.Index{index.Fields("project_id", "started_at")}
}

// Annotations of RetentionExecution.
func (RetentionExecution) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of RetentionExecution.
func (RetentionExecution) Policy() ent.Policy { return adminOnlyPolicy() }

// WebhookPolicy sends a project's events of some types to HTTP endpoints.
type WebhookPolicy struct {
	ent.Schema
}

// Mixin of WebhookPolicy.
func (WebhookPolicy) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of WebhookPolicy.
func (WebhookPolicy) Fields() []ent.Field {
	return []ent.Field{
		field.Int("project_id").Immutable(),
		field.String("name").NotEmpty().MaxLen(128),
		field.String("description").Default("").MaxLen(1024),
		field.Strings("event_types"),
		field.JSON("targets", []rules.WebhookTarget{}),
		field.String("secret").Sensitive().Immutable().
			Comment("the HMAC key of X-Berth-Signature, shown once when created"),
		field.Bool("enabled").Default(true),
		field.String("created_by").Default("").Immutable(),
	}
}

// Indexes of WebhookPolicy.
func (WebhookPolicy) Indexes() []ent.Index {
	return []ent.Index{index.Fields("project_id", "name").Unique()}
}

// Annotations of WebhookPolicy.
func (WebhookPolicy) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of WebhookPolicy.
func (WebhookPolicy) Policy() ent.Policy { return adminOnlyPolicy() }

// WebhookDelivery is one attempt to deliver one event to one target.
type WebhookDelivery struct {
	ent.Schema
}

// Fields of WebhookDelivery.
func (WebhookDelivery) Fields() []ent.Field {
	return []ent.Field{
		field.Int("policy_id").Immutable().Annotations(entgql.Skip()),
		field.String("event_type").Immutable(),
		field.Int("event_id").Default(0).Immutable().
			Comment("the outbox row (Change) the event came from; 0 for tests"),
		field.String("target_url").Immutable(),
		field.String("format").Immutable(),
		field.Int("attempt").Default(1).Immutable(),
		field.Int("status_code").Default(0).Immutable().
			Comment("the receiver's HTTP status; 0 when no response came"),
		field.Int64("latency_ms").Default(0).Immutable(),
		field.String("error").Default("").Immutable(),
		field.String("response_body").Default("").Immutable().
			Comment("the first 1 KiB of the response"),
		field.Bool("succeeded").Default(false).Immutable(),
		field.Bool("test").Default(false).Immutable(),
		field.Int64("job_id").Default(0).Immutable().Annotations(entgql.Skip()),
		field.Time("created_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
	}
}

// Indexes of WebhookDelivery.
func (WebhookDelivery) Indexes() []ent.Index {
	return []ent.Index{index.Fields("policy_id", "created_at")}
}

// Annotations of WebhookDelivery.
func (WebhookDelivery) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}

// Policy of WebhookDelivery.
func (WebhookDelivery) Policy() ent.Policy { return adminOnlyPolicy() }

// CVEAllowlist is the vulnerabilities that do not count against the
// "prevent vulnerable" pull policy: one list system-wide (project_id 0),
// which applies to every project, and one per project.
type CVEAllowlist struct {
	ent.Schema
}

// Mixin of CVEAllowlist.
func (CVEAllowlist) Mixin() []ent.Mixin { return []ent.Mixin{TimeMixin{}} }

// Fields of CVEAllowlist.
func (CVEAllowlist) Fields() []ent.Field {
	return []ent.Field{
		field.Int("project_id").Default(0).Immutable().
			Comment("the project, 0 for the system-wide list"),
		field.JSON("entries", []rules.CVEAllowance{}),
		field.String("updated_by").Default(""),
	}
}

// Indexes of CVEAllowlist.
func (CVEAllowlist) Indexes() []ent.Index {
	return []ent.Index{index.Fields("project_id").Unique()}
}

// Annotations of CVEAllowlist.
func (CVEAllowlist) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of CVEAllowlist.
func (CVEAllowlist) Policy() ent.Policy { return adminOnlyPolicy() }
