package vulndb_test

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/scan/vulndb"
	"github.com/berth-registry/berth/internal/viewer"
)

// record is an OSV record as a test writes it.
type record map[string]any

func pkg(ecosystem, name string, ranges []any, versions ...string) map[string]any {
	a := map[string]any{"package": map[string]string{"ecosystem": ecosystem, "name": name}}
	if ranges != nil {
		a["ranges"] = ranges
	}
	if versions != nil {
		a["versions"] = versions
	}
	return a
}

func withSpecific(affected map[string]any, specific any) map[string]any {
	affected["ecosystem_specific"] = specific
	return affected
}

func ecosystemRange(events ...map[string]string) []any {
	return []any{map[string]any{"type": "ECOSYSTEM", "events": events}}
}

func ev(kind, version string) map[string]string { return map[string]string{kind: version} }

const modified = "2024-03-01T10:00:00Z"

// fixtures are real-looking OSV records, one of each case matching has
// to get right.
func fixtures() map[string]record {
	return map[string]record{
		// A dpkg source package of Debian 12; Debian 11's openssl is
		// another package as far as OSV is concerned.
		"DSA-5532-1": {
			"id": "DSA-5532-1", "modified": modified, "published": "2023-10-23T00:00:00Z",
			"aliases":    []string{"CVE-2023-5363"},
			"summary":    "openssl - security update",
			"affected":   []any{pkg("Debian:12", "openssl", ecosystemRange(ev("introduced", "0"), ev("fixed", "3.0.11-1~deb12u2")))},
			"references": []any{map[string]string{"type": "ADVISORY", "url": "https://www.debian.org/security/2023/dsa-5532"}},
		},
		// A record of Debian without release: every release.
		"DEBIAN-CVE-2024-0001": {
			"id": "DEBIAN-CVE-2024-0001", "modified": modified,
			"affected": []any{withSpecific(pkg("Debian", "zlib", ecosystemRange(ev("introduced", "0"), ev("fixed", "1:1.3.dfsg-3"))),
				map[string]string{"urgency": "low"})},
		},
		"ALPINE-CVE-2023-42366": {
			"id": "ALPINE-CVE-2023-42366", "modified": modified, "aliases": []string{"CVE-2023-42366"},
			"affected": []any{pkg("Alpine:v3.19", "busybox", ecosystemRange(ev("introduced", "0"), ev("fixed", "1.36.1-r16")))},
		},
		// A Go module with two SEMVER intervals and a CVSS v3.1 vector.
		"GO-2024-2687": {
			"id": "GO-2024-2687", "modified": modified, "aliases": []string{"CVE-2023-45288", "GHSA-4v7x-pqxf-cx7m"},
			"summary":  "HTTP/2 CONTINUATION flood in net/http",
			"severity": []any{map[string]string{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
			"affected": []any{pkg("Go", "golang.org/x/net", []any{map[string]any{"type": "SEMVER", "events": []map[string]string{
				ev("introduced", "0"), ev("fixed", "0.17.0"), ev("introduced", "0.18.0"), ev("fixed", "0.23.0"),
			}}})},
			"references": []any{map[string]string{"type": "REPORT", "url": "https://go.dev/issue/65051"}},
		},
		"GHSA-35jh-r3h4-6jhm": {
			"id": "GHSA-35jh-r3h4-6jhm", "modified": modified, "aliases": []string{"CVE-2021-23337"},
			"summary":           "Command Injection in lodash",
			"severity":          []any{map[string]string{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}},
			"affected":          []any{pkg("npm", "lodash", ecosystemRange(ev("introduced", "0"), ev("fixed", "4.17.21")))},
			"database_specific": map[string]string{"severity": "HIGH"},
		},
		// PyPI: the record and the query spell the name differently; no
		// CVSS, so GitHub's own rating.
		"GHSA-h5c8-rqwp-cp95": {
			"id": "GHSA-h5c8-rqwp-cp95", "modified": modified, "aliases": []string{"CVE-2024-22195"},
			"affected":          []any{pkg("PyPI", "jinja2", ecosystemRange(ev("introduced", "0"), ev("fixed", "3.1.3")))},
			"database_specific": map[string]string{"severity": "MODERATE"},
		},
		// last_affected: no fix, 1.4.2 is the last affected version.
		"GHSA-aaaa-bbbb-cccc": {
			"id": "GHSA-aaaa-bbbb-cccc", "modified": modified,
			"affected": []any{pkg("Maven", "org.example:parser", ecosystemRange(ev("introduced", "1.0"), ev("last_affected", "1.4.2")))},
		},
		// Explicit versions only: the malicious release of event-stream.
		"GHSA-mh6f-8j2x-4483": {
			"id": "GHSA-mh6f-8j2x-4483", "modified": modified,
			"summary":  "Critical severity vulnerability that affects event-stream and flatmap-stream",
			"affected": []any{pkg("npm", "event-stream", nil, "3.3.6")},
			"severity": []any{map[string]string{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}},
		},
		// Withdrawn: never matches.
		"GHSA-wwww-wwww-wwww": {
			"id": "GHSA-wwww-wwww-wwww", "modified": modified, "withdrawn": "2024-02-01T00:00:00Z",
			"affected": []any{pkg("npm", "left-pad", ecosystemRange(ev("introduced", "0")))},
		},
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeZip writes an all.zip export of the records.
func writeZip(t *testing.T, path string, recs ...record) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, r := range recs {
		w, err := zw.Create(r["id"].(string) + ".json")
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
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// sources lays the fixtures out as one file, a directory and an all.zip.
func sources(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	recs := fixtures()
	single := filepath.Join(dir, "DSA-5532-1.json")
	writeJSON(t, single, recs["DSA-5532-1"])
	tree := filepath.Join(dir, "tree", "go")
	if err := os.MkdirAll(tree, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"GO-2024-2687", "DEBIAN-CVE-2024-0001", "ALPINE-CVE-2023-42366"} {
		writeJSON(t, filepath.Join(tree, id+".json"), recs[id])
	}
	// Not JSON, not a record: the walk leaves it alone.
	if err := os.WriteFile(filepath.Join(tree, "README.md"), []byte("# records"), 0o644); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "all.zip")
	writeZip(t, archive, recs["GHSA-35jh-r3h4-6jhm"], recs["GHSA-h5c8-rqwp-cp95"], recs["GHSA-aaaa-bbbb-cccc"],
		recs["GHSA-mh6f-8j2x-4483"], recs["GHSA-wwww-wwww-wwww"])
	return []string{single, filepath.Join(dir, "tree"), archive}
}

func systemContext() context.Context { return viewer.SystemContext(context.Background()) }

func TestVulndbImportsFileDirectoryAndZipAndMatches(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := systemContext()
		res, err := vulndb.Import(ctx, db.Client, sources(t)...)
		if err != nil {
			t.Fatal(err)
		}
		want := vulndb.Result{Read: 9, Added: 8, Withdrawn: 1}
		if res != want {
			t.Fatalf("import: %+v, want %+v", res, want)
		}

		cases := []struct {
			query    vulndb.Query
			id       string // "" for no finding
			fixed    string
			severity vulndb.Severity
			score    float64
		}{
			{q("Debian:12", "openssl", "3.0.11-1~deb12u1"), "DSA-5532-1", "3.0.11-1~deb12u2", vulndb.Unknown, 0},
			// The fixed version itself is not affected.
			{q("Debian:12", "openssl", "3.0.11-1~deb12u2"), "", "", "", 0},
			// Another release, an older version: no Debian:11 record.
			{q("Debian:11", "openssl", "1.1.1w-0+deb11u1"), "", "", "", 0},
			// A query without release matches records without release only.
			{q("Debian", "openssl", "3.0.11-1~deb12u1"), "", "", "", 0},
			{q("Debian:11", "zlib", "1:1.2.13.dfsg-1"), "DEBIAN-CVE-2024-0001", "1:1.3.dfsg-3", vulndb.Low, 0},
			{q("Debian:12", "zlib", "1:1.3.dfsg-3"), "", "", "", 0},
			{q("Alpine:v3.19", "busybox", "1.36.1-r15"), "ALPINE-CVE-2023-42366", "1.36.1-r16", vulndb.Unknown, 0},
			{q("Alpine:v3.18", "busybox", "1.36.1-r15"), "", "", "", 0},
			{q("Go", "golang.org/x/net", "v0.10.0"), "GO-2024-2687", "0.17.0", vulndb.Critical, 9.8},
			{q("Go", "golang.org/x/net", "v0.17.0"), "", "", "", 0},
			{q("Go", "golang.org/x/net", "v0.20.0"), "GO-2024-2687", "0.23.0", vulndb.Critical, 9.8},
			{q("Go", "golang.org/x/net", "v0.23.0"), "", "", "", 0},
			{q("npm", "lodash", "4.17.20"), "GHSA-35jh-r3h4-6jhm", "4.17.21", vulndb.High, 7.2},
			{q("npm", "lodash", "4.17.21"), "", "", "", 0},
			{q("PyPI", "Jinja2", "3.1.2"), "GHSA-h5c8-rqwp-cp95", "3.1.3", vulndb.Medium, 0},
			{q("PyPI", "Jinja2", "3.1.3"), "", "", "", 0},
			{q("Maven", "org.example:parser", "1.4.2"), "GHSA-aaaa-bbbb-cccc", "", vulndb.Unknown, 0},
			{q("Maven", "org.example:parser", "1.4.3"), "", "", "", 0},
			{q("Maven", "org.example:parser", "0.9"), "", "", "", 0},
			{q("npm", "event-stream", "3.3.6"), "GHSA-mh6f-8j2x-4483", "", vulndb.Critical, 9.3},
			{q("npm", "event-stream", "3.3.5"), "", "", "", 0},
			{q("npm", "left-pad", "1.3.0"), "", "", "", 0},
		}
		var queries []vulndb.Query
		for _, c := range cases {
			queries = append(queries, c.query)
		}
		findings, err := vulndb.Match(ctx, db.Client, queries)
		if err != nil {
			t.Fatal(err)
		}
		got := map[vulndb.Query][]vulndb.Finding{}
		for _, f := range findings {
			k := q(f.Ecosystem, f.Package, f.Version)
			got[k] = append(got[k], f)
		}
		for _, c := range cases {
			fs := got[c.query]
			if c.id == "" {
				if len(fs) != 0 {
					t.Errorf("%v: want no finding, got %+v", c.query, fs)
				}
				continue
			}
			if len(fs) != 1 {
				t.Errorf("%v: want %s, got %+v", c.query, c.id, fs)
				continue
			}
			f := fs[0]
			if f.ID != c.id || f.FixedVersion != c.fixed || f.Severity != c.severity || f.CVSSScore != c.score {
				t.Errorf("%v: got %s fixed %q %s %.1f, want %s fixed %q %s %.1f",
					c.query, f.ID, f.FixedVersion, f.Severity, f.CVSSScore, c.id, c.fixed, c.severity, c.score)
			}
		}
		// What a report shows of a finding.
		f := got[q("Go", "golang.org/x/net", "v0.20.0")][0]
		if strings.Join(f.Aliases, ",") != "CVE-2023-45288,GHSA-4v7x-pqxf-cx7m" ||
			f.Summary != "HTTP/2 CONTINUATION flood in net/http" ||
			f.CVSSVector != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" ||
			strings.Join(f.Links, ",") != "https://go.dev/issue/65051" {
			t.Errorf("finding: %+v", f)
		}

		status, err := vulndb.Status(ctx, db.Client)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, s := range status {
			counts[s.Ecosystem] = s.Records
			if s.UpdatedAt.IsZero() || !s.LastModified.Equal(mustTime(modified)) {
				t.Errorf("status of %s: %+v", s.Ecosystem, s)
			}
		}
		wantCounts := map[string]int{"Alpine": 1, "Debian": 2, "Go": 1, "Maven": 1, "PyPI": 1, "npm": 2}
		if fmt.Sprint(counts) != fmt.Sprint(wantCounts) {
			t.Errorf("status: %v, want %v", counts, wantCounts)
		}
	})
}

func q(ecosystem, name, version string) vulndb.Query {
	return vulndb.Query{Ecosystem: ecosystem, Name: name, Version: version}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestVulndbReimportChangesNothingAndNewerModifiedReplaces(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := systemContext()
		src := sources(t)
		if _, err := vulndb.Import(ctx, db.Client, src...); err != nil {
			t.Fatal(err)
		}
		res, err := vulndb.Import(ctx, db.Client, src...)
		if err != nil {
			t.Fatal(err)
		}
		if want := (vulndb.Result{Read: 9, Unchanged: 8, Withdrawn: 1}); res != want {
			t.Fatalf("second import: %+v, want %+v", res, want)
		}

		dir := t.TempDir()
		lodash := fixtures()["GHSA-35jh-r3h4-6jhm"]
		// Older than the stored record: skipped, the stored fix stands.
		lodash["modified"] = "2023-01-01T00:00:00Z"
		lodash["affected"] = []any{pkg("npm", "lodash", ecosystemRange(ev("introduced", "0"), ev("fixed", "4.17.19")))}
		writeJSON(t, filepath.Join(dir, "old.json"), lodash)
		// Newer: replaces it, and a later fix moves the fixed version.
		newer := fixtures()["GHSA-35jh-r3h4-6jhm"]
		newer["modified"] = "2024-06-01T00:00:00.123456Z"
		newer["affected"] = []any{pkg("npm", "lodash", ecosystemRange(ev("introduced", "0"), ev("fixed", "4.17.22")))}
		writeJSON(t, filepath.Join(dir, "new.json"), newer)
		// The Go record withdrawn since.
		withdrawn := fixtures()["GO-2024-2687"]
		withdrawn["modified"] = "2024-06-01T00:00:00Z"
		withdrawn["withdrawn"] = "2024-06-01T00:00:00Z"
		writeJSON(t, filepath.Join(dir, "withdrawn.json"), withdrawn)
		// The PyPI record no longer names a package (its only one moved
		// to a GIT range): PyPI has no records left.
		moved := fixtures()["GHSA-h5c8-rqwp-cp95"]
		moved["modified"] = "2024-06-01T00:00:00Z"
		moved["affected"] = []any{map[string]any{"ranges": []any{map[string]any{"type": "GIT", "repo": "https://github.com/pallets/jinja",
			"events": []map[string]string{ev("introduced", "0"), ev("fixed", "7dd3680e6eea0d77fde024763657aa4d884ddb23")}}}}}
		writeJSON(t, filepath.Join(dir, "moved.json"), moved)

		res, err = vulndb.Import(ctx, db.Client, filepath.Join(dir, "old.json"), filepath.Join(dir, "new.json"),
			filepath.Join(dir, "withdrawn.json"), filepath.Join(dir, "moved.json"))
		if err != nil {
			t.Fatal(err)
		}
		if want := (vulndb.Result{Read: 4, Updated: 2, Unchanged: 1, Withdrawn: 1}); res != want {
			t.Fatalf("update: %+v, want %+v", res, want)
		}
		// The same newer record again: as new as the stored one.
		res, err = vulndb.Import(ctx, db.Client, filepath.Join(dir, "new.json"))
		if err != nil {
			t.Fatal(err)
		}
		if want := (vulndb.Result{Read: 1, Unchanged: 1}); res != want {
			t.Fatalf("re-import of the newer record: %+v, want %+v", res, want)
		}

		findings, err := vulndb.Match(ctx, db.Client, []vulndb.Query{
			q("npm", "lodash", "4.17.21"), q("Go", "golang.org/x/net", "v0.20.0"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(findings) != 1 || findings[0].ID != "GHSA-35jh-r3h4-6jhm" || findings[0].FixedVersion != "4.17.22" {
			t.Fatalf("after the update: %+v", findings)
		}
		if n := db.OSVRecord.Query().CountX(ctx); n != 7 {
			t.Errorf("%d records stored, want 7", n)
		}
		status, err := vulndb.Status(ctx, db.Client)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range status {
			switch s.Ecosystem {
			case "Go", "PyPI":
				t.Errorf("%s still listed after its only record was withdrawn or moved: %+v", s.Ecosystem, s)
			case "npm":
				if s.Records != 2 || !s.LastModified.Equal(mustTime("2024-06-01T00:00:00.123456Z")) {
					t.Errorf("npm: %+v", s)
				}
			}
		}
	})
}

func TestVulndbImportRefusesBadInputNamingFileAndRecord(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := systemContext()
		dir := t.TempDir()
		good := fixtures()["GHSA-35jh-r3h4-6jhm"]

		broken := filepath.Join(dir, "broken.json")
		os.WriteFile(broken, []byte(`{"id": "GHSA-xxxx", "modified": `), 0o644)
		noID := filepath.Join(dir, "noid.json")
		writeJSON(t, noID, record{"modified": modified})
		badTime := filepath.Join(dir, "badtime.json")
		writeJSON(t, badTime, record{"id": "GHSA-time", "modified": "yesterday"})
		huge := filepath.Join(dir, "huge.json")
		big := fixtures()["GO-2024-2687"]
		big["details"] = strings.Repeat("x", vulndb.MaxRecordSize)
		writeJSON(t, huge, big)
		hugeZip := filepath.Join(dir, "huge.zip")
		writeZip(t, hugeZip, big)
		// A good record, then a bad one in the same batch: the good one is
		// not written either, and the error says so.
		mixed := filepath.Join(dir, "mixed")
		os.Mkdir(mixed, 0o755)
		writeJSON(t, filepath.Join(mixed, "a-good.json"), good)
		os.WriteFile(filepath.Join(mixed, "b-bad.json"), []byte(`[1, 2]`), 0o644)

		for _, c := range []struct {
			source string
			want   []string
		}{
			{broken, []string{"broken.json", "not an OSV JSON record"}},
			{noID, []string{"noid.json", "no id"}},
			{badTime, []string{"badtime.json"}},
			{huge, []string{"huge.json", "larger than"}},
			{hugeZip, []string{"huge.zip:GO-2024-2687.json", "larger than"}},
			{mixed, []string{"b-bad.json", "0 records were committed"}},
			{filepath.Join(dir, "missing.json"), []string{"missing.json"}},
		} {
			_, err := vulndb.Import(ctx, db.Client, c.source)
			if err == nil {
				t.Errorf("%s: imported", c.source)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not say %q", c.source, err, w)
				}
			}
		}
		if n := db.OSVRecord.Query().CountX(ctx); n != 0 {
			t.Errorf("%d records stored after refused imports", n)
		}
		// Without the rights of an admin or berth, nothing is written.
		writeJSON(t, filepath.Join(dir, "good.json"), good)
		if _, err := vulndb.Import(context.Background(), db.Client, filepath.Join(dir, "good.json")); err == nil {
			t.Errorf("an anonymous caller imported records")
		}
	})
}

// TestVulndbImportsManyRecordsInBatches imports more records than one
// batch holds, reports the rate, and matches a few hundred packages.
func TestVulndbImportsManyRecordsInBatches(t *testing.T) {
	const n = 3*vulndb.BatchSize + 17
	dir := t.TempDir()
	recs := make([]record, n)
	for i := range recs {
		recs[i] = record{
			"id": fmt.Sprintf("GHSA-bulk-%05d", i), "modified": modified,
			"aliases":  []string{fmt.Sprintf("CVE-2024-%05d", i)},
			"summary":  "bulk record",
			"severity": []any{map[string]string{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"}},
			"affected": []any{
				pkg("npm", fmt.Sprintf("pkg-%d", i%400), ecosystemRange(ev("introduced", "1.0.0"), ev("fixed", fmt.Sprintf("1.%d.0", i%7+1)))),
				pkg("Debian:12", fmt.Sprintf("src-%d", i%400), ecosystemRange(ev("introduced", "0"), ev("fixed", "2.0-1"))),
			},
		}
	}
	archive := filepath.Join(dir, "all.zip")
	writeZip(t, archive, recs...)
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := systemContext()
		began := time.Now()
		res, err := vulndb.Import(ctx, db.Client, archive)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("imported %d records in %s", res.Added, time.Since(began).Round(time.Millisecond))
		if res.Added != n {
			t.Fatalf("import: %+v", res)
		}
		var queries []vulndb.Query
		for i := range 400 {
			queries = append(queries, q("npm", fmt.Sprintf("pkg-%d", i), "1.0.5"), q("Debian:12", fmt.Sprintf("src-%d", i), "1.9-3"))
		}
		began = time.Now()
		findings, err := vulndb.Match(ctx, db.Client, queries)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("matched %d packages in %s", len(queries), time.Since(began).Round(time.Millisecond))
		if len(findings) != 2*n {
			t.Fatalf("%d findings, want %d", len(findings), 2*n)
		}
		for _, f := range findings {
			if f.Severity != vulndb.Medium || f.CVSSScore != 5.4 {
				t.Fatalf("finding %+v", f)
			}
		}
		status, err := vulndb.Status(ctx, db.Client)
		if err != nil {
			t.Fatal(err)
		}
		if len(status) != 2 || status[0].Records != n || status[1].Records != n {
			t.Fatalf("status: %+v", status)
		}
	})
}
