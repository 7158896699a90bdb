package graph_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/server/servertest"
)

func TestPortalSessionNeedsCSRFForMutations(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		sess := s.Session("admin", servertest.AdminPassword)
		for _, c := range sess.Cookies {
			if c.Name == "berth_session" && (!c.HttpOnly || c.SameSite != http.SameSiteLaxMode) {
				t.Fatalf("session cookie must be HttpOnly and SameSite=Lax: %+v", c)
			}
		}
		var v struct{ Viewer struct{ Username string } }
		s.MustDo(sess, `{ viewer { username } }`, nil, &v)
		if v.Viewer.Username != "admin" {
			t.Fatalf("session viewer: %+v", v)
		}
		noCSRF := servertest.Creds{Cookies: sess.Cookies}
		if r := s.Do(noCSRF, `mutation { createProject(input: {name: "x"}) { id } }`, nil); r.Status != http.StatusForbidden || r.Code() != "FORBIDDEN" {
			t.Fatalf("mutation without CSRF header: %d %q", r.Status, r.Code())
		}
		s.MustDo(sess, `mutation { createProject(input: {name: "x"}) { id } }`, nil, nil)

		req, _ := http.NewRequest(http.MethodPost, s.URL+"/auth/logout", nil)
		for _, c := range sess.Cookies {
			req.AddCookie(c)
		}
		req.Header.Set("X-Berth-CSRF", sess.CSRF)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("logout: %v %v", resp, err)
		}
		if r := s.Do(sess, `{ viewer { username } }`, nil); r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("after logout the cookie must be refused: %d %q", r.Status, r.Code())
		}
		if c := s.Login("admin", "wrong"); c != http.StatusUnauthorized {
			t.Fatalf("wrong password login: %d", c)
		}
	})
}

// TestOnlyBasicCredentialsAreChallenged: a browser answers a Basic
// challenge with its own password prompt, so failed portal sign-ins and
// stale session cookies must not carry one; failed Basic credentials do.
func TestOnlyBasicCredentialsAreChallenged(t *testing.T) {
	s := servertest.Start(t, "sqlite")
	resp, err := http.Post(s.URL+"/auth/login", "application/json", strings.NewReader(`{"username":"admin","password":"wrong"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("failed login: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { username } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: "berth_session", Value: "s_stale"})
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("stale session: %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	req, _ = http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(`{"query":"{ viewer { username } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", "wrong")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("wrong Basic credentials should be challenged, got %q", resp.Header.Get("WWW-Authenticate"))
	}
}
