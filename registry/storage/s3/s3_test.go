package s3_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/berth-registry/berth/registry/storage"
	"github.com/berth-registry/berth/registry/storage/s3"
	"github.com/berth-registry/berth/registry/storage/s3/s3test"
	"github.com/berth-registry/berth/registry/storage/storagetest"
)

func newDriver(t *testing.T, opts s3.Options) *s3.Driver {
	t.Helper()
	d, err := s3.New(t.Context(), opts)
	if err != nil {
		t.Fatalf("s3.New: %v", err)
	}
	return d
}

func TestDriverPassesConformanceSuiteOnVersitygw(t *testing.T) {
	server := s3test.Start(t)
	storagetest.Run(t, func(t *testing.T) storage.Driver {
		return newDriver(t, server.Bucket(t))
	})
}

// A chunked upload closes its writer after every chunk, and the next chunk
// may reach another process: the pending write must come back whole from
// what is stored in the bucket, whole parts and the short tail alike.
func TestPendingWriteResumesInAnotherDriverAcrossPartBoundaries(t *testing.T) {
	server := s3test.Start(t)
	opts := server.Bucket(t)
	ctx := t.Context()
	const size = 3*s3.DefaultPartSize + 12345
	src := storagetest.Content(3, size)
	chunks := []int64{100, s3.DefaultPartSize - 50, s3.DefaultPartSize + 7, 1, size}
	var written int64
	for i, n := range chunks {
		n = min(n, size-written)
		w, err := newDriver(t, opts).Writer(ctx, "/uploads/id/data", i > 0)
		if err != nil {
			t.Fatal(err)
		}
		if w.Size() != written {
			t.Fatalf("chunk %d: reopened Size() = %d, want %d", i, w.Size(), written)
		}
		if _, err := io.CopyN(w, src, n); err != nil {
			t.Fatal(err)
		}
		written += n
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if written != size {
		t.Fatalf("wrote %d bytes, want %d", written, size)
	}
	d := newDriver(t, opts)
	if _, err := d.Stat(ctx, "/uploads/id/data"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat before Commit = %v, want ErrNotFound", err)
	}
	w, err := d.Writer(ctx, "/uploads/id/data", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wantSum, _ := storagetest.SHA256(storagetest.Content(3, size))
	r, err := d.Reader(ctx, "/uploads/id/data", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := storagetest.SHA256(r); err != nil || got != wantSum {
		t.Fatalf("committed content sha256 %s (%v), want %s", got, err, wantSum)
	}
}

// Appending to a committed file larger than a part copies its whole parts
// on the server instead of downloading them.
func TestAppendAfterCommitOfALargeFile(t *testing.T) {
	server := s3test.Start(t)
	d := newDriver(t, server.Bucket(t))
	ctx := t.Context()
	const first = 2*s3.DefaultPartSize + 999
	w, err := d.Writer(ctx, "/file", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, storagetest.Content(5, first)); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	w, err = d.Writer(ctx, "/file", true)
	if err != nil {
		t.Fatal(err)
	}
	if w.Size() != first {
		t.Fatalf("Size() = %d, want %d", w.Size(), first)
	}
	if _, err := w.Write([]byte("appended")); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	want, _ := storagetest.SHA256(io.MultiReader(storagetest.Content(5, first), strings.NewReader("appended")))
	r, err := d.Reader(ctx, "/file", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := storagetest.SHA256(r); err != nil || got != want {
		t.Fatalf("sha256 %s (%v), want %s", got, err, want)
	}
}

// Two registries sharing a bucket under different prefixes never see each
// other's files.
func TestPrefixesKeepDriversApart(t *testing.T) {
	server := s3test.Start(t)
	opts := server.Bucket(t)
	ctx := t.Context()
	a, b := opts, opts
	a.Prefix, b.Prefix = "one", "/two/nested/"
	da, db := newDriver(t, a), newDriver(t, b)
	if err := da.PutContent(ctx, "/file", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Stat(ctx, "/file"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the other prefix sees /file: %v", err)
	}
	if err := db.PutContent(ctx, "/file", []byte("b")); err != nil {
		t.Fatal(err)
	}
	var seen []string
	if err := da.Walk(ctx, "/", func(info storage.FileInfo) error {
		seen = append(seen, info.Path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != "/file" {
		t.Fatalf("Walk under prefix one saw %v", seen)
	}
	if got, err := da.GetContent(ctx, "/file"); err != nil || string(got) != "a" {
		t.Fatalf("GetContent = %q, %v", got, err)
	}
}

func TestNewRefusesBadOptionsAndMissingBuckets(t *testing.T) {
	server := s3test.Start(t)
	good := server.Bucket(t)
	cases := map[string]func(o *s3.Options){
		"no bucket":        func(o *s3.Options) { o.Bucket = "" },
		"missing bucket":   func(o *s3.Options) { o.Bucket = "no-such-bucket" },
		"wrong secret":     func(o *s3.Options) { o.SecretKey = "wrong" },
		"no credentials":   func(o *s3.Options) { o.AccessKey = "" },
		"tiny parts":       func(o *s3.Options) { o.PartSize = 1 << 20 },
		"escaping prefix":  func(o *s3.Options) { o.Prefix = "a/../b" },
		"endpoint no http": func(o *s3.Options) { o.Endpoint = "ftp://host" },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			o := good
			change(&o)
			if d, err := s3.New(t.Context(), o); err == nil {
				t.Fatalf("New accepted %+v: %v", o, d)
			}
		})
	}
}
