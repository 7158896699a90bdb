package graph_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"testing"

	"github.com/berth-registry/berth/internal/server/servertest"
)

// pushImage pushes a one-layer image through /v2/ with Basic credentials
// and returns the sizes of its config and layer.
func pushImage(t *testing.T, s *servertest.Server, repo, tag string, layer []byte) (int, int) {
	t.Helper()
	put := func(method, path string, body []byte, ct string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
		req.SetBasicAuth("admin", servertest.AdminPassword)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d", method, path, resp.StatusCode, want)
		}
	}
	digest := func(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	put(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+digest(config), config, "application/octet-stream", http.StatusCreated)
	put(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+digest(layer), layer, "application/octet-stream", http.StatusCreated)
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		digest(config), len(config), digest(layer), len(layer))
	put(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, []byte(manifest), "application/vnd.oci.image.manifest.v1+json", http.StatusCreated)
	return len(config), len(layer)
}

func TestProjectUsageCountsDistinctBlobs(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team-a", false)
		layer := bytes.Repeat([]byte("x"), 10000)
		cfg, lay := pushImage(t, s, "team-a/one", "v1", layer)
		pushImage(t, s, "team-a/two", "v1", layer) // the same blobs again: counted once
		var out struct{ Project struct{ UsedBytes int64 } }
		s.MustDo(admin, `{ project(name: "team-a") { usedBytes } }`, nil, &out)
		if want := int64(cfg + lay); out.Project.UsedBytes != want {
			t.Fatalf("usedBytes = %d, want %d", out.Project.UsedBytes, want)
		}
		s.MustDo(admin, `mutation { deleteRepository(name: "team-a/one") }`, nil, nil)
		s.MustDo(admin, `{ project(name: "team-a") { usedBytes } }`, nil, &out)
		if want := int64(cfg + lay); out.Project.UsedBytes != want {
			t.Fatalf("after deleting one of two repositories sharing the blobs: usedBytes = %d, want %d", out.Project.UsedBytes, want)
		}
		s.MustDo(admin, `mutation { deleteRepository(name: "team-a/two") }`, nil, nil)
		s.MustDo(admin, `{ project(name: "team-a") { usedBytes } }`, nil, &out)
		if out.Project.UsedBytes != 0 {
			t.Fatalf("an empty project uses %d bytes", out.Project.UsedBytes)
		}
	})
}
