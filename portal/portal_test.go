package portal

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func testFS() fstest.MapFS {
	return fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html><div id=root></div>")},
		"assets/app-1a2b.js": {Data: []byte("console.log(1)")},
		"favicon.svg":        {Data: []byte("<svg/>")},
		".gitkeep":           {Data: nil},
	}
}

func TestHandlerServesFilesAndFallsBackToIndex(t *testing.T) {
	h := handler(testFS())
	cases := []struct {
		path, wantCache, wantBody string
		wantStatus                int
	}{
		{"/", "no-cache", "<!doctype html><div id=root></div>", 200},
		{"/projects/team-a/repositories/app", "no-cache", "<!doctype html><div id=root></div>", 200},
		{"/index.html", "no-cache", "<!doctype html><div id=root></div>", 200},
		{"/.gitkeep", "no-cache", "<!doctype html><div id=root></div>", 200},
		{"/assets/app-1a2b.js", "public, max-age=31536000, immutable", "console.log(1)", 200},
		{"/favicon.svg", "public, max-age=3600", "<svg/>", 200},
		{"/assets/missing-9z.js", "", "", 404},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rec.Code != c.wantStatus {
			t.Errorf("%s: status %d, want %d", c.path, rec.Code, c.wantStatus)
			continue
		}
		if c.wantStatus != 200 {
			continue
		}
		if got := rec.Header().Get("Cache-Control"); got != c.wantCache {
			t.Errorf("%s: Cache-Control %q, want %q", c.path, got, c.wantCache)
		}
		if got := rec.Body.String(); got != c.wantBody {
			t.Errorf("%s: body %q, want %q", c.path, got, c.wantBody)
		}
	}
}

func TestHandlerNeverFallsBackForServerPaths(t *testing.T) {
	h := handler(testFS())
	for _, p := range []string{"/v2/", "/v2/x/manifests/latest", "/graphql", "/auth/oidc/login", "/service/token", "/healthz", "/readyz", "/metrics"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, rec.Code)
		}
	}
}

func TestHandlerWithoutBuildExplainsHowToBuild(t *testing.T) {
	h := handler(fstest.MapFS{".gitkeep": {}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/projects", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "make build") {
		t.Fatalf("status %d body %q", rec.Code, rec.Body.String())
	}
}
