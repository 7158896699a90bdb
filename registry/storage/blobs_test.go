package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/registry/storage"
	"github.com/berth-registry/berth/registry/storage/filesystem"
	"github.com/berth-registry/berth/registry/storage/storagetest"
)

var algorithms = []digest.Algorithm{digest.SHA256, digest.SHA512}

// newBlobs returns Blobs on a filesystem driver rooted at root.
func newBlobs(t testing.TB, root string) *storage.Blobs {
	t.Helper()
	d, err := filesystem.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return storage.NewBlobs(d)
}

func TestPutStoresBlobAtItsContentAddress(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			root := t.TempDir()
			b := newBlobs(t, root)
			ctx := t.Context()
			content := []byte("a layer, or close enough")
			dgst := alg.FromBytes(content)

			size, err := b.Put(ctx, dgst, bytes.NewReader(content))
			if err != nil || size != int64(len(content)) {
				t.Fatalf("Put = %d, %v; want %d, nil", size, err, len(content))
			}
			if size, err := b.Stat(ctx, dgst); err != nil || size != int64(len(content)) {
				t.Fatalf("Stat = %d, %v; want %d, nil", size, err, len(content))
			}
			want := []string{"blobs/" + alg.String() + "/" + dgst.Encoded()[:2] + "/" + dgst.Encoded() + "/data"}
			if got := filesIn(t, root); !slices.Equal(got, want) {
				t.Fatalf("files on disk = %v, want %v", got, want)
			}
			for _, offset := range []int64{0, 7, int64(len(content))} {
				r, err := b.Open(ctx, dgst, offset)
				if err != nil {
					t.Fatalf("Open(offset %d): %v", offset, err)
				}
				got, err := io.ReadAll(r)
				r.Close()
				if err != nil || !bytes.Equal(got, content[offset:]) {
					t.Errorf("Open(offset %d) read %q, %v; want %q", offset, got, err, content[offset:])
				}
			}
			if _, err := b.Open(ctx, dgst, int64(len(content))+1); !errors.Is(err, storage.ErrInvalidOffset) {
				t.Errorf("Open past the end = %v, want ErrInvalidOffset", err)
			}
		})
	}
}

func TestPutWithWrongDigestLeavesNothingBehind(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg.String(), func(t *testing.T) {
			root := t.TempDir()
			b := newBlobs(t, root)
			claimed := alg.FromString("what the client promised")
			_, err := b.Put(t.Context(), claimed, strings.NewReader("what the client sent"))
			var mismatch *storage.DigestMismatchError
			if !errors.Is(err, storage.ErrDigestMismatch) || !errors.As(err, &mismatch) {
				t.Fatalf("Put = %v, want a *DigestMismatchError", err)
			}
			if want := alg.FromString("what the client sent"); mismatch.Expected != claimed || mismatch.Actual != want {
				t.Errorf("mismatch = %+v, want expected %s, actual %s", mismatch, claimed, want)
			}
			if _, err := b.Stat(t.Context(), claimed); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Stat after a failed Put = %v, want ErrNotFound", err)
			}
			if got := filesIn(t, root); len(got) != 0 {
				t.Errorf("files left on disk: %v", got)
			}
		})
	}
}

func TestPutOfExistingBlobStillVerifiesAndKeepsOneCopy(t *testing.T) {
	root := t.TempDir()
	b := newBlobs(t, root)
	ctx := t.Context()
	dgst := digest.FromString("shared layer")
	for range 2 {
		if size, err := b.Put(ctx, dgst, strings.NewReader("shared layer")); err != nil || size != 12 {
			t.Fatalf("Put = %d, %v; want 12, nil", size, err)
		}
	}
	if _, err := b.Put(ctx, dgst, strings.NewReader("an impostor")); !errors.Is(err, storage.ErrDigestMismatch) {
		t.Fatalf("Put of other bytes under an existing digest = %v, want ErrDigestMismatch", err)
	}
	if got := readBlob(t, b, dgst); got != "shared layer" {
		t.Errorf("blob now holds %q", got)
	}
	if got := filesIn(t, root); len(got) != 1 {
		t.Errorf("files on disk = %v, want only the blob", got)
	}
}

