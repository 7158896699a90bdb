//go:build bench

// Package bench measures berth as its users meet it: side by side with
// CNCF Distribution on the hot paths of a registry (compare_test.go),
// scaled out behind a proxy (scaleout_test.go), garbage collection and
// the write path at scale (gc_test.go) and portal pages (pages_test.go).
// Run it with `make bench` (go test -tags bench ./test/bench/); it is not
// part of `go test ./...`.
package bench

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/test/cluster"
)

// layerSize and benchProject are shared by every comparison; the rest
// shapes measure, which the scale-out benchmark runs through its proxy.
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

// TestMain removes the binary the scale-out benchmark's cluster built.
func TestMain(m *testing.M) {
	code := m.Run()
	cluster.RemoveBinary()
	os.Exit(code)
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
