// Package storage keeps the bytes of the registry: a small Driver interface
// that storage backends implement (filesystem and S3) and Blobs, the
// content-addressed layer the registry handlers use on top of a Driver.
//
// Metadata (repositories, tags, upload state) lives in the database, not
// here: this package only stores and moves bytes.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Driver is a storage backend addressed by slash-separated paths such as
// "/blobs/sha256/ab/abcd.../data".
//
// Every path must pass ValidatePath. The root "/" is accepted only by Stat
// and Walk; the other methods work on files and fail with ErrInvalidPath for
// it. Methods that expect a file fail when path names a directory. Missing
// paths give an error for which errors.Is(err, ErrNotFound) holds.
//
// Implementations must be safe for concurrent use on different paths.
// Concurrent writers on the same path are not coordinated by the driver;
// callers (through the database) make sure there is at most one.
//
// storagetest.Run is the specification: a driver is done when it passes.
type Driver interface {
	// Name identifies the driver in logs and metrics, for example "filesystem".
	Name() string

	// GetContent returns the whole content of a small file.
	GetContent(ctx context.Context, path string) ([]byte, error)

	// PutContent replaces the content of a small file atomically: readers
	// see either the old or the new content, never a part of it.
	PutContent(ctx context.Context, path string, content []byte) error

	// Reader opens a committed file for reading from byte offset, which
	// must lie in [0, size]; otherwise the error wraps ErrInvalidOffset.
	Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error)

	// Writer starts (append=false) or continues (append=true) a pending
	// write to path. Bytes written are kept when the writer is closed and
	// a later Writer(ctx, path, true), possibly in another process, goes
	// on at their end. If nothing is pending, append=true starts from the
	// committed content of path, or from nothing. Pending bytes become
	// visible at path only when FileWriter.Commit returns.
	Writer(ctx context.Context, path string, append bool) (FileWriter, error)

	// Stat describes the file or directory at path. Pending writes are
	// not visible.
	Stat(ctx context.Context, path string) (FileInfo, error)

	// Move atomically renames the committed file src to dst, creating
	// the parents of dst and replacing any file already at dst.
	Move(ctx context.Context, src, dst string) error

	// Delete removes path, everything under it and any pending write to it.
	Delete(ctx context.Context, path string) error

	// Walk calls fn for everything under path (not path itself, unless it
	// is a file), the entries of a directory in lexical order and a
	// directory before its contents. fn may return fs.SkipDir or
	// fs.SkipAll with the meaning they have for fs.WalkDir; any other
	// error stops the walk and is returned as is.
	Walk(ctx context.Context, path string, fn WalkFunc) error
}

// FileWriter receives the bytes of a pending write. It is not safe for
// concurrent use.
//
// Close keeps the bytes so that the write can be continued later, by this
// process or another; Commit makes them durable and visible at the path;
// Cancel throws them away. Close need not make the bytes durable: after a
// crash of the machine a pending write may hold fewer bytes than were
// written (never other bytes), which a reopened writer's Size shows. After
// any of the three, Write, Commit and Cancel fail, while Close does nothing
// and returns nil, so "defer w.Close()" is always safe.
type FileWriter interface {
	io.WriteCloser

	// Size is the number of bytes in the pending write, including those
	// written before the writer was (re)opened.
	Size() int64

	// Cancel discards the pending write. Committed content at the path
	// is left alone.
	Cancel(ctx context.Context) error

	// Commit durably stores the pending bytes and atomically makes them
	// the content of the path.
	Commit(ctx context.Context) error
}

// FileInfo describes a file or directory.
type FileInfo struct {
	// Path is the driver path, as given to Stat or found by Walk.
	Path string
	// Size is the length of a file in bytes; zero for directories.
	Size int64
	// ModTime is when the file was last committed.
	ModTime time.Time
	// IsDir tells directories from files.
	IsDir bool
}

// WalkFunc is called by Driver.Walk for each file and directory.
type WalkFunc func(info FileInfo) error

// Errors returned by drivers, wrapped in a *PathError. Test them with
// errors.Is.
var (
	// ErrNotFound means nothing is stored at the path.
	ErrNotFound = errors.New("storage: not found")
	// ErrInvalidPath means the path breaks the rules of ValidatePath or
	// names the wrong kind of thing for the operation.
	ErrInvalidPath = errors.New("storage: invalid path")
	// ErrInvalidOffset means a read offset lies outside the file.
	ErrInvalidOffset = errors.New("storage: invalid offset")
)

// PathError records the operation and path that failed.
type PathError struct {
	// Op is the driver method, lower-cased: "stat", "reader", "move"...
	Op string
	// Path is the path the operation was given.
	Path string
	// Err is the cause, often one of the Err* values of this package.
	Err error
}

// Error implements error.
func (e *PathError) Error() string { return e.Op + " " + e.Path + ": " + e.Err.Error() }

// Unwrap lets errors.Is and errors.As see the cause.
func (e *PathError) Unwrap() error { return e.Err }

// maxPathLength bounds paths well below the limits of filesystems and of
// S3 keys (1024 bytes).
const maxPathLength = 1000

// ValidatePath reports whether p is a well-formed driver path: absolute,
// slash-separated, without empty, "." or ".." components, without a
// trailing slash, and made of the characters [A-Za-z0-9._-]. A component
// may not start with "." either: drivers keep their temporary and pending
// files under such names. The root "/" is valid. The error wraps
// ErrInvalidPath.
func ValidatePath(p string) error {
	invalid := func(why string) error { return fmt.Errorf("%w %q: %s", ErrInvalidPath, p, why) }
	switch {
	case p == "/":
		return nil
	case p == "":
		return invalid("empty")
	case p[0] != '/':
		return invalid("not absolute")
	case len(p) > maxPathLength:
		return invalid("too long")
	}
	for _, c := range strings.Split(p[1:], "/") {
		switch {
		case c == "":
			return invalid("empty component")
		case c == "." || c == "..":
			return invalid("relative component")
		case c[0] == '.':
			return invalid("component starts with a dot")
		}
		for _, r := range c {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
				return invalid(fmt.Sprintf("character %q not allowed", r))
			}
		}
	}
	return nil
}
