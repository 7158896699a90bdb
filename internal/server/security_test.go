package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server"
	"github.com/berth-registry/berth/internal/server/servertest"
)

func TestEveryResponseCarriesTheSecurityHeaders(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind)
			for _, tc := range []struct {
				name, method, path, accept, body string
			}{
				{"portal index", http.MethodGet, "/", "text/html", ""},
				{"portal deep link", http.MethodGet, "/projects/team-a", "text/html", ""},
				{"GraphiQL", http.MethodGet, "/graphql", "text/html", ""},
				{"GraphQL operation", http.MethodPost, "/graphql", "application/json", `{"query":"{ viewer { username } }"}`},
				{"registry API", http.MethodGet, "/v2/", "", ""},
				{"token service", http.MethodGet, "/service/token?service=berth", "", ""},
				{"health", http.MethodGet, "/healthz", "", ""},
				{"not found", http.MethodGet, "/auth/nothing-here", "", ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					req, _ := http.NewRequest(tc.method, s.URL+tc.path, strings.NewReader(tc.body))
					if tc.accept != "" {
						req.Header.Set("Accept", tc.accept)
					}
					if tc.body != "" {
						req.Header.Set("Content-Type", "application/json")
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					h := resp.Header
					if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
						t.Fatalf("X-Frame-Options %q, X-Content-Type-Options %q, Referrer-Policy %q",
							h.Get("X-Frame-Options"), h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
					}
					csp := directives(h.Get("Content-Security-Policy"))
					host := strings.TrimPrefix(s.URL, "http://")
					for name, want := range map[string]string{
						"default-src":     "'self'",
						"script-src":      "'self'",
						"style-src":       "'self' 'unsafe-inline'",
						"img-src":         "'self' data:",
						"connect-src":     "'self' ws://" + host + " wss://" + host,
						"frame-ancestors": "'none'",
						"base-uri":        "'self'",
						"form-action":     "'self'",
					} {
						if csp[name] != want {
							t.Errorf("Content-Security-Policy %s is %q, want %q (policy %q)", name, csp[name], want, h.Get("Content-Security-Policy"))
						}
					}
				})
			}
		})
	}
}

// directives splits a Content-Security-Policy into its directives.
func directives(policy string) map[string]string {
	out := map[string]string{}
	for _, d := range strings.Split(policy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		if name != "" {
			out[name] = value
		}
	}
	return out
}

func TestHostHeaderCannotAddPolicyDirectives(t *testing.T) {
	s := servertest.Start(t, "sqlite")
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/", nil)
	req.Host = "evil.example;script-src=*"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if strings.Contains(csp, "evil") || directives(csp)["connect-src"] != "'self'" {
		t.Fatalf("the Host header reached the policy: %q", csp)
	}
}

// TestLoginAcceptsJSONOnly: an HTML form on another site can post
// form-encoded and text/plain bodies without a CORS preflight and would
// sign the visitor in to the attacker's account (login CSRF).
func TestLoginAcceptsJSONOnly(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind)
			creds := `{"username":"admin","password":"` + servertest.AdminPassword + `"}`
			for _, tc := range []struct {
				name, contentType, body string
				status                  int
			}{
				{"FormIsRefused", "application/x-www-form-urlencoded", "username=admin&password=" + servertest.AdminPassword, http.StatusUnsupportedMediaType},
				{"MultipartIsRefused", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nadmin\r\n--x--\r\n", http.StatusUnsupportedMediaType},
				{"TextPlainJSONIsRefused", "text/plain", creds, http.StatusUnsupportedMediaType},
				{"NoContentTypeIsRefused", "", creds, http.StatusUnsupportedMediaType},
				{"JSONSignsIn", "application/json", creds, http.StatusOK},
				{"JSONWithCharsetSignsIn", "application/json; charset=utf-8", creds, http.StatusOK},
			} {
				t.Run(tc.name, func(t *testing.T) {
					req, _ := http.NewRequest(http.MethodPost, s.URL+"/auth/login", strings.NewReader(tc.body))
					if tc.contentType != "" {
						req.Header.Set("Content-Type", tc.contentType)
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					defer resp.Body.Close()
					if resp.StatusCode != tc.status {
						t.Fatalf("answered %d, want %d", resp.StatusCode, tc.status)
					}
					if tc.status == http.StatusOK {
						return
					}
					if len(resp.Cookies()) > 0 {
						t.Fatalf("a refused login set cookies: %v", resp.Cookies())
					}
					var body struct {
						Errors []struct {
							Message    string
							Extensions struct{ Code string }
						}
					}
					if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Errors) != 1 ||
						body.Errors[0].Extensions.Code != "UNSUPPORTED_MEDIA_TYPE" || !strings.Contains(body.Errors[0].Message, "JSON") {
						t.Fatalf("the 415 body is not a JSON error: %+v %v", body, err)
					}
				})
			}
		})
	}
}

