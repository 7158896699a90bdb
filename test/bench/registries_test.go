//go:build bench

package bench

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/testtool"
)

// The users of every berth the comparison starts: the admin only sets up
// the project; every client works as the developer, a member of the
// project as teams have them.
const (
	adminPassword = "bench-Admin-pass-1"
	devUser       = "dev"
	devPass       = "Dev-password-1"
)

// registry is one registry the comparison started on loopback, in its own
// process so that its memory and CPU time can be read from /proc.
type registry struct {
	name string
	base string // http://127.0.0.1:port
	host string // 127.0.0.1:port, as image references name it
	// user and pass are the developer's credentials; empty where the
	// registry runs without authentication (Distribution).
	user, pass string
	// zb, unpatched, fails against Distribution v3 twice over: it
	// follows an upload's Location by its path alone, while Distribution
	// keeps the upload's state in the query and refuses a PATCH or PUT
	// without it; and it asks for manifests without an Accept header,
	// which Distribution answers for OCI manifests with 404. Its column
	// is measured with the query kept and an OCI Accept header; berth
	// must serve zb as it is.
	uploadStateInQuery, manifestNeedsAccept bool
	proc                                    *process
	// startRSS is VmRSS a second after the registry answered, before any
	// request (MiB).
	startRSS float64
	// dbName names the PostgreSQL database, whose backends' CPU time
	// counts as the registry's.
	dbName string
	// only, when set, names the only steps measured on this registry.
	only map[string]bool
}

// process is a registry binary the benchmark runs.
type process struct {
	cmd  *exec.Cmd
	logs *testtool.SyncBuffer
	done chan struct{}
}

func startProcess(bin string, env []string, args ...string) (*process, error) {
	p := &process{logs: &testtool.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// waitReady polls u until it answers 200.
func (p *process) waitReady(u string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-p.done:
			return errors.New("exited")
		default:
		}
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %d", u, resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// statusMiB reads a memory field of /proc/<pid>/status (VmRSS, VmHWM) in MiB.
func (p *process) statusMiB(field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, p.cmd.Process.Pid)
}

// resetPeak makes VmHWM start again from the current RSS (clear_refs, Linux 4.0+).
func (p *process) resetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.cmd.Process.Pid), []byte("5"), 0)
}

// pidCPU is the user and system CPU time process pid used so far.
func pidCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name in parentheses may hold spaces: fields count from its end.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clockTicks = 100 // USER_HZ on every Linux platform Go supports
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// cpuSample is the CPU time used so far by the registry's process and, on
// PostgreSQL, by the database's backends serving it, by process id.
func (r *registry) cpuSample() (map[int]time.Duration, error) {
	pids := []int{r.proc.cmd.Process.Pid}
	if r.dbName != "" {
		// A backend's title is "postgres: <cluster>: <user> <database> <client> <state>".
		dirs, _ := os.ReadDir("/proc")
		for _, d := range dirs {
			pid, err := strconv.Atoi(d.Name())
			if err != nil {
				continue
			}
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if bytes.HasPrefix(cmdline, []byte("postgres: ")) && bytes.Contains(cmdline, []byte(" "+r.dbName+" ")) {
				pids = append(pids, pid)
			}
		}
	}
	cpu := map[int]time.Duration{}
	for i, pid := range pids {
		v, err := pidCPU(pid)
		if err != nil {
			if i == 0 {
				return nil, err
			}
			continue // a backend that ended meanwhile
		}
		cpu[pid] = v
	}
	return cpu, nil
}

// cpuSince is the CPU time used since before was sampled; backends that
// ended meanwhile are missed.
func (r *registry) cpuSince(before map[int]time.Duration) (time.Duration, error) {
	now, err := r.cpuSample()
	var d time.Duration
	for pid, v := range now {
		d += v - before[pid]
	}
	return d, err
}

// peakDuring returns the peak RSS of p while fn runs: VmHWM after a reset,
// or, where the kernel cannot reset it, the highest VmRSS polled every 5 ms.
func (p *process) peakDuring(fn func() error) (float64, error) {
	if p.resetPeak() == nil {
		if err := fn(); err != nil {
			return 0, err
		}
		return p.statusMiB("VmHWM")
	}
	stop := make(chan struct{})
	var peak float64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if v, err := p.statusMiB("VmRSS"); err == nil && v > peak {
				peak = v
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	err := fn()
	close(stop)
	wg.Wait()
	return peak, err
}

// releaseBinary builds cmd/berth as the image's binary is built (`make
// image`): static, without symbols. How it is built shows in its memory,
// so the benchmark measures the build users run.
func releaseBinary(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "berth")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=bench", "-o", bin, "./cmd/berth")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/berth: %v\n%s", err, out)
	}
	evictFromPageCache(t, bin)
	return bin
}

// evictFromPageCache writes file to disk and drops it from the page
// cache, so that it starts as an installed binary does, its pages read in
// as they are touched; done for berth and Distribution alike. Just
// written by the linker, its pages sit in the cache in large folios that
// map whole at the first touch: the same binary then starts with up to
// 16 MiB more VmRSS (RssFile), varying from build to build with nothing
// in the code changed (Linux 6.18 here).
func evictFromPageCache(t *testing.T, file string) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}

