package filesystem

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berth-registry/berth/registry/storage"
)

// writebackChunk is how many written bytes make the writer ask the kernel
// to start writing them to disk (startWriteback), once the file holds
// writebackFrom bytes. A smaller file is left to the commit's fsync: an
// upload of a blob the store already holds is removed unsynced at its
// commit, and its bytes, never written back, cost the disk nothing (a
// push into a new repository re-sends every base layer).
const (
	writebackChunk = 8 << 20
	writebackFrom  = 32 << 20
)

type writerState int

const (
	stateOpen writerState = iota
	stateClosed
	stateCommitted
	stateCanceled
)

// fileWriter appends to the pending file of a path and renames it over the
// path on Commit.
type fileWriter struct {
	path    string // driver path, for errors
	final   string // where Commit puts the bytes
	pending string // where the bytes are until then
	f       *os.File
	size    int64
	// flushed is the offset up to which writeback was started.
	flushed int64
	// fl flushes the file in the background once the writer has written
	// flushEvery bytes; kicked is the size at its last request.
	fl     *flusher
	kicked int64
	state  writerState
}

// open prepares the pending file. With append and nothing pending or
// committed, nothing is created until the first Write or Commit, so that
// probing the size of an unknown upload leaves no trace.
func (w *fileWriter) open(ctx context.Context, append bool) error {
	if !append {
		return w.create(os.O_TRUNC)
	}
	err := w.openPending()
	if err == nil || !notExist(err) {
		return err
	}
	// Nothing pending: continue from the committed content, if any.
	src, err := os.Open(w.final)
	if notExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer src.Close()
	// Staged through a temporary file so that a crash cannot leave a
	// truncated copy that would later be taken for the pending bytes.
	if err := writeFileAtomic(ctx, w.pending, func(f *os.File) error {
		_, err := io.Copy(f, src) // copy_file_range where the kernel offers it
		return err
	}); err != nil {
		return err
	}
	return w.openPending()
}

func (w *fileWriter) openPending() error {
	f, err := os.OpenFile(w.pending, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	return w.use(f)
}

func (w *fileWriter) create(flag int) error {
	if err := os.MkdirAll(filepath.Dir(w.pending), dirPerm); err != nil {
		return err
	}
	f, err := os.OpenFile(w.pending, os.O_WRONLY|os.O_CREATE|os.O_APPEND|flag, filePerm)
	if err != nil {
		return err
	}
	return w.use(f)
}

func (w *fileWriter) use(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.size, w.flushed, w.kicked = f, fi.Size(), fi.Size(), fi.Size()
	return nil
}

// Write appends p to the pending bytes.
func (w *fileWriter) Write(p []byte) (int, error) {
	if w.state != stateOpen {
		return 0, pathError("write", w.path, fs.ErrClosed)
	}
	if w.f == nil {
		if err := w.create(0); err != nil {
			return 0, pathError("write", w.path, err)
		}
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	if w.size >= writebackFrom && w.size-w.flushed >= writebackChunk {
		startWriteback(w.f, w.flushed, w.size-w.flushed)
		w.flushed = w.size
	}
	if w.size-w.kicked >= flushEvery {
		if w.fl == nil {
			w.fl = startFlusher(w.f)
		}
		w.fl.poke()
		w.kicked = w.size
	}
	if err != nil {
		return n, pathError("write", w.path, err)
	}
	return n, nil
}

// Size returns the number of pending bytes.
func (w *fileWriter) Size() int64 { return w.size }

// Close keeps what was written pending, without an fsync: one chunk of a
// chunked upload is not worth a disk flush, Commit makes the whole write
// durable. The caller records the new size (and hash state) when Close
// returns; if the machine crashes before the bytes reach the disk, the
// file is shorter than recorded (ext4, XFS and btrfs extend a file's size
// on disk only once its data is written), the next writer sees that in
// Size and the upload continues from, or is verified against, the bytes
// that are really there.
func (w *fileWriter) Close() error {
	if w.state != stateOpen {
		return nil
	}
	w.state = stateClosed
	if w.f == nil {
		return nil
	}
	if err := w.stopFlusher(); err != nil {
		w.f.Close()
		return pathError("close", w.path, err)
	}
	if err := w.f.Close(); err != nil {
		return pathError("close", w.path, err)
	}
	return nil
}

// Cancel removes the pending file.
func (w *fileWriter) Cancel(ctx context.Context) error {
	switch w.state {
	case stateCanceled:
		return nil
	case stateOpen:
	default:
		return pathError("cancel", w.path, fs.ErrClosed)
	}
	w.state = stateCanceled
	if w.f != nil {
		w.stopFlusher()
		w.f.Close()
	}
	if err := os.Remove(w.pending); err != nil && !notExist(err) {
		return pathError("cancel", w.path, err)
	}
	return nil
}

// Commit fsyncs the pending file, renames it over the final path and fsyncs
// the directory.
func (w *fileWriter) Commit(ctx context.Context) error {
	if w.state != stateOpen {
		return pathError("commit", w.path, fs.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return pathError("commit", w.path, err)
	}
	if w.f == nil {
		if err := w.create(0); err != nil {
			return pathError("commit", w.path, err)
		}
	}
	w.state = stateCommitted
	if err := w.stopFlusher(); err != nil {
		w.f.Close()
		return pathError("commit", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return pathError("commit", w.path, err)
	}
	if err := w.f.Close(); err != nil {
		return pathError("commit", w.path, err)
	}
	if err := os.Rename(w.pending, w.final); err != nil {
		return pathError("commit", w.path, err)
	}
	if err := syncDir(filepath.Dir(w.final)); err != nil {
		return pathError("commit", w.path, err)
	}
	return nil
}

// stopFlusher ends the background flushes, if any, and returns the first
// one's error.
func (w *fileWriter) stopFlusher() error {
	if w.fl == nil {
		return nil
	}
	err := w.fl.stop()
	w.fl = nil
	return err
}

var _ storage.FileWriter = (*fileWriter)(nil)
