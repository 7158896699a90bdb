package inventory

import (
	"io/fs"
	"time"
)

// kind is what a path is in one layer.
type kind uint8

const (
	kindDeleted kind = iota // whiteout: the path is removed from lower layers
	kindDir
	kindFile
	kindSymlink
	kindOther // device, fifo: exists but has no content
)

// version is the state of one path as written by one layer.
type version struct {
	layer int
	kind  kind
	// opaque marks a directory that hides every child from lower layers
	// (an opaque whiteout, or a whiteout followed by the directory in one layer).
	opaque bool
	// implicit marks a directory the layer did not list itself but which is the
	// parent of an entry it did list.
	implicit bool
	mode     fs.FileMode
	size     int64
	modTime  time.Time
	target   string // symlink target, as written in the tar
	// content is the byte range of the file in the scan's content blob; nil
	// when the file's content was not kept (no extractor wants it).
	content *span
}

// span is a byte range of the content blob.
type span struct{ off, size int64 }

// node is one path of the union of all layers. Its versions are ordered by
// layer, with at most one version per layer.
type node struct {
	children map[string]*node
	versions []version
}

// tree is the layered file tree of one image: every path ever written by
// any layer, with the version each layer wrote.
type tree struct {
	root  node
	nodes int
}

func newTree() *tree {
	return &tree{root: node{versions: []version{{layer: -1, kind: kindDir, mode: fs.ModeDir | 0o755}}}}
}

// child returns the named child of n, creating it if create is set.
func (t *tree) child(n *node, name string, create bool) *node {
	c := n.children[name]
	if c == nil && create {
		if n.children == nil {
			n.children = map[string]*node{}
		}
		c = &node{}
		n.children[name] = c
		t.nodes++
	}
	return c
}

// at returns the version n has in layer, or nil.
func (n *node) at(layer int) *version {
	if k := len(n.versions); k > 0 && n.versions[k-1].layer == layer {
		return &n.versions[k-1]
	}
	return nil
}

// set records v as the version of n in v.layer, merging it with what the
// same layer already wrote there. Layers are applied in order, so a version
// for this layer is always the last one.
func (n *node) set(v version) {
	cur := n.at(v.layer)
	if cur == nil {
		n.versions = append(n.versions, v)
		return
	}
	switch {
	case v.kind == kindDeleted && cur.kind == kindDir:
		// A whiteout of a directory the same layer also lists: the lower
		// directory is replaced by this layer's one.
		cur.opaque, cur.implicit = true, false
	case v.kind == kindDeleted:
		// A whiteout only applies to lower layers: keep what this layer wrote.
		if cur.kind != kindDeleted {
			return
		}
	case v.kind == kindDir && cur.kind == kindDir:
		opaque := cur.opaque
		*cur = v
		cur.opaque = cur.opaque || opaque
	case v.kind == kindDir && cur.kind == kindDeleted:
		v.opaque = true
		*cur = v
	default:
		*cur = v
	}
}

// parentDir makes sure n is a directory in layer, as the parent of an entry
// of that layer.
func (n *node) parentDir(layer int) {
	cur := n.at(layer)
	switch {
	case cur == nil:
		n.versions = append(n.versions, version{layer: layer, kind: kindDir, implicit: true, mode: fs.ModeDir | 0o755})
	case cur.kind == kindDeleted:
		*cur = version{layer: layer, kind: kindDir, opaque: true, mode: fs.ModeDir | 0o755}
	case cur.kind != kindDir:
		*cur = version{layer: layer, kind: kindDir, implicit: true, mode: fs.ModeDir | 0o755}
	}
}

// view selects the versions visible in one state of the image: the chain of
// layers 0..top, or (single) layer top alone.
type view struct {
	tree   *tree
	top    int
	single bool
}

// effective returns the version of n visible in the view, ignoring versions
// below floor (hidden by an opaque or deleted parent), or nil.
func (v view) effective(n *node, floor int) *version {
	low := floor
	if v.single {
		low = v.top
	}
	var found *version
	for i := len(n.versions) - 1; i >= 0; i-- {
		ver := &n.versions[i]
		if ver.layer > v.top {
			continue
		}
		if ver.layer < low {
			break
		}
		if found == nil {
			found = ver
			if !ver.implicit {
				return found
			}
			continue
		}
		// found is an implicit directory: a lower directory or symlink it
		// was merged into stays what the path is.
		if ver.implicit {
			continue
		}
		if ver.kind == kindDir || ver.kind == kindSymlink {
			return ver
		}
		return found
	}
	if found == nil && n.versions != nil && n.versions[0].layer == -1 {
		return &n.versions[0] // the root
	}
	return found
}

// childFloor returns the lowest layer whose children of n are visible in
// the view: children written below the last layer that deleted, replaced or
// made n opaque are hidden.
func (v view) childFloor(n *node, floor int) int {
	for i := len(n.versions) - 1; i >= 0; i-- {
		ver := &n.versions[i]
		if ver.layer > v.top {
			continue
		}
		if ver.layer < floor {
			break
		}
		if ver.opaque || ver.kind != kindDir {
			return ver.layer
		}
	}
	return floor
}
