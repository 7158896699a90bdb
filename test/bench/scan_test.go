//go:build bench

package bench

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/scan/vulndb"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/viewer"
)

// The scan of a 100 MiB image (issue: "The scan of a 100 MiB image with a
// few hundred packages finishes in under 10 seconds on this machine"),
// asked for as users ask: scanArtifact(wait: true) in GraphQL by a
// project developer, after a push over /v2/ by the same developer.
const (
	scanBudget   = 10 * time.Second
	scanRounds   = 5
	scanFiller   = 100 << 20 // random bytes over the image's files
	scanDebPkgs  = 300
	scanNpmPkgs  = 40
	scanPyPkgs   = 20
	scanApkPkgs  = 10
	scanVulnSrcs = 20 // Debian source packages with a record (3 binaries each)
	scanOther    = 2000
)

// scanImage is an image ready to push: its blobs and manifest.
type scanImage struct {
	blobs    [][]byte
	manifest []byte
	packages int // packages the image holds, Go standard library and modules aside
	findings int // findings the fixture's records make in it
}

// scanFigures is what one database's run measured.
type scanFigures struct {
	rounds   []time.Duration // scanArtifact(wait: true) round trips
	runs     []time.Duration // the scan jobs' own startedAt to finishedAt
	packages int
	findings int
	push     time.Duration
	records  int
	imported time.Duration
}

// TestBenchmarkScan pushes a ~100 MiB image with a few hundred packages
// (a Debian 12 dpkg database of 300, an Alpine apk database, an npm lock
// file, Python dist-infos and a Go binary, among incompressible files
// over three gzip layers), imports OSV records some of which match it,
// scans it scanRounds times and prints the median against the budget.
func TestBenchmarkScan(t *testing.T) {
	img, zipPath := buildScanImage(t)
	figures := map[string]*scanFigures{}
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			figures[kind] = benchScan(t, kind, img, zipPath)
		})
	}

	var b strings.Builder
	var cols []string
	for _, kind := range dbtest.Dialects {
		if f := figures[kind]; f != nil && len(f.rounds) == scanRounds {
			cols = append(cols, kind)
		}
	}
	size := 0
	for _, blob := range img.blobs {
		size += len(blob)
	}
	fmt.Fprintf(&b, "\nvulnerability scan, %d cores: a %.0f MiB image (3 gzip layers), scanArtifact(wait: true) by a developer, %d times\n",
		runtime.NumCPU(), float64(size)/(1<<20), scanRounds)
	fmt.Fprintf(&b, "| %-52s |", "measure")
	for _, c := range cols {
		fmt.Fprintf(&b, " %16s |", c)
	}
	fmt.Fprintf(&b, " %-12s |\n|%s|", "target", strings.Repeat("-", 54))
	for range cols {
		fmt.Fprintf(&b, "%s|", strings.Repeat("-", 18))
	}
	fmt.Fprintf(&b, "%s|\n", strings.Repeat("-", 14))
	row := func(name, target string, cell func(f *scanFigures) string) {
		fmt.Fprintf(&b, "| %-52s |", name)
		for _, c := range cols {
			fmt.Fprintf(&b, " %16s |", cell(figures[c]))
		}
		fmt.Fprintf(&b, " %-12s |\n", target)
	}
	secs := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
	row("push over /v2/ (developer)", "", func(f *scanFigures) string { return secs(f.push) })
	row("import the OSV fixture (records)", "", func(f *scanFigures) string {
		return fmt.Sprintf("%s (%d)", secs(f.imported), f.records)
	})
	row("packages found, findings", "", func(f *scanFigures) string { return fmt.Sprintf("%d, %d", f.packages, f.findings) })
	row(fmt.Sprintf("scanArtifact(wait: true), median of %d", scanRounds), "< 10 s", func(f *scanFigures) string { return secs(medianDuration(f.rounds)) })
	row("  first / slowest", "", func(f *scanFigures) string {
		return fmt.Sprintf("%.2f / %.2f s", f.rounds[0].Seconds(), slices.Max(f.rounds).Seconds())
	})
	row("  scan job alone (startedAt to finishedAt), median", "", func(f *scanFigures) string { return secs(medianDuration(f.runs)) })
	row("goal: median under 10 s", "", func(f *scanFigures) string {
		if medianDuration(f.rounds) < scanBudget {
			return "met"
		}
		return "NOT met"
	})
	for _, c := range cols {
		if m := medianDuration(figures[c].rounds); m >= scanBudget {
			// Reported, not failed: a loaded machine is not a regression.
			t.Logf("the median scan on %s took %v, over the %v goal", c, m, scanBudget)
		}
	}
	t.Log(b.String())
	fmt.Print(b.String())
}

