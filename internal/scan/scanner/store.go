package scanner

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/ent/osvecosystem"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/scanfinding"
	"github.com/berth-registry/berth/ent/scanreport"
	"github.com/berth-registry/berth/ent/tag"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/scan/vulndb"
)

// scannerVersion is part of every report's database state: raising it
// when what a scan makes changes makes scan-all (and the hourly pass)
// scan every image again. 2: scans attach SBOMs.
const scannerVersion = 2

// findingChunk is how many findings one INSERT writes (16 columns each,
// well under SQLite's and PostgreSQL's bind-parameter limits).
const findingChunk = 500

// maxEventTags bounds the tags a SCAN_COMPLETED event names.
const maxEventTags = 100

// dbState is the state of the vulnerability database a scan matched
// against: a digest of every ecosystem's record count and last change,
// and the newest of those changes.
type dbState struct {
	key     string
	updated *time.Time
}

// databaseState reads the vulnerability database's state. An import that
// changes any ecosystem changes it; one that changes nothing does not.
func (s *Service) databaseState(ctx context.Context) (dbState, error) {
	rows, err := s.opts.Client.OSVEcosystem.Query().Order(osvecosystem.ByName()).All(ctx)
	if err != nil {
		return dbState{}, fmt.Errorf("reading the vulnerability database's state: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "scanner %d\n", scannerVersion)
	var st dbState
	for _, r := range rows {
		fmt.Fprintf(h, "%s %d %d\n", r.Name, r.Records, r.UpdatedAt.UnixMicro())
		if st.updated == nil || r.UpdatedAt.After(*st.updated) {
			t := r.UpdatedAt
			st.updated = &t
		}
	}
	st.key = hex.EncodeToString(h.Sum(nil))[:32]
	return st, nil
}

// store replaces the artifact's report and findings with res, and
// records a SCAN_COMPLETED event, in one transaction. ctx is berth's own.
func (s *Service) store(ctx context.Context, a *ent.Artifact, res *result, state dbState, by string) error {
	counts := map[vulndb.Severity]int{}
	fixable := 0
	for _, f := range res.findings {
		counts[f.Severity]++
		if f.FixedVersion != "" {
			fixable++
		}
	}
	status, message := scanreport.StatusSUCCESS, ""
	if res.err != nil {
		status, message = scanreport.StatusERROR, clip(res.err.Error(), 2048)
	}
	repo, err := s.opts.Client.Repository.Query().Where(repository.ID(a.RepositoryID)).WithProject().Only(ctx)
	if err != nil {
		return fmt.Errorf("reading the repository of %s: %w", a.Digest, err)
	}
	tags, err := s.opts.Client.Tag.Query().Where(tag.ArtifactID(a.ID)).Order(ent.Asc(tag.FieldName)).
		Limit(maxEventTags).Select(tag.FieldName).Strings(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	err = database.WithTx(ctx, s.opts.Client, func(tx *ent.Tx) error {
		report := tx.ScanReport.Create().SetArtifactID(a.ID).
			SetStatus(status).SetError(message).SetFinishedAt(now).
			SetOs(clip(res.os, 256)).SetPackageCount(res.packages).
			SetCritical(counts[vulndb.Critical]).SetHigh(counts[vulndb.High]).SetMedium(counts[vulndb.Medium]).
			SetLow(counts[vulndb.Low]).SetUnknown(counts[vulndb.Unknown]).SetFixable(fixable).
			SetDbState(state.key).SetNillableDbUpdatedAt(state.updated).SetScanner(cmp.Or(res.scanner, BuiltIn))
		var null []string
		if state.updated == nil {
			null = append(null, scanreport.FieldDbUpdatedAt)
		}
		id, err := upsertReport(ctx, report, null...)
		if err != nil {
			return err
		}
		if _, err := tx.ScanFinding.Delete().Where(scanfinding.ScanID(id)).Exec(ctx); err != nil {
			return err
		}
		if err := insertFindings(ctx, tx, id, res); err != nil {
			return err
		}
		detail := map[string]any{
			"status": string(status), "critical": counts[vulndb.Critical], "high": counts[vulndb.High],
			"medium": counts[vulndb.Medium], "low": counts[vulndb.Low], "unknown": counts[vulndb.Unknown],
			"fixable": fixable, "packages": res.packages,
		}
		if message != "" {
			detail["error"] = message
		}
		project := ""
		if repo.Edges.Project != nil {
			project = repo.Edges.Project.Name
		}
		return tx.Change.Create().SetOperation(change.OperationSCAN_COMPLETED).
			SetProject(project).SetRepository(repo.Name).SetDigest(a.Digest).SetMediaType(a.MediaType).
			SetTags(tags).SetSize(a.Size).SetActor(clip(by, 255)).SetDetail(detail).Exec(ctx)
	})
	if err != nil {
		return fmt.Errorf("storing the scan of %s: %w", a.Digest, err)
	}
	s.changed()
	return nil
}

// upsertReport creates the artifact's report, or updates the columns c
// sets (and sets those of null to NULL) if it has one, and returns its id.
func upsertReport(ctx context.Context, c *ent.ScanReportCreate, null ...string) (int, error) {
	fields := c.Mutation().Fields()
	return c.OnConflict(entsql.ConflictColumns(scanreport.FieldArtifactID), entsql.ResolveWith(func(u *entsql.UpdateSet) {
		for _, f := range fields {
			if f != scanreport.FieldArtifactID {
				u.SetExcluded(f)
			}
		}
		for _, f := range null {
			u.SetNull(f)
		}
	})).ID(ctx)
}

// insertFindings writes a report's findings in order, the first
// MaxStoredFindings of them.
func insertFindings(ctx context.Context, tx *ent.Tx, reportID int, res *result) error {
	n := min(len(res.findings), MaxStoredFindings)
	for start := 0; start < n; start += findingChunk {
		end := min(start+findingChunk, n)
		creates := make([]*ent.ScanFindingCreate, 0, end-start)
		for i := start; i < end; i++ {
			f, x := res.findings[i], res.extra[i]
			creates = append(creates, tx.ScanFinding.Create().SetScanID(reportID).SetPosition(i+1).
				SetOsvID(clip(f.ID, 128)).SetAliases(bounded(f.Aliases, 64, 128)).
				SetPackageName(clip(x.pkg, 512)).SetSourcePackage(clip(x.source, 512)).
				SetEcosystem(clip(f.Ecosystem, 128)).SetInstalledVersion(clip(x.installed, 256)).
				SetFixedVersion(clip(f.FixedVersion, 256)).SetSeverity(scanfinding.Severity(f.Severity)).
				SetCvssScore(f.CVSSScore).SetCvssVector(clip(f.CVSSVector, 256)).
				SetSummary(clip(f.Summary, 1024)).SetLinks(bounded(f.Links, 32, 2048)).
				SetLayerDigest(clip(x.layer, 128)))
		}
		if err := tx.ScanFinding.CreateBulk(creates...).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// clip cuts s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// bounded keeps at most n strings of a list, dropping those longer than
// size.
func bounded(list []string, n, size int) []string {
	out := make([]string, 0, min(len(list), n))
	for _, s := range list {
		if len(out) == n {
			break
		}
		if len(s) <= size {
			out = append(out, s)
		}
	}
	return out
}
