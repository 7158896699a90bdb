package filesystem_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth-registry/berth/registry/storage"
	"github.com/berth-registry/berth/registry/storage/filesystem"
	"github.com/berth-registry/berth/registry/storage/storagetest"
)

func newDriver(t *testing.T, root string) *filesystem.Driver {
	t.Helper()
	d, err := filesystem.New(root)
	if err != nil {
		t.Fatalf("New(%s): %v", root, err)
	}
	return d
}

func TestDriverPassesConformanceSuite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver {
		return newDriver(t, t.TempDir())
	})
}

func TestNewCreatesMissingRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "does", "not", "exist")
	d := newDriver(t, root)
	if err := d.PutContent(t.Context(), "/file", []byte("x")); err != nil {
		t.Fatalf("PutContent: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "file")); err != nil {
		t.Fatalf("file not stored under the root: %v", err)
	}
}

func TestNewRejectsRootThatIsAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := filesystem.New(file); err == nil {
		t.Fatal("New accepted a regular file as root")
	}
	if _, err := filesystem.New(""); err == nil {
		t.Fatal("New accepted an empty root")
	}
}

// A process that dies mid-write (no Close, no Commit) must leave nothing at
// the final path, only the hidden pending file that a resumed writer uses.
func TestUncommittedWriteNeverAppearsAtFinalPath(t *testing.T) {
	root := t.TempDir()
	d := newDriver(t, root)
	w, err := d.Writer(t.Context(), "/blobs/data", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, storagetest.Content(1, 1<<20)); err != nil {
		t.Fatal(err)
	}
	// Simulated crash: the writer is abandoned.
	if _, err := os.Stat(filepath.Join(root, "blobs", "data")); !os.IsNotExist(err) {
		t.Fatalf("final path exists before Commit: %v", err)
	}
	if got := filesIn(t, root); !slices.Equal(got, []string{"blobs/.data.partial"}) {
		t.Fatalf("files on disk = %v, want only the pending file", got)
	}

	resumed, err := newDriver(t, root).Writer(t.Context(), "/blobs/data", true)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Size() != 1<<20 {
		t.Fatalf("resumed Size() = %d, want %d", resumed.Size(), 1<<20)
	}
	if err := resumed.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := filesIn(t, root); !slices.Equal(got, []string{"blobs/data"}) {
		t.Fatalf("files on disk after Commit = %v, want only the final file", got)
	}
}

func TestPutContentAndMoveLeaveNoTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	d := newDriver(t, root)
	ctx := t.Context()
	for range 3 {
		if err := d.PutContent(ctx, "/a/file", []byte("content")); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Move(ctx, "/a/file", "/b/file"); err != nil {
		t.Fatal(err)
	}
	if got := filesIn(t, root); !slices.Equal(got, []string{"b/file"}) {
		t.Fatalf("files on disk = %v, want [b/file]", got)
	}
}

func TestAppendWriterCreatesNothingUntilWritten(t *testing.T) {
	root := t.TempDir()
	d := newDriver(t, root)
	w, err := d.Writer(t.Context(), "/uploads/id/data", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(root); err != nil || len(entries) != 0 {
		t.Fatalf("root holds %v (%v), want nothing", entries, err)
	}
}

// filesIn lists the regular files under root, hidden ones included.
func filesIn(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.Type().IsRegular() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// A writer that writes more than the background flush's stride (32 MiB)
// flushes while it writes; closing it between requests, continuing it and
// committing it keep every byte in order, and canceling one mid-flush
// leaves nothing behind.
func TestLongWritesFlushInTheBackgroundAndStayWhole(t *testing.T) {
	const size = 100 << 20
	root := t.TempDir()
	d := newDriver(t, root)
	ctx := t.Context()
	w, err := d.Writer(ctx, "/blobs/data", false)
	if err != nil {
		t.Fatal(err)
	}
	all := storagetest.Content(7, size)
	if _, err := io.CopyN(w, all, 70<<20); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = d.Writer(ctx, "/blobs/data", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, all); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := d.Reader(ctx, "/blobs/data", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want, got := sha256.New(), sha256.New()
	io.Copy(want, storagetest.Content(7, size))
	if n, err := io.Copy(got, r); err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("committed file: %d bytes (%v), same content %v", n, err, bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}

	c, err := d.Writer(ctx, "/uploads/u/data", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(c, storagetest.Content(8, 40<<20)); err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if got := filesIn(t, root); !slices.Equal(got, []string{"blobs/data"}) {
		t.Fatalf("files on disk = %v, want only the committed blob", got)
	}
}
