// Package security_test is berth's adversarial test suite: it builds the
// real binary, starts it on SQLite and on a fresh PostgreSQL database, and
// replays as tests the probes of the security review (issue 8) the way an
// attacker would send them: an uploader racing two PATCHes to poison a
// blob, a read-only token calling every mutation in the schema, alias and
// body bombs, username floods, a robot lockout, refresh tokens outliving
// what issued them, robots reading and linking more than granted, SSRF
// through the OIDC connection test, project enumeration, missing browser
// hardening headers and CSRF through forms, logout links and websockets.
// After all of them it reads the server's whole log and audit table for
// every secret the suite used, and it measures the server's peak RSS
// (VmHWM), which must stay under 300 MB.
//
// Run it with
//
//	go test ./test/security/ -v
//
// PostgreSQL comes from BERTH_TEST_POSTGRES_URL (default: the local
// server); without it the PostgreSQL half skips, unless
// BERTH_TEST_REQUIRE_SERVICES=1. BERTH_SECURITY_BINARY names a berth
// binary to probe instead of building ./cmd/berth.
package security_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/testtool"
	"github.com/berth-registry/berth/test/cluster"
)

const (
	adminUser = "admin"
	// peakRSSLimit is the bound on the server's peak resident
	// memory through the whole suite.
	peakRSSLimit = 300 << 20
)

// Client addresses. Linux routes all of 127.0.0.0/8 to the loopback
// interface, so a client bound to another of them is another client to
// berth's per-address rate limits: the floods run from their own address
// and do not slow the probes that follow.
const (
	mainClientIP      = "127.0.0.1"
	bystanderIP       = "127.0.0.2" // the genuine robot after the lockout attempt
	floodClientIP     = "127.0.0.3"
	robotAttackerIP   = "127.0.0.4"
	refreshClientIP   = "127.0.0.5"
	enumerationIP     = "127.0.0.6"
	websocketAttackIP = "127.0.0.7"
)

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	cluster.RemoveBinary()
	os.Exit(code)
}

// repoRoot is the module root, found from this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// berthBinary builds cmd/berth once per test run, or returns
// BERTH_SECURITY_BINARY when set: a berth built elsewhere (an older
// commit, to see which probes it fails, or a release).
func berthBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("BERTH_SECURITY_BINARY"); bin != "" {
		return bin
	}
	return cluster.Binary(t)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// randomText returns n random lowercase hex characters.
