package scanner

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/scannerregistration"
	"github.com/berth-registry/berth/internal/scan/adapter"
	"github.com/berth-registry/berth/internal/scan/vulndb"
)

// Scans through a registered scanner adapter (internal/scan/adapter). A
// project's images go to the project's scanner, else to the system-wide
// default registration, else to the built-in scanner; a disabled or
// deleted registration means the built-in scanner. The adapter pulls the
// image from berth itself, at ExternalURL, with a pull-only token for the
// one repository that names the adapter (token.Service.IssueScanner).
//
// An adapter's report is stored as the built-in scanner's is (the same
// rows, counts and SCAN_COMPLETED event), with the adapter's name as its
// scanner and "adapter:<name>:<version>" as its database state: berth
// cannot know when the adapter's own database changes, so the hourly
// stale pass leaves adapter reports alone (all.go) and scan-all, which
// rescans whatever is not current against the built-in database, scans
// them again. Registrations are trusted like configuration: the system
// admin made them, and adapters usually run next to berth, so berth
// reaches them on private and loopback addresses too.

// adapterWait bounds how long one image's scan waits for its report.
const adapterWait = 5 * time.Minute

// adapterKeyPrefix starts the database-state key of adapter reports.
const adapterKeyPrefix = "adapter:"

const (
	mediaOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

// adapterFor returns the registration that scans the artifact, or nil
// for the built-in scanner. ctx is berth's own.
func (s *Service) adapterFor(ctx context.Context, a *ent.Artifact) (*ent.ScannerRegistration, error) {
	repo, err := s.opts.Client.Repository.Query().Where(repository.ID(a.RepositoryID)).WithProject().Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the repository of %s: %w", a.Digest, err)
	}
	q := s.opts.Client.ScannerRegistration.Query().Where(scannerregistration.Disabled(false))
	choice := ""
	if repo.Edges.Project != nil {
		choice = repo.Edges.Project.Scanner
	}
	switch choice {
	case BuiltIn:
		return nil, nil
	case "":
		q.Where(scannerregistration.IsDefault(true))
	default:
		q.Where(scannerregistration.Name(choice))
	}
	r, err := q.First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return r, err
}

// adapterState is the database-state key of reports made by r.
func adapterState(r *ent.ScannerRegistration) dbState {
	return dbState{key: clip(adapterKeyPrefix+r.Name+":"+r.ScannerVersion, 64)}
}

// scanAdapter has the adapter of r scan one image. The adapter's own
// failures (it could not pull or scan the image, it refused the request,
// its answer is wrong) come back in result.err; those another attempt
// may cure (no answer, no report in time, a scan it forgot) are returned.
func (s *Service) scanAdapter(ctx context.Context, a *ent.Artifact, r *ent.ScannerRegistration) (*result, error) {
	res, err := s.adapterScan(ctx, a, r)
	if res != nil {
		res.scanner = r.Name
	}
	return res, err
}

func (s *Service) adapterScan(ctx context.Context, a *ent.Artifact, r *ent.ScannerRegistration) (*result, error) {
	if s.Tokens == nil {
		return nil, errors.New("the scanner has no token service to let adapters pull")
	}
	authz, err := s.opts.Secrets.Open(r.Authorization, authorizationAD(r.Name))
	if err != nil {
		return &result{err: fmt.Errorf("the authorization of scanner %q: %w", r.Name, err)}, nil
	}
	c, err := adapter.New(adapter.Options{Name: r.Name, URL: r.URL, Authorization: authz,
		ReportMIMEType: r.ReportMimeType, HTTPClient: s.adapterHTTP})
	if err != nil {
		return &result{err: err}, nil
	}
	repo, err := s.opts.Client.Repository.Query().Where(repository.ID(a.RepositoryID)).WithProject().Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the repository of %s: %w", a.Digest, err)
	}
	projectName, _, _ := strings.Cut(repo.Name, "/")
	if repo.Edges.Project != nil {
		projectName = repo.Edges.Project.Name
	}
	tok, err := s.Tokens.IssueScanner(r.Name, projectName, repo.Name)
	if err != nil {
		return nil, fmt.Errorf("issuing the pull token of scanner %q: %w", r.Name, err)
	}
	req := adapter.ScanRequest{
		Registry: adapter.Registry{URL: registryURL(s.opts.ExternalURL), Authorization: "Bearer " + tok},
		Artifact: adapter.Artifact{Repository: repo.Name, Digest: a.Digest, MIMEType: a.MediaType},
	}
	report, err := c.ScanAndWait(ctx, req, adapterWait)
	switch {
	case err == nil:
	case errors.Is(err, adapter.ErrUnreachable), errors.Is(err, adapter.ErrTimedOut), errors.Is(err, adapter.ErrScanNotFound):
		return nil, err
	default:
		return &result{err: err}, nil
	}
	res := &result{}
	for _, f := range adapter.Findings(report) {
		res.findings = append(res.findings, vulndb.Finding{
			ID: f.ID, Aliases: f.Aliases, Package: f.Package, Version: f.InstalledVersion,
			FixedVersion: f.FixedVersion, Severity: f.Severity, CVSSScore: f.CVSSScore, CVSSVector: f.CVSSVector,
			Summary: f.Summary, Links: f.Links,
		})
		res.extra = append(res.extra, findingExtra{pkg: f.Package, installed: f.InstalledVersion, layer: f.LayerDigest})
	}
	res.sort()
	return res, nil
}

// registryURL is the scheme and host of berth's external URL: adapters
// pull from its /v2/.
func registryURL(external string) string {
	u, err := url.Parse(external)
	if err != nil || u.Host == "" {
		return external
	}
	return u.Scheme + "://" + u.Host
}
