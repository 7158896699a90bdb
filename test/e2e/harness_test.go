// Package e2e runs real registry clients (the OCI conformance program,
// crane, oras, helm, skopeo) against berth: the real binary when
// `go build ./cmd/berth` produces one that serves /v2/, otherwise the
// registry handler and token service composed in-process.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/testtool"
	"github.com/berth-registry/berth/registry/registrytest"
	"github.com/berth-registry/berth/test/cluster"
)

const (
	adminUser     = "admin"
	adminPassword = "e2e-Admin-pass-1"
)

// repoRoot is the module root, found from this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// tool returns the path of a client, from .tools/bin or PATH. A missing
// tool skips the test, unless BERTH_TEST_REQUIRE_SERVICES=1.
func tool(t *testing.T, name string) string {
	t.Helper()
	return testtool.Path(t, name)
}

// target is a running berth to test against.
type target struct {
	URL  string // http://127.0.0.1:port
	Host string // 127.0.0.1:port
	// createProject makes a project through whatever API the target has.
	createProject func(t *testing.T, name string, public bool)
}

// berthBinary builds cmd/berth once per test run.
func berthBinary() (string, error) { return cluster.BuildBinary() }

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	cluster.RemoveBinary()
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs berth on a fresh database of kind and returns it with the
// admin user ready. The real binary is preferred; until it serves the
// registry the handler is composed in-process.
func start(t *testing.T, kind string) *target {
	t.Helper()
	if os.Getenv("BERTH_E2E_INPROCESS") != "1" {
		if bin, err := berthBinary(); err == nil {
			if tg := startBinary(t, bin, kind); tg != nil {
				return tg
			}
		} else {
			t.Logf("using the in-process registry: %v", err)
		}
	}
	db := dbtest.Open(t, kind)
	s := registrytest.Start(t, db, "")
	s.CreateUser(t, adminUser, adminPassword, true)
	return &target{URL: s.URL, Host: s.Host, createProject: func(t *testing.T, name string, public bool) {
		s.CreateProject(t, name, public)
	}}
}

// eachDatabase runs fn as one subtest per database berth supports
// (dbtest.Dialects: "sqlite", then "postgres"), each on a fresh berth with
// a fresh database: SQLite in the data dir, or a PostgreSQL database
// created for the subtest and dropped after it. The postgres subtest skips
// when PostgreSQL does not answer, unless BERTH_TEST_REQUIRE_SERVICES=1.
func eachDatabase(t *testing.T, fn func(t *testing.T, tg *target)) {
	t.Helper()
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) { fn(t, start(t, kind)) })
	}
}

// startBinary starts `berth serve`; it returns nil if that berth does not
// serve the registry and GraphQL yet. The free port it picks can be taken
// by another test's process before berth binds it; berth then exits, and
// it starts again on another port.
func startBinary(t *testing.T, bin, kind string) *target {
	t.Helper()
	return testtool.StartAgainWhilePortTaken(t, func() (*target, bool) { return startBinaryOnce(t, bin, kind) })
}

func startBinaryOnce(t *testing.T, bin, kind string) (tg *target, portTaken bool) {
	t.Helper()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	url := "http://" + addr
	dir := t.TempDir()
	// Webhook receivers in the tests listen on loopback.
	args := []string{"serve", "--addr", addr, "--data-dir", dir, "--external-url", url, "--log-level", "warn", "--webhook-allow-private"}
	if kind != "sqlite" {
		args = append(args, "--database-url", dbtest.URL(t, kind))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	// The database comes from --database-url (or the SQLite default in the
	// data dir), never from a BERTH_DATABASE_URL of the caller's shell.
	cmd.Env = append(withoutEnv(os.Environ(), "BERTH_DATABASE_URL"), "BERTH_ADMIN_PASSWORD="+adminPassword)
	if kind != "sqlite" {
		// Required on PostgreSQL; on SQLite berth generates one into the
		// data dir.
		cmd.Env = append(cmd.Env, "BERTH_SECRET_KEY="+dbtest.SecretKey)
	}
	logs := &testtool.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting berth: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cancel()
			<-exited
		}
		cancel()
	}
	deadline := time.Now().Add(30 * time.Second)
	// Only once berth says it listens is the port its own: until then
	// whoever took the port in between would answer.
	if err := testtool.WaitListening(logs.String, exited, time.Until(deadline)); err != nil {
		stop()
		if errors.Is(err, testtool.ErrPortTaken) {
			return nil, true
		}
		t.Fatalf("%v:\n%s", err, logs.String())
	}
	for {
		resp, err := http.Get(url + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized && strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
				break
			}
			stop()
			t.Logf("berth binary does not serve /v2/ yet (status %d); using the in-process registry", resp.StatusCode)
			return nil, false
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("berth did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	tg = &target{URL: url, Host: addr}
	tg.createProject = func(t *testing.T, name string, public bool) {
		t.Helper()
		q := fmt.Sprintf(`mutation { createProject(input:{name:%q, public:%v}) { id } }`, name, public)
		body, _ := json.Marshal(map[string]string{"query": q})
		req, _ := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(adminUser, adminPassword)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"errors"`)) {
			t.Fatalf("createProject %s: %d %s", name, resp.StatusCode, out)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("berth logs:\n%s", logs.String())
		}
	})
	return tg, false
}

// withoutEnv returns env without the variables named.
func withoutEnv(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		keep := true
		for _, n := range names {
			keep = keep && !strings.HasPrefix(kv, n+"=")
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// run executes a client command and fails the test with its output.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	return runDir(t, "", env, name, args...)
}

// output executes a client command and returns what it printed on stdout
// alone: a client's retry warnings on stderr (crane logs each retried
// request) are not part of a digest it prints. The test fails with both.
func output(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func runDir(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}
