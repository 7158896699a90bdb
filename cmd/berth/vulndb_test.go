package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server/servertest"
)

// TestVulndbCommandImportsAndReportsStatus runs berth vulndb import on a
// zip export and a JSON file, then berth vulndb status, in process, on
// both databases.
func TestVulndbCommandImportsAndReportsStatus(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "all.zip")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, rec := range map[string]string{
		"GO-2024-2687.json": `{"id": "GO-2024-2687", "modified": "2024-03-01T10:00:00Z", "affected": [{"package": {"ecosystem": "Go", "name": "golang.org/x/net"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.23.0"}]}]}]}`,
		"GO-2024-2600.json": `{"id": "GO-2024-2600", "modified": "2024-02-01T10:00:00Z", "affected": [{"package": {"ecosystem": "Go", "name": "golang.org/x/crypto"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.17.0"}]}]}]}`,
	} {
		w, _ := zw.Create(name)
		w.Write([]byte(rec))
	}
	zw.Close()
	f.Close()
	single := filepath.Join(dir, "DSA-5532-1.json")
	os.WriteFile(single, []byte(`{"id": "DSA-5532-1", "modified": "2023-10-23T00:00:00Z", "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}]}]}`), 0o644)

	srv := httptest.NewServer(http.FileServer(http.FS(os.DirFS(dir))))
	defer srv.Close()
	os.Mkdir(filepath.Join(dir, "Go"), 0o755)
	os.Link(archive, filepath.Join(dir, "Go", "all.zip"))

	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			flags := []string{"--data-dir", t.TempDir(), "--database-url", dbtest.URL(t, kind)}
			run := func(args ...string) (string, error) {
				var out bytes.Buffer
				root := newRootCommand()
				root.SetArgs(append(args, flags...))
				root.SetOut(&out)
				root.SetErr(&out)
				err := root.Execute()
				return out.String(), err
			}
			out, err := run("vulndb", "status")
			if err != nil || !strings.Contains(out, "empty") {
				t.Fatalf("status of an empty database: %v\n%s", err, out)
			}
			out, err = run("vulndb", "import", archive, single)
			if err != nil || !strings.Contains(out, "read 3 records") || !strings.Contains(out, "3 added") {
				t.Fatalf("import: %v\n%s", err, out)
			}
			out, err = run("vulndb", "import", archive)
			if err != nil || !strings.Contains(out, "2 unchanged") {
				t.Fatalf("second import: %v\n%s", err, out)
			}
			out, err = run("vulndb", "status")
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], "ECOSYSTEM") ||
				strings.Join(strings.Fields(lines[1])[:3], " ") != "Debian 1 2023-10-23T00:00:00Z" ||
				strings.Join(strings.Fields(lines[2])[:3], " ") != "Go 2 2024-03-01T10:00:00Z" {
				t.Fatalf("status:\n%s", out)
			}
			out, err = run("vulndb", "import", filepath.Join(dir, "missing.json"))
			if err == nil || !strings.Contains(err.Error(), "missing.json") {
				t.Fatalf("import of a missing file: %v\n%s", err, out)
			}
			// The same zip and file from a web server.
			out, err = run("vulndb", "import", srv.URL+"/Go/all.zip", srv.URL+"/DSA-5532-1.json")
			if err != nil || !strings.Contains(out, "read 3 records") || !strings.Contains(out, "3 unchanged") {
				t.Fatalf("import from URLs: %v\n%s", err, out)
			}
			out, err = run("vulndb", "import", srv.URL+"/Alpine/all.zip")
			if err == nil || !strings.Contains(err.Error(), srv.URL+"/Alpine/all.zip: the server answered 404 Not Found") {
				t.Fatalf("import of a missing URL: %v\n%s", err, out)
			}
		})
	}
}

