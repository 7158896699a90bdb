package main_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/database/dbtest"
)

// startServe runs `berth serve` and waits until it answers /healthz.
func startServe(t *testing.T, bin, addr, dataDir, dbURL string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", dataDir, "--database-url", dbURL, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "BERTH_ADMIN_PASSWORD=restart-admin-pass")
	if strings.HasPrefix(dbURL, "postgres") {
		cmd.Env = append(cmd.Env, "BERTH_SECRET_KEY="+dbtest.SecretKey)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("berth did not become healthy:\n%s", out.String())
		}
	}
}

// TestChunkedUploadSurvivesKill kills berth with SIGKILL in the middle of a
// chunked upload, starts it again on the same data, and finishes the upload.
func TestChunkedUploadSurvivesKill(t *testing.T) {
	bin := buildBerth(t)
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			addr, dataDir, dbURL := freeAddr(t), t.TempDir(), dbtest.URL(t, kind)
			base := "http://" + addr
			first := startServe(t, bin, addr, dataDir, dbURL)
			if out := graphql(t, base, "admin", "restart-admin-pass", `mutation { createProject(input: {name: "team-a"}) { id } }`); out["errors"] != nil {
				t.Fatalf("createProject: %v", out)
			}
			do := func(method, url string, body []byte, header map[string]string) *http.Response {
				t.Helper()
				req, _ := http.NewRequest(method, url, bytes.NewReader(body))
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
			location := resp.Header.Get("Location")
			if !strings.HasPrefix(location, "http") {
				location = base + location
			}
			resp = do(http.MethodPatch, location, blob[:half], map[string]string{
				"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("0-%d", half-1)})
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("first chunk: %d", resp.StatusCode)
			}

			first.Process.Kill() // SIGKILL: no graceful shutdown
			first.Wait()
			startServe(t, bin, addr, dataDir, dbURL)

			status := do(http.MethodGet, location, nil, nil)
			if status.StatusCode != http.StatusNoContent || status.Header.Get("Range") != fmt.Sprintf("0-%d", half-1) {
				t.Fatalf("upload status after restart: %d Range %q", status.StatusCode, status.Header.Get("Range"))
			}
			resp = do(http.MethodPatch, location, blob[half:], map[string]string{
				"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("%d-%d", half, len(blob)-1)})
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("second chunk after restart: %d", resp.StatusCode)
			}
			next := resp.Header.Get("Location")
			if !strings.HasPrefix(next, "http") {
				next = base + next
			}
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
