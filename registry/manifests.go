package registry

import (
	"net/http"
	"strconv"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth"
)

// getManifest serves GET and HEAD /v2/<name>/manifests/<reference>: the
// stored bytes, byte for byte, with the stored media type.
func (h *handler) getManifest(w http.ResponseWriter, r *http.Request, name, ref string) {
	if !h.scopeOK(w, r, name, auth.RepositoryPull) {
		return
	}
	a, err := h.art.GetManifest(r.Context(), name, ref, r.Method == http.MethodGet)
	if err != nil {
		h.writeError(w, r, err, withScope(scopeFor(name, auth.RepositoryPull)))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.MediaType)
	hd.Set("Content-Length", strconv.Itoa(len(a.Manifest)))
	hd.Set("Docker-Content-Digest", a.Digest)
	hd.Set("ETag", `"`+a.Digest+`"`)
	if match := r.Header.Get("If-None-Match"); match != "" && match == `"`+a.Digest+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(a.Manifest)
	}
}

// putManifest serves PUT /v2/<name>/manifests/<reference>, with extra tags
// as repeated ?tag= parameters.
func (h *handler) putManifest(w http.ResponseWriter, r *http.Request, name, ref string) {
	if !h.scopeOK(w, r, name, auth.RepositoryPush) {
		return
	}
	tags := r.URL.Query()["tag"]
	res, err := h.art.PutManifest(r.Context(), name, ref, r.Header.Get("Content-Type"), r.Body, tags)
	if err != nil {
		h.writeError(w, r, err, withScope(scopeFor(name, auth.RepositoryPush)))
		return
	}
	hd := w.Header()
	hd.Set("Location", "/v2/"+name+"/manifests/"+res.Digest.String())
	hd.Set("Docker-Content-Digest", res.Digest.String())
	if res.Subject != "" {
		hd.Set("OCI-Subject", res.Subject.String())
	}
	for _, t := range tags {
		hd.Add("OCI-Tag", t)
	}
	hd.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// deleteManifest serves DELETE /v2/<name>/manifests/<reference>: by digest
// it deletes the artifact, by tag only the tag.
func (h *handler) deleteManifest(w http.ResponseWriter, r *http.Request, name, ref string) {
	action := auth.TagDelete
	if _, err := digest.Parse(ref); err == nil {
		action = auth.ArtifactDelete
	}
	if !h.scopeOK(w, r, name, action) {
		return
	}
	if err := h.art.DeleteManifest(r.Context(), name, ref); err != nil {
		h.writeError(w, r, err, withScope(scopeFor(name, action)))
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}
