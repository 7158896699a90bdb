package schema

import (
	"context"
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	gen "github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/predicate"
	"github.com/berth-registry/berth/ent/privacy"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/scanfinding"
	"github.com/berth-registry/berth/ent/scanreport"
	"github.com/berth-registry/berth/internal/viewer"
)

// Vulnerability scans (internal/scan/scanner): the latest scan of each
// artifact and its findings. A new scan replaces the findings of the last
// one in one transaction. They are in GraphQL through scan.graphql (the
// Scan and Vulnerability types), not ent.graphql.

// ScanReport is the latest vulnerability scan of one artifact: its state,
// its figures, and the state of the vulnerability database it was matched
// against, so that a scan made before the database changed can be found
// and made again. An image index's report sums up its platforms' images.
type ScanReport struct {
	ent.Schema
}

// Fields of ScanReport.
func (ScanReport) Fields() []ent.Field {
	return []ent.Field{
		field.Int("artifact_id").Immutable(),
		field.Enum("status").Values("PENDING", "RUNNING", "SUCCESS", "ERROR").Default("PENDING"),
		field.String("error").Default("").MaxLen(2048).
			Comment("why the scan failed, for status ERROR"),
		field.String("requested_by").Default("").MaxLen(300).
			Comment("who asked for the scan: a user, robot$name, or berth (push, schedule)"),
		field.Int64("job_id").Default(0).
			Comment("the job of the scan asked for last"),
		field.Time("requested_at").Default(time.Now),
		field.Time("started_at").Optional().Nillable(),
		field.Time("finished_at").Optional().Nillable(),
		field.String("os").Default("").MaxLen(256).
			Comment(`the distribution found, "debian 12"`),
		field.Int("package_count").Default(0),
		field.Int("critical").Default(0),
		field.Int("high").Default(0),
		field.Int("medium").Default(0),
		field.Int("low").Default(0),
		field.Int("unknown").Default(0),
		field.Int("fixable").Default(0).
			Comment("findings with a fixed version"),
		field.String("db_state").Default("").MaxLen(64).
			Comment("the vulnerability database's state (and the scanner's version) the findings were matched against"),
		field.Time("db_updated_at").Optional().Nillable().
			Comment("when an import last changed that database"),
		field.String("scanner").Default("berth").MaxLen(40).
			Comment(`what made the report: "berth" (the built-in scanner) or a registered adapter's name`),
	}
}

// Edges of ScanReport.
func (ScanReport) Edges() []ent.Edge {
	return []ent.Edge{
		// Declared from this side only, so that artifacts know nothing of
		// scans; deleting an artifact deletes its report.
		edge.To("artifact", Artifact.Type).Field("artifact_id").
			Unique().Required().Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("findings", ScanFinding.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of ScanReport.
func (ScanReport) Indexes() []ent.Index {
	return []ent.Index{
		// One report per artifact (the edge's foreign key is not unique by itself).
		index.Fields("artifact_id").Unique(),
		// Scan-all looks for reports of another database state.
		index.Fields("status", "db_state"),
	}
}

// Annotations of ScanReport.
func (ScanReport) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of ScanReport: whoever may read the artifact may read its scan.
func (ScanReport) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowAdmin(),
			privacy.ScanReportQueryRuleFunc(func(ctx context.Context, q *gen.ScanReportQuery) error {
				q.Where(scanreport.HasArtifactWith(visibleArtifacts(viewer.FromContext(ctx))))
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{denyReadOnly(), allowAdmin(), privacy.AlwaysDenyRule()},
	}
}

// ScanFinding is one vulnerability of one installed package in a scan.
type ScanFinding struct {
	ent.Schema
}

// Fields of ScanFinding.
func (ScanFinding) Fields() []ent.Field {
	return []ent.Field{
		field.Int("scan_id").Immutable(),
		field.Int("position").Immutable().
			Comment("the place in the report, worst first: the order of Scan.vulnerabilities"),
		field.String("osv_id").NotEmpty().MaxLen(128).Immutable(),
		field.Strings("aliases").Optional().Immutable(),
		field.String("package_name").NotEmpty().MaxLen(512).Immutable().
			Comment("the installed package (for distributions, the binary package)"),
		field.String("source_package").Default("").MaxLen(512).Immutable().
			Comment("the source package the vulnerability record names, when it is not package_name"),
		field.String("ecosystem").Default("").MaxLen(128).Immutable(),
		field.String("installed_version").Default("").MaxLen(256).Immutable(),
		field.String("fixed_version").Default("").MaxLen(256).Immutable(),
		field.Enum("severity").Values(severityLevels...).Default("UNKNOWN").Immutable(),
		field.Float("cvss_score").Default(0).Immutable(),
		field.String("cvss_vector").Default("").MaxLen(256).Immutable(),
		field.String("summary").Default("").MaxLen(1024).Immutable(),
		field.Strings("links").Optional().Immutable(),
		field.String("layer_digest").Default("").MaxLen(128).Immutable(),
	}
}

// Edges of ScanFinding.
func (ScanFinding) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("scan", ScanReport.Type).Ref("findings").Field("scan_id").
			Unique().Required().Immutable(),
	}
}

// Indexes of ScanFinding.
func (ScanFinding) Indexes() []ent.Index {
	return []ent.Index{index.Fields("scan_id", "position").Unique()}
}

// Annotations of ScanFinding.
func (ScanFinding) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}

// Policy of ScanFinding: visible with its scan.
func (ScanFinding) Policy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowAdmin(),
			privacy.ScanFindingQueryRuleFunc(func(ctx context.Context, q *gen.ScanFindingQuery) error {
				q.Where(scanfinding.HasScanWith(scanreport.HasArtifactWith(visibleArtifacts(viewer.FromContext(ctx)))))
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{denyReadOnly(), allowAdmin(), privacy.AlwaysDenyRule()},
	}
}

// visibleArtifacts matches the artifacts of the projects the viewer may see.
func visibleArtifacts(v *viewer.Viewer) predicate.Artifact {
	return artifact.HasRepositoryWith(repository.HasProjectWith(visibleProjects(v)))
}