func TestPutStopsWhenContextIsCanceled(t *testing.T) {
	root := t.TempDir()
	b := newBlobs(t, root)
	ctx, cancel := context.WithCancel(t.Context())
	r := &cancelAfter{r: storagetest.Content(1, 8<<20), left: 1 << 20, cancel: cancel}
	if _, err := b.Put(ctx, digest.FromString("whatever"), r); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	if got := filesIn(t, root); len(got) != 0 {
		t.Errorf("files left on disk: %v", got)
	}
}

func TestInvalidDigestsAreRejected(t *testing.T) {
	b := newBlobs(t, t.TempDir())
	ctx := t.Context()
	for _, dgst := range []digest.Digest{
		"",
		"sha256",
		"sha256:abc",
		"sha256:" + digest.Digest(strings.ToUpper(digest.FromString("x").Encoded())),
		"md5:d41d8cd98f00b204e9800998ecf8427e",
		digest.SHA384.FromString("x"), // valid, but not an OCI algorithm
		"sha256:../../../../etc/passwd",
	} {
		checks := map[string]error{}
		_, checks["Stat"] = b.Stat(ctx, dgst)
		_, checks["Open"] = b.Open(ctx, dgst, 0)
		checks["Delete"] = b.Delete(ctx, dgst)
		_, checks["Put"] = b.Put(ctx, dgst, strings.NewReader("x"))
		_, checks["CommitUpload"] = b.CommitUpload(ctx, "id", dgst)
		checks["VerifyUpload"] = b.VerifyUpload(ctx, "id", dgst)
		for method, err := range checks {
			if !errors.Is(err, storage.ErrInvalidDigest) {
				t.Errorf("%s(%q) = %v, want ErrInvalidDigest", method, dgst, err)
			}
		}
	}
}

func TestInvalidUploadIDsAreRejected(t *testing.T) {
	b := newBlobs(t, t.TempDir())
	ctx := t.Context()
	dgst := digest.FromString("")
	for _, id := range []string{"", "..", "../blobs", "a/b", ".hidden", "a.b", strings.Repeat("a", 129)} {
		checks := map[string]error{}
		_, checks["UploadWriter"] = b.UploadWriter(ctx, id, 0)
		_, checks["UploadSize"] = b.UploadSize(ctx, id)
		_, checks["CommitUpload"] = b.CommitUpload(ctx, id, dgst)
		checks["VerifyUpload"] = b.VerifyUpload(ctx, id, dgst)
		checks["CancelUpload"] = b.CancelUpload(ctx, id)
		for method, err := range checks {
			if !errors.Is(err, storage.ErrInvalidPath) {
				t.Errorf("%s(%q) = %v, want ErrInvalidPath", method, id, err)
			}
		}
	}
}

func TestDeleteRemovesBlob(t *testing.T) {
	b := newBlobs(t, t.TempDir())
	ctx := t.Context()
	dgst := put(t, b, "doomed")
	if err := b.Delete(ctx, dgst); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Stat(ctx, dgst); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Stat after Delete = %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, dgst); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
}

func TestMissingBlobIsNotFound(t *testing.T) {
	b := newBlobs(t, t.TempDir())
	for _, alg := range algorithms {
		dgst := alg.FromString("never stored")
		if _, err := b.Stat(t.Context(), dgst); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat(%s) = %v, want ErrNotFound", alg, err)
		}
		if _, err := b.Open(t.Context(), dgst, 0); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Open(%s) = %v, want ErrNotFound", alg, err)
		}
	}
}

