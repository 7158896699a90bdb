package inventory

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	scalibrfs "github.com/google/osv-scalibr/fs"
)

// maxSymlinkHops bounds symlink resolution, like the kernel's ELOOP limit.
const maxSymlinkHops = 40

var (
	errSymlinkLoop    = errors.New("too many levels of symbolic links")
	errNotDir         = errors.New("not a directory")
	errContentNotKept = errors.New("file content was not kept for scanning")
)

// layerFS is a read-only file system over one view of the image's layers.
// Paths are resolved inside the image: symlinks, absolute or relative, and
// ".." never lead outside its root.
type layerFS struct {
	view
	blob io.ReaderAt
}

var _ scalibrfs.FS = (*layerFS)(nil)

// resolved is a path resolved in a view.
type resolved struct {
	name  string
	node  *node
	ver   *version
	floor int // lowest layer whose children of node are visible
}

// resolve walks name from the root, following symlinks in every component
// and, if followFinal is set, in the last one.
func (f *layerFS) resolve(op, name string, followFinal bool) (resolved, error) {
	if !fs.ValidPath(name) {
		return resolved{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	root := resolved{name: ".", node: &f.tree.root}
	root.ver = f.effective(root.node, 0)
	root.floor = f.childFloor(root.node, 0)
	stack := []resolved{root}
	comps := splitPath(name)
	hops := 0
	for len(comps) > 0 {
		c := comps[0]
		comps = comps[1:]
		cur := stack[len(stack)-1]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if cur.ver.kind != kindDir {
			return resolved{}, &fs.PathError{Op: op, Path: name, Err: errNotDir}
		}
		child := f.tree.child(cur.node, c, false)
		if child == nil {
			return resolved{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		ver := f.effective(child, cur.floor)
		if ver == nil || ver.kind == kindDeleted {
			return resolved{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if ver.kind == kindSymlink && (len(comps) > 0 || followFinal) {
			if hops++; hops > maxSymlinkHops {
				return resolved{}, &fs.PathError{Op: op, Path: name, Err: errSymlinkLoop}
			}
			if strings.HasPrefix(ver.target, "/") {
				stack = stack[:1]
			}
			comps = append(splitPath(ver.target), comps...)
			continue
		}
		stack = append(stack, resolved{
			name:  path.Join(cur.name, c),
			node:  child,
			ver:   ver,
			floor: f.childFloor(child, cur.floor),
		})
	}
	return stack[len(stack)-1], nil
}

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

// Open opens the named file or directory, following symlinks.
func (f *layerFS) Open(name string) (fs.File, error) {
	r, err := f.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	info := fileInfo{name: path.Base(r.name), ver: r.ver}
	if r.ver.kind == kindDir {
		return &dirHandle{info: info}, nil
	}
	h := &fileHandle{info: info}
	if r.ver.content != nil {
		h.r = io.NewSectionReader(f.blob, r.ver.content.off, r.ver.content.size)
	}
	return h, nil
}

// Stat describes the named file, following symlinks.
func (f *layerFS) Stat(name string) (fs.FileInfo, error) {
	r, err := f.resolve("stat", name, true)
	if err != nil {
		return nil, err
	}
	return fileInfo{name: path.Base(r.name), ver: r.ver}, nil
}

// ReadDir lists the named directory, sorted by name. Symlinks in it are
// reported as symlinks.
func (f *layerFS) ReadDir(name string) ([]fs.DirEntry, error) {
	r, err := f.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if r.ver.kind != kindDir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	entries := make([]fs.DirEntry, 0, len(r.node.children))
	for childName, child := range r.node.children {
		ver := f.effective(child, r.floor)
		if ver == nil || ver.kind == kindDeleted {
			continue
		}
		entries = append(entries, fs.FileInfoToDirEntry(fileInfo{name: childName, ver: ver}))
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// fileInfo describes one version of a path.
type fileInfo struct {
	name string
	ver  *version
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.ver.size }
func (i fileInfo) Mode() fs.FileMode  { return i.ver.mode }
func (i fileInfo) ModTime() time.Time { return i.ver.modTime }
func (i fileInfo) IsDir() bool        { return i.ver.kind == kindDir }
func (i fileInfo) Sys() any           { return nil }

// dirHandle is an open directory. It does not implement fs.ReadDirFile:
// callers list directories with layerFS.ReadDir.
type dirHandle struct{ info fileInfo }

func (d *dirHandle) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirHandle) Close() error               { return nil }
func (d *dirHandle) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

// fileHandle is an open regular file. Its content can be read only if it
// was kept while reading the layer.
type fileHandle struct {
	info fileInfo
	r    *io.SectionReader
}

func (h *fileHandle) Stat() (fs.FileInfo, error) { return h.info, nil }
func (h *fileHandle) Close() error               { return nil }

func (h *fileHandle) Read(p []byte) (int, error) {
	if h.r == nil {
		return 0, h.notKept()
	}
	return h.r.Read(p)
}

// ReadAt implements io.ReaderAt, which scalibr's binary and archive
// extractors require.
func (h *fileHandle) ReadAt(p []byte, off int64) (int, error) {
	if h.r == nil {
		return 0, h.notKept()
	}
	return h.r.ReadAt(p, off)
}

// Seek implements io.Seeker.
func (h *fileHandle) Seek(off int64, whence int) (int64, error) {
	if h.r == nil {
		return 0, h.notKept()
	}
	return h.r.Seek(off, whence)
}

func (h *fileHandle) notKept() error {
	if h.info.ver.kind != kindFile {
		return &fs.PathError{Op: "read", Path: h.info.name, Err: os.ErrInvalid}
	}
	return &fs.PathError{Op: "read", Path: h.info.name, Err: errContentNotKept}
}
