package registry

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry/storage"
)

// ociError is an error the handler itself decides, with its OCI code.
type ociError struct {
	status int
	code   string
	msg    string
}

func (e *ociError) Error() string { return e.msg }

var (
	errNotFound = &ociError{http.StatusNotFound, "NAME_UNKNOWN", "no such route in the registry API"}
	errMethod   = &ociError{http.StatusMethodNotAllowed, "UNSUPPORTED", "method not allowed on this resource"}
)

func uploadUnknown(id string) error {
	return &ociError{http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN", "upload " + strconv.Quote(id) + " not found"}
}

func uploadInvalid(msg string) error {
	return &ociError{http.StatusBadRequest, "BLOB_UPLOAD_INVALID", msg}
}

func digestInvalid(msg string) error {
	return &ociError{http.StatusBadRequest, "DIGEST_INVALID", msg}
}

func sizeInvalid(msg string) error {
	return &ociError{http.StatusBadRequest, "SIZE_INVALID", msg}
}

// errorOption adjusts an error response.
type errorOption func(*errorResponse)

type errorResponse struct{ scope string }

// withScope sets the scope of the challenge sent with a 401.
func withScope(scope string) errorOption { return func(e *errorResponse) { e.scope = scope } }

// codes maps the artifacts service's codes to OCI codes and statuses.
var codes = []struct {
	err    error
	status int
	code   string
}{
	{artifacts.ErrNameInvalid, http.StatusBadRequest, "NAME_INVALID"},
	{artifacts.ErrNameUnknown, http.StatusNotFound, "NAME_UNKNOWN"},
	{artifacts.ErrBlobUnknown, http.StatusNotFound, "BLOB_UNKNOWN"},
	{artifacts.ErrManifestUnknown, http.StatusNotFound, "MANIFEST_UNKNOWN"},
	{artifacts.ErrManifestInvalid, http.StatusBadRequest, "MANIFEST_INVALID"},
	{artifacts.ErrManifestBlobUnknown, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN"},
	{artifacts.ErrDigestInvalid, http.StatusBadRequest, "DIGEST_INVALID"},
	{artifacts.ErrManifestTooLarge, http.StatusRequestEntityTooLarge, "SIZE_INVALID"},
	{artifacts.ErrTagInvalid, http.StatusBadRequest, "MANIFEST_INVALID"},
	{storage.ErrInvalidDigest, http.StatusBadRequest, "DIGEST_INVALID"},
	{storage.ErrDigestMismatch, http.StatusBadRequest, "DIGEST_INVALID"},
	{storage.ErrNotFound, http.StatusNotFound, "BLOB_UNKNOWN"},
	// The kinds every service reports, last.
	{errdefs.ErrDenied, http.StatusForbidden, "DENIED"},
	{errdefs.ErrNotFound, http.StatusNotFound, "NAME_UNKNOWN"},
	{errdefs.ErrInvalid, http.StatusBadRequest, "MANIFEST_INVALID"},
	{errdefs.ErrConflict, http.StatusConflict, "DENIED"},
	{errdefs.ErrUnsupported, http.StatusMethodNotAllowed, "UNSUPPORTED"},
	{errdefs.ErrTooManyRequests, http.StatusTooManyRequests, "TOOMANYREQUESTS"},
}

// writeError translates err into an OCI error response: this is the one
// place where domain errors become OCI codes.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error, opts ...errorOption) {
	var resp errorResponse
	for _, o := range opts {
		o(&resp)
	}
	var oe *ociError
	if errors.As(err, &oe) {
		writeOCIError(w, r, oe.status, oe.code, oe.msg, nil)
		return
	}
	if errors.Is(err, errdefs.ErrUnauthenticated) {
		h.challengeError(w, r, resp.scope, err.Error())
		return
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			writeOCIError(w, r, c.status, c.code, err.Error(), nil)
			return
		}
	}
	if r.Context().Err() != nil {
		// The client went away; nobody reads the answer.
		return
	}
	h.log.Error("registry request failed", "method", r.Method, "path", r.URL.Path,
		"user", viewer.FromContext(r.Context()).Name(), "err", err)
	writeOCIError(w, r, http.StatusInternalServerError, "UNKNOWN", "internal server error", nil)
}

func writeOCIError(w http.ResponseWriter, r *http.Request, status int, code, msg string, detail any) {
	body, _ := json.Marshal(map[string]any{
		"errors": []map[string]any{{"code": code, "message": msg, "detail": detail}},
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