func benchScan(t *testing.T, kind string, img *scanImage, zipPath string) *scanFigures {
	f := &scanFigures{}
	s := servertest.Start(t, kind)
	s.CreateProject(servertest.Admin, "scan", false)
	dev := s.CreateUser(devUser)
	s.MustDo(servertest.Admin, `mutation { addProjectMember(input: {project: "scan", username: "dev", role: DEVELOPER}) { id } }`, nil, nil)

	start := time.Now()
	res, err := vulndb.Import(viewer.SystemContext(t.Context()), s.Berth.DB().Client, zipPath)
	if err != nil {
		t.Fatalf("importing the OSV fixture: %v", err)
	}
	f.imported, f.records = time.Since(start), res.Added
	analyze(t, s, kind)

	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	c := &v2{t: t, base: s.URL, user: dev.Username, pass: dev.Password, client: &http.Client{Transport: tr}}
	start = time.Now()
	for _, blob := range img.blobs {
		c.upload("scan/app", blob)
	}
	if st, body := c.do("PUT", "/v2/scan/app/manifests/v1", img.manifest, "application/vnd.oci.image.manifest.v1+json"); st != http.StatusCreated {
		t.Fatalf("manifest PUT as developer: %d %s", st, body)
	}
	f.push = time.Since(start)

	for i := range scanRounds {
		var out struct {
			ScanArtifact struct {
				Status          string
				Error           *string
				PackageCount    int
				StartedAt       time.Time
				FinishedAt      time.Time
				Vulnerabilities struct{ TotalCount int }
			}
		}
		start := time.Now()
		s.MustDo(dev, `mutation { scanArtifact(repository: "scan/app", reference: "v1", wait: true) {
			status error packageCount startedAt finishedAt vulnerabilities(first: 1) { totalCount } } }`, nil, &out)
		took := time.Since(start)
		r := out.ScanArtifact
		if r.Status != "SUCCESS" {
			t.Fatalf("scan %d on %s: %s %v after %v", i+1, kind, r.Status, r.Error, took)
		}
		f.rounds = append(f.rounds, took)
		f.runs = append(f.runs, r.FinishedAt.Sub(r.StartedAt))
		f.packages, f.findings = r.PackageCount, r.Vulnerabilities.TotalCount
		t.Logf("scan %d on %s: %v (job %v), %d packages, %d findings", i+1, kind, took, r.FinishedAt.Sub(r.StartedAt),
			r.PackageCount, r.Vulnerabilities.TotalCount)
	}
	if f.packages < img.packages {
		t.Errorf("the scan found %d packages, the image holds at least %d", f.packages, img.packages)
	}
	if f.findings != img.findings {
		t.Errorf("the scan made %d findings, the fixture's records match %d", f.findings, img.findings)
	}
	return f
}

