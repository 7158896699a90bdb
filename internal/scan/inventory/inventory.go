// Package inventory lists the software packages in a container image: OS
// packages (dpkg, apk, rpm) and language packages (Go and Rust binaries, npm,
// PyPI, Maven, RubyGems), each attributed to the layer that added it.
//
// It reads the image's layer blobs itself into a layered in-memory file tree
// (applying whiteouts and opaque directories, never writing the image to
// disk) and runs a fixed set of osv-scalibr extractors over it. Only the
// content of files an extractor wants is kept, in one temporary file.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Errors a scan returns, to be matched with errors.Is.
var (
	// ErrNotScannable: the image holds something else than a container
	// filesystem (a Helm chart, an SBOM or other artifact, a foreign layer
	// format). The caller should record the image as "not scannable".
	ErrNotScannable = errors.New("not a scannable container image")
	// ErrInvalidLayer: a layer is not a valid tar, or is malicious (a path
	// escaping the image root, a malformed whiteout).
	ErrInvalidLayer = errors.New("invalid image layer")
	// ErrLimitExceeded: the image is larger than the scan's Limits allow.
	ErrLimitExceeded = errors.New("image exceeds scan limits")
)

// Layer is one layer blob of the image, in manifest order.
type Layer struct {
	// Digest and MediaType are the layer's descriptor fields in the manifest.
	Digest    string
	MediaType string
	// Size is the blob size from the manifest.
	Size int64
	// Open returns the blob as stored (compressed or not).
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Image is one platform's image: its config and layers.
type Image struct {
	// Config is the image config JSON.
	Config []byte
	Layers []Layer
}

// OSRelease is the distribution identified by the image's /etc/os-release.
type OSRelease struct {
	ID         string // e.g. "debian", "alpine"
	VersionID  string // e.g. "12", "3.19.1"
	PrettyName string
}

// Package is one software package found in the image.
type Package struct {
	Name    string
	Version string
	// Ecosystem is the OSV ecosystem, distro-scoped where OSV is
	// ("Debian:12", "Alpine:v3.19", "Go", "npm", "PyPI", ...); empty when
	// scalibr knows of no OSV ecosystem for the package.
	Ecosystem string
	// PURL is the package URL, empty if none could be made.
	PURL string
	// Type is the PURL type: "deb", "apk", "rpm", "golang", "npm", "pypi",
	// "maven", "gem", "cargo".
	Type string
	// SourceName and SourceVersion are the OS source package, when the
	// package manager records it (dpkg, apk origin, rpm).
	SourceName    string
	SourceVersion string
	// Epoch is an rpm package's epoch (0 when it has none): Version is
	// version-release, as rpm prints it without the epoch.
	Epoch int
	// LayerDigest is the digest of the layer the package is attributed to:
	// the first layer from which on the package was present, unchanged, in
	// every later layer (see Scan).
	LayerDigest string
	// Locations are the paths in the image the package was found from,
	// first the file it was extracted from.
	Locations []string
}

// Inventory is the result of a scan.
type Inventory struct {
	OS       OSRelease
	Packages []Package
	// Warnings are files an extractor failed to read; the scan still
	// succeeded for the rest of the image.
	Warnings []string
}

// Limits bound the resources one scan may use. Zero fields take the value
// of DefaultLimits.
type Limits struct {
	// MaxUncompressedBytes bounds the bytes of layer tars read, all layers
	// together.
	MaxUncompressedBytes int64
	// MaxFiles bounds the number of tar entries, all layers together.
	MaxFiles int
	// MaxTempBytes bounds the bytes of file content kept on disk for the
	// extractors.
	MaxTempBytes int64
	// MaxFileBytes is the size of the largest file given to an extractor;
	// larger files are skipped.
	MaxFileBytes int64
	// TempDir is the directory under which the scan makes its temporary
	// directory, removed when the scan ends; empty means os.TempDir().
	TempDir string
}

// DefaultLimits returns the limits used for zero Limits fields.
func DefaultLimits() Limits {
	return Limits{
		MaxUncompressedBytes: 16 << 30,
		MaxFiles:             2_000_000,
		MaxTempBytes:         4 << 30,
		MaxFileBytes:         1 << 30,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxUncompressedBytes <= 0 {
		l.MaxUncompressedBytes = d.MaxUncompressedBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = d.MaxFiles
	}
	if l.MaxTempBytes <= 0 {
		l.MaxTempBytes = d.MaxTempBytes
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = d.MaxFileBytes
	}
	return l
}

// Scan lists the packages of img.
//
// A package is attributed to a layer by the rule of scalibr's layer tracing
// (trace.PopulateLayerDetails), reimplemented in linear time: walking down
// from the last layer, the package's file is re-extracted, by the same
// extractor, as the image stood after each lower layer that wrote that file;
// the package belongs to the lowest layer from which on it is found, with
// the same PURL in the same file, in every state of the image up to the
// last layer. So a package upgraded by a later layer belongs to that later
// layer, a package deleted and installed again belongs to the layer that
// installed it again, and a package whose file a later layer rewrote without
// changing it stays with the layer that first installed it. Packages removed
// by whiteouts or opaque directories are not listed.
func Scan(ctx context.Context, img Image, limits Limits) (*Inventory, error) {
	limits = limits.withDefaults()
	if len(img.Layers) == 0 {
		return nil, fmt.Errorf("%w: image has no layers", ErrNotScannable)
	}
	if err := checkConfig(img.Config); err != nil {
		return nil, err
	}
	for i, l := range img.Layers {
		if !Scannable(l.MediaType) {
			return nil, fmt.Errorf("%w: layer %d (%s) has media type %q", ErrNotScannable, i, l.Digest, l.MediaType)
		}
	}

	tmp, err := os.MkdirTemp(limits.TempDir, "berth-inventory-")
	if err != nil {
		return nil, fmt.Errorf("create scan directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	blob, err := os.Create(filepath.Join(tmp, "content"))
	if err != nil {
		return nil, fmt.Errorf("create content file: %w", err)
	}
	defer blob.Close()

	extractors, err := newExtractors(limits, tmp)
	if err != nil {
		return nil, err
	}
	t, err := readLayers(ctx, img.Layers, blob, limits, wantedBy(extractors))
	if err != nil {
		return nil, err
	}
	return extract(ctx, t, blob, img.Layers, extractors)
}

// readLayers reads every layer, in order, into a new tree.
func readLayers(ctx context.Context, layers []Layer, blob *os.File, limits Limits, wanted func(string, os.FileInfo) bool) (*tree, error) {
	u := &unpacker{tree: newTree(), blob: blob, limits: limits, wanted: wanted}
	for i, l := range layers {
		if err := readLayer(ctx, u, i, l); err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", i, l.Digest, err)
		}
	}
	return u.tree, nil
}

func readLayer(ctx context.Context, u *unpacker, index int, l Layer) error {
	rc, err := l.Open(ctx)
	if err != nil {
		return fmt.Errorf("open blob: %w", err)
	}
	defer rc.Close()
	tr, err := decompress(rc)
	if err != nil {
		return err
	}
	defer tr.Close()
	return u.addLayer(ctx, index, tr)
}
