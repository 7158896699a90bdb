package inventory

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"
)

// attributor finds the layer each package comes from. It applies the rule
// of scalibr's trace.PopulateLayerDetails (see Scan), but extracts each
// file once per layer and compares packages through maps: the scalibr
// version compares every package with every other one of its file, which
// is quadratic in the size of a dpkg database.
type attributor struct {
	tree   *tree
	blob   *os.File
	layers int
	byName map[string]filesystem.Extractor
}

// source is the file a group of packages was extracted from, and by whom.
type source struct {
	extractor string
	path      string
}

// attribute returns the layer index of every package that can be traced;
// the others (no file location, unknown plugin) are absent from the map.
func (a *attributor) attribute(ctx context.Context, pkgs []*extractor.Package) map[*extractor.Package]int {
	groups := map[source][]*extractor.Package{}
	for _, p := range pkgs {
		path := p.Location.PathOrEmpty()
		for _, name := range p.Plugins {
			if _, ok := a.byName[name]; ok && path != "" {
				s := source{extractor: name, path: path}
				groups[s] = append(groups[s], p)
				break
			}
		}
	}
	layerOf := make(map[*extractor.Package]int, len(pkgs))
	for s, group := range groups {
		a.traceGroup(ctx, s, group, layerOf)
	}
	return layerOf
}

// traceGroup walks down the layers from the last one. A package belongs to
// the layer above the first state of the image in which the same extractor
// no longer finds it (same PURL) in the same file.
func (a *attributor) traceGroup(ctx context.Context, s source, group []*extractor.Package, layerOf map[*extractor.Package]int) {
	pending := make(map[string][]*extractor.Package, len(group))
	for _, p := range group {
		k := purlKey(p)
		pending[k] = append(pending[k], p)
	}
	lastScanned := a.layers - 1
	for i := a.layers - 2; i >= 0 && len(pending) > 0; i-- {
		chain := &layerFS{view: view{tree: a.tree, top: i}, blob: a.blob}
		var present map[string]bool
		if _, err := chain.Stat(s.path); errors.Is(err, fs.ErrNotExist) {
			present = nil // the file did not exist yet: nothing was there
		} else if a.touchedBy(i, group[0].Location) {
			present = a.extractAt(ctx, chain, s)
		} else {
			continue // layer i left the file as the layer below had it
		}
		for k, ps := range pending {
			if present[k] {
				continue
			}
			for _, p := range ps {
				layerOf[p] = lastScanned
			}
			delete(pending, k)
		}
		lastScanned = i
	}
	for _, ps := range pending {
		for _, p := range ps {
			layerOf[p] = lastScanned
		}
	}
}

// touchedBy reports whether layer i itself wrote one of the files of loc.
func (a *attributor) touchedBy(i int, loc extractor.PackageLocation) bool {
	own := &layerFS{view: view{tree: a.tree, top: i, single: true}, blob: a.blob}
	if _, err := own.Stat(loc.PathOrEmpty()); err == nil {
		return true
	}
	for _, r := range loc.Related {
		if r.File == nil {
			continue
		}
		if _, err := own.Stat(strings.TrimPrefix(r.File.Path, "/")); err == nil {
			return true
		}
	}
	return false
}

// extractAt runs the extractor of s on its file in one state of the image
// and returns the PURL keys of what it finds.
func (a *attributor) extractAt(ctx context.Context, fsys *layerFS, s source) map[string]bool {
	f, err := fsys.Open(s.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil
	}
	found, _ := a.byName[s.extractor].Extract(ctx, &filesystem.ScanInput{FS: fsys, Path: s.path, Info: info, Reader: f})
	present := make(map[string]bool, len(found.Packages))
	for _, p := range found.Packages {
		present[purlKey(p)] = true
	}
	return present
}

func purlKey(p *extractor.Package) string {
	if u := p.PURL(); u != nil {
		return u.String()
	}
	return p.Name + "@" + p.Version
}

// sourcePackage returns the OS source package recorded in an OS package's
// metadata.
func sourcePackage(metadata any) (name, version string) {
	switch m := metadata.(type) {
	case *dpkgmeta.Metadata:
		return m.SourceName, m.SourceVersion
	case *apkmeta.Metadata:
		return m.OriginName, ""
	case *rpmmeta.Metadata:
		// "openssl-3.0.7-27.el9.src.rpm": name-version-release.src.rpm
		s := strings.TrimSuffix(m.SourceRPM, ".src.rpm")
		if i := strings.LastIndexByte(s, '-'); i > 0 {
			if j := strings.LastIndexByte(s[:i], '-'); j > 0 {
				return s[:j], s[j+1:]
			}
		}
		return s, ""
	}
	return "", ""
}
