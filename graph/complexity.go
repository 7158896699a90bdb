package graph

import (
	"entgo.io/contrib/entgql"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/graph/generated"
	"github.com/berth-registry/berth/graph/model"
)

// readCost is the complexity of a field that reads an artifact's bytes: its
// manifest (up to 4 MiB, stored in the database), what is parsed from it,
// its config blob (up to 16 MiB, in the blob store), its annotations. With
// MaxComplexity at 5000 an operation may read about a dozen of them,
// counted once per item of the lists they sit in.
const readCost = 400

// readFields are the fields that cost readCost. pullCommand and
// referrers read no bytes themselves, but asking for them in a list makes
// ent load each artifact's whole row, manifest included, so they are
// priced the same.
var readFields = map[string]bool{
	"Artifact.manifest":    true,
	"Artifact.layers":      true,
	"Artifact.config":      true,
	"Artifact.children":    true,
	"Artifact.chart":       true,
	"Artifact.annotations": true,
	"Artifact.referrers":   true,
	"Artifact.pullCommand": true,
}

// complexityFuncs returns gqlgen's complexity functions: readCost for the
// fields above, and for every connection its children once per item it
// may return (first or last, defaultPageSize when neither is given; the
// page limit refuses more than maxPageSize). Other fields count 1.
func complexityFuncs() generated.ComplexityRoot {
	var c generated.ComplexityRoot
	read := func(child int) int { return readCost + child }
	c.Artifact.Manifest = read
	c.Artifact.Layers = read
	c.Artifact.Config = read
	c.Artifact.Children = read
	c.Artifact.Chart = read
	c.Artifact.Annotations = read
	c.Artifact.PullCommand = read
	c.Artifact.Referrers = func(child int, _ *string) int { return read(child) }

	type cursor = *entgql.Cursor[int]
	c.Query.Projects = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.ProjectOrder, _ *ent.ProjectWhereInput) int {
		return page(child, first, last)
	}
	c.Query.Repositories = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.RepositoryOrder, _ *ent.RepositoryWhereInput) int {
		return page(child, first, last)
	}
	c.Query.Users = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.UserOrder, _ *ent.UserWhereInput) int {
		return page(child, first, last)
	}
	c.Query.Labels = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.LabelOrder, _ *ent.LabelWhereInput) int {
		return page(child, first, last)
	}
	c.Query.AuditLogs = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.AuditLogOrder, _ *ent.AuditLogWhereInput) int {
		return page(child, first, last)
	}
	c.Query.AccessTokens = func(child int, first *int, _ cursor) int { return page(child, first, nil) }
	c.Query.Nodes = func(child int, ids []int) int { return 1 + len(ids)*child }
	c.Project.Repositories = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.RepositoryOrder, _ *ent.RepositoryWhereInput) int {
		return page(child, first, last)
	}
	c.Repository.Artifacts = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.ArtifactOrder, _ *ent.ArtifactWhereInput) int {
		return page(child, first, last)
	}
	c.Repository.Tags = func(child int, _ cursor, first *int, _ cursor, last *int, _ *ent.TagOrder, _ *ent.TagWhereInput) int {
		return page(child, first, last)
	}
	c.Scan.Vulnerabilities = func(child int, first *int, _ cursor, _ *model.VulnerabilityWhereInput) int {
		return page(child, first, nil)
	}
	c.Query.Vulnerabilities = func(child int, first *int, _ cursor, _ *model.ArtifactVulnerabilityWhereInput) int {
		return page(child, first, nil)
	}
	c.SecuritySummary.DangerousVulnerabilities = func(child int, first *int) int { return page(child, first, nil) }
	c.SecuritySummary.DangerousArtifacts = func(child int, first *int) int { return page(child, first, nil) }
	c.Repository.SecuritySummary = func(child int) int { return 20 + child } // an aggregate query each: 100 repositories with their counts fit, not with 10 worst vulnerabilities each
	return c
}

// page is the complexity of a connection whose items cost child each.
// Arguments outside [0, maxPageSize] are refused by pageLimit; they still
// count as they are, so that the refusal is also a complexity one.
func page(child int, first, last *int) int {
	n := defaultPageSize
	switch {
	case first != nil:
		n = *first
	case last != nil:
		n = *last
	}
	if n < 1 {
		n = 1
	}
	if n > 1<<20 {
		n = 1 << 20 // keeps n*child from overflowing; far above any limit anyway
	}
	return 1 + n*child
}
