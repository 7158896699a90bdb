package scanner

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/scan/inventory"
	"github.com/berth-registry/berth/internal/scan/vulndb"
)

// errBadContent: the image's own bytes are wrong; scanning again will not help.
var errBadContent = errors.New("invalid image")

// result is what a scan found in one image, or in the images of an index.
type result struct {
	os       string
	packages int
	findings []vulndb.Finding
	// extra holds what vulndb.Finding does not say, index by index.
	extra []findingExtra
	// err is set when the scan failed for a reason that scanning again
	// will not change: the image is not scannable, its layers are invalid
	// or too large. It is stored as the report's error.
	err error
	// scanner made the report: a registered adapter's name, "" for the
	// built-in scanner.
	scanner string
}

type findingExtra struct {
	pkg, source, installed, layer string
}

// scanImage lists the packages of an image manifest, matches them and
// attaches the image's SBOMs (sbom.go). Errors about the image itself
// come back in result.err; other errors (the blob store, the database)
// are returned.
func (s *Service) scanImage(ctx context.Context, a *ent.Artifact) (*result, error) {
	m, err := artifacts.ParseManifest(a.MediaType, a.Manifest)
	if err != nil {
		return &result{err: fmt.Errorf("the manifest does not parse: %w", err)}, nil
	}
	if m.IsIndex() || m.Config == nil {
		return &result{err: errors.New("not an image manifest")}, nil
	}
	config, err := s.readConfig(ctx, m.Config.Digest, m.Config.Size)
	if errors.Is(err, errBadContent) {
		return &result{err: err}, nil
	}
	if err != nil {
		return nil, err
	}
	img := inventory.Image{Config: config}
	for _, l := range m.Layers {
		d := l.Digest
		img.Layers = append(img.Layers, inventory.Layer{
			Digest: d.String(), MediaType: l.MediaType, Size: l.Size,
			Open: func(ctx context.Context) (io.ReadCloser, error) { return s.opts.Blobs.Open(ctx, d, 0) },
		})
	}
	inv, err := inventory.Scan(ctx, img, s.opts.Limits)
	switch {
	case errors.Is(err, inventory.ErrNotScannable), errors.Is(err, inventory.ErrInvalidLayer), errors.Is(err, inventory.ErrLimitExceeded):
		return &result{err: err}, nil
	case err != nil:
		return nil, fmt.Errorf("listing the packages of %s: %w", a.Digest, err)
	}
	res, err := s.match(ctx, inv)
	if err != nil {
		return nil, err
	}
	// Before the report: whoever reads the report, or its event, finds
	// the SBOM in place.
	s.attachSBOMs(ctx, a, config, inv)
	return res, nil
}

// readConfig reads an image config from the blob store, at most
// maxConfigSize bytes, and checks its digest.
func (s *Service) readConfig(ctx context.Context, d digest.Digest, size int64) ([]byte, error) {
	if size > maxConfigSize {
		return nil, fmt.Errorf("%w: the image config is %d bytes, more than %d", errBadContent, size, maxConfigSize)
	}
	rc, err := s.opts.Blobs.Open(ctx, d, 0)
	if err != nil {
		return nil, fmt.Errorf("reading the image config %s: %w", d, err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(rc, maxConfigSize+1)); err != nil {
		return nil, fmt.Errorf("reading the image config %s: %w", d, err)
	}
	if buf.Len() > maxConfigSize || d.Validate() != nil || d.Algorithm().FromBytes(buf.Bytes()) != d {
		return nil, fmt.Errorf("%w: the image config %s does not match its digest", errBadContent, d)
	}
	return buf.Bytes(), nil
}

// queryOf is how the vulnerability database names an installed package:
// Debian, Ubuntu and Alpine records name the source package, so a binary
// package (libssl3) is looked up by its source (openssl) and the source's
// version.
func queryOf(p inventory.Package) vulndb.Query {
	q := vulndb.Query{Ecosystem: p.Ecosystem, Name: p.Name, Version: p.Version}
	if p.Type == "rpm" && p.Epoch > 0 {
		// OSV's rpm versions carry the epoch ("1:1.2.3-4.el9"); without
		// it a package compares as epoch 0, below every fix.
		q.Version = strconv.Itoa(p.Epoch) + ":" + p.Version
	}
	if (p.Type == "deb" || p.Type == "apk") && p.SourceName != "" {
		q.Name = p.SourceName
		if p.SourceVersion != "" {
			q.Version = p.SourceVersion
		}
	}
	return q
}

// match looks an inventory's packages up: one query per distinct
// (ecosystem, name, version), its findings given to every package that
// asked it.
func (s *Service) match(ctx context.Context, inv *inventory.Inventory) (*result, error) {
	res := &result{packages: len(inv.Packages)}
	if inv.OS.ID != "" {
		res.os = strings.TrimSpace(inv.OS.ID + " " + inv.OS.VersionID)
	}
	var queries []vulndb.Query
	asked := map[vulndb.Query][]int{}
	for i, p := range inv.Packages {
		q := queryOf(p)
		if q.Ecosystem == "" || q.Name == "" || q.Version == "" {
			continue
		}
		if asked[q] == nil {
			queries = append(queries, q)
		}
		asked[q] = append(asked[q], i)
	}
	found, err := vulndb.Match(ctx, s.opts.Client, queries)
	if err != nil {
		return nil, err
	}
	for _, f := range found {
		q := vulndb.Query{Ecosystem: f.Ecosystem, Name: f.Package, Version: f.Version}
		for _, i := range asked[q] {
			p := inv.Packages[i]
			x := findingExtra{pkg: p.Name, installed: p.Version, layer: p.LayerDigest}
			if f.Package != p.Name {
				x.source = f.Package
			}
			res.findings = append(res.findings, f)
			res.extra = append(res.extra, x)
		}
	}
	res.sort()
	return res, nil
}

// sort puts the findings worst first: severity, CVSS score, then id,
// package and version for a stable order.
func (r *result) sort() {
	idx := make([]int, len(r.findings))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		fa, fb := r.findings[a], r.findings[b]
		xa, xb := r.extra[a], r.extra[b]
		return cmp.Or(
			cmp.Compare(fb.Severity.Rank(), fa.Severity.Rank()),
			cmp.Compare(fb.CVSSScore, fa.CVSSScore),
			cmp.Compare(fa.ID, fb.ID),
			cmp.Compare(xa.pkg, xb.pkg),
			cmp.Compare(xa.installed, xb.installed),
		)
	})
	findings := make([]vulndb.Finding, len(idx))
	extra := make([]findingExtra, len(idx))
	for i, j := range idx {
		findings[i], extra[i] = r.findings[j], r.extra[j]
	}
	r.findings, r.extra = findings, extra
}
