package inventory

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/language/java/archive"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagelockjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/language/ruby/gemspec"
	"github.com/google/osv-scalibr/extractor/filesystem/language/rust/cargoauditable"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	scalibrinv "github.com/google/osv-scalibr/inventory"
)

// extractorFactories are the scalibr plugins a scan runs. Only these are
// linked into the binary, not scalibr's full plugin list.
var extractorFactories = []func(*cpb.PluginConfig) (filesystem.Extractor, error){
	dpkg.New,            // /var/lib/dpkg/status, status.d/*
	apk.New,             // /lib/apk/db/installed
	rpm.New,             // rpm Packages, Packages.db, rpmdb.sqlite
	gobinary.New,        // module info of Go binaries
	cargoauditable.New,  // cargo-auditable data of Rust binaries
	packagelockjson.New, // package-lock.json, npm-shrinkwrap.json
	packagejson.New,     // node_modules/*/package.json
	wheelegg.New,        // Python dist-info/egg-info METADATA, PKG-INFO
	archive.New,         // Java jar/war/ear: pom.properties, manifest
	gemspec.New,         // Ruby *.gemspec
}

// newExtractors builds the extractors for one scan. tmpDir is where
// extractors that need a real file (rpm's database readers) get a copy.
func newExtractors(limits Limits, tmpDir string) ([]filesystem.Extractor, error) {
	hashJars := false
	cfg := &cpb.PluginConfig{
		MaxFileSizeBytes: limits.MaxFileBytes,
		PluginSpecific: []*cpb.PluginSpecificConfig{
			{Config: &cpb.PluginSpecificConfig_JavaArchive{JavaArchive: &cpb.JavaArchiveConfig{HashJars: &hashJars}}},
		},
	}
	exts := make([]filesystem.Extractor, 0, len(extractorFactories))
	for _, newExtractor := range extractorFactories {
		e, err := newExtractor(cfg)
		if err != nil {
			return nil, fmt.Errorf("create extractor: %w", err)
		}
		if e.Name() == rpm.Name {
			e = &realFileExtractor{Extractor: e, tmpDir: tmpDir}
		}
		exts = append(exts, e)
	}
	return exts, nil
}

// realFileExtractor runs an extractor that opens its file by path on the
// host (rpm's BerkeleyDB/NDB/SQLite readers) on a copy of the file in the
// scan's temporary directory. scalibr itself would copy it to the host's
// default temporary directory.
type realFileExtractor struct {
	filesystem.Extractor
	tmpDir string
}

// Extract copies the input file under the scan's temporary directory and
// extracts from the copy.
func (e *realFileExtractor) Extract(ctx context.Context, input *filesystem.ScanInput) (scalibrinv.Inventory, error) {
	root, err := os.MkdirTemp(e.tmpDir, "realfile-")
	if err != nil {
		return scalibrinv.Inventory{}, fmt.Errorf("create temporary directory: %w", err)
	}
	defer os.RemoveAll(root)
	dst := filepath.Join(root, filepath.FromSlash(input.Path))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return scalibrinv.Inventory{}, fmt.Errorf("create temporary directory: %w", err)
	}
	if err := copyToFile(dst, input.Reader); err != nil {
		return scalibrinv.Inventory{}, err
	}
	in := *input
	in.Root = root // the extractor joins Root and Path to find the file
	return e.Extractor.Extract(ctx, &in)
}

func copyToFile(dst string, r io.Reader) error {
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", dst, err)
	}
	return nil
}
