package scanner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/predicate"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/scanfinding"
	"github.com/berth-registry/berth/ent/scanreport"
	"github.com/berth-registry/berth/ent/tag"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
)

// The security overview: findings and counts across the artifacts the
// caller may read. Every query here runs with the caller's context, so
// the privacy rules of ent/schema (the artifacts of the projects the
// viewer may see) decide what is counted, as they do for Artifact.scan.
//
// The artifacts counted are images and image indexes that no index
// lists: an index's report sums up the images it lists, each finding
// once, so counting those images too would count their findings twice.

// OverviewFilter selects findings across artifacts; zero fields select all.
type OverviewFilter struct {
	FindingFilter
	// Project is a project name: only its artifacts.
	Project string
	// Repository is a repository's full name (project/path): only its
	// artifacts.
	Repository string
}

// ArtifactFinding is one finding of an artifact's latest scan, with the
// artifact (its repository and tags loaded).
type ArtifactFinding struct {
	Vulnerability *ent.ScanFinding
	Artifact      *ent.Artifact
}

// OverviewPage is one page of findings across artifacts, worst first.
type OverviewPage struct {
	Findings []*ArtifactFinding
	Total    int
	HasNext  bool
}

// Position is where a finding stands in the overview's order (severity,
// CVSS score descending, OSV id, row id): a page goes on after one.
type Position struct {
	Severity scanfinding.Severity
	CVSS     float64
	OsvID    string
	ID       int
}

// PositionOf returns the position of f.
func PositionOf(f *ent.ScanFinding) Position {
	return Position{Severity: f.Severity, CVSS: f.CvssScore, OsvID: f.OsvID, ID: f.ID}
}

// Key is the position without its row id, for a cursor.
func (p Position) Key() string {
	return string(p.Severity) + " " + strconv.FormatFloat(p.CVSS, 'g', -1, 64) + " " + p.OsvID
}

// ParsePosition reads back a position from its row id and Key.
func ParsePosition(id int, key string) (Position, error) {
	parts := strings.SplitN(key, " ", 3)
	if len(parts) != 3 {
		return Position{}, errdefs.Invalidf("invalid cursor")
	}
	sev := scanfinding.Severity(parts[0])
	score, err := strconv.ParseFloat(parts[1], 64)
	if err != nil || scanfinding.SeverityValidator(sev) != nil {
		return Position{}, errdefs.Invalidf("invalid cursor")
	}
	return Position{Severity: sev, CVSS: score, OsvID: parts[2], ID: id}, nil
}

// severityByRank lists severities worst first, as rankSQL ranks them.
var severityByRank = []scanfinding.Severity{
	scanfinding.SeverityCRITICAL, scanfinding.SeverityHIGH, scanfinding.SeverityMEDIUM,
	scanfinding.SeverityLOW, scanfinding.SeverityUNKNOWN,
}

// rankSQL is the rank of a finding's severity (0 for CRITICAL).
func rankSQL(s *entsql.Selector) string {
	c := s.C(scanfinding.FieldSeverity)
	return "(CASE " + c + " WHEN 'CRITICAL' THEN 0 WHEN 'HIGH' THEN 1 WHEN 'MEDIUM' THEN 2 WHEN 'LOW' THEN 3 ELSE 4 END)"
}

// byteOrder is column compared in byte order on every database (COLLATE
// "C" on PostgreSQL, whose linguistic collations ignore punctuation), so
// that pages and tests see one order.
func byteOrder(s *entsql.Selector, column string) string {
	c := s.C(column)
	if s.Dialect() == dialect.Postgres {
		c += ` COLLATE "C"`
	}
	return c
}

// scope is the artifacts an overview counts: top-level images and
// indexes, of one project, one repository (both: of the repository when
// it is the project's, else none) or of all; the privacy rules add the
// caller's.
type scope struct{ projectID, repositoryID int }

