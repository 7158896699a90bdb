package filesystem_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-registry/berth/registry/storage/filesystem"
	"github.com/berth-registry/berth/registry/storage/storagetest"
)

// A long upload leaves the page cache 32 MiB at a time as it is flushed,
// all but its tail, unless the driver is told to keep it there; either
// way every byte is on the disk at commit.
func TestFlushedUploadsLeaveThePageCacheUnlessKept(t *testing.T) {
	const size = 100 << 20
	for _, keep := range []bool{false, true} {
		root := t.TempDir()
		d, err := filesystem.NewWithOptions(root, filesystem.Options{CacheUploads: keep})
		if err != nil {
			t.Fatal(err)
		}
		w, err := d.Writer(t.Context(), "/blobs/data", false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, storagetest.Content(3, size)); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(t.Context()); err != nil {
			t.Fatal(err)
		}
		head := residentShare(t, filepath.Join(root, "blobs", "data"), 0, 64<<20)
		tail := residentShare(t, filepath.Join(root, "blobs", "data"), size-4<<20, 4<<20)
		if keep && (head < 0.9 || tail < 0.9) {
			t.Errorf("kept: %.0f%% of the first 64 MiB and %.0f%% of the last 4 MiB in the page cache, want all", head*100, tail*100)
		}
		if !keep && (head > 0.1 || tail < 0.9) {
			t.Errorf("default: %.0f%% of the first 64 MiB in the page cache (want none) and %.0f%% of the last 4 MiB (want all)", head*100, tail*100)
		}
	}
}

// residentShare reports which share of bytes [off, off+n) of the file at
// path is in the page cache (mincore).
func residentShare(t *testing.T, path string, off, n int64) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), off, int(n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := int64(os.Getpagesize())
	vec := make([]byte, (n+page-1)/page)
	// x/sys/unix has no wrapper for mincore.
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	in := 0
	for _, v := range vec {
		in += int(v & 1)
	}
	return float64(in) / float64(len(vec))
}
