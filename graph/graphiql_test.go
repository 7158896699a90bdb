package graph_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/server/servertest"
)

// TestGraphiQLIsServedByBerth: a browser asking /graphql for HTML gets
// berth's own GraphiQL page (built with the portal), which loads nothing
// from a CDN, where gqlgen's playground loaded its JavaScript from one.
func TestGraphiQLIsServedByBerth(t *testing.T) {
	s := servertest.Start(t, "sqlite")
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/graphql", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, "berth GraphQL") {
		t.Fatalf("%d %s: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
	for _, cdn := range []string{"jsdelivr", "unpkg", "cdnjs", "http://", "https://"} {
		if strings.Contains(page, cdn) {
			t.Fatalf("the GraphiQL page names %q", cdn)
		}
	}
}