// startBerth runs `berth serve` on SQLite or PostgreSQL with filesystem
// storage, and sets it up as a team would: a public project and a
// developer member of it, made by the admin through GraphQL. It ends with
// a garbage collection of nothing, so idle memory is measured after GC's
// code has run once.
func startBerth(t *testing.T, bin, kind string, extraEnv ...string) *registry {
	t.Helper()
	env := append([]string{
		"BERTH_DATA_DIR=" + t.TempDir(),
		"BERTH_ADMIN_PASSWORD=" + adminPassword,
		"BERTH_LOG_LEVEL=error",
	}, extraEnv...)
	name, dbName := "berth SQLite", ""
	if kind == database.Postgres {
		name = "berth PostgreSQL"
		dbURL := dbtest.URL(t, database.Postgres)
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		dbName = strings.TrimPrefix(u.Path, "/")
		env = append(env, "BERTH_DATABASE_URL="+dbURL, "BERTH_SECRET_KEY="+dbtest.SecretKey)
	}
	// The free port may be taken by another process before berth binds
	// it: berth then exits, and starts again on another.
	type started struct {
		p    *process
		addr string
	}
	st := testtool.StartAgainWhilePortTaken(t, func() (started, bool) {
		addr := freeAddr(t)
		p, err := startProcess(bin, append(env, "BERTH_ADDR="+addr, "BERTH_EXTERNAL_URL=http://"+addr), "serve")
		if err != nil {
			t.Fatal(err)
		}
		err = testtool.WaitListening(p.logs.String, p.done, 60*time.Second)
		if errors.Is(err, testtool.ErrPortTaken) {
			return started{}, true
		}
		if err == nil {
			err = p.waitReady("http://"+addr+"/readyz", 60*time.Second)
		}
		if err != nil {
			p.stop()
			t.Fatalf("%s did not start: %v\n%s", name, err, p.logs)
		}
		return started{p, addr}, false
	})
	p, addr := st.p, st.addr
	r := &registry{name: name, base: "http://" + addr, host: addr, user: devUser, pass: devPass, proc: p, dbName: dbName}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, p.logs)
		}
	})
	r.startRSS = startRSS(t, p)
	r.admin(t, `mutation { createProject(input: {name: "`+benchProject+`", public: true}) { id } }`)
	r.admin(t, `mutation { createUser(input: {username: "`+devUser+`", password: "`+devPass+`"}) { id } }`)
	r.admin(t, `mutation { addProjectMember(input: {project: "`+benchProject+`", username: "`+devUser+`", role: DEVELOPER}) { id } }`)
	r.admin(t, `mutation { runGarbageCollection(input: {wait: true}) { id } }`)
	return r
}

// startRSS reads VmRSS a second after start, before any request.
func startRSS(t *testing.T, p *process) float64 {
	time.Sleep(time.Second)
	v, err := p.statusMiB("VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// admin runs a GraphQL mutation as the admin.
func (r *registry) admin(t *testing.T, query string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	req, _ := http.NewRequest("POST", r.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("admin", adminPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"errors"`)) {
		t.Fatalf("%s: %s: %d %s", r.name, query, resp.StatusCode, out)
	}
}

// startDistribution runs CNCF Distribution with filesystem storage and the
// configuration its image ships (an in-memory blob descriptor cache), with
// logging turned down as berth's is, and no authentication.
func startDistribution(t *testing.T) *registry {
	t.Helper()
	bin := filepath.Join(repoRoot(), ".tools", "bin", "registry")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("CNCF Distribution not installed at %s (make tools)", bin)
	}
	evictFromPageCache(t, bin)
	dir := t.TempDir()
	for attempt := 0; ; attempt++ {
		addr := freeAddr(t)
		cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  headers:
    X-Content-Type-Options: [nosniff]
`, filepath.Join(dir, "data"), addr)
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		// Distribution v3 exports OpenTelemetry traces to localhost:4318
		// unless told not to; berth traces only when configured to.
		p, err := startProcess(bin, []string{"OTEL_TRACES_EXPORTER=none"}, "serve", cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		if err = p.waitReady("http://"+addr+"/v2/", 30*time.Second); err == nil {
			t.Cleanup(func() {
				p.stop()
				if t.Failed() {
					t.Logf("distribution logs:\n%s", p.logs)
				}
			})
			r := &registry{name: "Distribution", base: "http://" + addr, host: addr, uploadStateInQuery: true, manifestNeedsAccept: true, proc: p}
			r.startRSS = startRSS(t, p)
			return r
		}
		p.stop()
		if attempt == 2 {
			t.Fatalf("distribution did not start: %v\n%s", err, p.logs)
		}
	}
}

// token gets a registry token as docker does: GET /v2/ answers with a
// challenge naming the realm and the service, and the developer's Basic
// credentials buy a token for scope there. It returns "" for a registry
// without authentication.
func (r *registry) token(scope string) (string, error) {
	if r.user == "" {
		return "", nil
	}
	resp, err := http.Get(r.base + "/v2/")
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	params := map[string]string{}
	challenge, ok := strings.CutPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ")
	if resp.StatusCode != http.StatusUnauthorized || !ok {
		return "", fmt.Errorf("GET /v2/: %d without a Bearer challenge", resp.StatusCode)
	}
	for _, kv := range strings.Split(challenge, ",") {
		k, v, _ := strings.Cut(kv, "=")
		params[strings.TrimSpace(k)] = strings.Trim(v, `"`)
	}
	q := url.Values{"service": {params["service"]}, "scope": {scope}}
	req, _ := http.NewRequest("GET", params["realm"]+"?"+q.Encode(), nil)
	req.SetBasicAuth(r.user, r.pass)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		return "", fmt.Errorf("token for %s: %d %v", scope, resp.StatusCode, err)
	}
	return tok.Token, nil
}

// dockerConfig writes a docker config.json with the developer's
// credentials for every registry that has them, for crane's DOCKER_CONFIG.
func dockerConfig(t *testing.T, regs []*registry) string {
	auths := map[string]map[string]string{}
	for _, r := range regs {
		if r.user != "" {
			auths[r.host] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(r.user + ":" + r.pass))}
		}
	}
	b, _ := json.Marshal(map[string]any{"auths": auths})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}
