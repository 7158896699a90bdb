//go:build bench

// Package bench measures berth against CNCF Distribution on the same
// machine: push and pull of a 256 MiB layer, and manifest GETs per
// second. Run it with `make bench` (go test -tags bench ./test/bench/);
// it is not part of `go test ./...`.
package bench

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/registry/registrytest"
)

const (
	layerSize    = 256 << 20
	rounds       = 3
	getDuration  = 5 * time.Second
	getWorkers   = 16
	benchProject = "bench"
)

// target is a registry under test with a way to authorize requests.
type target struct {
	name string
	base string
	auth string // Authorization header value, or ""
}

func (tg *target) do(t testing.TB, method, path string, body io.Reader, size int64, hdr map[string]string) *http.Response {
	u := path
	if !strings.HasPrefix(path, "http") {
		u = tg.base + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if size >= 0 && body != nil {
		req.ContentLength = size
	}
	if tg.auth != "" {
		req.Header.Set("Authorization", tg.auth)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func must(t testing.TB, resp *http.Response, status int) {
	t.Helper()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("%s %s: %d, want %d: %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, status, b)
	}
}

// pushBlob uploads the file with POST + one streamed PATCH + PUT, as
// docker does, and returns the time it took.
func (tg *target) pushBlob(t testing.TB, repo, file string, d digest.Digest) time.Duration {
	start := time.Now()
	resp := tg.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, 0, nil)
	must(t, resp, http.StatusAccepted)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	loc = resp.Request.URL.ResolveReference(loc)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	resp = tg.do(t, "PATCH", loc.String(), f, layerSize, map[string]string{"Content-Type": "application/octet-stream"})
	f.Close()
	must(t, resp, http.StatusAccepted)
	resp.Body.Close()
	loc2, _ := url.Parse(resp.Header.Get("Location"))
	loc2 = resp.Request.URL.ResolveReference(loc2)
	q := loc2.Query()
	q.Set("digest", d.String())
	loc2.RawQuery = q.Encode()
	resp = tg.do(t, "PUT", loc2.String(), nil, 0, nil)
	must(t, resp, http.StatusCreated)
	resp.Body.Close()
	return time.Since(start)
}

func (tg *target) pullBlob(t testing.TB, repo string, d digest.Digest) time.Duration {
	start := time.Now()
	resp := tg.do(t, "GET", "/v2/"+repo+"/blobs/"+d.String(), nil, -1, nil)
	must(t, resp, http.StatusOK)
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != layerSize {
		t.Fatalf("pulled %d bytes: %v", n, err)
	}
	return time.Since(start)
}

// pushImage pushes a small image (config + the big layer's descriptor)
// and returns the manifest path.
func (tg *target) pushImage(t testing.TB, repo string, layer digest.Digest) string {
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cd := digest.FromBytes(cfg)
	// POST then PUT: Distribution does not take the content in the POST.
	resp := tg.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, 0, nil)
	must(t, resp, http.StatusAccepted)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	loc = resp.Request.URL.ResolveReference(loc)
	q := loc.Query()
	q.Set("digest", cd.String())
	loc.RawQuery = q.Encode()
	resp = tg.do(t, "PUT", loc.String(), bytes.NewReader(cfg), int64(len(cfg)), nil)
	must(t, resp, http.StatusCreated)
	resp.Body.Close()
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`,
		cd, len(cfg), layer, layerSize)
	resp = tg.do(t, "PUT", "/v2/"+repo+"/manifests/v1", strings.NewReader(m), int64(len(m)),
		map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
	must(t, resp, http.StatusCreated)
	resp.Body.Close()
	return "/v2/" + repo + "/manifests/v1"
}

// manifestGets runs getWorkers clients GETting path for getDuration.
func (tg *target) manifestGets(t testing.TB, path string) float64 {
	var n, failed atomic.Int64
	tr := &http.Transport{MaxIdleConnsPerHost: getWorkers * 2}
	client := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	deadline := time.Now().Add(getDuration)
	var wg sync.WaitGroup
	for range getWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", tg.base+path, nil)
				req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
				if tg.auth != "" {
					req.Header.Set("Authorization", tg.auth)
				}
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					n.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%s: %d manifest GETs failed", tg.name, failed.Load())
	}
	return float64(n.Load()) / getDuration.Seconds()
}

type result struct {
	pushMBs, pullMBs, getsPerSec float64
}

func measure(t *testing.T, tg *target, file string, d digest.Digest) result {
	var push, pull []float64
	mb := float64(layerSize) / (1 << 20)
	for i := range rounds {
		repo := fmt.Sprintf("%s/layer%d", benchProject, i)
		push = append(push, mb/tg.pushBlob(t, repo, file, d).Seconds())
		pull = append(pull, mb/tg.pullBlob(t, repo, d).Seconds())
	}
	path := tg.pushImage(t, benchProject+"/layer0", d)
	return result{pushMBs: median(push), pullMBs: median(pull), getsPerSec: tg.manifestGets(t, path)}
}

func median(v []float64) float64 {
	sort.Float64s(v)
	return v[len(v)/2]
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// startDistribution runs CNCF Distribution with filesystem storage.
func startDistribution(t *testing.T) *target {
	bin := filepath.Join(repoRoot(), ".tools", "bin", "registry")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("CNCF Distribution not installed at %s (scripts/install-test-tools.sh)", bin)
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr)
	cfgPath := filepath.Join(dir, "config.yml")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	cmd := exec.Command(bin, "serve", cfgPath)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + addr
	for i := 0; ; i++ {
		if resp, err := http.Get(base + "/v2/"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			t.Fatalf("distribution did not start:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return &target{name: "distribution", base: base}
}

// startBerth composes berth's registry on SQLite (the embedded default)
// and authenticates with a registry token, as docker does.
func startBerth(t *testing.T) *target {
	db := dbtest.Open(t, "sqlite")
	s := registrytest.Start(t, db, "")
	s.CreateUser(t, "bench", "Bench-password-1", true)
	s.CreateProject(t, benchProject, false)
	q := url.Values{"service": {"berth"}, "scope": {}}
	for i := range rounds {
		q.Add("scope", fmt.Sprintf("repository:%s/layer%d:pull,push", benchProject, i))
	}
	req, _ := http.NewRequest("GET", s.URL+"/service/token?"+q.Encode(), nil)
	req.SetBasicAuth("bench", "Bench-password-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		Token string `json:"token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	return &target{name: "berth", base: s.URL, auth: "Bearer " + tok.Token}
}

// TestBenchmarkAgainstDistribution prints the comparison table.
func TestBenchmarkAgainstDistribution(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "layer")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, layerSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d := digest.NewDigest(digest.SHA256, h)

	dist := measure(t, startDistribution(t), file, d)
	berth := measure(t, startBerth(t), file, d)

	var b strings.Builder
	fmt.Fprintf(&b, "\n| %-34s | %12s | %12s | %16s |\n", "measure", "berth", "distribution", "berth / distrib.")
	fmt.Fprintf(&b, "|%s|%s|%s|%s|\n", strings.Repeat("-", 36), strings.Repeat("-", 14), strings.Repeat("-", 14), strings.Repeat("-", 18))
	row := func(name string, x, y float64, unit string) {
		fmt.Fprintf(&b, "| %-34s | %8.1f %-3s | %8.1f %-3s | %15.2fx |\n", name, x, unit, y, unit, x/y)
	}
	row("push 256 MiB layer (median of 3)", berth.pushMBs, dist.pushMBs, "MB/s")
	row("pull 256 MiB layer (median of 3)", berth.pullMBs, dist.pullMBs, "MB/s")
	row(fmt.Sprintf("manifest GET, %d clients", getWorkers), berth.getsPerSec, dist.getsPerSec, "r/s")
	t.Log(b.String())
	fmt.Print(b.String())
}
