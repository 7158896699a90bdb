package vulndb_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/scan/vulndb"
)

// zipBytes is an all.zip export of the records; the entries whose record
// id is in stored are written uncompressed, so that a test can find and
// damage their bytes.
func zipBytes(t *testing.T, recs []record, stored ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, r := range recs {
		id := r["id"].(string)
		h := &zip.FileHeader{Name: id + ".json", Method: zip.Deflate}
		for _, s := range stored {
			if s == id {
				h.Method = zip.Store
			}
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.NewEncoder(w).Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// exports serves files on loopback as a mirror of osv.dev would, with a
// Content-Type that says nothing true about them, and counts requests.
type exports struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
}

func serveExports(t *testing.T) *exports {
	e := &exports{files: map[string][]byte{}, hits: map[string]int{}}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		body, ok := e.files[r.URL.Path]
		e.hits[r.URL.Path]++
		e.mu.Unlock()
		switch {
		case r.URL.Path == "/cut-short":
			// Promises more than it sends, then hangs up.
			w.Header().Set("Content-Length", "100000")
			w.Write(bytes.Repeat([]byte("{"), 1000))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case !ok:
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		}
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *exports) put(path string, body []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.files[path] = body
}

func (e *exports) count(path string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits[path]
}

func TestVulndbImportsZipAndJSONFromURLs(t *testing.T) {
	recs := fixtures()
	srv := serveExports(t)
	srv.put("/npm/all.zip", zipBytes(t, []record{recs["GHSA-35jh-r3h4-6jhm"], recs["GHSA-mh6f-8j2x-4483"], recs["GHSA-wwww-wwww-wwww"]}))
	one, _ := json.Marshal(recs["GO-2024-2687"])
	srv.put("/go/GO-2024-2687", one) // no extension: what it is comes from its bytes
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := systemContext()
		res, err := vulndb.Import(ctx, db.Client, srv.URL+"/npm/all.zip", srv.URL+"/go/GO-2024-2687")
		if err != nil {
			t.Fatal(err)
		}
		if want := (vulndb.Result{Read: 4, Added: 3, Withdrawn: 1}); res != want {
			t.Fatalf("import: %+v, want %+v", res, want)
		}
		findings, err := vulndb.Match(ctx, db.Client, []vulndb.Query{q("npm", "lodash", "4.17.20"), q("Go", "golang.org/x/net", "v0.10.0")})
		if err != nil {
			t.Fatal(err)
		}
		if len(findings) != 2 || findings[0].ID == findings[1].ID {
			t.Fatalf("findings: %+v", findings)
		}
		// Again: nothing changes.
		res, err = vulndb.Import(ctx, db.Client, srv.URL+"/npm/all.zip", srv.URL+"/go/GO-2024-2687")
		if err != nil || res != (vulndb.Result{Read: 4, Unchanged: 3, Withdrawn: 1}) {
			t.Fatalf("second import: %+v, %v", res, err)
		}
		// A URL and a path in one import.
		dir := t.TempDir()
		writeJSON(t, filepath.Join(dir, "DSA-5532-1.json"), recs["DSA-5532-1"])
		res, err = vulndb.Import(ctx, db.Client, filepath.Join(dir, "DSA-5532-1.json"), srv.URL+"/go/GO-2024-2687")
		if err != nil || res != (vulndb.Result{Read: 2, Added: 1, Unchanged: 1}) {
			t.Fatalf("import of a path and a URL: %+v, %v", res, err)
		}
	})
}

