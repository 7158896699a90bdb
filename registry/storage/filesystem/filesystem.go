// Package filesystem implements storage.Driver on a directory of the local
// filesystem.
//
// A file at driver path /a/b is stored at <root>/a/b. Its pending write
// lives next to it in <root>/a/.b.partial and PutContent stages in
// <root>/a/.b.tmp-*; storage.ValidatePath forbids names starting with a dot,
// so these never collide with driver paths and Walk never shows them.
// Both are fsync'ed and renamed into place, so a crash never leaves a
// partial file at a final path.
package filesystem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/berth-registry/berth/registry/storage"
)

const (
	dirPerm  fs.FileMode = 0o750
	filePerm fs.FileMode = 0o640
)

// Driver stores files under a root directory. It keeps no state besides
// the root, so several processes may share one root.
type Driver struct {
	root string
}

var _ storage.Driver = (*Driver)(nil)

// New returns a Driver rooted at root, creating the directory if needed.
func New(root string) (*Driver, error) {
	if root == "" {
		return nil, errors.New("filesystem: empty root directory")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("filesystem: root %q: %w", root, err)
	}
	if err := os.MkdirAll(abs, dirPerm); err != nil {
		return nil, fmt.Errorf("filesystem: root %q: %w", root, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("filesystem: root %q: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("filesystem: root %q is not a directory", root)
	}
	return &Driver{root: abs}, nil
}

// Name returns "filesystem".
func (d *Driver) Name() string { return "filesystem" }

// GetContent reads the whole file at path.
func (d *Driver) GetContent(ctx context.Context, path string) ([]byte, error) {
	full, err := d.file(ctx, "getcontent", path)
	if err != nil {
		return nil, err
	}
	f, err := d.openFile(full)
	if err != nil {
		return nil, pathError("getcontent", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, pathError("getcontent", path, err)
	}
	return b, nil
}

// PutContent writes content to a temporary file in the directory of path,
// fsyncs it and renames it over path.
func (d *Driver) PutContent(ctx context.Context, path string, content []byte) error {
	full, err := d.file(ctx, "putcontent", path)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(ctx, full, func(f *os.File) error {
		_, err := f.Write(content)
		return err
	}); err != nil {
		return pathError("putcontent", path, err)
	}
	return nil
}

// Reader opens the file at path positioned at offset. The returned value is
// an *os.File, so copying it to a network connection can use sendfile.
func (d *Driver) Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	full, err := d.file(ctx, "reader", path)
	if err != nil {
		return nil, err
	}
	f, err := d.openFile(full)
	if err != nil {
		return nil, pathError("reader", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, pathError("reader", path, err)
	}
	if offset < 0 || offset > fi.Size() {
		f.Close()
		return nil, pathError("reader", path, fmt.Errorf("%w: %d not in [0, %d]", storage.ErrInvalidOffset, offset, fi.Size()))
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, pathError("reader", path, err)
	}
	return f, nil
}

// Writer opens the pending write of path. See storage.Driver.Writer.
func (d *Driver) Writer(ctx context.Context, path string, append bool) (storage.FileWriter, error) {
	full, err := d.file(ctx, "writer", path)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(full); err == nil && fi.IsDir() {
		return nil, pathError("writer", path, isDir())
	}
	w := &fileWriter{path: path, final: full, pending: pendingName(full)}
	if err := w.open(ctx, append); err != nil {
		return nil, pathError("writer", path, err)
	}
	return w, nil
}

// Stat describes the committed file or the directory at path.
func (d *Driver) Stat(ctx context.Context, path string) (storage.FileInfo, error) {
	full, err := d.resolve(ctx, "stat", path)
	if err != nil {
		return storage.FileInfo{}, err
	}
	fi, err := os.Stat(full)
	if err != nil {
		return storage.FileInfo{}, pathError("stat", path, err)
	}
	return fileInfo(path, fi), nil
}

// Move renames the file src to dst and fsyncs dst's directory.
func (d *Driver) Move(ctx context.Context, src, dst string) error {
	fullSrc, err := d.file(ctx, "move", src)
	if err != nil {
		return err
	}
	fullDst, err := d.file(ctx, "move", dst)
	if err != nil {
		return err
	}
	fi, err := os.Stat(fullSrc)
	if err != nil {
		return pathError("move", src, err)
	}
	if fi.IsDir() {
		return pathError("move", src, isDir())
	}
	dstDir := filepath.Dir(fullDst)
	if err := os.MkdirAll(dstDir, dirPerm); err != nil {
		return pathError("move", dst, err)
	}
	if err := os.Rename(fullSrc, fullDst); err != nil {
		return pathError("move", src, err)
	}
	// One directory sync makes the move durable: the journalling file
	// systems berth runs on (ext4, XFS, btrfs) log a rename, and the
	// directories MkdirAll created, as one operation of a journal that
	// commits in order. The source directory is not synced as well (it
	// was, at the cost of a second journal commit per blob): a crash can
	// at worst bring back the source name of a committed upload: a file
	// in an upload directory without a session, which garbage collection
	// removes.
	if err := syncDir(dstDir); err != nil {
		return pathError("move", dst, err)
	}
	return nil
}

// Delete removes path recursively, along with its pending write.
func (d *Driver) Delete(ctx context.Context, path string) error {
	full, err := d.file(ctx, "delete", path)
	if err != nil {
		return err
	}
	_, statErr := os.Lstat(full)
	if statErr != nil && !notExist(statErr) {
		return pathError("delete", path, statErr)
	}
	pendingErr := os.Remove(pendingName(full))
	if pendingErr != nil && !notExist(pendingErr) {
		return pathError("delete", path, pendingErr)
	}
	if statErr != nil {
		if pendingErr == nil {
			return nil // only a pending write was there
		}
		return pathError("delete", path, statErr)
	}
	if err := os.RemoveAll(full); err != nil {
		return pathError("delete", path, err)
	}
	return nil
}

// Walk visits the tree under path in lexical order, hiding pending and
// temporary files.
func (d *Driver) Walk(ctx context.Context, path string, fn storage.WalkFunc) error {
	full, err := d.resolve(ctx, "walk", path)
	if err != nil {
		return err
	}
	fi, err := os.Stat(full)
	if err != nil {
		return pathError("walk", path, err)
	}
	if !fi.IsDir() {
		if err := fn(fileInfo(path, fi)); err != nil && err != fs.SkipDir && err != fs.SkipAll {
			return err
		}
		return nil
	}
	return filepath.WalkDir(full, func(name string, de fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return pathError("walk", path, ctxErr)
		}
		if name == full {
			if err != nil {
				return pathError("walk", path, err)
			}
			return nil
		}
		if strings.HasPrefix(de.Name(), ".") {
			if de.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if err != nil {
			if notExist(err) {
				return nil // removed while we walked
			}
			return pathError("walk", path, err)
		}
		info, err := de.Info()
		if err != nil {
			if notExist(err) {
				return nil
			}
			return pathError("walk", path, err)
		}
		rel, err := filepath.Rel(d.root, name)
		if err != nil {
			return pathError("walk", path, err)
		}
		return fn(fileInfo("/"+filepath.ToSlash(rel), info))
	})
}

// resolve checks the context and path and returns the filesystem name.
func (d *Driver) resolve(ctx context.Context, op, path string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", pathError(op, path, err)
	}
	if err := storage.ValidatePath(path); err != nil {
		return "", pathError(op, path, err)
	}
	return filepath.Join(d.root, filepath.FromSlash(path)), nil
}

// file is resolve for operations that need a file path, which "/" is not.
func (d *Driver) file(ctx context.Context, op, path string) (string, error) {
	if path == "/" {
		return "", pathError(op, path, fmt.Errorf("%w: the root is not a file", storage.ErrInvalidPath))
	}
	return d.resolve(ctx, op, path)
}

// openFile opens a regular file for reading, refusing directories.
func (d *Driver) openFile(full string) (*os.File, error) {
	f, err := os.Open(full)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, isDir()
	}
	return f, nil
}

func pendingName(full string) string {
	return filepath.Join(filepath.Dir(full), "."+filepath.Base(full)+".partial")
}

func fileInfo(path string, fi fs.FileInfo) storage.FileInfo {
	info := storage.FileInfo{Path: path, ModTime: fi.ModTime(), IsDir: fi.IsDir()}
	if !info.IsDir {
		info.Size = fi.Size()
	}
	return info
}

// pathError wraps err for op on path, translating "does not exist" (and
// "a parent is a file", which means the same for us) to storage.ErrNotFound.
func pathError(op, path string, err error) error {
	var pe *storage.PathError
	if errors.As(err, &pe) {
		return err
	}
	if notExist(err) {
		err = storage.ErrNotFound
	}
	return &storage.PathError{Op: op, Path: path, Err: err}
}

func isDir() error { return fmt.Errorf("%w: is a directory", storage.ErrInvalidPath) }

// writeFileAtomic stages the content written by fill in a temporary file
// next to full, fsyncs it, renames it to full and fsyncs the directory.
func writeFileAtomic(ctx context.Context, full string, fill func(*os.File) error) (err error) {
	dir := filepath.Dir(full)
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(full)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(filePerm); err != nil {
		return err
	}
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), full); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename or creation in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
