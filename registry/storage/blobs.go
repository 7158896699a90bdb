package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "crypto/sha256" // registers digest.SHA256
	_ "crypto/sha512" // registers digest.SHA512
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Errors returned by Blobs, besides those of the Driver. Test them with
// errors.Is.
var (
	// ErrInvalidDigest means a digest is malformed or uses an algorithm
	// other than sha256 and sha512.
	ErrInvalidDigest = errors.New("storage: invalid digest")
	// ErrDigestMismatch means the bytes do not hash to the expected
	// digest. The error is a *DigestMismatchError.
	ErrDigestMismatch = errors.New("storage: digest mismatch")
	// ErrUploadOffset means an upload does not hold as many bytes as the
	// caller expected. The error is an *UploadOffsetError.
	ErrUploadOffset = errors.New("storage: upload offset mismatch")
	// ErrUploadSealed means VerifyUpload already sealed the upload: it
	// can be committed or canceled, not written to.
	ErrUploadSealed = errors.New("storage: upload is sealed")
)

// DigestMismatchError reports the digest that was expected and the digest
// of the bytes actually received.
type DigestMismatchError struct {
	Expected, Actual digest.Digest
}

// Error implements error.
func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("%v: expected %s, got %s", ErrDigestMismatch, e.Expected, e.Actual)
}

// Unwrap makes errors.Is(err, ErrDigestMismatch) hold.
func (e *DigestMismatchError) Unwrap() error { return ErrDigestMismatch }

// UploadOffsetError reports the size an upload was expected to have and
// the size it has, which the handler returns in the Range header of a 416.
type UploadOffsetError struct {
	Expected, Actual int64
}

// Error implements error.
func (e *UploadOffsetError) Error() string {
	return fmt.Sprintf("%v: expected %d bytes, upload holds %d", ErrUploadOffset, e.Expected, e.Actual)
}

// Unwrap makes errors.Is(err, ErrUploadOffset) hold.
func (e *UploadOffsetError) Unwrap() error { return ErrUploadOffset }

// Blobs stores content by digest on a Driver, with this layout:
//
//	/blobs/<algorithm>/<first two hex digits>/<hex>/data   content
//	/uploads/<id>/data                                      upload in progress
//
// Content only ever reaches its address by Driver.Move of a complete,
// verified file, so a blob that Stat finds is whole. Blobs keeps no state
// besides the driver: any process sharing the storage can continue an
// upload started by another.
type Blobs struct {
	driver Driver
}

// NewBlobs returns Blobs stored on driver.
func NewBlobs(driver Driver) *Blobs {
	return &Blobs{driver: driver}
}

// DriverName names the storage backend, such as "filesystem".
func (b *Blobs) DriverName() string { return b.driver.Name() }

// Presigner is implemented by drivers whose files a client can fetch
// directly, with a URL that carries its own time-limited signature (S3).
type Presigner interface {
	// PresignGet returns a URL that GETs the file at path until expires
	// has passed.
	PresignGet(ctx context.Context, path string, expires time.Duration) (string, error)
}

// maxPresignExpiry is the longest validity S3 accepts for a presigned URL.
const maxPresignExpiry = 7 * 24 * time.Hour

// RedirectURL returns a URL where a client fetches blob dgst straight from
// the storage for the next expires, and false (with no error) when the
// driver cannot presign. It does not check that the blob exists.
func (b *Blobs) RedirectURL(ctx context.Context, dgst digest.Digest, expires time.Duration) (string, bool, error) {
	p, ok := b.driver.(Presigner)
	if !ok {
		return "", false, nil
	}
	if err := validateDigest(dgst); err != nil {
		return "", false, err
	}
	if expires <= 0 || expires > maxPresignExpiry {
		return "", false, fmt.Errorf("presigned URL expiry %v not in (0, %v]", expires, maxPresignExpiry)
	}
	u, err := p.PresignGet(ctx, blobPath(dgst), expires)
	if err != nil {
		return "", false, err
	}
	return u, true, nil
}

// Stat returns the size of the blob dgst.
func (b *Blobs) Stat(ctx context.Context, dgst digest.Digest) (int64, error) {
	if err := validateDigest(dgst); err != nil {
		return 0, err
	}
	info, err := b.driver.Stat(ctx, blobPath(dgst))
	if err != nil {
		return 0, err
	}
	return info.Size, nil
}