// buildScanImage makes the image and the OSV fixture (an all.zip in a
// temporary directory).
func buildScanImage(t *testing.T) (*scanImage, string) {
	t.Helper()
	rng := mrand.New(mrand.NewChaCha8([32]byte{7}))
	random := func(n int) string {
		buf := make([]byte, n)
		for i := 0; i+8 <= n; i += 8 {
			v := rng.Uint64()
			for k := range 8 {
				buf[i+k] = byte(v >> (8 * k))
			}
		}
		return string(buf)
	}
	type file struct {
		name, body string
		mode       int64
	}
	fillers := func(prefix string, n, size int, mode int64) []file {
		out := make([]file, n)
		for i := range out {
			out[i] = file{fmt.Sprintf("%s/file-%04d", prefix, i), random(size), mode}
		}
		return out
	}
	layer := func(files []file) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		for _, f := range files {
			mode := f.mode
			if mode == 0 {
				mode = 0o644
			}
			hdr := &tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(f.body)), ModTime: time.Unix(1700000000, 0)}
			if err := tw.WriteHeader(hdr); err != nil {
				t.Fatal(err)
			}
			tw.Write([]byte(f.body))
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		zw.Close()
		return buf.Bytes()
	}

	var status strings.Builder
	for i := range scanDebPkgs {
		fmt.Fprintf(&status, "Package: package-%03d\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nSource: source-%03d\nVersion: 1.%d.0-1+deb12u1\nDescription: bench package %d\n\n",
			i, i/3, i, i)
	}
	var apk strings.Builder
	for i := range scanApkPkgs {
		fmt.Fprintf(&apk, "P:apk-pkg-%02d\nV:1.%d.0-r0\nA:x86_64\no:apk-pkg-%02d\n\n", i, i, i)
	}
	lock := map[string]any{"name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true}
	lockPkgs := map[string]any{"": map[string]any{"name": "app", "version": "1.0.0"}}
	for i := range scanNpmPkgs {
		lockPkgs[fmt.Sprintf("node_modules/npm-pkg-%02d", i)] = map[string]any{"version": fmt.Sprintf("1.0.%d", i),
			"resolved": fmt.Sprintf("https://registry.npmjs.org/npm-pkg-%02d/-/npm-pkg-%02d-1.0.%d.tgz", i, i, i)}
	}
	lock["packages"] = lockPkgs
	lockJSON, _ := json.Marshal(lock)
	var apps []file
	apps = append(apps, file{"opt/app/package-lock.json", string(lockJSON), 0}, file{"lib/apk/db/installed", apk.String(), 0})
	for i := range scanPyPkgs {
		apps = append(apps, file{fmt.Sprintf("usr/local/lib/python3.12/site-packages/py_pkg_%02d-2.0.0.dist-info/METADATA", i),
			fmt.Sprintf("Metadata-Version: 2.1\nName: py-pkg-%02d\nVersion: 2.0.0\nSummary: bench\n", i), 0})
	}

	per := scanFiller / 3
	base := append([]file{{"etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n", 0},
		{"var/lib/dpkg/status", status.String(), 0}}, fillers("usr/share/data", 400, per/400, 0)...)
	bins := append([]file{{"usr/local/bin/app", goBinary(t), 0o755}}, fillers("usr/bin", 100, per/100, 0o755)...)
	apps = append(apps, fillers("opt/app/data", 40, per/40, 0)...)

	img := &scanImage{packages: scanDebPkgs + scanNpmPkgs + scanPyPkgs + scanApkPkgs}
	var layers []string
	var diffIDs []string
	for _, files := range [][]file{base, bins, apps} {
		gz := layer(files)
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		diff, err := digest.FromReader(zr)
		if err != nil {
			t.Fatal(err)
		}
		img.blobs = append(img.blobs, gz)
		diffIDs = append(diffIDs, fmt.Sprintf("%q", diff))
		layers = append(layers, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}`, digest.FromBytes(gz), len(gz)))
	}
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","created":"2024-03-01T10:00:00Z","rootfs":{"type":"layers","diff_ids":[%s]}}`, strings.Join(diffIDs, ",")))
	img.blobs = append(img.blobs, cfg)
	img.manifest = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[%s]}`,
		digest.FromBytes(cfg), len(cfg), strings.Join(layers, ",")))

	// The records: some match (each Debian one the 3 binaries of its
	// source package), most do not, as in a real database.
	rec := func(id, eco, name, fixed string) map[string]any {
		return map[string]any{"id": id, "modified": "2024-03-01T10:00:00Z", "summary": "bench record " + id,
			"severity": []any{map[string]string{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"}},
			"affected": []any{map[string]any{"package": map[string]string{"ecosystem": eco, "name": name},
				"ranges": []any{map[string]any{"type": "ECOSYSTEM", "events": []map[string]string{{"introduced": "0"}, {"fixed": fixed}}}}}}}
	}
	var recs []map[string]any
	for i := range scanVulnSrcs {
		recs = append(recs, rec(fmt.Sprintf("DEBIAN-CVE-2024-%05d", i), "Debian:12", fmt.Sprintf("source-%03d", i), "99.0-1"))
	}
	for i := range 5 {
		recs = append(recs, rec(fmt.Sprintf("GHSA-npm-%05d", i), "npm", fmt.Sprintf("npm-pkg-%02d", i), "9.0.0"))
	}
	for i := range 3 {
		recs = append(recs, rec(fmt.Sprintf("PYSEC-2024-%05d", i), "PyPI", fmt.Sprintf("py-pkg-%02d", i), "9.0.0"))
	}
	goRec := rec("GO-2024-99999", "Go", "github.com/google/uuid", "1.99.0")
	goRec["affected"].([]any)[0].(map[string]any)["ranges"].([]any)[0].(map[string]any)["type"] = "SEMVER"
	recs = append(recs, goRec)
	img.findings = scanVulnSrcs*3 + 5 + 3 + 1
	for i := range scanOther {
		recs = append(recs, rec(fmt.Sprintf("DEBIAN-CVE-2023-%05d", i), "Debian:12", fmt.Sprintf("other-%04d", i), "1.0-1"))
		if i%4 == 0 {
			recs = append(recs, rec(fmt.Sprintf("GHSA-other-%05d", i), "npm", fmt.Sprintf("other-%04d", i), "1.0.0"))
		}
	}
	zipPath := filepath.Join(t.TempDir(), "all.zip")
	zf, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	for _, r := range recs {
		w, err := zw.Create(r["id"].(string) + ".json")
		if err != nil {
			t.Fatal(err)
		}
		json.NewEncoder(w).Encode(r)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	zf.Close()
	return img, zipPath
}

// goBinary builds the inventory tests' Go program (its module info lists
// github.com/google/uuid).
func goBinary(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "gobin")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./internal/scan/inventory/testdata/gobin")
	cmd.Dir = repoRoot()
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(bin)
}

func medianDuration(v []time.Duration) time.Duration {
	s := append([]time.Duration(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
