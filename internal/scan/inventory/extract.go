package inventory

import (
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"

	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/os/osrelease"
	scalibrfs "github.com/google/osv-scalibr/fs"
	"github.com/google/osv-scalibr/stats"
)

// osReleasePaths are read by the OS extractors besides their own files.
var osReleasePaths = map[string]bool{"etc/os-release": true, "usr/lib/os-release": true}

// wantedBy returns whether a file must be kept for one of the extractors.
func wantedBy(exts []filesystem.Extractor) func(string, fs.FileInfo) bool {
	return func(path string, info fs.FileInfo) bool {
		if osReleasePaths[path] {
			return true
		}
		api := fileAPI{path: path, info: info}
		for _, e := range exts {
			if e.FileRequired(api) {
				return true
			}
		}
		return false
	}
}

// imageConfig is the part of the image config a scan reads.
type imageConfig struct {
	OS string `json:"os"`
}

// checkConfig rejects configs that are not JSON, and images of another OS
// than Linux. An empty config is accepted.
func checkConfig(raw []byte) error {
	if len(raw) == 0 {
		return nil
	}
	var cfg imageConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("%w: image config: %w", ErrNotScannable, err)
	}
	if cfg.OS != "" && cfg.OS != "linux" {
		return fmt.Errorf("%w: %s images are not supported", ErrNotScannable, cfg.OS)
	}
	return nil
}

// extract runs the extractors on the image's final file system and
// attributes each package to a layer.
func extract(ctx context.Context, t *tree, blob *os.File, layers []Layer, exts []filesystem.Extractor) (*Inventory, error) {
	final := &layerFS{view: view{tree: t, top: len(layers) - 1}, blob: blob}
	found, statuses, err := filesystem.Run(ctx, &filesystem.Config{
		Extractors: exts,
		ScanRoots:  []*scalibrfs.ScanRoot{{FS: final}},
		Stats:      stats.NoopCollector{},
	})
	if err != nil {
		return nil, fmt.Errorf("run extractors: %w", err)
	}
	byName := make(map[string]filesystem.Extractor, len(exts))
	for _, e := range exts {
		byName[e.Name()] = e
	}
	a := &attributor{tree: t, blob: blob, layers: len(layers), byName: byName}
	layerOf := a.attribute(ctx, found.Packages)

	inv := &Inventory{OS: readOSRelease(final)}
	for _, p := range found.Packages {
		out := convert(p)
		if i, ok := layerOf[p]; ok {
			out.LayerDigest = layers[i].Digest
		}
		inv.Packages = append(inv.Packages, out)
	}
	slices.SortFunc(inv.Packages, comparePackages)
	for _, s := range statuses {
		if s.Status == nil {
			continue
		}
		for _, fe := range s.Status.FileErrors {
			inv.Warnings = append(inv.Warnings, fmt.Sprintf("%s: /%s: %s", s.Name, fe.FilePath, fe.ErrorMessage))
		}
	}
	slices.Sort(inv.Warnings)
	return inv, nil
}

func readOSRelease(fsys scalibrfs.FS) OSRelease {
	m, err := osrelease.GetOSRelease(fsys)
	if err != nil {
		return OSRelease{}
	}
	return OSRelease{ID: m["ID"], VersionID: m["VERSION_ID"], PrettyName: m["PRETTY_NAME"]}
}

func comparePackages(a, b Package) int {
	return cmp.Or(
		cmp.Compare(a.Type, b.Type),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Version, b.Version),
		slices.Compare(a.Locations, b.Locations),
	)
}

// convert turns a scalibr package into ours.
func convert(p *extractor.Package) Package {
	out := Package{
		Name:      p.Name,
		Version:   p.Version,
		Type:      p.PURLType,
		Ecosystem: p.Ecosystem().String(),
	}
	if u := p.PURL(); u != nil {
		out.PURL = u.String()
	}
	if d := p.Location.Descriptor; d != nil && d.File != nil {
		out.Locations = append(out.Locations, "/"+strings.TrimPrefix(d.File.Path, "/"))
	}
	for _, r := range p.Location.Related {
		if r.File != nil {
			out.Locations = append(out.Locations, "/"+strings.TrimPrefix(r.File.Path, "/"))
		}
	}
	out.SourceName, out.SourceVersion = sourcePackage(p.Metadata)
	if m, ok := p.Metadata.(*rpmmeta.Metadata); ok {
		out.Epoch = m.Epoch
		// OSV scopes Rocky Linux records by major release ("Rocky
		// Linux:9"); scalibr names the ecosystem without it.
		if out.Ecosystem == "Rocky Linux" && m.OSVersionID != "" {
			major, _, _ := strings.Cut(m.OSVersionID, ".")
			out.Ecosystem += ":" + major
		}
	}
	return out
}