// scopeOf resolves a project name and a repository's full name ("" for
// all) the caller may read: NOT_FOUND for either the caller may not see.
func (s *Service) scopeOf(ctx context.Context, projectName, repositoryName string) (scope, error) {
	var sc scope
	if projectName != "" {
		p, err := s.opts.Auth.ProjectCan(ctx, projectName, auth.RepositoryPull)
		if err != nil {
			return scope{}, err
		}
		sc.projectID = p.ID
	}
	if repositoryName != "" {
		id, err := s.repositoryID(ctx, repositoryName)
		if err != nil {
			return scope{}, err
		}
		sc.repositoryID = id
	}
	return sc, nil
}

// repositoryID resolves a repository's full name the caller may read as
// its project's artifacts are read: with a pull permission on the
// project, then through the privacy rules.
func (s *Service) repositoryID(ctx context.Context, name string) (int, error) {
	notFound := errdefs.NotFoundf("repository %q does not exist", name)
	projectName, _, ok := strings.Cut(name, "/")
	if !ok {
		return 0, notFound
	}
	p, err := s.opts.Auth.ProjectCan(ctx, projectName, auth.RepositoryPull)
	if errors.Is(err, errdefs.ErrNotFound) {
		return 0, notFound
	}
	if err != nil {
		return 0, err
	}
	id, err := s.opts.Client.Repository.Query().Where(repository.ProjectID(p.ID), repository.Name(name)).OnlyID(ctx)
	if ent.IsNotFound(err) {
		return 0, notFound
	}
	return id, err
}

func (sc scope) artifacts() []predicate.Artifact {
	ps := []predicate.Artifact{
		artifact.ArtifactTypeIn(artifact.ArtifactTypeIMAGE, artifact.ArtifactTypeIMAGE_INDEX),
		artifact.Not(artifact.HasParents()),
	}
	if sc.projectID != 0 {
		ps = append(ps, artifact.HasRepositoryWith(repository.ProjectID(sc.projectID)))
	}
	if sc.repositoryID != 0 {
		ps = append(ps, artifact.RepositoryID(sc.repositoryID))
	}
	return ps
}

func (sc scope) findings() predicate.ScanFinding {
	return scanfinding.HasScanWith(scanreport.HasArtifactWith(sc.artifacts()...))
}

// artifactColumns are the artifact columns pages need: not the manifest
// and annotations, up to 4 MiB each, which Artifact's resolvers read
// when asked for.
var artifactColumns = func() []string {
	var out []string
	for _, c := range artifact.Columns {
		if c != artifact.FieldManifest && c != artifact.FieldAnnotations {
			out = append(out, c)
		}
	}
	return out
}()

// withArtifactDetails loads an artifact's repository and tags along.
func withArtifactDetails(q *ent.ArtifactQuery) {
	q.Select(artifactColumns...).WithRepository().WithTags(func(t *ent.TagQuery) { t.Order(ent.Asc(tag.FieldName)) })
}

// findingQuery is the query of the findings f selects in sc.
func (s *Service) findingQuery(f FindingFilter, sc scope) (*ent.ScanFindingQuery, error) {
	preds, err := f.predicates()
	if err != nil {
		return nil, err
	}
	return s.opts.Client.ScanFinding.Query().Where(sc.findings()).Where(preds...), nil
}

// withArtifacts loads each finding's report and artifact along.
func withArtifacts(q *ent.ScanFindingQuery) *ent.ScanFindingQuery {
	return q.WithScan(func(r *ent.ScanReportQuery) {
		r.Select(scanreport.FieldArtifactID).WithArtifact(withArtifactDetails)
	})
}

func artifactFindings(rows []*ent.ScanFinding) []*ArtifactFinding {
	out := make([]*ArtifactFinding, 0, len(rows))
	for _, r := range rows {
		af := &ArtifactFinding{Vulnerability: r}
		if r.Edges.Scan != nil {
			af.Artifact = r.Edges.Scan.Edges.Artifact
		}
		if af.Artifact != nil { // always, unless deleted between the queries
			out = append(out, af)
		}
	}
	return out
}

