package inventory

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/google/osv-scalibr/extractor/filesystem"
)

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
	// maxPathLen bounds the length of one entry's path.
	maxPathLen = 4096
)

// unpacker reads layer tars into a tree, keeping the content of the files
// an extractor wants in one blob file in the scan's temporary directory.
type unpacker struct {
	tree     *tree
	blob     *os.File
	blobSize int64
	limits   Limits
	// wanted reports whether some extractor will read the file at path.
	wanted func(path string, info fs.FileInfo) bool
	// read counts uncompressed bytes across all layers.
	read    int64
	entries int
}

// addLayer reads the uncompressed tar of layer index into the tree.
func (u *unpacker) addLayer(ctx context.Context, index int, r io.Reader) error {
	tr := tar.NewReader(&countingReader{r: r, n: &u.read, limit: u.limits.MaxUncompressedBytes})
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if errors.Is(err, ErrLimitExceeded) {
				return err
			}
			return fmt.Errorf("%w: read tar: %w", ErrInvalidLayer, err)
		}
		if u.entries++; u.entries > u.limits.MaxFiles {
			return fmt.Errorf("%w: more than %d files", ErrLimitExceeded, u.limits.MaxFiles)
		}
		if err := u.addEntry(index, hdr, tr); err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
}

// cleanName turns a tar entry name into a path relative to the image root,
// or "." for the root itself. Names that climb above the root are rejected.
func cleanName(name string) (string, error) {
	if len(name) > maxPathLen {
		return "", fmt.Errorf("%w: path longer than %d bytes", ErrInvalidLayer, maxPathLen)
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("%w: NUL in path", ErrInvalidLayer)
	}
	p := path.Clean("/" + name)
	// Clean("/"+name) would silently drop a leading "..": check the raw form.
	if raw := path.Clean(strings.TrimLeft(name, "/")); raw == ".." || strings.HasPrefix(raw, "../") {
		return "", fmt.Errorf("%w: path escapes the image root", ErrInvalidLayer)
	}
	if p == "/" {
		return ".", nil
	}
	return p[1:], nil
}

func (u *unpacker) addEntry(layer int, hdr *tar.Header, content io.Reader) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "." {
		return nil // the root directory's own entry
	}
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if base == opaqueMarker {
		parent := u.dirNode(layer, dir)
		parent.parentDir(layer)
		v := parent.at(layer)
		v.opaque, v.implicit = true, false
		return nil
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		target := strings.TrimPrefix(base, whiteoutPrefix)
		if target == "" || target == "." || target == ".." {
			return fmt.Errorf("%w: malformed whiteout", ErrInvalidLayer)
		}
		u.node(layer, dir, target).set(version{layer: layer, kind: kindDeleted})
		return nil
	}

	info := hdr.FileInfo()
	v := version{layer: layer, mode: info.Mode(), modTime: hdr.ModTime, size: hdr.Size}
	switch hdr.Typeflag {
	case tar.TypeDir:
		v.kind, v.size = kindDir, 0
	case tar.TypeReg, tar.TypeGNUSparse:
		v.kind = kindFile
		if v.content, err = u.keep(name, info, content, hdr.Size); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return fmt.Errorf("%w: symlink without target", ErrInvalidLayer)
		}
		v.kind, v.target, v.size = kindSymlink, hdr.Linkname, int64(len(hdr.Linkname))
	case tar.TypeLink:
		if v, err = u.hardlink(layer, hdr.Linkname); err != nil {
			return err
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		v.kind, v.size = kindOther, 0
	default:
		return nil // tar metadata entries (PAX, GNU long names) are consumed by archive/tar
	}
	u.node(layer, dir, base).set(v)
	return nil
}

// hardlink returns the version of a hard link: a copy of its target as the
// image looks in layer so far. The link has content only if the target's
// was kept, i.e. if an extractor wanted the target.
func (u *unpacker) hardlink(layer int, linkname string) (version, error) {
	target, err := cleanName(linkname)
	if err != nil {
		return version{}, fmt.Errorf("hard link target: %w", err)
	}
	lfs := &layerFS{view: view{tree: u.tree, top: layer}}
	r, err := lfs.resolve("link", target, false)
	if err != nil || r.ver.kind != kindFile {
		// A link to nothing we know: keep the path, without content.
		return version{layer: layer, kind: kindFile, mode: 0o644}, nil
	}
	v := *r.ver
	v.layer = layer
	return v, nil
}

// dirNode returns the node of directory dir, making it and its parents
// directories of layer.
func (u *unpacker) dirNode(layer int, dir string) *node {
	n := &u.tree.root
	if dir == "" {
		return n
	}
	for _, c := range strings.Split(dir, "/") {
		n = u.tree.child(n, c, true)
		n.parentDir(layer)
	}
	return n
}

// node returns the node of dir/base, creating the parents as directories
// of layer.
func (u *unpacker) node(layer int, dir, base string) *node {
	return u.tree.child(u.dirNode(layer, dir), base, true)
}

// keep copies the content of a file an extractor wants into the blob and
// returns where it is; it returns nil for other files, which the tar reader
// then skips.
func (u *unpacker) keep(name string, info fs.FileInfo, r io.Reader, size int64) (*span, error) {
	if size > u.limits.MaxFileBytes || !u.wanted(name, info) {
		return nil, nil
	}
	if u.blobSize+size > u.limits.MaxTempBytes {
		return nil, fmt.Errorf("%w: more than %d bytes of files to scan", ErrLimitExceeded, u.limits.MaxTempBytes)
	}
	n, err := io.CopyN(u.blob, r, size)
	if err != nil {
		if errors.Is(err, ErrLimitExceeded) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: copy file: %w", ErrInvalidLayer, err)
	}
	s := &span{off: u.blobSize, size: n}
	u.blobSize += n
	return s, nil
}

// countingReader fails once more than limit bytes were read through all
// the readers sharing n.
type countingReader struct {
	r     io.Reader
	n     *int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	if *c.n > c.limit {
		return n, fmt.Errorf("%w: more than %d uncompressed bytes", ErrLimitExceeded, c.limit)
	}
	return n, err
}

// fileAPI adapts a tar entry to scalibr's FileAPI for FileRequired.
type fileAPI struct {
	path string
	info fs.FileInfo
}

var _ filesystem.FileAPI = fileAPI{}

func (a fileAPI) Path() string               { return a.path }
func (a fileAPI) Stat() (fs.FileInfo, error) { return a.info, nil }
