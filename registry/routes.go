package registry

import (
	"net/http"
	"strings"
)

// route is a parsed /v2/ path.
type route struct {
	kind string // base, catalog, tags, manifest, blob, upload, referrers
	name string // repository name
	ref  string // tag, digest or upload id
}

// parseRoute splits a /v2/ path. Repository names contain slashes, so the
// resource is found by its marker from the end of the path.
func parseRoute(path string) (route, bool) {
	p, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		if path == "/v2" {
			return route{kind: "base"}, true
		}
		return route{}, false
	}
	switch p {
	case "":
		return route{kind: "base"}, true
	case "_catalog":
		return route{kind: "catalog"}, true
	}
	if name, ok := strings.CutSuffix(p, "/tags/list"); ok {
		return route{kind: "tags", name: name}, true
	}
	// Before the markers: "/blobs/" matches here too, and would make this
	// upload start a blob request for the digest "uploads".
	if name, ok := strings.CutSuffix(p, "/blobs/uploads"); ok {
		return route{kind: "upload", name: name}, true
	}
	markers := []struct{ marker, kind string }{
		{"/blobs/uploads/", "upload"},
		{"/manifests/", "manifest"},
		{"/referrers/", "referrers"},
		{"/blobs/", "blob"},
	}
	best, bestKind, bestMarker := -1, "", ""
	for _, m := range markers {
		if i := strings.LastIndex(p, m.marker); i > best {
			best, bestKind, bestMarker = i, m.kind, m.marker
		}
	}
	// "/blobs/uploads/" also contains "/blobs/": prefer the longer match at
	// the same place.
	if i := strings.LastIndex(p, "/blobs/uploads/"); i >= 0 && i == best {
		bestKind, bestMarker = "upload", "/blobs/uploads/"
	}
	if best <= 0 {
		return route{}, false
	}
	rt := route{kind: bestKind, name: p[:best], ref: p[best+len(bestMarker):]}
	if rt.kind != "upload" && rt.ref == "" {
		return route{}, false
	}
	if strings.Contains(rt.ref, "/") {
		return route{}, false
	}
	return rt, true
}

// ServeHTTP authenticates the request and dispatches it.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	rt, ok := parseRoute(r.URL.Path)
	if !ok {
		h.writeError(w, r, errNotFound)
		return
	}
	r, ok = h.authenticate(w, r)
	if !ok {
		return
	}
	m := r.Method
	switch rt.kind {
	case "base":
		if m == http.MethodGet || m == http.MethodHead {
			h.base(w, r)
			return
		}
	case "catalog":
		if m == http.MethodGet {
			h.catalog(w, r)
			return
		}
	case "tags":
		if m == http.MethodGet {
			h.tagList(w, r, rt.name)
			return
		}
	case "referrers":
		if m == http.MethodGet {
			h.referrers(w, r, rt.name, rt.ref)
			return
		}
	case "manifest":
		switch m {
		case http.MethodGet, http.MethodHead:
			h.getManifest(w, r, rt.name, rt.ref)
			return
		case http.MethodPut:
			h.putManifest(w, r, rt.name, rt.ref)
			return
		case http.MethodDelete:
			h.deleteManifest(w, r, rt.name, rt.ref)
			return
		}
	case "blob":
		switch m {
		case http.MethodGet, http.MethodHead:
			h.getBlob(w, r, rt.name, rt.ref)
			return
		case http.MethodDelete:
			h.deleteBlob(w, r, rt.name, rt.ref)
			return
		}
	case "upload":
		if rt.ref == "" {
			if m == http.MethodPost {
				h.startUpload(w, r, rt.name)
				return
			}
			break
		}
		switch m {
		case http.MethodGet:
			h.uploadStatus(w, r, rt.name, rt.ref)
			return
		case http.MethodPatch:
			h.patchUpload(w, r, rt.name, rt.ref)
			return
		case http.MethodPut:
			h.finishUpload(w, r, rt.name, rt.ref)
			return
		case http.MethodDelete:
			h.cancelUpload(w, r, rt.name, rt.ref)
			return
		}
	}
	h.writeError(w, r, errMethod)
}

func (h *handler) base(w http.ResponseWriter, r *http.Request) {
	// Token-flow clients discover the realm here: anonymous callers always
	// get the challenge, even though they may pull public repositories.
	if requestInfo(r).viewer.IsAnonymous() {
		h.challenge(w, r, "", "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write([]byte("{}"))
	}
}
