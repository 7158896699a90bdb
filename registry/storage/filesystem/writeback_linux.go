package filesystem

import (
	"os"

	"golang.org/x/sys/unix"
)

// writebackChunk is how many written bytes make the writer ask the kernel
// to start writing them to disk, once the file holds writebackFrom bytes.
// A smaller file is left to the commit's fsync: an upload of a blob the
// store already holds is removed unsynced at its commit, and its bytes,
// never written back, cost the disk nothing (a push into a new repository
// re-sends every base layer).
const (
	writebackChunk = 8 << 20
	writebackFrom  = 32 << 20
)

// startWriteback asks the kernel to start writing bytes [off, off+n) of f
// to disk now, without waiting (sync_file_range SYNC_FILE_RANGE_WRITE). A
// blob's bytes then reach the disk while the rest of it is still being
// received, and the fsync that makes the upload durable finds little left
// to do: a 256 MiB push no longer ends with a second-long flush.
func startWriteback(f *os.File, off, n int64) {
	// Advisory: an error (a filesystem without it) leaves the fsync to do
	// all the work, as before.
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// datasync flushes f's data, and the metadata needed to read it back, to
// stable storage.
func datasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