// Open returns the content of blob dgst from byte offset, for Range requests.
func (b *Blobs) Open(ctx context.Context, dgst digest.Digest, offset int64) (io.ReadCloser, error) {
	if err := validateDigest(dgst); err != nil {
		return nil, err
	}
	return b.driver.Reader(ctx, blobPath(dgst), offset)
}

// Delete removes blob dgst. Deciding that nothing references it any more
// is the caller's business (the database knows).
func (b *Blobs) Delete(ctx context.Context, dgst digest.Digest) error {
	if err := validateDigest(dgst); err != nil {
		return err
	}
	return b.driver.Delete(ctx, blobDir(dgst))
}

// Put stores the content of r as blob dgst and returns its size: Stage,
// then CommitUpload. A caller that records blobs in a database stages
// first and commits inside its transaction instead.
func (b *Blobs) Put(ctx context.Context, dgst digest.Digest, r io.Reader) (int64, error) {
	id, size, err := b.Stage(ctx, dgst, r)
	if err != nil {
		return 0, err
	}
	if _, err := b.CommitUpload(ctx, id, dgst); err != nil {
		b.CancelUpload(context.WithoutCancel(ctx), id)
		return 0, err
	}
	return size, nil
}

// Holds reports whether blob dgst is stored with exactly size bytes. A
// push of a blob the store holds already needs only to hash its bytes
// (Check), not to write them again.
func (b *Blobs) Holds(ctx context.Context, dgst digest.Digest, size int64) (bool, error) {
	stored, err := b.Stat(ctx, dgst)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return stored == size, nil
}

// Check reads r to its end, hashing it without storing it, and returns its
// size; if the bytes are not dgst's the error wraps ErrDigestMismatch.
func (b *Blobs) Check(ctx context.Context, dgst digest.Digest, r io.Reader) (int64, error) {
	if err := validateDigest(dgst); err != nil {
		return 0, err
	}
	h := dgst.Algorithm().Hash()
	bp := pipePool.Get().(*[]byte)
	defer pipePool.Put(bp)
	size, err := io.CopyBuffer(h, contextReader{ctx, r}, *bp)
	if err != nil {
		return size, fmt.Errorf("check %s: %w", dgst, err)
	}
	if actual := digest.NewDigest(dgst.Algorithm(), h); actual != dgst {
		return size, &DigestMismatchError{Expected: dgst, Actual: actual}
	}
	return size, nil
}

// Stage streams the content of r into a new sealed upload while hashing
// it, and returns the upload's id and size; CommitUpload makes it blob
// dgst, CancelUpload drops it. If the bytes do not match dgst the error
// wraps ErrDigestMismatch and nothing is left behind.
func (b *Blobs) Stage(ctx context.Context, dgst digest.Digest, r io.Reader) (id string, size int64, err error) {
	if err := validateDigest(dgst); err != nil {
		return "", 0, err
	}
	id = "put-" + rand.Text()
	w, err := b.driver.Writer(ctx, uploadPath(id), false)
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if err != nil {
			// Cleanup must happen even when ctx is what failed.
			cleanup := context.WithoutCancel(ctx)
			w.Cancel(cleanup)
			b.removeUpload(cleanup, id)
		}
	}()
	h := dgst.Algorithm().Hash()
	size, err = CopyHashing(w, contextReader{ctx, r}, h)
	if err != nil {
		return "", 0, fmt.Errorf("put %s: %w", dgst, err)
	}
	if actual := digest.NewDigest(dgst.Algorithm(), h); actual != dgst {
		return "", 0, &DigestMismatchError{Expected: dgst, Actual: actual}
	}
	if err := w.Commit(ctx); err != nil {
		return "", 0, err
	}
	return id, size, nil
}

// Seal ends the writing of upload id and returns its size: afterwards
// UploadWriter refuses it with ErrUploadSealed and only CommitUpload or
// CancelUpload remain. An empty upload must be dgst's empty content.
func (b *Blobs) Seal(ctx context.Context, id string, dgst digest.Digest) (int64, error) {
	if err := validateDigest(dgst); err != nil {
		return 0, err
	}
	if err := validateUploadID(id); err != nil {
		return 0, err
	}
	return b.seal(ctx, id, dgst)
}

