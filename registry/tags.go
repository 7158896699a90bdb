package registry

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/berth-registry/berth/internal/auth"
)

// pageParams reads the n and last parameters of tag and catalog listings;
// n is -1 when absent.
func pageParams(r *http.Request) (n int, last string, err error) {
	q := r.URL.Query()
	n = -1
	if v := q.Get("n"); v != "" {
		n, err = strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, "", &ociError{http.StatusBadRequest, "UNSUPPORTED", "n must be a non-negative integer"}
		}
	}
	return n, q.Get("last"), nil
}

// nextLink is the Link header that points at the next page.
func nextLink(path string, n int, last string) string {
	v := url.Values{}
	v.Set("n", strconv.Itoa(n))
	v.Set("last", last)
	return "<" + path + "?" + v.Encode() + `>; rel="next"`
}

// tagList serves GET /v2/<name>/tags/list?n=&last=.
func (h *handler) tagList(w http.ResponseWriter, r *http.Request, name string) {
	if !h.scopeOK(w, r, name, auth.RepositoryPull) {
		return
	}
	n, last, err := pageParams(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	tags, more, err := h.art.Tags(r.Context(), name, n, last)
	if err != nil {
		h.writeError(w, r, err, withScope(scopeFor(name, auth.RepositoryPull)))
		return
	}
	if tags == nil {
		tags = []string{}
	}
	if more && len(tags) > 0 {
		w.Header().Set("Link", nextLink("/v2/"+name+"/tags/list", n, tags[len(tags)-1]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"name": name, "tags": tags})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, _ := json.Marshal(v)
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
