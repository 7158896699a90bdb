package main_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/database/dbtest"
)

// startServe runs `berth serve` and waits until it answers /healthz
// (startBerth).
func startServe(t *testing.T, bin, dataDir, dbURL string) *berthServe {
	t.Helper()
	env := append(os.Environ(), "BERTH_ADMIN_PASSWORD=restart-admin-pass")
	if strings.HasPrefix(dbURL, "postgres") {
		env = append(env, "BERTH_SECRET_KEY="+dbtest.SecretKey)
	}
	return startBerth(t, bin, env, "--data-dir", dataDir, "--database-url", dbURL, "--log-level", "warn")
}

// TestChunkedUploadSurvivesKill kills berth with SIGKILL in the middle of a
// chunked upload, starts it again on the same data, and finishes the upload.
func TestChunkedUploadSurvivesKill(t *testing.T) {
	bin := buildBerth(t)
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			dataDir, dbURL := t.TempDir(), dbtest.URL(t, kind)
			first := startServe(t, bin, dataDir, dbURL)
			base := first.url
			if out := graphql(t, base, "admin", "restart-admin-pass", `mutation { createProject(input: {name: "team-a"}) { id } }`); out["errors"] != nil {
				t.Fatalf("createProject: %v", out)
			}
			do := func(method, target string, body []byte, header map[string]string) *http.Response {
				t.Helper()
				req, _ := http.NewRequest(method, target, bytes.NewReader(body))
				req.SetBasicAuth("admin", "restart-admin-pass")
				for k, v := range header {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp
			}
			blob := bytes.Repeat([]byte("berth restart test "), 100000) // about 1.9 MB
			half := len(blob) / 2
			resp := do(http.MethodPost, base+"/v2/team-a/app/blobs/uploads/", nil, nil)
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("starting the upload: %d", resp.StatusCode)
			}
			// at is a Location berth sent, on the berth running now: the
			// one started again listens on another port.
			at := func(location string) string {
				t.Helper()
				u, err := url.Parse(location)
				if err != nil {
					t.Fatal(err)
				}
				return base + u.RequestURI()
			}
			location := resp.Header.Get("Location")
			resp = do(http.MethodPatch, at(location), blob[:half], map[string]string{
				"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("0-%d", half-1)})
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("first chunk: %d", resp.StatusCode)
			}

			first.kill() // SIGKILL: no graceful shutdown
			base = startServe(t, bin, dataDir, dbURL).url

			status := do(http.MethodGet, at(location), nil, nil)
			if status.StatusCode != http.StatusNoContent || status.Header.Get("Range") != fmt.Sprintf("0-%d", half-1) {
				t.Fatalf("upload status after restart: %d Range %q", status.StatusCode, status.Header.Get("Range"))
			}
			resp = do(http.MethodPatch, at(location), blob[half:], map[string]string{
				"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("%d-%d", half, len(blob)-1)})
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("second chunk after restart: %d", resp.StatusCode)
			}
			next := at(resp.Header.Get("Location"))
			dgst := fmt.Sprintf("sha256:%x", sha256.Sum256(blob))
			sep := "?"
			if strings.Contains(next, "?") {
				sep = "&"
			}
			resp = do(http.MethodPut, next+sep+"digest="+dgst, nil, nil)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("closing the upload: %d", resp.StatusCode)
			}
			req, _ := http.NewRequest(http.MethodGet, base+"/v2/team-a/app/blobs/"+dgst, nil)
			req.SetBasicAuth("admin", "restart-admin-pass")
			got, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Body.Close()
			body, _ := io.ReadAll(got.Body)
			if !bytes.Equal(body, blob) {
				t.Fatalf("the blob read back differs: %d bytes, want %d", len(body), len(blob))
			}
		})
	}
}