// UploadWriter continues upload id, whose bytes the caller believes number
// offset; if they do not, the error is an *UploadOffsetError. An upload
// that does not exist yet is empty. The caller writes a chunk, then
// closes the writer (do not Commit it: CommitUpload does that).
func (b *Blobs) UploadWriter(ctx context.Context, id string, offset int64) (FileWriter, error) {
	if err := validateUploadID(id); err != nil {
		return nil, err
	}
	if sealed, err := b.sealedSize(ctx, id); err != nil {
		return nil, err
	} else if sealed >= 0 {
		return nil, fmt.Errorf("upload %s: %w", id, ErrUploadSealed)
	}
	w, err := b.driver.Writer(ctx, uploadPath(id), true)
	if err != nil {
		return nil, err
	}
	if w.Size() != offset {
		w.Close()
		return nil, &UploadOffsetError{Expected: offset, Actual: w.Size()}
	}
	return w, nil
}

// UploadSize returns how many bytes upload id holds; zero for an upload
// nothing was written to, or that does not exist.
func (b *Blobs) UploadSize(ctx context.Context, id string) (int64, error) {
	if err := validateUploadID(id); err != nil {
		return 0, err
	}
	if sealed, err := b.sealedSize(ctx, id); err != nil || sealed >= 0 {
		return sealed, err
	}
	w, err := b.driver.Writer(ctx, uploadPath(id), true)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	return w.Size(), nil
}