func randomText(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// serverOptions are the flags a probe needs beyond the defaults.
type serverOptions struct {
	// allowPrivate starts berth with --oidc-allow-private.
	allowPrivate bool
	// metrics starts berth with --metrics-addr on a free port.
	metrics bool
}

// server is a running `berth serve`.
type server struct {
	kind       string // database.SQLite or database.Postgres
	URL        string // http://127.0.0.1:port
	Host       string // 127.0.0.1:port
	MetricsURL string // http://127.0.0.1:port of --metrics-addr, when set
	adminPass  string
	dataDir    string
	dbURL      string // empty for SQLite in the data dir
	logPath    string
	cmd        *exec.Cmd
	pid        int

	secrets *secretSet

	mu      sync.Mutex
	peakRSS int64 // the largest VmRSS sampled, bytes
	stopped bool
	hwm     int64 // VmHWM read just before the stop, bytes
	done    chan struct{}
}

// startServer runs berth on a fresh database of kind, logging JSON to a
// file, and samples its RSS every 100 ms until it stops. The free ports
// it picks can be taken by another test's process before berth binds
// them; berth then exits, and it starts again on others.
func startServer(t *testing.T, kind string, opts serverOptions) *server {
	t.Helper()
	return testtool.StartAgainWhilePortTaken(t, func() (*server, bool) { return startServerOnce(t, kind, opts) })
}

func startServerOnce(t *testing.T, kind string, opts serverOptions) (s *server, portTaken bool) {
	t.Helper()
	bin := berthBinary(t)
	addr := freeAddr(t)
	s = &server{
		kind: kind, URL: "http://" + addr, Host: addr,
		adminPass: "Adm1n-" + randomText(24),
		dataDir:   t.TempDir(), secrets: &secretSet{}, done: make(chan struct{}),
	}
	s.secrets.add(s.adminPass)
	s.logPath = filepath.Join(t.TempDir(), "berth.log")
	args := []string{"serve", "--addr", addr, "--data-dir", s.dataDir, "--external-url", s.URL,
		"--log-format", "json", "--log-level", "debug"}
	if kind == database.Postgres {
		s.dbURL = dbtest.URL(t, kind)
		args = append(args, "--database-url", s.dbURL)
	}
	if opts.allowPrivate {
		args = append(args, "--oidc-allow-private")
	}
	if opts.metrics {
		maddr := freeAddr(t)
		s.MetricsURL = "http://" + maddr
		args = append(args, "--metrics-addr", maddr)
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = append(os.Environ(), "BERTH_ADMIN_PASSWORD="+s.adminPass)
	if kind == database.Postgres {
		// Required on PostgreSQL; on SQLite berth generates one into the
		// data dir.
		s.cmd.Env = append(s.cmd.Env, "BERTH_SECRET_KEY="+dbtest.SecretKey)
		s.secrets.add(dbtest.SecretKey)
	}
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting berth: %v", err)
	}
	s.pid = s.cmd.Process.Pid
	go func() {
		s.cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	deadline := time.Now().Add(60 * time.Second)
	// Only once berth says it listens are the ports its own: until then
	// whoever took one in between would answer.
	logText := func() string { b, _ := os.ReadFile(s.logPath); return string(b) }
	if err := testtool.WaitListening(logText, s.done, time.Until(deadline)); err != nil {
		s.cmd.Process.Kill()
		<-s.done
		if errors.Is(err, testtool.ErrPortTaken) {
			return nil, true
		}
		t.Fatalf("%v:\n%s", err, s.logTail(40))
	}
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("berth log (%s), last lines:\n%s", kind, s.logTail(60))
		}
	})
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-s.done:
			t.Fatalf("berth exited while starting:\n%s", s.logTail(40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("berth did not start in 60s: %v\n%s", err, s.logTail(40))
		}
		time.Sleep(50 * time.Millisecond)
	}
	go s.sampleRSS()
	return s, false
}

// sampleRSS records the largest VmRSS every 100 ms until the server stops.
func (s *server) sampleRSS() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			if rss, err := s.status("VmRSS"); err == nil {
				s.mu.Lock()
				s.peakRSS = max(s.peakRSS, rss)
				s.mu.Unlock()
			}
		}
	}
}

// status reads one "kB" field of /proc/<pid>/status, in bytes.
func (s *server) status(field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %w", field, rest, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", field, s.pid)
}

// rss is the server's resident memory now.
func (s *server) rss(t *testing.T) int64 {
	t.Helper()
	v, err := s.status("VmRSS")
	if err != nil {
		t.Fatalf("reading the server's RSS: %v", err)
	}
	return v
}

// highWaterMark is the server's peak RSS (VmHWM) so far, or as read just
// before it stopped.
func (s *server) highWaterMark(t *testing.T) int64 {
	t.Helper()
	s.mu.Lock()
	stopped, hwm := s.stopped, s.hwm
	s.mu.Unlock()
	if stopped {
		return hwm
	}
	v, err := s.status("VmHWM")
	if err != nil {
		t.Fatalf("reading the server's VmHWM: %v", err)
	}
	return v
}

// watchRSS samples the server's RSS every 20 ms until the returned
// function is called, which returns the RSS before and the largest seen.
func (s *server) watchRSS(t *testing.T) func() (before, peak int64) {
	t.Helper()
	before := s.rss(t)
	peak := before
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if v, err := s.status("VmRSS"); err == nil {
					peak = max(peak, v)
				}
			}
		}
	}()
	return func() (int64, int64) {
		close(stop)
		wg.Wait()
		if v, err := s.status("VmRSS"); err == nil {
			peak = max(peak, v)
		}
		return before, peak
	}
}

