package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/testtool"
)

// buildBerth compiles the real binary once per test run.
func buildBerth(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "berth")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("building berth: %v", err)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// berthServe is a `berth serve` a test started.
type berthServe struct {
	addr   string // 127.0.0.1:port
	url    string // http://127.0.0.1:port
	cmd    *exec.Cmd
	out    *testtool.SyncBuffer
	exited chan struct{} // closed once it exited, and err set
	err    error         // cmd.Wait's
}

// kill ends berth with SIGKILL, no graceful shutdown, and waits for it.
func (s *berthServe) kill() error {
	err := s.cmd.Process.Kill()
	<-s.exited
	return err
}

// startBerth runs `berth serve` with args and env on a free loopback
// port, waits until it answers /healthz, and kills it when the test ends,
// showing its output if the test failed. The port it picks can be taken
// by another test's process before berth binds it; berth then exits, and
// it starts again on another. Every start picks a new port: a test that
// starts berth again on the same data goes on at the new one's address.
func startBerth(t *testing.T, bin string, env []string, args ...string) *berthServe {
	t.Helper()
	s := testtool.StartAgainWhilePortTaken(t, func() (*berthServe, bool) {
		addr := freeAddr(t)
		s := &berthServe{addr: addr, url: "http://" + addr, out: &testtool.SyncBuffer{}, exited: make(chan struct{})}
		s.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
		s.cmd.Env = env
		s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { s.err = s.cmd.Wait(); close(s.exited) }()
		// Only once berth says it listens is the port its own: until then
		// whoever took it in between would answer /healthz.
		err := testtool.WaitListening(s.out.String, s.exited, 30*time.Second)
		if errors.Is(err, testtool.ErrPortTaken) {
			return nil, true
		}
		t.Cleanup(func() {
			s.kill() // a no-op once it has exited
			if t.Failed() {
				t.Logf("berth serve %s output:\n%s", addr, s.out.String())
			}
		})
		if err != nil {
			t.Fatalf("berth serve %s: %v", addr, err)
		}
		return s, false
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(s.url + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("berth serve %s did not become healthy", s.addr)
		}
	}
}

func graphql(t *testing.T, base, user, pass, query string) map[string]any {
	t.Helper()
	out, err := postGraphQL(base, user, pass, query)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// postGraphQL is graphql for a goroutine other than the test's, which
// must not call t.Fatal.
func postGraphQL(base, user, pass, query string) (map[string]any, error) {
	body, _ := json.Marshal(map[string]string{"query": query})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

func TestServeEndToEnd(t *testing.T) {
	bin := buildBerth(t)
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			env := append(os.Environ(), "BERTH_ADMIN_PASSWORD=e2e-admin-pass")
			if kind == database.Postgres {
				env = append(env, "BERTH_SECRET_KEY="+dbtest.SecretKey)
			}
			srv := startBerth(t, bin, env, "--data-dir", t.TempDir(), "--database-url", dbtest.URL(t, kind))
			base := srv.url
			if resp, err := http.Get(base + "/readyz"); err != nil || resp.StatusCode != 200 {
				t.Fatalf("readyz: %v %v", resp, err)
			}

			v := graphql(t, base, "admin", "e2e-admin-pass", `{ viewer { username admin } }`)
			if fmt.Sprint(v["data"]) != "map[viewer:map[admin:true username:admin]]" {
				t.Fatalf("viewer: %v", v)
			}
			p := graphql(t, base, "admin", "e2e-admin-pass", `mutation { createProject(input: {name: "team-a", public: false, description: "x"}) { id name public } }`)
			if p["errors"] != nil {
				t.Fatalf("createProject: %v", p)
			}
			l := graphql(t, base, "admin", "e2e-admin-pass", `{ projects(first: 10, where: {nameContains: "team"}, orderBy: {field: NAME, direction: ASC}) { totalCount edges { node { id name public } } pageInfo { hasNextPage endCursor } } }`)
			if !strings.Contains(fmt.Sprint(l["data"]), "totalCount:1") {
				t.Fatalf("projects: %v", l)
			}
			info := graphql(t, base, "admin", "e2e-admin-pass", `{ systemInfo { version databaseKind storageDriver } }`)
			if !strings.Contains(fmt.Sprint(info["data"]), "databaseKind:"+kind) {
				t.Fatalf("systemInfo: %v", info)
			}
			anon := graphql(t, base, "", "", `mutation { createProject(input: {name: "anon"}) { id } }`)
			if !strings.Contains(fmt.Sprint(anon["errors"]), "code:UNAUTHENTICATED") {
				t.Fatalf("anonymous createProject: %v", anon)
			}

			// SIGTERM shuts down cleanly.
			srv.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-srv.exited:
				if srv.err != nil {
					t.Fatalf("berth exited with %v after SIGTERM:\n%s", srv.err, srv.out.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatal("berth did not stop after SIGTERM")
			}
			if !strings.Contains(srv.out.String(), "shutting down") {
				t.Fatalf("no shutdown log:\n%s", srv.out.String())
			}
		})
	}
}

func TestBadConfigurationExitsWithCode2AndOneLine(t *testing.T) {
	bin := buildBerth(t)
	key := "BERTH_SECRET_KEY=" + dbtest.SecretKey
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"bad log level", []string{"serve", "--log-level", "loud"}, nil, "--log-level"},
		{"malformed database url", []string{"serve", "--database-url", "mysql://x"}, nil, "--database-url"},
		{"unreachable database", []string{"serve", "--database-url", "postgres://postgres@127.0.0.1:1/none?connect_timeout=2"}, []string{key}, "--database-url"},
		{"postgres without a secret key", []string{"serve", "--database-url", "postgres://postgres@127.0.0.1:1/none?connect_timeout=2"}, nil, "BERTH_SECRET_KEY"},
		{"short secret key", []string{"serve"}, []string{"BERTH_SECRET_KEY=0123456789abcdef"}, "BERTH_SECRET_KEY"},
		{"unknown flag", []string{"serve", "--no-such-flag"}, nil, "unknown flag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, append(tc.args, "--data-dir", t.TempDir())...)
			cmd.Env = append(withoutSecretKey(os.Environ()), tc.env...)
			out, err := cmd.CombinedOutput()
			exit, ok := err.(*exec.ExitError)
			if !ok || exit.ExitCode() != 2 {
				t.Fatalf("want exit code 2, got %v:\n%s", err, out)
			}
			text := strings.TrimSpace(string(out))
			if strings.Count(text, "\n") != 0 || !strings.Contains(text, tc.want) || strings.Contains(text, "goroutine") {
				t.Fatalf("want one line naming %q, got:\n%s", tc.want, text)
			}
		})
	}
	t.Run("unknown yaml key", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "berth.yaml")
		os.WriteFile(file, []byte("adress: x\n"), 0o600)
		out, err := exec.Command(bin, "serve", "--config", file).CombinedOutput()
		if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 2 || !strings.Contains(string(out), "adress") {
			t.Fatalf("want exit 2 naming the key, got %v: %s", err, out)
		}
	})
}

// withoutSecretKey drops a BERTH_SECRET_KEY of the caller's shell, so
// that each case says whether berth has one.
func withoutSecretKey(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "BERTH_SECRET_KEY=") })
}

func TestAdminUserCommands(t *testing.T) {
	bin := buildBerth(t)
	dir := t.TempDir()
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--data-dir", dir)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("berth %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("", "migrate")
	run("bob-password-1\n", "admin", "user", "create", "bob", "--email", "bob@example.com", "--password-stdin")
	run("bob-password-2\n", "admin", "user", "passwd", "bob", "--password-stdin")
	list := run("", "admin", "user", "list")
	if !strings.Contains(list, "bob") || !strings.Contains(list, "bob@example.com") {
		t.Fatalf("list:\n%s", list)
	}
	if v := run("", "version"); !strings.HasPrefix(v, "berth ") {
		t.Fatalf("version: %q", v)
	}
}