// Vulnerabilities returns up to first findings across the artifacts the
// caller may read, worst first, after the finding at after (nil: from the
// start), with how many match in all: three queries for the page (the
// count, the findings, their artifacts with repositories and tags).
func (s *Service) Vulnerabilities(ctx context.Context, f OverviewFilter, first int, after *Position) (*OverviewPage, error) {
	sc, err := s.scopeOf(ctx, f.Project, f.Repository)
	if err != nil {
		return nil, err
	}
	q, err := s.findingQuery(f.FindingFilter, sc)
	if err != nil {
		return nil, err
	}
	total, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, err
	}
	if after != nil {
		q.Where(afterPosition(*after))
	}
	rows, err := withArtifacts(q).Order(worstFirst).Limit(first + 1).All(ctx)
	if err != nil {
		return nil, err
	}
	page := &OverviewPage{Total: total}
	if len(rows) > first {
		rows, page.HasNext = rows[:first], true
	}
	page.Findings = artifactFindings(rows)
	return page, nil
}

// worstFirst orders findings by severity, CVSS score descending, OSV id
// and row id: the order Position describes.
func worstFirst(s *entsql.Selector) {
	s.OrderExpr(entsql.Expr(rankSQL(s) + ", " + s.C(scanfinding.FieldCvssScore) + " DESC, " +
		byteOrder(s, scanfinding.FieldOsvID) + ", " + s.C(scanfinding.FieldID)))
}

// afterPosition keeps the findings that come after p in worstFirst order.
func afterPosition(p Position) predicate.ScanFinding {
	return func(s *entsql.Selector) {
		rank, cvss, osv, id := rankSQL(s), s.C(scanfinding.FieldCvssScore), byteOrder(s, scanfinding.FieldOsvID), s.C(scanfinding.FieldID)
		r := slices.Index(severityByRank, p.Severity)
		s.Where(entsql.P(func(b *entsql.Builder) {
			b.WriteString("(" + rank + " > ").Arg(r).
				WriteString(" OR (" + rank + " = ").Arg(r).
				WriteString(" AND (" + cvss + " < ").Arg(p.CVSS).
				WriteString(" OR (" + cvss + " = ").Arg(p.CVSS).
				WriteString(" AND (" + osv + " > ").Arg(p.OsvID).
				WriteString(" OR (" + osv + " = ").Arg(p.OsvID).
				WriteString(" AND " + id + " > ").Arg(p.ID).
				WriteString("))))))")
		}))
	}
}

// Summary is what the latest scans found over the artifacts the caller
// may read, of one project, of one repository or of all.
type Summary struct {
	Critical, High, Medium, Low, Unknown int
	// TotalCount is the findings in all, FixableCount those with a fix.
	TotalCount, FixableCount int
	// ArtifactCount is the images and indexes counted: ScannedCount of
	// them scanned, FailedCount failed, UnscannedCount the rest.
	ArtifactCount, ScannedCount, FailedCount, UnscannedCount int
	scope                                                    scope
}

// Summary counts findings by severity (the reports' own counts) and the
// artifacts by where their scans are, in one query, over the artifacts of
// project (all the caller may read for "").
func (s *Service) Summary(ctx context.Context, project string) (*Summary, error) {
	sc, err := s.scopeOf(ctx, project, "")
	if err != nil {
		return nil, err
	}
	return s.summarize(ctx, sc)
}

// RepositorySummary is Summary over the artifacts of one repository, for
// a caller who has read it (Repository.securitySummary): the privacy
// rules still decide which of its artifacts are counted.
func (s *Service) RepositorySummary(ctx context.Context, repositoryID int) (*Summary, error) {
	return s.summarize(ctx, scope{repositoryID: repositoryID})
}

