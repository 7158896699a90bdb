package scanner

import (
	"context"
	"slices"
	"sync"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/predicate"
	"github.com/berth-registry/berth/ent/scanfinding"
	"github.com/berth-registry/berth/ent/scanreport"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/scan/vulndb"
	"github.com/berth-registry/berth/internal/viewer"
)

// Reading reports, for GraphQL.

// Report returns an artifact's report, or nil when it was never scanned
// (or the caller may not read it). The reports asked for under the same
// batch key within a moment (the artifacts of one GraphQL response, which
// gqlgen resolves concurrently) are read with one query.
func (s *Service) Report(ctx context.Context, batch any, artifactID int) (*ent.ScanReport, error) {
	return s.loader.load(ctx, batch, artifactID)
}

// FindingFilter selects findings; zero fields select all.
type FindingFilter struct {
	Severities []scanfinding.Severity
	// Fixable: only findings with (true) or without (false) a fixed version.
	Fixable *bool
	// Package is an installed package's name or its source package's.
	Package string
	// ID is an OSV id or one of its aliases (a CVE id).
	ID string
}

// FindingPage is one page of a report's findings, worst first.
type FindingPage struct {
	Findings []*ent.ScanFinding
	Total    int
	HasNext  bool
}

// maxFilterText bounds the package and id of a FindingFilter.
const maxFilterText = 512

// predicates checks f and returns the conditions it puts on findings.
func (f FindingFilter) predicates() ([]predicate.ScanFinding, error) {
	if len(f.Package) > maxFilterText || len(f.ID) > maxFilterText {
		return nil, errdefs.Invalidf("package and id may be at most %d characters", maxFilterText)
	}
	if len(f.Severities) > 5 {
		return nil, errdefs.Invalidf("severity lists a level twice")
	}
	var ps []predicate.ScanFinding
	if len(f.Severities) > 0 {
		ps = append(ps, scanfinding.SeverityIn(f.Severities...))
	}
	if f.Fixable != nil {
		if *f.Fixable {
			ps = append(ps, scanfinding.FixedVersionNEQ(""))
		} else {
			ps = append(ps, scanfinding.FixedVersion(""))
		}
	}
	if f.Package != "" {
		ps = append(ps, scanfinding.Or(scanfinding.PackageName(f.Package), scanfinding.SourcePackage(f.Package)))
	}
	if f.ID != "" {
		id := f.ID
		ps = append(ps, scanfinding.Or(scanfinding.OsvID(id), func(s *entsql.Selector) {
			s.Where(sqljson.ValueContains(scanfinding.FieldAliases, id))
		}))
	}
	return ps, nil
}

// Findings returns up to first findings of a report the caller has read,
// after the finding at position after (0: from the start).
func (s *Service) Findings(ctx context.Context, r *ent.ScanReport, f FindingFilter, first, after int) (*FindingPage, error) {
	preds, err := f.predicates()
	if err != nil {
		return nil, err
	}
	// The report was read with the caller's rights; its findings go with it.
	sys := viewer.SystemContext(ctx)
	q := s.opts.Client.ScanFinding.Query().Where(scanfinding.ScanID(r.ID)).Where(preds...)
	total, err := q.Clone().Count(sys)
	if err != nil {
		return nil, err
	}
	if after > 0 {
		q.Where(scanfinding.PositionGT(after))
	}
	rows, err := q.Order(ent.Asc(scanfinding.FieldPosition)).Limit(first + 1).All(sys)
	if err != nil {
		return nil, err
	}
	page := &FindingPage{Findings: rows, Total: total}
	if len(rows) > first {
		page.Findings, page.HasNext = rows[:first], true
	}
	return page, nil
}

// DatabaseStatus lists the vulnerability database's ecosystems.
func (s *Service) DatabaseStatus(ctx context.Context) ([]vulndb.EcosystemStatus, error) {
	return vulndb.Status(ctx, s.opts.Client)
}

// loaderWait is how long a batch waits for more keys; loaderMax is the
// most keys one query asks for.
const (
	loaderWait = 2 * time.Millisecond
	loaderMax  = 500
)

// loader batches report reads by a caller's key (one GraphQL operation):
// every read under one key waits for the batch it joined.
type loader struct {
	client *ent.Client
	mu     sync.Mutex
	open   map[any]*reportBatch
}

type reportBatch struct {
	ids     []int
	done    chan struct{}
	reports map[int]*ent.ScanReport
	err     error
}

func newLoader(client *ent.Client) *loader {
	return &loader{client: client, open: map[any]*reportBatch{}}
}

func (l *loader) load(ctx context.Context, key any, id int) (*ent.ScanReport, error) {
	l.mu.Lock()
	b := l.open[key]
	if b == nil {
		b = &reportBatch{done: make(chan struct{})}
		l.open[key] = b
		// The first caller's context reads for the batch: every caller
		// under one key is the same viewer.
		go l.run(ctx, key, b)
	}
	b.ids = append(b.ids, id)
	if len(b.ids) >= loaderMax {
		delete(l.open, key)
	}
	l.mu.Unlock()
	select {
	case <-b.done:
		return b.reports[id], b.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *loader) run(ctx context.Context, key any, b *reportBatch) {
	defer close(b.done)
	time.Sleep(loaderWait)
	l.mu.Lock()
	if l.open[key] == b {
		delete(l.open, key)
	}
	ids := slices.Clone(b.ids)
	l.mu.Unlock()
	rows, err := l.client.ScanReport.Query().Where(scanreport.ArtifactIDIn(ids...)).All(ctx)
	b.reports, b.err = make(map[int]*ent.ScanReport, len(rows)), err
	for _, r := range rows {
		b.reports[r.ArtifactID] = r
	}
}
