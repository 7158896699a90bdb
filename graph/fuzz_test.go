package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/server/servertest"
)

// FuzzGraphQLRequest posts arbitrary bodies to the real /graphql endpoint
// of a whole berth on SQLite, anonymously or in an admin's portal session
// (which holds a project to query). Whatever the body, the server answers
// without panicking, with a status below 500, in JSON, and every error it
// reports carries an extensions.code other than INTERNAL: malformed JSON,
// queries and variables are the caller's fault, never the server's.
// Seeds: testdata/fuzz/FuzzGraphQLRequest.
func FuzzGraphQLRequest(f *testing.F) {
	s := servertest.Start(f, database.SQLite)
	s.CreateProject(servertest.Admin, "team-a", true)
	session := s.Session("admin", servertest.AdminPassword)
	h := s.Berth.Handler()

	f.Fuzz(func(t *testing.T, body []byte, asAdmin bool) {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if asAdmin {
			for _, c := range session.Cookies {
				req.AddCookie(c)
			}
			req.Header.Set("X-Berth-CSRF", session.CSRF)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		var resp struct {
			Data   json.RawMessage `json:"data"`
			Errors []struct {
				Message    string         `json:"message"`
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("status %d, response is not JSON (%v): %q", rec.Code, err, rec.Body)
		}
		if rec.Code != http.StatusOK && len(resp.Errors) == 0 {
			t.Fatalf("status %d without errors for %q: %s", rec.Code, body, rec.Body)
		}
		for _, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			if code == "" || code == "INTERNAL" {
				t.Fatalf("error %q with code %q for %q", e.Message, code, body)
			}
		}
	})
}