// TestLogoutNeedsTheCSRFHeaderOfALiveSession: another site can make a
// browser POST to /auth/logout with its cookies; without the CSRF header
// the session must survive.
func TestLogoutNeedsTheCSRFHeaderOfALiveSession(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind)
			logout := func(c servertest.Creds, csrf string) int {
				req, _ := http.NewRequest(http.MethodPost, s.URL+"/auth/logout", nil)
				for _, ck := range c.Cookies {
					req.AddCookie(ck)
				}
				if csrf != "" {
					req.Header.Set("X-Berth-CSRF", csrf)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			alive := func(c servertest.Creds) bool {
				return s.Do(c, `{ viewer { username } }`, nil).Code() == ""
			}
			sess := s.Session("admin", servertest.AdminPassword)
			for _, csrf := range []string{"", "c_not-the-token", sess.CSRF + "x"} {
				if got := logout(sess, csrf); got != http.StatusForbidden {
					t.Fatalf("logout with CSRF header %q answered %d, want 403", csrf, got)
				}
				if !alive(sess) {
					t.Fatalf("logout with CSRF header %q ended the session", csrf)
				}
			}
			if got := logout(sess, sess.CSRF); got != http.StatusNoContent {
				t.Fatalf("logout with the CSRF header answered %d, want 204", got)
			}
			if alive(sess) {
				t.Fatal("the session outlived its logout")
			}
			// A dead cookie has no session to protect: it is just cleared.
			if got := logout(sess, ""); got != http.StatusNoContent {
				t.Fatalf("logout with a dead cookie answered %d, want 204", got)
			}
			if got := logout(servertest.Creds{}, ""); got != http.StatusNoContent {
				t.Fatalf("logout without a cookie answered %d, want 204", got)
			}
		})
	}
}

// TestMetricsAddrMovesMetricsOffTheMainPort runs the real listeners: with
// --metrics-addr, /metrics answers only there and the main port says 404;
// without it, /metrics stays on the main port.
func TestMetricsAddrMovesMetricsOffTheMainPort(t *testing.T) {
	for _, tc := range []struct {
		name        string
		metricsAddr string
	}{
		{"separate listener", "127.0.0.1:0"},
		{"main port", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := newConfig(t)
			cfg.MetricsAddr = tc.metricsAddr
			s, err := server.New(context.Background(), cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithCancel(context.Background())
			addrs := make(chan [2]net.Addr, 1)
			done := make(chan error, 1)
			go func() {
				done <- s.Run(ctx, func(addr net.Addr) { addrs <- [2]net.Addr{addr, s.MetricsAddr()} })
			}()
			var main, metrics net.Addr
			select {
			case a := <-addrs:
				main, metrics = a[0], a[1]
			case err := <-done:
				t.Fatalf("Run: %v", err)
			}
			get := func(addr net.Addr, path string) (int, string) {
				resp, err := http.Get("http://" + addr.String() + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(body)
			}
			get(main, "/healthz") // something for the counters to count
			if tc.metricsAddr == "" {
				if metrics != nil {
					t.Fatalf("MetricsAddr() = %v without --metrics-addr", metrics)
				}
				if code, body := get(main, "/metrics"); code != http.StatusOK || !strings.Contains(body, "berth_http_requests_total") {
					t.Fatalf("/metrics on the main port: %d", code)
				}
			} else {
				if metrics == nil {
					t.Fatal("no metrics listener")
				}
				if code, _ := get(main, "/metrics"); code != http.StatusNotFound {
					t.Fatalf("/metrics on the main port answered %d, want 404", code)
				}
				if code, body := get(metrics, "/metrics"); code != http.StatusOK || !strings.Contains(body, `berth_http_requests_total{area="health",code="200",method="GET"}`) {
					t.Fatalf("/metrics on --metrics-addr: %d\n%s", code, body)
				}
				if code, _ := get(metrics, "/graphql"); code != http.StatusNotFound {
					t.Fatalf("the metrics listener serves /graphql: %d", code)
				}
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run after cancel: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
			if metrics != nil {
				if _, err := http.Get("http://" + metrics.String() + "/metrics"); err == nil {
					t.Fatal("the metrics listener outlived the server")
				}
			}
		})
	}
}

func TestMetricsAddrInUseIsAConfigError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := newConfig(t)
	cfg.MetricsAddr = busy.Addr().String()
	s, err := server.New(context.Background(), cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Run(context.Background(), nil)
	var cerr *config.Error
	if !errors.As(err, &cerr) || !strings.Contains(cerr.Setting, "--metrics-addr") {
		t.Fatalf("want a --metrics-addr config error, got %v", err)
	}
}

// TestPprofAddrServesProfilesOnLoopbackOnly: --pprof-addr serves Go's
// profiles on its own loopback listener, never on the main port, and an
// address reachable from the network is refused at start.
func TestPprofAddrServesProfilesOnLoopbackOnly(t *testing.T) {
	for _, bad := range []string{"0.0.0.0:6060", ":6060", "10.1.2.3:6060", "example.com:6060"} {
		cfg := newConfig(t)
		cfg.PprofAddr = bad
		var cerr *config.Error
		if err := cfg.Validate(); !errors.As(err, &cerr) || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("--pprof-addr %s: %v, want a refusal naming loopback", bad, err)
		}
	}
	cfg := newConfig(t)
	cfg.PprofAddr = "127.0.0.1:0"
	s, err := server.New(context.Background(), cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func(addr net.Addr) { addrs <- [2]net.Addr{addr, s.PprofAddr()} }) }()
	var main, prof net.Addr
	select {
	case a := <-addrs:
		main, prof = a[0], a[1]
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	status := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := status("http://" + prof.String() + "/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Fatalf("goroutine profile: %d", code)
	}
	if code, body := status("http://" + main.String() + "/debug/pprof/"); strings.Contains(body, "goroutine") {
		t.Fatalf("profiles on the main port: %d", code)
	}
}