// stop reads VmHWM, then stops the server (SIGINT, which flushes the
// audit log) and waits for it.
func (s *server) stop(t *testing.T) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	if v, err := s.status("VmHWM"); err == nil {
		s.hwm = v
	}
	s.mu.Unlock()
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		t.Errorf("berth did not stop within 20s of SIGINT; killing it")
		s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *server) logTail(n int) string {
	data, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 600 {
			lines[i] = l[:600] + "…"
		}
	}
	return strings.Join(lines, "\n")
}

// openDB opens the server's database directly, for what no API shows
// (the audit table's size and contents).
func (s *server) openDB(t *testing.T) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if s.kind == database.Postgres {
		db, err = sql.Open("pgx", s.dbURL)
	} else {
		db, err = sql.Open("sqlite", "file:"+filepath.Join(s.dataDir, "berth.db")+"?_pragma=busy_timeout(10000)")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// auditColumns are the text columns of audit_logs (ent/migrate/schema.go).
var auditColumns = []string{"actor", "operation", "resource_type", "resource", "project", "client_ip", "user_agent", "result", "detail"}

// auditTextBytes is the total length of the text in the audit table.
func (s *server) auditTextBytes(t *testing.T) int64 {
	t.Helper()
	var parts []string
	for _, c := range auditColumns {
		parts = append(parts, "LENGTH("+c+")")
	}
	var n int64
	q := "SELECT COALESCE(SUM(" + strings.Join(parts, "+") + "), 0) FROM audit_logs"
	if err := s.openDB(t).QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("measuring the audit table: %v", err)
	}
	return n
}

// auditText returns every audit entry's text, one entry a line.
func (s *server) auditText(t *testing.T) (string, int) {
	t.Helper()
	rows, err := s.openDB(t).Query("SELECT " + strings.Join(auditColumns, ", ") + " FROM audit_logs")
	if err != nil {
		t.Fatalf("reading the audit table: %v", err)
	}
	defer rows.Close()
	var b strings.Builder
	n := 0
	for rows.Next() {
		vals := make([]string, len(auditColumns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		b.WriteString(strings.Join(vals, "\t"))
		b.WriteByte('\n')
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String(), n
}

// secretSet is every secret the suite sent to or received from one server.
type secretSet struct {
	mu   sync.Mutex
	list []string
	seen map[string]bool
}

// add records secrets; strings too short to be a secret (the made-up
// "x" arguments) are ignored, since they would match anything.
func (s *secretSet) add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	for _, v := range secrets {
		if len(v) < 12 || s.seen[v] {
			continue
		}
		s.seen[v] = true
		s.list = append(s.list, v)
	}
}

func (s *secretSet) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.list...)
}

// credential is how a request authenticates.
type credential struct {
	header string // the Authorization header value, "" for none
	cookie *http.Cookie
	csrf   string
}

var anonymous = credential{}

// basic is HTTP Basic credentials; the password and header are secrets.
func (s *server) basic(user, pass string) credential {
	h := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	s.secrets.add(pass, h, strings.TrimPrefix(h, "Basic "))
	return credential{header: h}
}

// bearer is a Bearer credential; the token and header are secrets.
func (s *server) bearer(token string) credential {
	s.secrets.add(token, "Bearer "+token)
	return credential{header: "Bearer " + token}
}

func (s *server) admin() credential { return s.basic(adminUser, s.adminPass) }

// client is an HTTP client whose connections come from one loopback
// address.
type client struct {
	srv *server
	hc  *http.Client
	ip  string
}

