package oidc_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server/servertest"
)

// secret is what the servers below answer with; it must never reach the
// admin who runs the connection test (the test is a request berth makes
// on their behalf, to any URL they type).
const secret = "INTERNAL-SECRET-7f3a"

const testConnection = `mutation($i: String!) { testOIDCConnection(issuer: $i) { ok error tokenEndpoint } }`

type connectionResult struct {
	TestOIDCConnection struct {
		OK            bool    `json:"ok"`
		Error         *string `json:"error"`
		TokenEndpoint *string `json:"tokenEndpoint"`
	} `json:"testOIDCConnection"`
}

func testConnectionAs(t *testing.T, s *servertest.Server, issuer string) (ok bool, errText string) {
	t.Helper()
	var out connectionResult
	s.MustDo(servertest.Admin, testConnection, map[string]any{"i": issuer}, &out)
	r := out.TestOIDCConnection
	if r.Error != nil {
		errText = *r.Error
	}
	return r.OK, errText
}

// TestOIDCConnectionTestGivesAShortReasonAndNeverTheBody: whatever
// answers, the error is a few words berth chose, with none of the answer.
func TestOIDCConnectionTestGivesAShortReasonAndNeverTheBody(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/missing/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, secret, http.StatusNotFound)
	})
	mux.HandleFunc("/html/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, "<html><body>%s</body></html>", secret)
	})
	mux.HandleFunc("/json/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"secret": %q}`, secret)
	})
	mux.HandleFunc("/other-issuer/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer": "https://%s.example", "authorization_endpoint": "https://a.example/auth",
			"token_endpoint": "https://a.example/token", "jwks_uri": "https://a.example/keys"}`, secret)
	})
	mux.HandleFunc("/error/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, secret, http.StatusInternalServerError)
	})
	plain := httptest.NewServer(mux)
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(mux)
	defer tlsSrv.Close()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedURL := "http://" + closed.Addr().String()
	closed.Close()

	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind, func(c *config.Config) { c.OIDCAllowPrivate = "true" })
			for _, tc := range []struct {
				name, issuer, want string
			}{
				{"NotFoundGivesTheStatus", plain.URL + "/missing", "the issuer answered HTTP 404"},
				{"ServerErrorGivesTheStatus", plain.URL + "/error", "the issuer answered HTTP 500"},
				{"HTMLIsNotADiscoveryDocument", plain.URL + "/html", "not an OpenID discovery document"},
				{"OtherJSONIsNotADiscoveryDocument", plain.URL + "/json", "not an OpenID discovery document"},
				{"AnotherIssuerIsNamedWithoutItsValue", plain.URL + "/other-issuer", "the discovery document names another issuer"},
				{"ClosedPortIsConnectionRefused", closedURL, "connection refused"},
				{"UntrustedCertificateIsATLSError", tlsSrv.URL + "/json", "TLS error"},
				{"UnknownHostIsNamed", "http://berth-test.invalid", "the issuer's host name"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					ok, got := testConnectionAs(t, s, tc.issuer)
					if ok || !strings.HasPrefix(got, tc.want) {
						t.Fatalf("testOIDCConnection(%s) = ok %v, error %q; want an error starting %q", tc.issuer, ok, got, tc.want)
					}
					if strings.Contains(got, secret) || strings.Contains(got, "127.0.0.1") || len(got) > 200 {
						t.Fatalf("the error says too much: %q", got)
					}
				})
			}
		})
	}
}

// TestOIDCConnectionTestRefusesPrivateAddresses: without
// --oidc-allow-private no request reaches loopback, whatever the name.
func TestOIDCConnectionTestRefusesPrivateAddresses(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, secret)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind)
			for _, issuer := range []string{srv.URL, "http://localhost:" + port + "/realms/x", "http://[::ffff:127.0.0.1]:" + port} {
				ok, got := testConnectionAs(t, s, issuer)
				if ok || !strings.Contains(got, "--oidc-allow-private") || strings.Contains(got, secret) {
					t.Fatalf("testOIDCConnection(%s) = ok %v, error %q; want a refusal naming --oidc-allow-private", issuer, ok, got)
				}
			}
			if n := hits.Load(); n != 0 {
				t.Fatalf("the private server was reached %d times", n)
			}
		})
	}
}

// TestConfiguredProviderOnAPrivateAddressIsRefused: the sign-in flow's
// discovery goes through the same guarded client as the connection test.
func TestConfiguredProviderOnAPrivateAddressIsRefused(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind, func(c *config.Config) {
				c.AuthMode, c.OIDCIssuer, c.OIDCClientID = "oidc", srv.URL, "berth"
			})
			resp, err := (&http.Transport{}).RoundTrip(mustRequest(t, s.URL+"/auth/oidc/login"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadGateway {
				t.Fatalf("/auth/oidc/login with a provider on loopback answered %d, want 502", resp.StatusCode)
			}
			if n := hits.Load(); n != 0 {
				t.Fatalf("the private provider was reached %d times", n)
			}
		})
	}
}

func mustRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
