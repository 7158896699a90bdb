package portal

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func TestGraphiQLServesTheBuiltPage(t *testing.T) {
	page := `<!doctype html><script type="module" src="/assets/graphiql-1a2b.js"></script><div id="graphiql"></div>`
	rec := httptest.NewRecorder()
	graphiql(fstest.MapFS{"graphiql.html": {Data: []byte(page)}}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graphql", nil))
	if rec.Code != 200 || rec.Body.String() != page || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" || rec.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("%d %q %v", rec.Code, rec.Body, rec.Header())
	}
	rec = httptest.NewRecorder()
	graphiql(fstest.MapFS{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/graphql", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "built without the portal") {
		t.Fatalf("without a build: %d %q", rec.Code, rec.Body)
	}
}

// TestGraphiQLPageLoadsOnlyFromBerth checks the page source (portal/
// graphiql.html) and, when the portal was built, the built page: every
// script and stylesheet is a file of berth's own, and no script is inline,
// so the page works offline and under script-src 'self'.
func TestGraphiQLPageLoadsOnlyFromBerth(t *testing.T) {
	for _, name := range []string{"graphiql.html", "dist/graphiql.html"} {
		raw, err := os.ReadFile(name)
		if os.IsNotExist(err) && name != "graphiql.html" {
			continue // the portal is not built
		}
		if err != nil {
			t.Fatal(err)
		}
		page := string(raw)
		for _, tag := range regexp.MustCompile(`(?s)<script\b[^>]*>.*?</script>|<link\b[^>]*>`).FindAllString(page, -1) {
			ref := regexp.MustCompile(`\b(?:src|href)="([^"]*)"`).FindStringSubmatch(tag)
			if ref == nil || !strings.HasPrefix(ref[1], "/") || strings.HasPrefix(ref[1], "//") {
				t.Errorf("%s: %s does not load from berth", name, tag)
			}
			if body, ok := strings.CutSuffix(tag, "</script>"); ok && strings.TrimSpace(body[strings.Index(body, ">")+1:]) != "" {
				t.Errorf("%s: inline script %s", name, tag)
			}
		}
		if strings.Contains(page, "cdn.") || strings.Contains(page, "unpkg") || strings.Contains(page, "jsdelivr") {
			t.Errorf("%s names a CDN", name)
		}
	}
}