// CommitUpload makes upload id the blob dgst and returns its size. The
// caller must have verified that the upload's bytes hash to dgst: either
// it hashed exactly the stored bytes while they streamed in, or it called
// VerifyUpload. If the blob already exists with the same size the upload
// is dropped; an existing blob of another size cannot be dgst's content
// (a damaged or poisoned file), so the verified upload replaces it.
func (b *Blobs) CommitUpload(ctx context.Context, id string, dgst digest.Digest) (int64, error) {
	if err := validateDigest(dgst); err != nil {
		return 0, err
	}
	if err := validateUploadID(id); err != nil {
		return 0, err
	}
	size, err := b.seal(ctx, id, dgst)
	if err != nil {
		return 0, err
	}
	if info, err := b.driver.Stat(ctx, blobPath(dgst)); err == nil && info.Size == size {
		return size, b.removeUpload(ctx, id)
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	if err := b.driver.Move(ctx, uploadPath(id), blobPath(dgst)); err != nil {
		return 0, err
	}
	return size, b.removeUpload(ctx, id)
}

// VerifyUpload reads upload id back from storage and checks that it hashes
// to dgst; a mismatch wraps ErrDigestMismatch. It seals the upload:
// afterwards UploadWriter refuses it with ErrUploadSealed and only
// CommitUpload or CancelUpload remain.
func (b *Blobs) VerifyUpload(ctx context.Context, id string, dgst digest.Digest) error {
	if err := validateDigest(dgst); err != nil {
		return err
	}
	if err := validateUploadID(id); err != nil {
		return err
	}
	if _, err := b.seal(ctx, id, dgst); err != nil {
		return err
	}
	r, err := b.driver.Reader(ctx, uploadPath(id), 0)
	if err != nil {
		return err
	}
	defer r.Close()
	h := dgst.Algorithm().Hash()
	bp := pipePool.Get().(*[]byte)
	defer pipePool.Put(bp)
	if _, err := io.CopyBuffer(h, contextReader{ctx, r}, *bp); err != nil {
		return fmt.Errorf("verify upload %s: %w", id, err)
	}
	if actual := digest.NewDigest(dgst.Algorithm(), h); actual != dgst {
		return &DigestMismatchError{Expected: dgst, Actual: actual}
	}
	return nil
}

// CancelUpload removes upload id and its bytes. Canceling an upload that
// holds nothing is not an error.
func (b *Blobs) CancelUpload(ctx context.Context, id string) error {
	if err := validateUploadID(id); err != nil {
		return err
	}
	return b.removeUpload(ctx, id)
}

// BytesOnDisk walks the whole store and sums the sizes of its files: what
// the backend really holds, to set beside what the database records. It
// reads every entry, so it is for an administrator's occasional look.
func (b *Blobs) BytesOnDisk(ctx context.Context) (int64, error) {
	var total int64
	err := b.driver.Walk(ctx, "/", func(info FileInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !info.IsDir {
			total += info.Size
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	return total, err
}

// Writable checks that the storage accepts, returns and deletes a small
// file, for the readiness probe.
func (b *Blobs) Writable(ctx context.Context) error {
	p := "/probes/" + rand.Text()
	want := []byte("berth readiness probe\n")
	if err := b.driver.PutContent(ctx, p, want); err != nil {
		return fmt.Errorf("storage not writable: %w", err)
	}
	got, err := b.driver.GetContent(ctx, p)
	if err != nil {
		return fmt.Errorf("storage not readable: %w", err)
	}
	if err := b.driver.Delete(ctx, p); err != nil {
		return fmt.Errorf("storage cannot delete: %w", err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("storage returned %d bytes for a %d-byte probe", len(got), len(want))
	}
	return nil
}

// sealedSize returns the size of the committed file of upload id, or -1 if
// the upload is not sealed.
func (b *Blobs) sealedSize(ctx context.Context, id string) (int64, error) {
	info, err := b.driver.Stat(ctx, uploadPath(id))
	if errors.Is(err, ErrNotFound) {
		return -1, nil
	}
	if err != nil {
		return -1, err
	}
	return info.Size, nil
}

// seal commits the pending bytes of upload id so that they can be read or
// moved, and returns their size. Sealing an already sealed upload is a no-op.
func (b *Blobs) seal(ctx context.Context, id string, dgst digest.Digest) (int64, error) {
	size, err := b.sealedSize(ctx, id)
	if err != nil || size >= 0 {
		return size, err
	}
	w, err := b.driver.Writer(ctx, uploadPath(id), true)
	if err != nil {
		return 0, err
	}
	defer w.Close()
	// The one check that costs nothing: an empty upload (or an unknown id)
	// can only be the empty blob.
	if w.Size() == 0 {
		if empty := dgst.Algorithm().FromBytes(nil); empty != dgst {
			return 0, &DigestMismatchError{Expected: dgst, Actual: empty}
		}
	}
	if err := w.Commit(ctx); err != nil {
		return 0, err
	}
	return w.Size(), nil
}

func (b *Blobs) removeUpload(ctx context.Context, id string) error {
	if err := b.driver.Delete(ctx, uploadDir(id)); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

func validateDigest(dgst digest.Digest) error {
	if err := dgst.Validate(); err != nil {
		return fmt.Errorf("%w %q: %v", ErrInvalidDigest, dgst, err)
	}
	if a := dgst.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
		return fmt.Errorf("%w %q: algorithm %s not supported", ErrInvalidDigest, dgst, a)
	}
	return nil
}

// validateUploadID accepts the ids the handler generates (UUIDs) and, more
// generally, one path component of letters, digits, '-' and '_'.
func validateUploadID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("%w: upload id %q", ErrInvalidPath, id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("%w: upload id %q", ErrInvalidPath, id)
		}
	}
	return nil
}

func blobDir(dgst digest.Digest) string {
	hex := dgst.Encoded()
	return "/blobs/" + dgst.Algorithm().String() + "/" + hex[:2] + "/" + hex
}

func blobPath(dgst digest.Digest) string { return blobDir(dgst) + "/data" }

func uploadDir(id string) string { return "/uploads/" + id }

func uploadPath(id string) string { return uploadDir(id) + "/data" }

// ContextReader returns r that stops a long copy once ctx is done, for
// example when the client went away.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return contextReader{ctx, r} }

// contextReader stops a long copy once ctx is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// WalkBlobs calls fn for every blob file in the store, with its digest,
// size and modification time, in lexical order of the digests' paths.
// Files that do not sit at a blob's path are skipped.
func (b *Blobs) WalkBlobs(ctx context.Context, fn func(dgst digest.Digest, size int64, modTime time.Time) error) error {
	err := b.driver.Walk(ctx, "/blobs", func(info FileInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if info.IsDir {
			return nil
		}
		// /blobs/<algorithm>/<two hex>/<hex>/data
		parts := strings.Split(strings.TrimPrefix(info.Path, "/"), "/")
		if len(parts) != 5 || parts[4] != "data" {
			return nil
		}
		d := digest.NewDigestFromEncoded(digest.Algorithm(parts[1]), parts[3])
		if validateDigest(d) != nil || blobPath(d) != info.Path {
			return nil
		}
		return fn(d, info.Size, info.ModTime)
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// WalkUploads calls fn for every upload in the store (sessions and staged
// PUTs), with its id and the modification time of its directory.
func (b *Blobs) WalkUploads(ctx context.Context, fn func(id string, modTime time.Time) error) error {
	err := b.driver.Walk(ctx, "/uploads", func(info FileInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		id := strings.TrimPrefix(info.Path, "/uploads/")
		if !info.IsDir || strings.Contains(id, "/") {
			return nil
		}
		if err := fn(id, info.ModTime); err != nil {
			return err
		}
		return fs.SkipDir
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