// summarize counts the findings and artifacts of sc in one query.
func (s *Service) summarize(ctx context.Context, sc scope) (*Summary, error) {
	var rows []struct {
		Artifacts int `sql:"artifacts"`
		Scanned   int `sql:"scanned"`
		Failed    int `sql:"failed"`
		Critical  int `sql:"critical"`
		High      int `sql:"high"`
		Medium    int `sql:"medium"`
		Low       int `sql:"low"`
		Unknown   int `sql:"unknown"`
		Fixable   int `sql:"fixable"`
	}
	err := s.opts.Client.Artifact.Query().Where(sc.artifacts()...).Modify(func(s *entsql.Selector) {
		r := entsql.Table(scanreport.Table)
		s.LeftJoin(r).On(s.C(artifact.FieldID), r.C(scanreport.FieldArtifactID))
		status := r.C(scanreport.FieldStatus)
		sum := func(col, as string) string { return entsql.As("COALESCE(SUM("+r.C(col)+"), 0)", as) }
		s.Select(
			entsql.As("COUNT(*)", "artifacts"),
			entsql.As("COALESCE(SUM(CASE WHEN "+status+" = 'SUCCESS' THEN 1 ELSE 0 END), 0)", "scanned"),
			entsql.As("COALESCE(SUM(CASE WHEN "+status+" = 'ERROR' THEN 1 ELSE 0 END), 0)", "failed"),
			sum(scanreport.FieldCritical, "critical"), sum(scanreport.FieldHigh, "high"),
			sum(scanreport.FieldMedium, "medium"), sum(scanreport.FieldLow, "low"),
			sum(scanreport.FieldUnknown, "unknown"), sum(scanreport.FieldFixable, "fixable"),
		)
	}).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("summing up scans: %w", err)
	}
	out := &Summary{scope: sc}
	if len(rows) == 1 {
		r := rows[0]
		out.Critical, out.High, out.Medium, out.Low, out.Unknown = r.Critical, r.High, r.Medium, r.Low, r.Unknown
		out.TotalCount = r.Critical + r.High + r.Medium + r.Low + r.Unknown
		out.FixableCount = r.Fixable
		out.ArtifactCount, out.ScannedCount, out.FailedCount = r.Artifacts, r.Scanned, r.Failed
		out.UnscannedCount = r.Artifacts - r.Scanned - r.Failed
	}
	return out, nil
}

// DangerousVulnerability is one vulnerability over every artifact of a
// summary it is found in.
type DangerousVulnerability struct {
	OsvID    string
	Aliases  []string
	Severity scanfinding.Severity
	// CvssScore is the highest CVSS score of its findings; nil when none
	// has a CVSS vector.
	CvssScore     *float64
	ArtifactCount int
	// FixedVersion is the greatest fixed version (as text) of its
	// findings; nil when none has one.
	FixedVersion *string
	Summary      string
}