// TestVulndbFailedDownloadLeavesTheDatabaseAsItWas imports a baseline,
// then sources that fail in each way a download can, every one holding
// a newer version of a stored record and a withdrawal of another, more
// than a batch of records before the fault: each fails with an error
// naming the URL and what went wrong, and the database is as it was.
func TestVulndbFailedDownloadLeavesTheDatabaseAsItWas(t *testing.T) {
	recs := fixtures()
	baseline := []record{recs["GHSA-35jh-r3h4-6jhm"], recs["GHSA-h5c8-rqwp-cp95"]}
	newer := record{}
	for k, v := range recs["GHSA-35jh-r3h4-6jhm"] {
		newer[k] = v
	}
	newer["modified"], newer["summary"] = "2025-01-01T00:00:00Z", "replaced"
	withdrawn := record{"id": "GHSA-h5c8-rqwp-cp95", "modified": "2025-01-01T00:00:00Z", "withdrawn": "2025-01-01T00:00:00Z"}
	bad := []record{newer, withdrawn}
	for i := range vulndb.BatchSize + 100 {
		bad = append(bad, record{"id": fmt.Sprintf("GHSA-many-%05d", i), "modified": modified,
			"affected": []any{pkg("npm", fmt.Sprintf("pkg-%d", i), ecosystemRange(ev("introduced", "0")))}})
	}
	last := record{"id": "GHSA-last-0000", "modified": modified, "summary": "DAMAGE-ME",
		"affected": []any{pkg("npm", "last", ecosystemRange(ev("introduced", "0")))}}
	bad = append(bad, last)
	whole := zipBytes(t, bad, "GHSA-last-0000")

	srv := serveExports(t)
	srv.put("/baseline.zip", zipBytes(t, baseline))
	srv.put("/truncated.zip", whole[:len(whole)*2/3])
	damaged := bytes.Clone(whole)
	at := bytes.Index(damaged, []byte("DAMAGE-ME"))
	if at < 0 {
		t.Fatal("the stored entry is not in the zip")
	}
	damaged[at] = 'X' // still JSON: only the checksum tells
	srv.put("/damaged.zip", damaged)
	srv.put("/big.zip", whole)

	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := systemContext()
		if _, err := vulndb.Import(ctx, db.Client, srv.URL+"/baseline.zip"); err != nil {
			t.Fatal(err)
		}
		before, err := vulndb.Status(ctx, db.Client)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			path  string
			limit int64
			want  []string
		}{
			{"/missing.zip", 0, []string{"/missing.zip", "404 Not Found"}},
			{"/big.zip", int64(len(whole) - 1), []string{"/big.zip", fmt.Sprintf("%d bytes, more than the %d", len(whole), len(whole)-1)}},
			{"/cut-short", 0, []string{"/cut-short", "after 1000 bytes"}},
			{"/truncated.zip", 0, []string{"/truncated.zip", "not a readable zip"}},
			{"/damaged.zip", 0, []string{"/damaged.zip:GHSA-last-0000.json", "damaged", "checksum"}},
			{"/big.zip?X-Amz-Signature=s3cret", 100, []string{"/big.zip?...", "more than"}},
		} {
			_, err := vulndb.ImportWithDownloadLimit(ctx, db.Client, c.limit, srv.URL+c.path)
			if err == nil {
				t.Errorf("%s: imported", c.path)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not say %q", c.path, err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: error %q shows the URL's query", c.path, err)
			}
			after, err := vulndb.Status(ctx, db.Client)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("%s: status %+v after the failed import, was %+v", c.path, after, before)
			}
			if n := db.OSVRecord.Query().CountX(ctx); n != len(baseline) {
				t.Errorf("%s: %d records after the failed import, want the %d of the baseline", c.path, n, len(baseline))
			}
			f, err := vulndb.Match(ctx, db.Client, []vulndb.Query{q("npm", "lodash", "4.17.20"), q("PyPI", "jinja2", "3.1.2")})
			if err != nil {
				t.Fatal(err)
			}
			if len(f) != 2 || f[0].Summary == "replaced" || f[1].Summary == "replaced" {
				t.Errorf("%s: the baseline's records changed: %+v", c.path, f)
			}
		}
		// The whole zip, within the bound, imports.
		res, err := vulndb.Import(ctx, db.Client, srv.URL+"/big.zip")
		if err != nil || res.Added != vulndb.BatchSize+101 || res.Updated != 1 || res.Withdrawn != 1 {
			t.Fatalf("import of the whole zip: %+v, %v", res, err)
		}
	})
	// Nothing is left in the temporary directory.
	left, _ := filepath.Glob(filepath.Join(os.TempDir(), "vulndb-*.download"))
	if len(left) > 0 {
		t.Errorf("downloads left behind: %v", left)
	}
}
