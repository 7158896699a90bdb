// Package servertest starts a whole berth in-process on a test database and
// talks GraphQL to it the way scripts do.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server"
	"github.com/berth-registry/berth/registry/registrytest"
)

// AdminPassword is the admin password of every test server.
const AdminPassword = "admin-secret-1"

// Server is a berth under test.
type Server struct {
	*httptest.Server
	Berth *server.Server
	t     testing.TB
}

// Option changes the configuration of a test server before it starts.
type Option func(*config.Config)

// Start runs berth on a fresh database of the given kind. Its external URL
// is the test server's own URL, so redirects (OIDC) and token realms point
// back at it.
func Start(t testing.TB, kind string, opts ...Option) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	cfg := config.Default()
	cfg.Addr, cfg.DataDir, cfg.DatabaseURL = "127.0.0.1:0", t.TempDir(), dbtest.URL(t, kind)
	cfg.LogLevel, cfg.AdminPassword = "error", AdminPassword
	cfg.ExternalURL = "http://" + ln.Addr().String()
	if kind == database.Postgres {
		// PostgreSQL refuses to start without a key; on SQLite berth
		// generates one into the data dir.
		cfg.SecretKey = dbtest.SecretKey
	}
	for _, o := range opts {
		o(cfg)
	}
	// Errors always reach the test's log (shown when it fails); warnings
	// too with -v.
	level := slog.LevelError
	if testing.Verbose() {
		level = slog.LevelWarn
	}
	tw := &testWriter{t: t}
	log := slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: level}))
	b, err := server.New(context.Background(), cfg, server.Options{Version: "test", Logger: log})
	if err != nil {
		ln.Close()
		t.Fatalf("starting berth: %v", err)
	}
	ts := httptest.NewUnstartedServer(b.Handler())
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		registrytest.CheckUsage(t, b.Artifacts())
		b.Close()
		tw.close()
	})
	return &Server{Server: ts, Berth: b, t: t}
}

// testWriter sends log lines to the test's log until the server is
// closed, and to standard error after (testing panics on a late Log).
type testWriter struct {
	t      testing.TB
	mu     sync.Mutex
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return os.Stderr.Write(p)
	}
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}

// Creds authenticate a GraphQL request; the zero value is anonymous.
type Creds struct {
	Username, Password string // HTTP Basic
	Bearer             string
	// Cookies and CSRF are for portal-session requests.
	Cookies []*http.Cookie
	CSRF    string
}

// Admin is the admin user's credentials.
var Admin = Creds{Username: "admin", Password: AdminPassword}

// Basic returns Basic credentials.
func Basic(user, pass string) Creds { return Creds{Username: user, Password: pass} }

// Response is a GraphQL response.
type Response struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// Code is the extensions.code of the first error, or "" without errors.
func (r *Response) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Do sends one GraphQL operation.
func (s *Server) Do(c Creds, query string, vars map[string]any) *Response {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	switch {
	case c.Bearer != "":
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password)
	}
	for _, ck := range c.Cookies {
		req.AddCookie(ck)
	}
	if c.CSRF != "" {
		req.Header.Set("X-Berth-CSRF", c.CSRF)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("graphql request: %v", err)
	}
	defer resp.Body.Close()
	out := &Response{Status: resp.StatusCode}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, out); err != nil {
		s.t.Fatalf("graphql response %d is not JSON: %s", resp.StatusCode, raw)
	}
	return out
}

// MustDo sends an operation and fails the test on any error, decoding data into out.
func (s *Server) MustDo(c Creds, query string, vars map[string]any, out any) {
	s.t.Helper()
	r := s.Do(c, query, vars)
	if len(r.Errors) > 0 {
		s.t.Fatalf("graphql errors for %q: %+v", query, r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			s.t.Fatalf("decoding %s: %v", r.Data, err)
		}
	}
}

// CreateUser makes a non-admin user and returns its credentials.
func (s *Server) CreateUser(name string) Creds {
	s.t.Helper()
	pw := name + "-password"
	s.MustDo(Admin, `mutation($u: String!, $p: String!) { createUser(input: {username: $u, password: $p}) { id } }`,
		map[string]any{"u": name, "p": pw}, nil)
	return Basic(name, pw)
}

// CreateProject makes a project as c.
func (s *Server) CreateProject(c Creds, name string, public bool) {
	s.t.Helper()
	s.MustDo(c, `mutation($n: String!, $p: Boolean) { createProject(input: {name: $n, public: $p}) { id } }`,
		map[string]any{"n": name, "p": public}, nil)
}

// Login signs in through POST /auth/login and returns the status code.
func (s *Server) Login(username, password string) int {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	resp, err := http.Post(s.URL+"/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Session signs in through POST /auth/login and returns credentials that
// use the session cookie and its CSRF token, as the portal does.
func (s *Server) Session(username, password string) Creds {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	resp, err := http.Post(s.URL+"/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("login as %s: %d", username, resp.StatusCode)
	}
	var out struct{ CSRFToken string }
	json.NewDecoder(resp.Body).Decode(&out)
	return Creds{Cookies: resp.Cookies(), CSRF: out.CSRFToken}
}
