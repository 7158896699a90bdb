package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server/servertest"
)

// metricValue returns the value of the sample of /metrics whose line
// starts with prefix (a name with labels), or -1.
func metricValue(t *testing.T, base, prefix string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, prefix+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return -1
}

// TestRegistryMetrics pushes and pulls an image and runs a garbage
// collection, and reads the registry's figures at /metrics: pushes, pulls,
// bytes in and out, upload durations, GC runs and freed bytes, and the job
// queue.
func TestRegistryMetrics(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind)
			s.CreateProject(servertest.Admin, "team-a", false)
			do := func(method, path string, body []byte, header ...string) (int, []byte) {
				t.Helper()
				req, _ := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
				req.SetBasicAuth("admin", servertest.AdminPassword)
				for i := 0; i+1 < len(header); i += 2 {
					req.Header.Set(header[i], header[i+1])
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, b
			}
			layer := bytes.Repeat([]byte("metrics layer "), 1000)
			cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
			for _, b := range [][]byte{layer, cfg} {
				if st, body := do("POST", "/v2/team-a/app/blobs/uploads/?digest="+digest.FromBytes(b).String(), b); st != http.StatusCreated {
					t.Fatalf("blob upload: %d %s", st, body)
				}
			}
			manifest := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
				digest.FromBytes(cfg), len(cfg), digest.FromBytes(layer), len(layer))
			if st, body := do("PUT", "/v2/team-a/app/manifests/v1", manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json"); st != http.StatusCreated {
				t.Fatalf("manifest: %d %s", st, body)
			}
			for range 2 {
				do("GET", "/v2/team-a/app/manifests/v1", nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
			}
			if st, _ := do("GET", "/v2/team-a/app/blobs/"+digest.FromBytes(layer).String(), nil); st != http.StatusOK {
				t.Fatalf("blob GET: %d", st)
			}
			var out struct{ RunGarbageCollection struct{ Status string } }
			s.MustDo(servertest.Admin, `mutation { runGarbageCollection(input: {wait: true}) { status } }`, nil, &out)

			checks := []struct {
				prefix string
				min    float64
			}{
				{"berth_registry_pushes_total", 1},
				{"berth_registry_pulls_total", 2},
				{"berth_registry_received_bytes_total", float64(len(layer) + len(cfg) + len(manifest))},
				{"berth_registry_sent_bytes_total", float64(len(layer) + 2*len(manifest))},
				{`berth_registry_upload_request_duration_seconds_count{method="POST"}`, 2},
				{`berth_gc_runs_total{dry_run="false",status="SUCCEEDED"}`, 1},
				{"berth_gc_freed_bytes_total", 0},
				{`berth_jobs{kind="garbage_collection",state="completed"}`, 1},
				{"berth_metrics_database_errors", 0},
			}
			for _, c := range checks {
				if v := metricValue(t, s.URL, c.prefix); v < c.min {
					t.Errorf("%s = %v, want at least %v", c.prefix, v, c.min)
				}
			}
			if v := metricValue(t, s.URL, "berth_metrics_database_errors"); v != 0 {
				t.Errorf("berth_metrics_database_errors = %v", v)
			}
		})
	}
}
