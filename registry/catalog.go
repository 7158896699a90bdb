package registry

import "net/http"

// catalog serves GET /v2/_catalog?n=&last=: the repositories the caller
// may see, in lexical order.
func (h *handler) catalog(w http.ResponseWriter, r *http.Request) {
	n, last, err := pageParams(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	names, more, err := h.art.Catalog(r.Context(), n, last)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if names == nil {
		names = []string{}
	}
	if more && len(names) > 0 {
		w.Header().Set("Link", nextLink("/v2/_catalog", n, names[len(names)-1]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"repositories": names})
}
