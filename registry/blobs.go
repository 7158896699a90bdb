package registry

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/registry/storage"
)

// copyBuffer is the size of the buffer blobs stream through.
const copyBuffer = 1 << 20

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBuffer); return &b }}

func parseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", digestInvalid(fmt.Sprintf("invalid digest %q", s))
	}
	if a := d.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
		return "", digestInvalid(fmt.Sprintf("digest algorithm %s is not supported (use sha256 or sha512)", a))
	}
	return d, nil
}

// redirectExpiry is how long the presigned URL of a redirected blob GET
// stays valid: long enough for a slow start, short enough that a leaked
// URL soon stops working.
const redirectExpiry = 15 * time.Minute

// getBlob serves GET and HEAD /v2/<name>/blobs/<digest>, with single Range
// requests.
func (h *handler) getBlob(w http.ResponseWriter, r *http.Request, name, ref string) {
	ctx := r.Context()
	if !h.scopeOK(w, r, name, auth.RepositoryPull) {
		return
	}
	repo, err := h.art.Access(ctx, name, auth.RepositoryPull)
	if err != nil {
		h.writeError(w, r, err, withScope(scopeFor(name, auth.RepositoryPull)))
		return
	}
	d, err := parseDigest(ref)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	size, err := h.art.BlobSize(ctx, repo, d)
	if errors.Is(err, artifacts.ErrBlobUnknown) {
		// Some clients fetch manifests through the blob endpoint.
		if a, merr := h.art.GetManifest(ctx, name, d.String(), false); merr == nil {
			hd := w.Header()
			hd.Set("Content-Type", a.MediaType)
			hd.Set("Content-Length", strconv.Itoa(len(a.Manifest)))
			hd.Set("Docker-Content-Digest", a.Digest)
			w.WriteHeader(http.StatusOK)
			if r.Method != http.MethodHead {
				w.Write(a.Manifest)
			}
			return
		}
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Docker-Content-Digest", d.String())
	hd.Set("ETag", `"`+d.String()+`"`)
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("Cache-Control", "max-age=31536000")
	start, length, status := int64(0), size, http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" {
		s, e, ok, satisfiable := parseRange(rg, size)
		if ok && !satisfiable {
			hd.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			writeOCIError(w, r, http.StatusRequestedRangeNotSatisfiable, "BLOB_UNKNOWN",
				fmt.Sprintf("range %q is outside the %d-byte blob", rg, size), nil)
			return
		}
		if ok {
			start, length, status = s, e-s+1, http.StatusPartialContent
			hd.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", s, e, size))
		}
	}
	if r.Method == http.MethodGet && h.redirect {
		u, ok, err := h.blobs.RedirectURL(ctx, d, redirectExpiry)
		if err != nil {
			hd.Del("Content-Range")
			h.writeError(w, r, err)
			return
		}
		if ok {
			// The client repeats any Range header to the storage.
			hd.Del("Content-Range")
			hd.Set("Location", u)
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
	}
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Length", strconv.FormatInt(length, 10))
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	rc, err := h.blobs.Open(ctx, d, start)
	if err != nil {
		hd.Del("Content-Length")
		hd.Del("Content-Range")
		if errors.Is(err, storage.ErrNotFound) {
			h.log.Error("blob linked in the database is missing from storage", "repository", name, "digest", d)
		}
		h.writeError(w, r, err)
		return
	}
	defer rc.Close()
	w.WriteHeader(status)
	// Copying into w uses its ReadFrom, which hands a file to sendfile and
	// needs no buffer; without sendfile the bytes go through a pooled one
	// (a new megabyte per GET is most of a small pull's garbage).
	if h.copies(r) {
		bp := copyBuffers.Get().(*[]byte)
		_, err = io.CopyBuffer(struct{ io.Writer }{w}, io.LimitReader(rc, length), *bp)
		copyBuffers.Put(bp)
	} else {
		_, err = io.Copy(w, io.LimitReader(rc, length))
	}
	if err != nil && ctx.Err() == nil {
		h.log.Warn("streaming blob", "repository", name, "digest", d, "err", err)
	}
}

// copies reports whether the blob goes to r's client through a buffer
// rather than sendfile (see SendfileMode).
func (h *handler) copies(r *http.Request) bool {
	switch h.sendfile {
	case SendfileAlways:
		return false
	case SendfileNever:
		return true
	}
	return peerOnThisHost(r)
}

// peerOnThisHost reports whether r came over a connection from this host:
// from a loopback address, or from the address the connection reached
// (Linux carries a host's traffic to its own addresses over loopback).
func peerOnThisHost(r *http.Request) bool {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := peer.Addr().Unmap()
	if ip.IsLoopback() {
		return true
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	at, err := netip.ParseAddrPort(local.String())
	return err == nil && at.Addr().Unmap() == ip
}

// parseRange parses a single "bytes=" range against size. ok is false when
// the header should be ignored (not bytes, several ranges); satisfiable is
// false for a range outside the blob.
func parseRange(header string, size int64) (start, end int64, ok, satisfiable bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(header), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false, false
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	switch {
	case a == "" && b == "":
		return 0, 0, false, false
	case a == "":
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, false
		}
		if n == 0 || size == 0 {
			return 0, 0, true, false
		}
		if n > size {
			n = size
		}
		return size - n, size - 1, true, true
	}
	s, err := strconv.ParseInt(a, 10, 64)
	if err != nil || s < 0 {
		return 0, 0, false, false
	}
	e := size - 1
	if b != "" {
		if e, err = strconv.ParseInt(b, 10, 64); err != nil {
			return 0, 0, false, false
		}
		if e < s {
			return 0, 0, true, false
		}
		if e > size-1 {
			e = size - 1
		}
	}
	if s >= size {
		return 0, 0, true, false
	}
	return s, e, true, true
}

// deleteBlob serves DELETE /v2/<name>/blobs/<digest>: it unlinks the blob
// from the repository; garbage collection reclaims the bytes.
func (h *handler) deleteBlob(w http.ResponseWriter, r *http.Request, name, ref string) {
	if !h.scopeOK(w, r, name, auth.ArtifactDelete) {
		return
	}
	d, err := parseDigest(ref)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := h.art.UnlinkBlob(r.Context(), name, d); err != nil {
		h.writeError(w, r, err, withScope(scopeFor(name, auth.ArtifactDelete)))
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}
