package registry

import (
	"net/http"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/auth"
)

// referrers serves GET /v2/<name>/referrers/<digest>?artifactType=: an
// image index of the manifests whose subject is digest.
func (h *handler) referrers(w http.ResponseWriter, r *http.Request, name, ref string) {
	if !h.scopeOK(w, r, name, auth.RepositoryPull) {
		return
	}
	d, err := parseDigest(ref)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	artifactType := r.URL.Query().Get("artifactType")
	descs, err := h.art.ReferrerDescriptors(r.Context(), name, d, artifactType)
	if err != nil {
		h.writeError(w, r, err, withScope(scopeFor(name, auth.RepositoryPull)))
		return
	}
	if descs == nil {
		descs = []ocispec.Descriptor{}
	}
	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: descs}
	idx.SchemaVersion = 2
	writeJSON(w, http.StatusOK, idx)
}
