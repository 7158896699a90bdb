// Package pullpolicy decides whether a project may serve an image: its
// "prevent vulnerable" policy (no finding at a severity threshold or worse
// in the image's latest scan, unless a CVE allowlist covers it; images
// without a successful scan refused unless allowed) and its signature
// requirement (a cosign or Notation signature that one of the project's
// keys or certificates verifies). It also keeps the CVE allowlists: the
// system's, which applies to every project, and each project's.
//
// The registry asks Check before it serves a manifest GET; HEAD requests,
// blobs and GraphQL reads are not refused, as in Harbor. A refusal is
// errdefs.ErrDenied (DENIED on /v2/), naming the policy, the artifact and
// the worst finding.
package pullpolicy

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/scanfinding"
	"github.com/berth-registry/berth/ent/scanreport"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// Service checks pulls against project policies and keeps CVE allowlists.
type Service struct {
	client    *ent.Client
	auth      *auth.Service
	blobs     BlobReader
	log       *slog.Logger
	now       func() time.Time
	verifiers verifiers
}

// New returns the service.
func New(client *ent.Client, authz *auth.Service, blobs BlobReader, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{client: client, auth: authz, blobs: blobs, log: log, now: time.Now}
}

// Active reports whether p has a pull policy in force, so that callers can
// skip Check (and its queries) for the projects without one.
func Active(p *ent.Project) bool {
	return p.PreventVulnerable || RequiresSignature(p)
}

// RequiresSignature reports whether p's images must be signed.
func RequiresSignature(p *ent.Project) bool {
	return len(p.CosignPublicKeys) > 0 || len(p.NotationCertificates) > 0
}

// Check returns nil if project p may serve artifact a of repository repo to
// the caller of ctx, and a DENIED error naming the policy otherwise. Only
// images and image indexes are subject to the policies: charts,
// signatures, SBOMs and other artifacts are served, so that clients can
// still fetch an image's signatures. berth's own reads and scanner
// adapters' pulls are never refused.
func (s *Service) Check(ctx context.Context, p *ent.Project, repo string, a *ent.Artifact) error {
	if !Active(p) {
		return nil
	}
	// berth's own reads, and a registered scanner adapter pulling the
	// image it was asked to scan, are never refused.
	if v := viewer.FromContext(ctx); v.Kind == viewer.System || v.Scanner != "" {
		return nil
	}
	if a.ArtifactType != artifact.ArtifactTypeIMAGE && a.ArtifactType != artifact.ArtifactTypeIMAGE_INDEX {
		return nil
	}
	if p.PreventVulnerable {
		if err := s.checkVulnerable(ctx, p, repo, a); err != nil {
			return err
		}
	}
	if RequiresSignature(p) {
		if err := s.checkSignatures(ctx, p, a); err != nil {
			return errdefs.Deniedf("pull of %s@%s refused by project %s's policy \"require signed images\": %v", repo, a.Digest, p.Name, err)
		}
	}
	return nil
}

// findingPage is how many findings at or above the threshold one query
// reads while looking for one the allowlists do not cover.
const findingPage = 200

// checkVulnerable applies the "prevent vulnerable" policy.
func (s *Service) checkVulnerable(ctx context.Context, p *ent.Project, repo string, a *ent.Artifact) error {
	sys := viewer.SystemContext(ctx)
	policy := fmt.Sprintf("project %s's policy \"prevent vulnerable images\" (%s and worse)", p.Name, p.PreventSeverity)
	report, err := s.client.ScanReport.Query().Where(scanreport.ArtifactID(a.ID)).
		Select(scanreport.FieldID, scanreport.FieldStatus).Only(sys)
	if err != nil && !ent.IsNotFound(err) {
		return fmt.Errorf("reading the scan of %s@%s: %w", repo, a.Digest, err)
	}
	if report == nil || report.Status != scanreport.StatusSUCCESS {
		if p.AllowUnscanned {
			return nil
		}
		state := "it has not been scanned"
		if report != nil {
			state = "its scan is " + strings.ToLower(string(report.Status))
		}
		return errdefs.Deniedf("pull of %s@%s refused by %s: %s and unscanned images are not allowed", repo, a.Digest, policy, state)
	}
	allowed, err := s.allowed(sys, p.ID)
	if err != nil {
		return err
	}
	levels := atOrAbove(p.PreventSeverity)
	for offset := 0; ; offset += findingPage {
		// Findings are stored worst first, so the first one no allowlist
		// covers is the worst.
		page, err := s.client.ScanFinding.Query().
			Where(scanfinding.ScanID(report.ID), scanfinding.SeverityIn(levels...)).
			Order(ent.Asc(scanfinding.FieldPosition)).Offset(offset).Limit(findingPage).
			Select(scanfinding.FieldOsvID, scanfinding.FieldAliases, scanfinding.FieldPackageName,
				scanfinding.FieldInstalledVersion, scanfinding.FieldFixedVersion, scanfinding.FieldSeverity).
			All(sys)
		if err != nil {
			return fmt.Errorf("reading the findings of %s@%s: %w", repo, a.Digest, err)
		}
		for _, f := range page {
			if covered(allowed, f) {
				continue
			}
			fix := "no fixed version"
			if f.FixedVersion != "" {
				fix = "fixed in " + f.FixedVersion
			}
			return errdefs.Deniedf("pull of %s@%s refused by %s: %s (%s) in %s %s, %s", repo, a.Digest, policy,
				findingName(f), f.Severity, f.PackageName, f.InstalledVersion, fix)
		}
		if len(page) < findingPage {
			return nil
		}
	}
}

// atOrAbove lists the finding severities at threshold or worse.
func atOrAbove(threshold project.PreventSeverity) []scanfinding.Severity {
	order := []scanfinding.Severity{scanfinding.SeverityCRITICAL, scanfinding.SeverityHIGH, scanfinding.SeverityMEDIUM, scanfinding.SeverityLOW}
	for i, s := range order {
		if string(s) == string(threshold) {
			return order[:i+1]
		}
	}
	return order[:1]
}

// findingName is how a refusal names a finding: its CVE id where it has
// one, with its OSV id.
func findingName(f *ent.ScanFinding) string {
	for _, alias := range f.Aliases {
		if strings.HasPrefix(alias, "CVE-") && alias != f.OsvID {
			return alias + " (" + f.OsvID + ")"
		}
	}
	return f.OsvID
}

// covered reports whether an allowlist entry names the finding's id or
// one of its aliases.
func covered(allowed map[string]bool, f *ent.ScanFinding) bool {
	if len(allowed) == 0 {
		return false
	}
	if allowed[strings.ToUpper(f.OsvID)] {
		return true
	}
	for _, alias := range f.Aliases {
		if allowed[strings.ToUpper(alias)] {
			return true
		}
	}
	return false
}
