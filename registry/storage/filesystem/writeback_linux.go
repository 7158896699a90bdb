package filesystem

import (
	"os"

	"golang.org/x/sys/unix"
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