// Each chunk goes through a new Blobs on the same directory, as after a
// restart or on another replica, and the hash state travels the way the
// handler keeps it in the database: marshaled between chunks.
func TestUploadResumesAcrossBlobsInstances(t *testing.T) {
	root := t.TempDir()
	const id = "0b9e5b8e-1c5e-4b7e-9a57-0f1f1f1f1f1f"
	const chunkSize, chunks = 3<<20 + 17, 4
	src := storagetest.Content(7, chunkSize*chunks)
	var hashState []byte
	var offset int64
	for range chunks {
		b := newBlobs(t, root)
		if size, err := b.UploadSize(t.Context(), id); err != nil || size != offset {
			t.Fatalf("UploadSize = %d, %v; want %d, nil", size, err, offset)
		}
		h := sha256.New()
		if hashState != nil {
			if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(hashState); err != nil {
				t.Fatal(err)
			}
		}
		w, err := b.UploadWriter(t.Context(), id, offset)
		if err != nil {
			t.Fatalf("UploadWriter(offset %d): %v", offset, err)
		}
		n, err := io.CopyN(io.MultiWriter(w, h), src, chunkSize)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		offset += n
		if hashState, err = h.(encoding.BinaryMarshaler).MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	}

	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(hashState); err != nil {
		t.Fatal(err)
	}
	dgst := digest.NewDigest(digest.SHA256, h)
	b := newBlobs(t, root)
	size, err := b.CommitUpload(t.Context(), id, dgst)
	if err != nil || size != chunkSize*chunks {
		t.Fatalf("CommitUpload = %d, %v; want %d, nil", size, err, chunkSize*chunks)
	}
	want, _ := storagetest.SHA256(storagetest.Content(7, chunkSize*chunks))
	if dgst.Encoded() != want {
		t.Fatalf("resumed hash state gave %s, want sha256:%s", dgst, want)
	}
	r, err := b.Open(t.Context(), dgst, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, _ := storagetest.SHA256(r); got != want {
		t.Fatalf("stored blob has sha256 %s, want %s", got, want)
	}
	if got := filesIn(t, root); len(got) != 1 {
		t.Errorf("files on disk = %v, want only the blob", got)
	}
}

func TestUploadWriterAtWrongOffsetReportsActualSize(t *testing.T) {
	root := t.TempDir()
	b := newBlobs(t, root)
	ctx := t.Context()
	writeUpload(t, b, "upload", 0, "0123456789")
	for _, tc := range []struct {
		id     string
		offset int64
		actual int64
	}{
		{"upload", 5, 10},
		{"upload", 11, 10},
		{"upload", 0, 10},
		{"never-written", 3, 0},
	} {
		_, err := b.UploadWriter(ctx, tc.id, tc.offset)
		var offErr *storage.UploadOffsetError
		if !errors.Is(err, storage.ErrUploadOffset) || !errors.As(err, &offErr) {
			t.Fatalf("UploadWriter(%s, %d) = %v, want an *UploadOffsetError", tc.id, tc.offset, err)
		}
		if *offErr != (storage.UploadOffsetError{Expected: tc.offset, Actual: tc.actual}) {
			t.Errorf("UploadWriter(%s, %d) error = %+v, want actual %d", tc.id, tc.offset, *offErr, tc.actual)
		}
	}
	if size, err := b.UploadSize(ctx, "upload"); err != nil || size != 10 {
		t.Errorf("UploadSize after refused writers = %d, %v; want 10, nil", size, err)
	}
	if got := filesIn(t, root); !slices.Equal(got, []string{"uploads/upload/.data.partial"}) {
		t.Errorf("files on disk = %v, want only the one upload", got)
	}
}

func TestUploadSizeOfUnknownUploadIsZeroAndCreatesNothing(t *testing.T) {
	root := t.TempDir()
	b := newBlobs(t, root)
	if size, err := b.UploadSize(t.Context(), "unknown"); err != nil || size != 0 {
		t.Fatalf("UploadSize = %d, %v; want 0, nil", size, err)
	}
	if got := filesIn(t, root); len(got) != 0 {
		t.Errorf("files on disk = %v, want none", got)
	}
}

func TestCancelUploadRemovesItsBytes(t *testing.T) {
	root := t.TempDir()
	b := newBlobs(t, root)
	ctx := t.Context()
	writeUpload(t, b, "upload", 0, "some bytes")
	for range 2 { // canceling twice is fine
		if err := b.CancelUpload(ctx, "upload"); err != nil {
			t.Fatalf("CancelUpload: %v", err)
		}
	}
	if size, err := b.UploadSize(ctx, "upload"); err != nil || size != 0 {
		t.Errorf("UploadSize after cancel = %d, %v; want 0, nil", size, err)
	}
	if got := filesIn(t, root); len(got) != 0 {
		t.Errorf("files on disk = %v, want none", got)
	}
}

func TestCommitUploadNeverReadsTheBytes(t *testing.T) {
	d, err := filesystem.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := storage.NewBlobs(noReads{Driver: d, t: t})
	writeUpload(t, b, "upload", 0, "streamed and hashed by the handler")
	dgst := digest.FromString("streamed and hashed by the handler")
	if size, err := b.CommitUpload(t.Context(), "upload", dgst); err != nil || size != 34 {
		t.Fatalf("CommitUpload = %d, %v; want 34, nil", size, err)
	}
	if size, err := b.Stat(t.Context(), dgst); err != nil || size != 34 {
		t.Fatalf("Stat = %d, %v; want 34, nil", size, err)
	}
}

func TestCommitUploadOfExistingBlobDropsTheUpload(t *testing.T) {
	root := t.TempDir()
	b := newBlobs(t, root)
	dgst := put(t, b, "already here")
	writeUpload(t, b, "upload", 0, "already here")
	if size, err := b.CommitUpload(t.Context(), "upload", dgst); err != nil || size != 12 {
		t.Fatalf("CommitUpload = %d, %v; want 12, nil", size, err)
	}
	if got := filesIn(t, root); len(got) != 1 {
		t.Errorf("files on disk = %v, want only the blob", got)
	}
}

func TestCommitEmptyUploadOnlyAsTheEmptyBlob(t *testing.T) {
	b := newBlobs(t, t.TempDir())
	ctx := t.Context()
	if _, err := b.CommitUpload(ctx, "empty", digest.FromString("not empty")); !errors.Is(err, storage.ErrDigestMismatch) {
		t.Fatalf("CommitUpload of nothing under a non-empty digest = %v, want ErrDigestMismatch", err)
	}
	for _, alg := range algorithms {
		empty := alg.FromBytes(nil)
		if size, err := b.CommitUpload(ctx, "empty-"+alg.String(), empty); err != nil || size != 0 {
			t.Fatalf("CommitUpload(%s) = %d, %v; want 0, nil", empty, size, err)
		}
		if size, err := b.Stat(ctx, empty); err != nil || size != 0 {
			t.Fatalf("Stat(%s) = %d, %v; want 0, nil", empty, size, err)
		}
	}
}

func TestVerifyUploadChecksStoredBytesAndSealsTheUpload(t *testing.T) {
	root := t.TempDir()
	b := newBlobs(t, root)
	ctx := t.Context()
	writeUpload(t, b, "upload", 0, "first ")
	writeUpload(t, b, "upload", 6, "second")
	right, wrong := digest.SHA512.FromString("first second"), digest.SHA512.FromString("first")

	if err := b.VerifyUpload(ctx, "upload", wrong); !errors.Is(err, storage.ErrDigestMismatch) {
		t.Fatalf("VerifyUpload(wrong digest) = %v, want ErrDigestMismatch", err)
	}
	if err := b.VerifyUpload(ctx, "upload", right); err != nil {
		t.Fatalf("VerifyUpload(right digest) = %v", err)
	}
	if _, err := b.UploadWriter(ctx, "upload", 12); !errors.Is(err, storage.ErrUploadSealed) {
		t.Fatalf("UploadWriter after VerifyUpload = %v, want ErrUploadSealed", err)
	}
	if size, err := b.UploadSize(ctx, "upload"); err != nil || size != 12 {
		t.Fatalf("UploadSize of a sealed upload = %d, %v; want 12, nil", size, err)
	}
	if size, err := b.CommitUpload(ctx, "upload", right); err != nil || size != 12 {
		t.Fatalf("CommitUpload = %d, %v; want 12, nil", size, err)
	}
	if got := readBlob(t, b, right); got != "first second" {
		t.Fatalf("blob holds %q", got)
	}
	if got := filesIn(t, root); len(got) != 1 {
		t.Errorf("files on disk = %v, want only the blob", got)
	}
}

func TestWritableLeavesNothingBehind(t *testing.T) {
	root := t.TempDir()
	b := newBlobs(t, root)
	if err := b.Writable(t.Context()); err != nil {
		t.Fatalf("Writable: %v", err)
	}
	if got := filesIn(t, root); len(got) != 0 {
		t.Errorf("files on disk = %v, want none", got)
	}
}

func TestWritableFailsWhenStorageRefusesWrites(t *testing.T) {
	d, err := filesystem.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	full := errors.New("no space left on device")
	b := storage.NewBlobs(refuseWrites{Driver: d, err: full})
	if err := b.Writable(t.Context()); !errors.Is(err, full) {
		t.Fatalf("Writable = %v, want it to wrap %v", err, full)
	}
}

func BenchmarkBlobsPut(b *testing.B) {
	blobs := newBlobs(b, b.TempDir())
	ctx := b.Context()
	sum, _ := storagetest.SHA256(storagetest.Content(1, storagetest.LargeSize))
	dgst := digest.NewDigestFromEncoded(digest.SHA256, sum)
	b.SetBytes(storagetest.LargeSize)
	b.ResetTimer()
	for range b.N {
		if _, err := blobs.Put(ctx, dgst, storagetest.Content(1, storagetest.LargeSize)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := blobs.Delete(ctx, dgst); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func BenchmarkBlobsOpen(b *testing.B) {
	blobs := newBlobs(b, b.TempDir())
	ctx := b.Context()
	sum, _ := storagetest.SHA256(storagetest.Content(1, storagetest.LargeSize))
	dgst := digest.NewDigestFromEncoded(digest.SHA256, sum)
	if _, err := blobs.Put(ctx, dgst, storagetest.Content(1, storagetest.LargeSize)); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(storagetest.LargeSize)
	b.ResetTimer()
	for range b.N {
		r, err := blobs.Open(ctx, dgst, 0)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, buf)
		r.Close()
		if err != nil || n != storagetest.LargeSize {
			b.Fatalf("read %d bytes, %v", n, err)
		}
	}
}

func put(t *testing.T, b *storage.Blobs, content string) digest.Digest {
	t.Helper()
	dgst := digest.FromString(content)
	if _, err := b.Put(t.Context(), dgst, strings.NewReader(content)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	return dgst
}

func readBlob(t *testing.T, b *storage.Blobs, dgst digest.Digest) string {
	t.Helper()
	r, err := b.Open(t.Context(), dgst, 0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(got)
}

func writeUpload(t *testing.T, b *storage.Blobs, id string, offset int64, chunk string) {
	t.Helper()
	w, err := b.UploadWriter(t.Context(), id, offset)
	if err != nil {
		t.Fatalf("UploadWriter(%s, %d): %v", id, offset, err)
	}
	if _, err := io.WriteString(w, chunk); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
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

// noReads fails the test when anything reads file content back.
type noReads struct {
	storage.Driver
	t *testing.T
}

func (d noReads) Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	d.t.Errorf("Reader(%s) called", path)
	return d.Driver.Reader(ctx, path, offset)
}

func (d noReads) GetContent(ctx context.Context, path string) ([]byte, error) {
	d.t.Errorf("GetContent(%s) called", path)
	return d.Driver.GetContent(ctx, path)
}

// refuseWrites is storage that has run out of space.
type refuseWrites struct {
	storage.Driver
	err error
}

func (d refuseWrites) PutContent(context.Context, string, []byte) error { return d.err }

// cancelAfter cancels its context once left bytes have been read, like a
// client going away mid-upload.
type cancelAfter struct {
	r      io.Reader
	left   int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.cancel()
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