// clientFrom returns a client of s whose connections come from ip.
func (s *server) clientFrom(ip string) *client {
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 16, DisableCompression: true}
	return &client{srv: s, ip: ip, hc: &http.Client{
		Transport: tr,
		Timeout:   2 * time.Minute,
		// Redirects are answers too: probes look at them.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	// Cookies are those the response set.
	Cookies []*http.Cookie
}

func (r *response) String() string {
	body := string(r.Body)
	if len(body) > 800 {
		body = body[:800] + "…"
	}
	return fmt.Sprintf("%d %s", r.Status, strings.TrimSpace(body))
}

// ociError is the first error of an OCI error body.
func (r *response) ociError() (code, msg string) {
	var e struct {
		Errors []struct{ Code, Message string }
	}
	if json.Unmarshal(r.Body, &e) == nil && len(e.Errors) > 0 {
		return e.Errors[0].Code, e.Errors[0].Message
	}
	return "", ""
}

// request is one HTTP request of a probe.
type request struct {
	method, path string
	body         io.Reader
	contentType  string
	header       map[string]string
	cred         credential
	// contentLength, when not 0, is sent as the Content-Length (-1: chunked).
	contentLength int64
	// timeout, when set, bounds the whole exchange: a probe of a server
	// that fails it should not take minutes.
	timeout time.Duration
}

func (c *client) do(t *testing.T, r request) *response {
	t.Helper()
	resp, err := c.send(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	return resp
}

func (c *client) send(r request) (*response, error) {
	u := r.path
	if !strings.HasPrefix(u, "http") {
		u = c.srv.URL + r.path
	}
	ctx := context.Background()
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, r.body)
	if err != nil {
		return nil, err
	}
	if r.contentLength != 0 {
		req.ContentLength = r.contentLength
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.cred.header != "" {
		req.Header.Set("Authorization", r.cred.header)
	}
	if r.cred.cookie != nil {
		req.AddCookie(r.cred.cookie)
	}
	if r.cred.csrf != "" {
		req.Header.Set("X-Berth-CSRF", r.cred.csrf)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: body, Cookies: resp.Cookies()}, nil
}

// gqlError is one GraphQL error.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) code() string { s, _ := e.Extensions["code"].(string); return s }

// gqlResponse is a GraphQL answer.
type gqlResponse struct {
	HTTP   *response       `json:"-"`
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

func (g *gqlResponse) String() string { return g.HTTP.String() }

// firstCode is the extensions.code of the first error, or "".
func (g *gqlResponse) firstCode() string {
	if len(g.Errors) == 0 {
		return ""
	}
	return g.Errors[0].code()
}

// gql posts a GraphQL operation and decodes the answer (whatever its status).
func (c *client) gql(t *testing.T, cred credential, query string, vars map[string]any) *gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	r := c.do(t, request{method: http.MethodPost, path: "/graphql", body: bytes.NewReader(body),
		contentType: "application/json", cred: cred})
	g := &gqlResponse{HTTP: r}
	if err := json.Unmarshal(r.Body, g); err != nil {
		t.Fatalf("GraphQL answer is not JSON: %s", r)
	}
	return g
}

// mustGQL is gql that fails the test on any error, and decodes data into out.
func (c *client) mustGQL(t *testing.T, cred credential, query string, vars map[string]any, out any) {
	t.Helper()
	g := c.gql(t, cred, query, vars)
	if g.HTTP.Status != http.StatusOK || len(g.Errors) > 0 {
		t.Fatalf("GraphQL %q: %s", firstLine(query), g)
	}
	if out != nil {
		if err := json.Unmarshal(g.Data, out); err != nil {
			t.Fatalf("decoding %s: %v", g.Data, err)
		}
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i > 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// fixture is what the probes share on one server: users, projects and
// robots made through GraphQL as the admin.
type fixture struct {
	srv  *server
	main *client // from mainClientIP

	admin credential
	// users by name: alice is a developer of ci, mallory of scratch, olga
	// is a member of nothing; bob and carol are for refresh tokens.
	passwords map[string]string
	userIDs   map[string]string
	// privateLayer is a layer pushed by the admin to vault/app, a private
	// project nobody else is a member of.
	privateLayer []byte
}

func (f *fixture) user(name string) credential { return f.srv.basic(name, f.passwords[name]) }

// newFixture creates the projects and users every probe uses.
func newFixture(t *testing.T, s *server) *fixture {
	t.Helper()
	f := &fixture{srv: s, main: s.clientFrom(mainClientIP), admin: s.admin(),
		passwords: map[string]string{}, userIDs: map[string]string{}}
	for _, p := range []struct {
		name   string
		public bool
	}{{"pub", true}, {"vault", false}, {"ci", false}, {"scratch", false}, {"p", false}} {
		f.main.mustGQL(t, f.admin, `mutation($n: String!, $p: Boolean) { createProject(input: {name: $n, public: $p}) { id } }`,
			map[string]any{"n": p.name, "p": p.public}, nil)
	}
	for _, u := range []string{"alice", "mallory", "olga", "bob", "carol"} {
		pw := "Pw-" + u + "-" + randomText(20)
		s.secrets.add(pw)
		var out struct{ CreateUser struct{ ID string } }
		f.main.mustGQL(t, f.admin, `mutation($u: String!, $p: String!) { createUser(input: {username: $u, password: $p}) { id } }`,
			map[string]any{"u": u, "p": pw}, &out)
		f.passwords[u], f.userIDs[u] = pw, out.CreateUser.ID
	}
	for _, m := range []struct{ project, user string }{{"ci", "alice"}, {"scratch", "mallory"}, {"ci", "bob"}, {"ci", "carol"}} {
		f.main.mustGQL(t, f.admin, `mutation($p: String!, $u: String!) { addProjectMember(input: {project: $p, username: $u, role: DEVELOPER}) { id } }`,
			map[string]any{"p": m.project, "u": m.user}, nil)
	}
	f.privateLayer = randomBytes(4096)
	f.pushImage(t, f.admin, "vault/app", "v1", f.privateLayer, nil)
	return f
}

// robot creates a robot of project with the given REPOSITORY actions and
// returns its login and secret.
func (f *fixture) robot(t *testing.T, project, name string, actions ...string) (login, secret string) {
	t.Helper()
	var perms []map[string]any
	for _, a := range actions {
		perms = append(perms, map[string]any{"resource": "REPOSITORY", "action": a})
	}
	var out struct {
		CreateRobot struct{ Login, Secret string }
	}
	f.main.mustGQL(t, f.admin, `mutation($in: CreateRobotInput!) { createRobot(input: $in) { login secret } }`,
		map[string]any{"in": map[string]any{"name": name, "project": project, "permissions": perms}}, &out)
	f.srv.secrets.add(out.CreateRobot.Secret)
	return out.CreateRobot.Login, out.CreateRobot.Secret
}

// systemRobot creates a system robot with REPOSITORY permissions given
// as project and action pairs, and returns its login and secret.
func (f *fixture) systemRobot(t *testing.T, name string, grants ...[2]string) (login, secret string) {
	t.Helper()
	var perms []map[string]any
	for _, g := range grants {
		perms = append(perms, map[string]any{"project": g[0], "resource": "REPOSITORY", "action": g[1]})
	}
	var out struct {
		CreateRobot struct{ Login, Secret string }
	}
	f.main.mustGQL(t, f.admin, `mutation($in: CreateRobotInput!) { createRobot(input: $in) { login secret } }`,
		map[string]any{"in": map[string]any{"name": name, "permissions": perms}}, &out)
	f.srv.secrets.add(out.CreateRobot.Secret)
	return out.CreateRobot.Login, out.CreateRobot.Secret
}

// accessToken creates an access token as cred and returns its id and secret.
func (f *fixture) accessToken(t *testing.T, cred credential, name string, readOnly bool) (id, secret string) {
	t.Helper()
	var out struct {
		CreateAccessToken struct {
			Secret string
			Token  struct{ ID string }
		}
	}
	f.main.mustGQL(t, cred, `mutation($n: String!, $ro: Boolean) { createAccessToken(input: {name: $n, readOnly: $ro}) { secret token { id } } }`,
		map[string]any{"n": name, "ro": readOnly}, &out)
	f.srv.secrets.add(out.CreateAccessToken.Secret)
	return out.CreateAccessToken.Token.ID, out.CreateAccessToken.Secret
}

// sha256Digest is the OCI digest of b.
func sha256Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pushBlob uploads b to repo in one POST (monolithic upload) and fails the
// test unless it is created.
func (f *fixture) pushBlob(t *testing.T, cred credential, repo string, b []byte) string {
	t.Helper()
	d := sha256Digest(b)
	r := f.main.do(t, request{method: http.MethodPost, path: "/v2/" + repo + "/blobs/uploads/?digest=" + url.QueryEscape(d),
		body: bytes.NewReader(b), contentType: "application/octet-stream", cred: cred})
	if r.Status != http.StatusCreated {
		t.Fatalf("pushing a blob to %s: %s", repo, r)
	}
	return d
}

// imageManifest is an OCI image manifest of config and layers, with
// optional annotations.
func imageManifest(config []byte, layers [][]byte, annotations map[string]string) []byte {
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	m := struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Config        desc              `json:"config"`
		Layers        []desc            `json:"layers"`
		Annotations   map[string]string `json:"annotations,omitempty"`
	}{SchemaVersion: 2, MediaType: "application/vnd.oci.image.manifest.v1+json",
		Config:      desc{"application/vnd.oci.image.config.v1+json", sha256Digest(config), len(config)},
		Layers:      []desc{},
		Annotations: annotations}
	for _, l := range layers {
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar+gzip", sha256Digest(l), len(l)})
	}
	out, _ := json.Marshal(m)
	return out
}

// imageConfig is an image configuration with env.
func imageConfig(env ...string) []byte {
	cfg := map[string]any{"architecture": "amd64", "os": "linux", "config": map[string]any{"Env": env},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{}}}
	out, _ := json.Marshal(cfg)
	return out
}

// putManifest PUTs manifest m at repo:ref.
func (f *fixture) putManifest(t *testing.T, cred credential, repo, ref string, m []byte) *response {
	t.Helper()
	return f.main.do(t, request{method: http.MethodPut, path: "/v2/" + repo + "/manifests/" + ref,
		body: bytes.NewReader(m), contentType: "application/vnd.oci.image.manifest.v1+json", cred: cred})
}

// pushImage pushes an image of one layer (and a config with env) to
// repo:tag and returns the manifest's digest.
func (f *fixture) pushImage(t *testing.T, cred credential, repo, tag string, layer []byte, annotations map[string]string, env ...string) string {
	t.Helper()
	cfg := imageConfig(env...)
	f.pushBlob(t, cred, repo, cfg)
	f.pushBlob(t, cred, repo, layer)
	m := imageManifest(cfg, [][]byte{layer}, annotations)
	if r := f.putManifest(t, cred, repo, tag, m); r.Status != http.StatusCreated {
		t.Fatalf("pushing the manifest %s:%s: %s", repo, tag, r)
	}
	return sha256Digest(m)
}

// serviceToken asks /service/token with an OAuth2 form and returns the
// response; tokens it carries become secrets.
func (c *client) serviceToken(t *testing.T, form url.Values) (*response, tokenAnswer) {
	t.Helper()
	r := c.do(t, request{method: http.MethodPost, path: "/service/token", body: strings.NewReader(form.Encode()),
		contentType: "application/x-www-form-urlencoded"})
	var ans tokenAnswer
	json.Unmarshal(r.Body, &ans)
	c.srv.secrets.add(ans.Token, ans.AccessToken, ans.RefreshToken)
	return r, ans
}

// tokenAnswer is /service/token's JSON answer.
type tokenAnswer struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// jwtAccess decodes the access claim of a registry token (without
// checking its signature: berth's own tests do that).
func jwtAccess(t *testing.T, token string) []struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
} {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var claims struct {
		Access []struct {
			Type    string   `json:"type"`
			Name    string   `json:"name"`
			Actions []string `json:"actions"`
		} `json:"access"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("JWT claims %s: %v", payload, err)
	}
	return claims.Access
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// mb formats bytes as MB with one decimal.
func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

// within runs fn and reports how long it took.
func within(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}
