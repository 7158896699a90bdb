package scanner

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/scanfinding"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// The CSV export of a project's findings: GET
// /api/projects/{project}/vulnerabilities.csv, behind the same
// authentication as /graphql.

// MaxExportRows bounds the rows of one CSV export; its X-Total-Count
// header says how many findings matched.
const MaxExportRows = 100_000

// exportChunk is how many findings one query of an export reads: the
// export streams, holding one chunk at a time.
const exportChunk = 1000

// ExportColumns are the columns of the CSV export, its first row.
var ExportColumns = []string{
	"repository", "digest", "tags", "package", "installed_version", "fixed_version",
	"vulnerability_id", "aliases", "severity", "cvss_score", "summary",
}

// ExportHandler serves a project's findings as CSV, to whoever may read
// the project (a project the caller may not see is 404, as in GraphQL).
// Query parameters filter as Query.vulnerabilities does: severity (a
// comma-separated list), fixable (true or false), cve, package,
// repository (a full name, project/path). Rows come grouped by artifact,
// each artifact's worst first; at most MaxExportRows. Cells that a
// spreadsheet would read as a formula are neutralised (see exportRecord).
func (s *Service) ExportHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		project := r.PathValue("project")
		f, err := exportFilter(r.URL.Query())
		if err != nil {
			s.exportError(ctx, w, err)
			return
		}
		sc, err := s.scopeOf(ctx, project, strings.TrimSpace(r.URL.Query().Get("repository")))
		if err != nil {
			s.exportError(ctx, w, err)
			return
		}
		q, err := s.findingQuery(f, sc)
		if err != nil {
			s.exportError(ctx, w, err)
			return
		}
		total, err := q.Clone().Count(ctx)
		if err != nil {
			s.exportError(ctx, w, err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		// Project names are [a-z0-9._-]: nothing to escape.
		h.Set("Content-Disposition", `attachment; filename="`+project+`-vulnerabilities.csv"`)
		h.Set("Cache-Control", "private, no-store")
		h.Set("X-Total-Count", strconv.Itoa(total))
		if r.Method == http.MethodHead {
			return
		}
		rc := http.NewResponseController(w)
		if err := writeCSV(ctx, w, q, MaxExportRows, func() { _ = rc.Flush() }); err != nil {
			s.opts.Logger.ErrorContext(ctx, "exporting vulnerabilities", "project", project, "user", viewer.FromContext(ctx).Name(), "err", err)
			// Cut the response short, so that the client sees an
			// error rather than a CSV that looks complete.
			panic(http.ErrAbortHandler)
		}
	})
}

// exportFilter reads the filter of an export from its query string.
func exportFilter(q url.Values) (FindingFilter, error) {
	f := FindingFilter{ID: strings.TrimSpace(q.Get("cve")), Package: strings.TrimSpace(q.Get("package"))}
	for _, list := range q["severity"] {
		for _, v := range strings.Split(list, ",") {
			if v = strings.ToUpper(strings.TrimSpace(v)); v == "" {
				continue
			}
			sev := scanfinding.Severity(v)
			if scanfinding.SeverityValidator(sev) != nil {
				return f, errdefs.Invalidf("unknown severity %q: CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN", v)
			}
			f.Severities = append(f.Severities, sev)
		}
	}
	if v := q.Get("fixable"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, errdefs.Invalidf("fixable is true or false")
		}
		f.Fixable = &b
	}
	return f, nil
}

// writeCSV writes the header and up to limit findings of q, in row order,
// a chunk at a time, flushing after each.
func writeCSV(ctx context.Context, w io.Writer, q *ent.ScanFindingQuery, limit int, flush func()) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ExportColumns); err != nil {
		return err
	}
	last, written := 0, 0
	for written < limit {
		n := min(exportChunk, limit-written)
		chunk := q.Clone()
		if last > 0 {
			chunk.Where(scanfinding.IDGT(last))
		}
		rows, err := withArtifacts(chunk).Order(ent.Asc(scanfinding.FieldID)).Limit(n).All(ctx)
		if err != nil {
			return err
		}
		for _, af := range artifactFindings(rows) {
			if err := cw.Write(exportRecord(af)); err != nil {
				return err
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		flush()
		written += len(rows)
		if len(rows) < n {
			break
		}
		last = rows[len(rows)-1].ID
	}
	return nil
}

// exportRecord is one finding as a CSV row of ExportColumns; tags and
// aliases are separated by spaces.
//
// The cells whose text berth does not control are neutralised against
// formula injection (OWASP's "CSV Injection"): package names and versions
// come from the files of the image a project developer pushed (a dpkg
// status file may say anything, and nothing checks that a version starts
// with a digit), vulnerability ids, aliases, fixed versions and summaries
// from the vulnerability database or a pluggable scanner's report. The
// others keep their exact text because berth validates their form and none
// may start with = + - @, a tab or a carriage return: repository names
// and tags (their grammars start with a letter, a digit or, for tags, _),
// the digest (sha256:...), the severity (an enum) and the CVSS score (a
// number from 0 to 10).
func exportRecord(af *ArtifactFinding) []string {
	a, v := af.Artifact, af.Vulnerability
	repo := ""
	if a.Edges.Repository != nil {
		repo = a.Edges.Repository.Name
	}
	tags := make([]string, len(a.Edges.Tags))
	for i, t := range a.Edges.Tags {
		tags[i] = t.Name
	}
	score := ""
	if v.CvssVector != "" {
		score = strconv.FormatFloat(v.CvssScore, 'f', -1, 64)
	}
	c := neutralizeFormula
	return []string{
		repo, a.Digest, strings.Join(tags, " "), c(v.PackageName), c(v.InstalledVersion), c(v.FixedVersion),
		c(v.OsvID), c(strings.Join(v.Aliases, " ")), string(v.Severity), score, c(v.Summary),
	}
}

// neutralizeFormula prefixes a cell that a spreadsheet would evaluate as a
// formula (one starting with =, +, -, @, a tab or a carriage return) with
// an apostrophe, which makes spreadsheets read it as text, as OWASP
// recommends; other cells are unchanged. A legitimate value starting with
// one of them, such as an npm scoped package (@scope/name), comes out with
// the apostrophe too: scripts reading the CSV strip it.
func neutralizeFormula(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// exportError answers an export that cannot start, in the shape of
// /graphql's errors, so that a script reads extensions.code either way.
func (s *Service) exportError(ctx context.Context, w http.ResponseWriter, err error) {
	status, code, msg := http.StatusInternalServerError, "INTERNAL", "internal error"
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		status, code, msg = http.StatusNotFound, "NOT_FOUND", err.Error()
	case errors.Is(err, errdefs.ErrDenied):
		status, code, msg = http.StatusForbidden, "FORBIDDEN", err.Error()
	case errors.Is(err, errdefs.ErrUnauthenticated):
		status, code, msg = http.StatusUnauthorized, "UNAUTHENTICATED", err.Error()
	case errors.Is(err, errdefs.ErrInvalid):
		status, code, msg = http.StatusBadRequest, "BAD_USER_INPUT", err.Error()
	default:
		s.opts.Logger.ErrorContext(ctx, "exporting vulnerabilities", "user", viewer.FromContext(ctx).Name(), "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []any{map[string]any{"message": msg, "extensions": map[string]string{"code": code}}},
	})
}
