package security_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// The SSRF probe (hole 8): testOIDCConnection pointed at a server on the
// loopback interface that answers a canary.

// canaryServer is an internal service the attacker wants to read: every
// path answers canary, as text (/text), as an error page (/error) or
// inside a JSON document that is almost a discovery document (/json).
func canaryServer(t *testing.T) (srv *httptest.Server, canary string, hits *atomic.Int64) {
	t.Helper()
	canary = "SSRF-CANARY-" + randomText(20)
	hits = &atomic.Int64{}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch {
		case strings.HasPrefix(r.URL.Path, "/error"):
			http.Error(w, "internal secret: "+canary, http.StatusInternalServerError)
		case strings.HasPrefix(r.URL.Path, "/json"):
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"issuer": %q, "authorization_endpoint": "http://x/%s", "token_endpoint": "http://x/t", "jwks_uri": "http://x/k"}`, canary, canary)
		default:
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "db_password=%s\n", canary)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, canary, hits
}

const testOIDCConnection = `mutation($issuer: String!) { testOIDCConnection(issuer: $issuer) { ok error issuer authorizationEndpoint tokenEndpoint } }`

// testOIDCTestRefusesLoopback: without --oidc-allow-private the connection
// test does not reach a loopback address at all and says why.
func testOIDCTestRefusesLoopback(t *testing.T, f *fixture) {
	srv, canary, hits := canaryServer(t)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	for _, issuer := range []string{srv.URL + "/text", "http://localhost:" + port + "/json", srv.URL + "/error"} {
		g := f.main.gql(t, f.admin, testOIDCConnection, map[string]any{"issuer": issuer})
		body := string(g.HTTP.Body)
		if strings.Contains(body, canary) {
			t.Errorf("testOIDCConnection(%s) returned the internal server's body: %s", issuer, g)
		}
		lower := strings.ToLower(body)
		if !strings.Contains(lower, "private") && !strings.Contains(lower, "loopback") {
			t.Errorf("testOIDCConnection(%s) without --oidc-allow-private: %s; want a refusal naming private or loopback addresses", issuer, g)
		}
	}
	if n := hits.Load(); n > 0 {
		t.Errorf("without --oidc-allow-private, berth reached the loopback server %d times", n)
	}
}

// testOIDCTestNeverReturnsBody: with --oidc-allow-private the connection
// test reaches the server, and its answer carries none of what it read.
func testOIDCTestNeverReturnsBody(t *testing.T, kind string) {
	s := startServer(t, kind, serverOptions{allowPrivate: true})
	main := s.clientFrom(mainClientIP)
	srv, canary, hits := canaryServer(t)
	for _, path := range []string{"/text", "/error", "/json"} {
		g := main.gql(t, s.admin(), testOIDCConnection, map[string]any{"issuer": srv.URL + path})
		if strings.Contains(string(g.HTTP.Body), canary) {
			t.Errorf("testOIDCConnection(%s%s) returned what the server answered: %s", srv.URL, path, g)
		} else {
			t.Logf("testOIDCConnection(%s): %s", path, g)
		}
	}
	if hits.Load() == 0 {
		t.Errorf("with --oidc-allow-private, berth never reached the loopback server: the probe proves nothing")
	}
}