// DangerousVulnerabilities returns the n worst vulnerabilities of a
// summary: by severity, then by how many artifacts they are found in,
// then by CVSS score; one GROUP BY query.
func (s *Service) DangerousVulnerabilities(ctx context.Context, sum *Summary, n int) ([]*DangerousVulnerability, error) {
	if n <= 0 {
		return []*DangerousVulnerability{}, nil
	}
	var rows []struct {
		OsvID     string            `sql:"osv_id"`
		Rank      int               `sql:"sev_rank"`
		CVSS      float64           `sql:"max_cvss"`
		Artifacts int               `sql:"artifact_count"`
		Fixed     entsql.NullString `sql:"fixed"`
		Aliases   entsql.NullString `sql:"alias_list"`
		Summary   entsql.NullString `sql:"summary_text"`
	}
	err := s.opts.Client.ScanFinding.Query().Where(sum.scope.findings()).Modify(func(s *entsql.Selector) {
		c := s.C
		s.Select(
			c(scanfinding.FieldOsvID),
			entsql.As("MIN"+rankSQL(s), "sev_rank"),
			// -1: no finding has a CVSS vector (and no NULL, which the
			// databases sort at opposite ends).
			entsql.As("MAX(CASE WHEN "+c(scanfinding.FieldCvssVector)+" <> '' THEN "+c(scanfinding.FieldCvssScore)+" ELSE -1 END)", "max_cvss"),
			entsql.As("COUNT(DISTINCT "+c(scanfinding.FieldScanID)+")", "artifact_count"),
			entsql.As("MAX(NULLIF("+c(scanfinding.FieldFixedVersion)+", ''))", "fixed"),
			entsql.As("MIN(CAST("+c(scanfinding.FieldAliases)+" AS TEXT))", "alias_list"),
			entsql.As("MIN("+c(scanfinding.FieldSummary)+")", "summary_text"),
		).GroupBy(c(scanfinding.FieldOsvID)).
			OrderExpr(entsql.Expr("sev_rank, artifact_count DESC, max_cvss DESC, " + byteOrder(s, scanfinding.FieldOsvID))).
			Limit(n)
	}).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("listing the worst vulnerabilities: %w", err)
	}
	out := make([]*DangerousVulnerability, len(rows))
	for i, r := range rows {
		v := &DangerousVulnerability{OsvID: r.OsvID, ArtifactCount: r.Artifacts, Summary: r.Summary.String, Aliases: []string{}}
		if r.Rank >= 0 && r.Rank < len(severityByRank) {
			v.Severity = severityByRank[r.Rank]
		}
		if r.CVSS >= 0 {
			score := r.CVSS
			v.CvssScore = &score
		}
		if r.Fixed.Valid {
			fixed := r.Fixed.String
			v.FixedVersion = &fixed
		}
		if r.Aliases.Valid && r.Aliases.String != "" {
			if err := json.Unmarshal([]byte(r.Aliases.String), &v.Aliases); err != nil || v.Aliases == nil {
				v.Aliases = []string{}
			}
		}
		out[i] = v
	}
	return out, nil
}

// DangerousArtifact is an artifact of a summary with its report's counts.
type DangerousArtifact struct {
	Artifact                             *ent.Artifact
	Critical, High, Medium, Low, Unknown int
	FixableCount                         int
}

// DangerousArtifacts returns the n artifacts of a summary with the most
// critical findings, then high, medium, low and unknown ones, with their
// repositories and tags (a query for the reports and one per edge).
func (s *Service) DangerousArtifacts(ctx context.Context, sum *Summary, n int) ([]*DangerousArtifact, error) {
	if n <= 0 {
		return []*DangerousArtifact{}, nil
	}
	reports, err := s.opts.Client.ScanReport.Query().
		Where(scanreport.HasArtifactWith(sum.scope.artifacts()...),
			scanreport.Or(scanreport.CriticalGT(0), scanreport.HighGT(0), scanreport.MediumGT(0), scanreport.LowGT(0), scanreport.UnknownGT(0))).
		Order(ent.Desc(scanreport.FieldCritical), ent.Desc(scanreport.FieldHigh), ent.Desc(scanreport.FieldMedium),
			ent.Desc(scanreport.FieldLow), ent.Desc(scanreport.FieldUnknown), ent.Asc(scanreport.FieldArtifactID)).
		Limit(n).WithArtifact(withArtifactDetails).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the most vulnerable artifacts: %w", err)
	}
	out := make([]*DangerousArtifact, 0, len(reports))
	for _, r := range reports {
		if r.Edges.Artifact == nil {
			continue
		}
		out = append(out, &DangerousArtifact{Artifact: r.Edges.Artifact, Critical: r.Critical, High: r.High,
			Medium: r.Medium, Low: r.Low, Unknown: r.Unknown, FixableCount: r.Fixable})
	}
	return out, nil
}
