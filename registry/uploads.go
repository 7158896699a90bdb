package registry

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/uploadsession"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry/storage"
)

// Uploads keep their state in the UploadSession table (offset and the
// running sha256 state) and their bytes in the blob store under the
// session's uuid, so any replica, or the same one after a restart, can
// continue them.

func uploadLocation(name, id string) string { return "/v2/" + name + "/blobs/uploads/" + id }

func blobLocation(name string, d digest.Digest) string { return "/v2/" + name + "/blobs/" + d.String() }

// startUpload serves POST /v2/<name>/blobs/uploads/: a mount (mount and
// from), a monolithic upload (digest), or the start of an upload session.
func (h *handler) startUpload(w http.ResponseWriter, r *http.Request, name string) {
	ctx := r.Context()
	q := r.URL.Query()
	if !h.scopeOK(w, r, name, auth.RepositoryPush) {
		return
	}
	repo, err := h.art.Access(ctx, name, auth.RepositoryPush)
	if err != nil {
		h.writeError(w, r, err, withScope(scopeFor(name, auth.RepositoryPush)))
		return
	}
	if mount := q.Get("mount"); mount != "" {
		from := q.Get("from")
		if d, err := parseDigest(mount); err == nil {
			info := requestInfo(r)
			if from != "" && info.claims != nil && !info.claims.Allows("repository", from, "pull") {
				// Ask for a token that covers the source too, if the
				// caller may read it; otherwise fall back to an upload.
				if _, err := h.art.Access(ctx, from, auth.RepositoryPull); err == nil {
					h.challenge(w, r, scopeFor(name, auth.RepositoryPush)+" "+scopeFor(from, auth.RepositoryPull), "insufficient_scope")
					return
				}
			} else if _, ok, err := h.art.MountBlob(ctx, repo, from, d); err != nil {
				h.writeError(w, r, err)
				return
			} else if ok {
				h.blobCreated(w, name, d)
				return
			}
		}
	}
	if dv := q.Get("digest"); dv != "" {
		d, err := parseDigest(dv)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if r.ContentLength > 0 {
			stored, err := h.blobs.Holds(ctx, d, r.ContentLength)
			if err != nil {
				h.writeError(w, r, err)
				return
			}
			if stored {
				if err := h.putStored(ctx, repo, d, r.ContentLength, r.Body); err != nil {
					h.writeError(w, r, err)
					return
				}
				h.blobCreated(w, name, d)
				return
			}
			if err := h.art.CheckQuota(ctx, repo, d, r.ContentLength); err != nil {
				h.writeError(w, r, err)
				return
			}
		}
		staged, size, err := h.blobs.Stage(ctx, d, r.Body)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		defer h.blobs.CancelUpload(context.WithoutCancel(ctx), staged)
		if err := h.art.CheckQuota(ctx, repo, d, size); err != nil {
			h.writeError(w, r, err)
			return
		}
		if r.ContentLength >= 0 && size != r.ContentLength {
			h.writeError(w, r, sizeInvalid(fmt.Sprintf("received %d bytes, Content-Length said %d", size, r.ContentLength)))
			return
		}
		err = h.art.CommitBlob(ctx, repo, d, size, func(ctx context.Context) error {
			_, err := h.blobs.CommitUpload(ctx, staged, d)
			return err
		})
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		h.blobCreated(w, name, d)
		return
	}
	id := uuid.NewString()
	state, err := marshalHash(digest.SHA256.Hash())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var s *ent.UploadSession
	sys := viewer.SystemContext(ctx)
	err = h.db.Unsynced(sys, func(client *ent.Client) (err error) {
		s, err = client.UploadSession.Create().SetUUID(id).SetRepository(name).SetAlgorithm(string(digest.SHA256)).
			SetHashState(state).Save(sys)
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.uploadAccepted(w, name, s, http.StatusAccepted)
}

func (h *handler) blobCreated(w http.ResponseWriter, name string, d digest.Digest) {
	w.Header().Set("Location", blobLocation(name, d))
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// uploadAccepted writes the state of an upload: where to send the next
// chunk and the range received so far.
func (h *handler) uploadAccepted(w http.ResponseWriter, name string, s *ent.UploadSession, status int) {
	hd := w.Header()
	hd.Set("Location", uploadLocation(name, s.UUID))
	hd.Set("Docker-Upload-UUID", s.UUID)
	hd.Set("Range", uploadRange(s.Offset))
	hd.Set("Content-Length", "0")
	w.WriteHeader(status)
}

// uploadRange is the Range header of an upload holding size bytes;
// "0-0" for an empty one, as Distribution answers.
func uploadRange(size int64) string {
	if size <= 0 {
		return "0-0"
	}
	return "0-" + strconv.FormatInt(size-1, 10)
}

// pushAccess checks that the caller may push to repository name.
func (h *handler) pushAccess(w http.ResponseWriter, r *http.Request, name string) (*artifacts.Repo, bool) {
	if !h.scopeOK(w, r, name, auth.RepositoryPush) {
		return nil, false
	}
	repo, err := h.art.Access(r.Context(), name, auth.RepositoryPush)
	if err != nil {
		h.writeError(w, r, err, withScope(scopeFor(name, auth.RepositoryPush)))
		return nil, false
	}
	return repo, true
}

// session loads upload id of repository name, after checking push access.
func (h *handler) session(w http.ResponseWriter, r *http.Request, name, id string) (*ent.UploadSession, bool) {
	if _, ok := h.pushAccess(w, r, name); !ok {
		return nil, false
	}
	s, err := h.db.UploadSession.Query().Where(uploadsession.UUID(id), uploadsession.Repository(name)).
		Only(viewer.SystemContext(r.Context()))
	if ent.IsNotFound(err) {
		h.writeError(w, r, uploadUnknown(id))
		return nil, false
	}
	if err != nil {
		h.writeError(w, r, err)
		return nil, false
	}
	return s, true
}

// take loads upload id of repository name and makes this request its only
// writer (takeUpload), or answers: 404 for an unknown upload, 416 with the
// upload's Range while another request writes to it. The caller has
// checked push access.
func (h *handler) take(w http.ResponseWriter, r *http.Request, name, id string) (*ent.UploadSession, *uploadHold, bool) {
	s, hold, err := takeUpload(r.Context(), h.db, name, id)
	switch {
	case errors.Is(err, errUploadBusy):
		h.rangeError(w, r, name, s, "another request is writing to this upload: continue from the returned Range")
		return nil, nil, false
	case err != nil:
		h.writeError(w, r, err)
		return nil, nil, false
	}
	return s, hold, true
}

// uploadStatus serves GET /v2/<name>/blobs/uploads/<id>.
func (h *handler) uploadStatus(w http.ResponseWriter, r *http.Request, name, id string) {
	s, ok := h.session(w, r, name, id)
	if !ok {
		return
	}
	h.uploadAccepted(w, name, s, http.StatusNoContent)
}

// cancelUpload serves DELETE /v2/<name>/blobs/uploads/<id>.
func (h *handler) cancelUpload(w http.ResponseWriter, r *http.Request, name, id string) {
	s, ok := h.session(w, r, name, id)
	if !ok {
		return
	}
	if err := h.dropSession(r.Context(), s); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) dropSession(ctx context.Context, s *ent.UploadSession) error {
	ctx = context.WithoutCancel(ctx)
	if err := h.blobs.CancelUpload(ctx, s.UUID); err != nil {
		return err
	}
	return h.db.UploadSession.DeleteOneID(s.ID).Exec(viewer.SystemContext(ctx))
}

// checkContentRange enforces the 416 rule: a chunk must start where the
// upload ends.
func (h *handler) checkContentRange(w http.ResponseWriter, r *http.Request, name string, s *ent.UploadSession) bool {
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return true
	}
	start, end, ok := parseContentRange(cr)
	if !ok {
		h.rangeError(w, r, name, s, fmt.Sprintf("invalid Content-Range %q", cr))
		return false
	}
	if start != s.Offset {
		h.rangeError(w, r, name, s, fmt.Sprintf("chunk starts at byte %d but the upload holds %d bytes", start, s.Offset))
		return false
	}
	if r.ContentLength >= 0 && r.ContentLength != end-start+1 {
		h.rangeError(w, r, name, s, fmt.Sprintf("Content-Range %q does not match Content-Length %d", cr, r.ContentLength))
		return false
	}
	return true
}

func (h *handler) rangeError(w http.ResponseWriter, r *http.Request, name string, s *ent.UploadSession, msg string) {
	hd := w.Header()
	hd.Set("Location", uploadLocation(name, s.UUID))
	hd.Set("Docker-Upload-UUID", s.UUID)
	hd.Set("Range", uploadRange(s.Offset))
	writeOCIError(w, r, http.StatusRequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID", msg, nil)
}

// parseContentRange accepts "start-end" (the distribution spec's form) and
// the HTTP forms "bytes start-end/total" and "bytes=start-end".
func parseContentRange(v string) (start, end int64, ok bool) {
	v = strings.TrimSpace(v)
	v = strings.TrimPrefix(v, "bytes=")
	v = strings.TrimPrefix(v, "bytes ")
	v, _, _ = strings.Cut(v, "/")
	a, b, found := strings.Cut(v, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	end, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
	// The chunk's length, end-start+1, is compared with Content-Length: it
	// must not wrap around (0-9223372036854775807).
	if err1 != nil || err2 != nil || start < 0 || end < start || end-start+1 <= 0 {
		return 0, 0, false
	}
	return start, end, true
}

// patchUpload serves PATCH /v2/<name>/blobs/uploads/<id>: a chunk, or the
// whole blob streamed.
func (h *handler) patchUpload(w http.ResponseWriter, r *http.Request, name, id string) {
	if _, ok := h.pushAccess(w, r, name); !ok {
		return
	}
	s, hold, ok := h.take(w, r, name, id)
	if !ok {
		return
	}
	if !h.checkContentRange(w, r, name, s) {
		hold.release(r.Context())
		return
	}
	s, err := h.appendChunk(r.Context(), hold, s, r.Body, false)
	if err != nil {
		h.chunkError(w, r, name, s, err)
		return
	}
	h.uploadAccepted(w, name, s, http.StatusAccepted)
}

// chunkError answers a failed write to an upload: 416 with the real Range
// when the stored bytes and the session disagree or another request holds
// the upload, the error otherwise.
func (h *handler) chunkError(w http.ResponseWriter, r *http.Request, name string, s *ent.UploadSession, err error) {
	var oe *storage.UploadOffsetError
	switch {
	case errors.As(err, &oe):
		h.rangeError(w, r, name, s, "the upload holds a different number of bytes than expected: continue from the returned Range")
	case errors.Is(err, errUploadBusy):
		if cur, qerr := h.db.UploadSession.Get(viewer.SystemContext(r.Context()), s.ID); qerr == nil {
			s = cur
		}
		h.rangeError(w, r, name, s, "another request is writing to this upload: continue from the returned Range")
	default:
		h.writeError(w, r, err)
	}
}

// appendChunk streams body to the end of upload s while hashing it, then
// records the new offset and hash state and gives the hold up. Whatever
// happens, the session afterwards tells the truth about the stored bytes:
// if they cannot be matched with the hash state any more, the state is
// dropped and the final PUT reads the upload back to verify it.
//
// With keep, a chunk written whole leaves the hold held and the new state
// only in s: the caller (a PUT that commits right after) saves it or
// deletes the session, which spares a push two UPDATEs of the session.
func (h *handler) appendChunk(ctx context.Context, hold *uploadHold, s *ent.UploadSession, body io.Reader, keep bool) (*ent.UploadSession, error) {
	fw, err := h.blobs.UploadWriter(ctx, s.UUID, s.Offset)
	var oe *storage.UploadOffsetError
	if errors.As(err, &oe) {
		// A chunk was cut short (or a process died) after bytes reached
		// storage: resynchronize with what storage holds.
		if serr := hold.save(ctx, oe.Actual, nil); serr != nil {
			return s, serr
		}
		s.Offset, s.HashState = oe.Actual, nil
		return s, err
	}
	if err != nil {
		hold.release(ctx)
		return s, err
	}
	var hasher hash.Hash
	if s.HashState != nil {
		hasher, err = unmarshalHash(digest.Algorithm(s.Algorithm), s.HashState)
		if err != nil {
			fw.Close()
			hold.release(ctx)
			return s, err
		}
	}
	// The copy stops if the hold is lost (hold.ctx ends) as well as when
	// the client goes away. The hash covers exactly the bytes written.
	src := storage.ContextReader(hold.ctx, body)
	var n int64
	var copyErr error
	if hasher != nil {
		n, copyErr = storage.CopyHashing(fw, src, hasher)
	} else {
		bp := copyBuffers.Get().(*[]byte)
		n, copyErr = io.CopyBuffer(fw, src, *bp)
		copyBuffers.Put(bp)
	}
	closeErr := fw.Close()
	size := fw.Size()
	var state []byte
	// The hash state is kept only when it provably covers exactly the
	// stored bytes: every byte written went through the hasher, and the
	// upload grew by exactly that many.
	if hasher != nil && size == s.Offset+n && closeErr == nil {
		if state, err = marshalHash(hasher); err != nil {
			hold.release(ctx)
			return s, err
		}
	}
	if keep && copyErr == nil && closeErr == nil {
		s.Offset, s.HashState = size, state
		return s, nil
	}
	// The session must be updated even when the client went away.
	if err := hold.save(ctx, size, state); err != nil {
		return s, err
	}
	s.Offset, s.HashState = size, state
	if copyErr != nil {
		return s, fmt.Errorf("receiving chunk: %w", copyErr)
	}
	if closeErr != nil {
		return s, closeErr
	}
	return s, nil
}

// finishUpload serves PUT /v2/<name>/blobs/uploads/<id>?digest=: an
// optional last chunk, then the digest check and the commit, all under the
// upload's hold so that no chunk lands between the check and the commit.
func (h *handler) finishUpload(w http.ResponseWriter, r *http.Request, name, id string) {
	ctx := r.Context()
	repo, ok := h.pushAccess(w, r, name)
	if !ok {
		return
	}
	d, err := parseDigest(r.URL.Query().Get("digest"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	s, hold, ok := h.take(w, r, name, id)
	if !ok {
		return
	}
	if r.ContentLength != 0 && !h.checkContentRange(w, r, name, s) {
		hold.release(ctx)
		return
	}
	if s.Offset == 0 && r.ContentLength > 0 {
		stored, err := h.blobs.Holds(ctx, d, r.ContentLength)
		if err != nil {
			hold.release(ctx)
			h.writeError(w, r, err)
			return
		}
		if stored {
			h.finishStored(w, r, name, repo, s, hold, d)
			return
		}
	}
	if r.ContentLength != 0 {
		if s, err = h.appendChunk(ctx, hold, s, r.Body, true); err != nil {
			h.chunkError(w, r, name, s, err)
			return
		}
	}
	// The hold is kept through the commit, which deletes the session; if
	// anything fails first, the session is saved as the stored bytes
	// stand (the last chunk included) and the hold given up.
	committed := false
	defer func() {
		if committed {
			hold.halt()
			return
		}
		if err := hold.save(ctx, s.Offset, s.HashState); err != nil && !errors.Is(err, errUploadBusy) {
			h.log.Warn("saving an upload session after a failed commit", "upload", s.UUID, "err", err)
		}
	}()
	if err := h.art.CheckQuota(ctx, repo, d, s.Offset); err != nil {
		h.writeError(w, r, err)
		return
	}
	size, stored, err := h.verifyUpload(ctx, s, d)
	if err != nil {
		if errors.Is(err, storage.ErrDigestMismatch) {
			h.dropSession(ctx, s)
		}
		h.writeError(w, r, err)
		return
	}
	place := h.keepStored(d, size)
	if !stored {
		place = func(ctx context.Context) error {
			_, err := h.blobs.CommitUpload(ctx, s.UUID, d)
			return err
		}
	}
	err = h.art.CommitBlob(ctx, repo, d, size, place, func(tx *ent.Client) error {
		// The session ends with the commit, in its transaction: one
		// statement (on PostgreSQL one synchronous commit) fewer a blob.
		_, err := tx.UploadSession.Delete().Where(uploadsession.ID(s.ID)).Exec(viewer.SystemContext(ctx))
		return err
	})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	committed = true
	if stored {
		h.dropUploadBytes(ctx, s.UUID)
	}
	h.blobCreated(w, name, d)
}

// finishStored serves a PUT that carries the whole blob into empty upload
// s, held by hold, when the store holds that blob already: the bytes are
// hashed, not written, and nothing lands in the upload. The commit
// deletes the session only if the hold is still this request's, or
// answers 416 as a PATCH racing another would.
func (h *handler) finishStored(w http.ResponseWriter, r *http.Request, name string, repo *artifacts.Repo, s *ent.UploadSession, hold *uploadHold, d digest.Digest) {
	ctx := r.Context()
	err := h.putStored(ctx, repo, d, r.ContentLength, r.Body, func(tx *ent.Client) error {
		n, err := tx.UploadSession.Delete().Where(uploadsession.ID(s.ID), uploadsession.Writer(hold.token)).
			Exec(viewer.SystemContext(ctx))
		if err == nil && n == 0 {
			err = errUploadBusy // the hold lapsed and another request took it
		}
		return err
	})
	switch {
	case err == nil:
		hold.halt()
	case errors.Is(err, errUploadBusy):
		hold.halt()
		h.chunkError(w, r, name, s, err)
		return
	case errors.Is(err, storage.ErrDigestMismatch):
		hold.halt()
		h.dropSession(ctx, s)
	default:
		hold.release(ctx)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.dropUploadBytes(ctx, s.UUID) // an empty PATCH may have made an empty file
	h.blobCreated(w, name, d)
}

// putStored links blob d, which the store holds already with size bytes,
// into repo after checking that body holds exactly its bytes (bytes that
// hash to d are size bytes long, so the quota is checked before they are
// read); also runs in the commit's transaction.
func (h *handler) putStored(ctx context.Context, repo *artifacts.Repo, d digest.Digest, size int64, body io.Reader, also ...func(tx *ent.Client) error) error {
	if err := h.art.CheckQuota(ctx, repo, d, size); err != nil {
		return err
	}
	if _, err := h.blobs.Check(ctx, d, body); err != nil {
		return err
	}
	return h.art.CommitBlob(ctx, repo, d, size, h.keepStored(d, size), also...)
}

// keepStored is CommitBlob's placing of a blob whose bytes were not
// written because the store held them already: under the blob row's lock
// they must still be there. Garbage collection may have removed them
// since they were seen; the client then pushes again.
func (h *handler) keepStored(d digest.Digest, size int64) func(context.Context) error {
	return func(ctx context.Context) error {
		ok, err := h.blobs.Holds(ctx, d, size)
		if err == nil && !ok {
			// 503, which clients retry; the retry stores the bytes.
			err = &ociError{http.StatusServiceUnavailable, "UNAVAILABLE",
				fmt.Sprintf("blob %s was removed by garbage collection while it was pushed: push it again", d)}
		}
		return err
	}
}

// dropUploadBytes removes what upload id stored, after a commit that did
// not need it; what fails to go is swept with abandoned uploads.
func (h *handler) dropUploadBytes(ctx context.Context, id string) {
	if err := h.blobs.CancelUpload(context.WithoutCancel(ctx), id); err != nil {
		h.log.Warn("removing an upload's bytes after its commit", "upload", id, "err", err)
	}
}

// verifyUpload checks that upload s holds exactly the content d, seals it
// and returns its size. The saved hash state is trusted only when the upload
// holds exactly the bytes it was computed over; otherwise (no state, a
// different algorithm, a size that differs) the stored bytes are read back
// and hashed. When the hash state proves the content and the store holds
// blob d already, stored is true and the upload is not sealed (no fsync
// of bytes that are about to be removed).
func (h *handler) verifyUpload(ctx context.Context, s *ent.UploadSession, d digest.Digest) (size int64, stored bool, err error) {
	verified := false
	if s.HashState != nil && digest.Algorithm(s.Algorithm) == d.Algorithm() {
		held, err := h.blobs.UploadSize(ctx, s.UUID)
		if err != nil {
			return 0, false, err
		}
		if held == s.Offset {
			hasher, err := unmarshalHash(d.Algorithm(), s.HashState)
			if err != nil {
				return 0, false, err
			}
			if actual := digest.NewDigest(d.Algorithm(), hasher); actual != d {
				return 0, false, &storage.DigestMismatchError{Expected: d, Actual: actual}
			}
			verified = true
		} else {
			h.log.Warn("upload size differs from its hashed length; reading it back", "upload", s.UUID,
				"stored", held, "hashed", s.Offset)
		}
	}
	if verified && s.Offset > 0 {
		if stored, err = h.blobs.Holds(ctx, d, s.Offset); err != nil || stored {
			return s.Offset, stored, err
		}
	}
	if !verified {
		if err := h.blobs.VerifyUpload(ctx, s.UUID, d); err != nil {
			return 0, false, err
		}
	}
	size, err = h.blobs.Seal(ctx, s.UUID, d)
	return size, false, err
}

func marshalHash(hs hash.Hash) ([]byte, error) {
	m, ok := hs.(encoding.BinaryMarshaler)
	if !ok {
		return nil, errors.New("hash state cannot be saved")
	}
	return m.MarshalBinary()
}

func unmarshalHash(alg digest.Algorithm, state []byte) (hash.Hash, error) {
	if !alg.Available() {
		return nil, fmt.Errorf("digest algorithm %q unavailable", alg)
	}
	hs := alg.Hash()
	u, ok := hs.(encoding.BinaryUnmarshaler)
	if !ok {
		return nil, errors.New("hash state cannot be restored")
	}
	if err := u.UnmarshalBinary(state); err != nil {
		return nil, fmt.Errorf("restoring upload hash state: %w", err)
	}
	return hs, nil
}
