package scanner

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/scanfinding"
	"github.com/berth-registry/berth/ent/scanreport"
	"github.com/berth-registry/berth/internal/scan/vulndb"
)

// scanIndex scans the images an index lists (those stored in the same
// repository), storing each one's report on its own artifact, and
// returns the summary of the index: the findings of all its images, each
// (vulnerability, package, version) once. An image whose report is
// already current (same database state) is not scanned again.
// image scans one of its images: the built-in scanner or an adapter.
func (s *Service) scanIndex(ctx context.Context, index *ent.Artifact, state dbState, by string,
	image func(context.Context, *ent.Artifact) (*result, error)) (*result, error) {
	children, err := s.opts.Client.Artifact.Query().
		Where(artifact.HasParentsWith(artifact.ID(index.ID)), artifact.ArtifactTypeEQ(artifact.ArtifactTypeIMAGE)).
		Order(ent.Asc(artifact.FieldID)).Limit(maxIndexImages + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the images of index %s: %w", index.Digest, err)
	}
	if len(children) == 0 {
		return &result{err: errors.New("the index lists no image stored in this repository")}, nil
	}
	if len(children) > maxIndexImages {
		return &result{err: fmt.Errorf("the index lists more than %d images", maxIndexImages)}, nil
	}
	sum := &result{}
	seen := map[[3]string]bool{}
	var failed []string
	for _, child := range children {
		res, err := s.current(ctx, child, state)
		if err != nil {
			return nil, err
		}
		if res == nil {
			if res, err = image(ctx, child); err != nil {
				return nil, err
			}
			if err := s.store(ctx, child, res, state, by); err != nil {
				return nil, err
			}
		}
		if res.err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", child.Digest, res.err))
			continue
		}
		if sum.os == "" {
			sum.os = res.os
		}
		sum.packages = max(sum.packages, res.packages)
		for i, f := range res.findings {
			x := res.extra[i]
			k := [3]string{f.ID, x.pkg, x.installed}
			if seen[k] {
				continue
			}
			seen[k] = true
			sum.findings = append(sum.findings, f)
			sum.extra = append(sum.extra, x)
		}
	}
	if len(failed) > 0 {
		sum.err = fmt.Errorf("%d of %d images failed: %s", len(failed), len(children), strings.Join(failed, "; "))
	}
	sum.sort()
	return sum, nil
}

// current returns what the image's report says when it was made against
// the database as it is now, or nil when the image must be scanned.
func (s *Service) current(ctx context.Context, a *ent.Artifact, state dbState) (*result, error) {
	rep, err := s.opts.Client.ScanReport.Query().
		Where(scanreport.ArtifactID(a.ID), scanreport.StatusEQ(scanreport.StatusSUCCESS), scanreport.DbState(state.key)).
		Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rows, err := rep.QueryFindings().Order(ent.Asc(scanfinding.FieldPosition)).All(ctx)
	if err != nil {
		return nil, err
	}
	res := &result{os: rep.Os, packages: rep.PackageCount}
	for _, r := range rows {
		pkg := r.SourcePackage
		if pkg == "" {
			pkg = r.PackageName
		}
		res.findings = append(res.findings, vulndb.Finding{
			ID: r.OsvID, Aliases: r.Aliases, Ecosystem: r.Ecosystem, Package: pkg, Version: r.InstalledVersion,
			FixedVersion: r.FixedVersion, Severity: vulndb.Severity(r.Severity), CVSSScore: r.CvssScore,
			CVSSVector: r.CvssVector, Summary: r.Summary, Links: r.Links,
		})
		res.extra = append(res.extra, findingExtra{pkg: r.PackageName, source: r.SourcePackage, installed: r.InstalledVersion, layer: r.LayerDigest})
	}
	return res, nil
}