// osvZip is an all.zip export of OSV JSON records.
func osvZip(t *testing.T, records ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, rec := range records {
		var r struct{ ID string }
		if err := json.Unmarshal([]byte(rec), &r); err != nil {
			t.Fatal(err)
		}
		w, err := zw.Create(r.ID + ".json")
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(rec))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestServeRefreshesTheVulnerabilityDatabaseFromURLs starts berth with
// --vulndb-url naming a Go all.zip, a JSON record and an Alpine record
// whose server fails at first, every second (--vulndb-refresh 1s), and
// watches systemInfo.vulnerabilityDatabase: the good URLs are imported at
// once, the failing one by a retry of the job, and a newer export by a
// later tick, after which the scanner's pass over stale reports is
// enqueued.
func TestServeRefreshesTheVulnerabilityDatabaseFromURLs(t *testing.T) {
	goV1 := `{"id": "GO-2024-2687", "modified": "2024-03-01T10:00:00Z", "affected": [{"package": {"ecosystem": "Go", "name": "golang.org/x/net"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.23.0"}]}]}]}`
	goV2 := `{"id": "GO-2024-2600", "modified": "2024-04-01T10:00:00Z", "affected": [{"package": {"ecosystem": "Go", "name": "golang.org/x/crypto"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.17.0"}]}]}]}`
	debian := `{"id": "DSA-5532-1", "modified": "2023-10-23T00:00:00Z", "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}]}]}`
	alpine := `{"id": "ALPINE-CVE-2023-42366", "modified": "2024-03-01T10:00:00Z", "affected": [{"package": {"ecosystem": "Alpine:v3.19", "name": "busybox"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.36.1-r16"}]}]}]}`

	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			var mu sync.Mutex
			goZip := osvZip(t, goV1)
			alpineTries := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				switch r.URL.Path {
				case "/Go/all.zip":
					w.Write(goZip)
				case "/Debian/DSA-5532-1.json":
					w.Write([]byte(debian))
				case "/Alpine/ALPINE-CVE-2023-42366.json":
					if alpineTries++; alpineTries == 1 {
						http.Error(w, "try later", http.StatusServiceUnavailable)
						return
					}
					w.Write([]byte(alpine))
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			s := servertest.Start(t, kind, func(c *config.Config) {
				c.VulndbURL = strings.Join([]string{srv.URL + "/Go/all.zip", srv.URL + "/Debian/DSA-5532-1.json",
					srv.URL + "/Alpine/ALPINE-CVE-2023-42366.json"}, ",")
				c.VulndbRefresh = "1s"
				c.JobRetryDelay = "200ms"
			})
			records := func() string {
				var out struct {
					SystemInfo struct {
						VulnerabilityDatabase []struct {
							Ecosystem string
							Records   int
						}
					}
				}
				s.MustDo(servertest.Creds{}, `{ systemInfo { vulnerabilityDatabase { ecosystem records } } }`, nil, &out)
				var parts []string
				for _, e := range out.SystemInfo.VulnerabilityDatabase {
					parts = append(parts, fmt.Sprintf("%s:%d", e.Ecosystem, e.Records))
				}
				return strings.Join(parts, " ")
			}
			waitFor := func(want string) {
				t.Helper()
				deadline := time.Now().Add(60 * time.Second)
				for got := records(); got != want; got = records() {
					if time.Now().After(deadline) {
						t.Fatalf("vulnerability database %q, want %q", got, want)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			waitFor("Alpine:1 Debian:1 Go:1")

			type job struct {
				State     string
				Attempt   int
				Args      map[string]any
				CreatedAt time.Time
				Errors    []struct{ Error string }
			}
			jobsOf := func(kind string) []job {
				var out struct {
					Jobs struct{ Edges []struct{ Node job } }
				}
				s.MustDo(servertest.Admin, `query($k: String!) { jobs(first: 100, where: {kind: $k}) { edges { node { state attempt args createdAt errors { error } } } } }`,
					map[string]any{"k": kind}, &out)
				var list []job
				for _, e := range out.Jobs.Edges {
					list = append(list, e.Node)
				}
				return list
			}
			// The first refresh failed on the Alpine URL alone and was
			// retried.
			var retried bool
			for _, j := range jobsOf("vulndb_refresh") {
				if len(j.Errors) > 0 {
					retried = strings.Contains(j.Errors[0].Error, "/Alpine/ALPINE-CVE-2023-42366.json: the server answered 503 Service Unavailable") &&
						!strings.Contains(j.Errors[0].Error, "Go/all.zip")
				}
			}
			if !retried {
				t.Errorf("no refresh job failed on the Alpine URL alone: %+v", jobsOf("vulndb_refresh"))
			}

			// A newer export is picked up by a later tick, and the pass
			// over stale reports follows. Until the retried refresh and
			// the passes it enqueued have finished, a new pass would be
			// one of theirs (one waits or runs at a time).
			settled := func() bool {
				for _, j := range append(jobsOf("scan_all"), jobsOf("vulndb_refresh")...) {
					if (j.Args["stale_only"] == true || len(j.Errors) > 0) && j.State != "COMPLETED" {
						return false
					}
				}
				return true
			}
			for deadline := time.Now().Add(30 * time.Second); !settled(); time.Sleep(100 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("jobs still waiting: %+v %+v", jobsOf("scan_all"), jobsOf("vulndb_refresh"))
				}
			}
			swapped := time.Now()
			mu.Lock()
			goZip = osvZip(t, goV1, goV2)
			mu.Unlock()
			waitFor("Alpine:1 Debian:1 Go:2")
			deadline := time.Now().Add(30 * time.Second)
			for {
				var after []job
				for _, j := range jobsOf("scan_all") {
					if j.Args["stale_only"] == true && j.CreatedAt.After(swapped) {
						after = append(after, j)
					}
				}
				if len(after) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no pass over stale reports enqueued after the refresh: %+v", jobsOf("scan_all"))
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
