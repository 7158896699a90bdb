package graph_test

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-registry/berth/internal/server/servertest"
)

// executableLayer is a layer holding one executable file.
func executableLayer(t *testing.T, name string, body []byte) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	tw.Write(body)
	tw.Close()
	raw := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// goBinary builds the inventory tests' program, which imports
// github.com/google/uuid (v1.6.0 in berth's go.mod).
func goBinary(t *testing.T) []byte {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain to build a test binary")
	}
	out := filepath.Join(t.TempDir(), "app")
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", out, "./testdata/gobin")
	cmd.Dir = filepath.Join("..", "internal", "scan", "inventory")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

const languageLock = `{
  "name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
  "packages": {
    "": {"name": "app", "version": "1.0.0", "dependencies": {"lodash": "^4.17.20", "left-pad": "^1.3.0"}},
    "node_modules/lodash": {"version": "4.17.20", "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.20.tgz"},
    "node_modules/left-pad": {"version": "1.3.0", "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz"}
  }
}`

// TestScanFindsVulnerableGoModulesAndNpmPackages: an image holding a Go
// binary with module info and an npm package-lock.json is scanned against
// Go and npm records: the module and the npm package with a vulnerable
// version are found with their fixed versions and layers; records whose
// fixed version is the installed one, or that name other packages, do not
// match.
func TestScanFindsVulnerableGoModulesAndNpmPackages(t *testing.T) {
	bin := goBinary(t)
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "lang", false)
		rng := func(ecosystem, pkg, fixed string) []any {
			return []any{map[string]any{"package": map[string]string{"ecosystem": ecosystem, "name": pkg},
				"ranges": []any{map[string]any{"type": "SEMVER", "events": []map[string]string{{"introduced": "0"}, {"fixed": fixed}}}}}}
		}
		importRecords(t, s, map[string]any{
			"GO-2099-0001": map[string]any{"id": "GO-2099-0001", "modified": "2024-05-01T00:00:00Z", "aliases": []string{"CVE-2099-0001"},
				"summary": "uuid parsing flaw", "affected": rng("Go", "github.com/google/uuid", "1.6.1"),
				"severity": []any{map[string]string{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}},
			"GO-2099-0002": map[string]any{"id": "GO-2099-0002", "modified": "2024-05-01T00:00:00Z",
				"affected": rng("Go", "github.com/google/uuid", "1.6.0")}, // fixed in the installed version
			"GHSA-35jh-r3h4-6jhm": map[string]any{"id": "GHSA-35jh-r3h4-6jhm", "modified": "2024-05-01T00:00:00Z", "aliases": []string{"CVE-2021-23337"},
				"summary": "Command Injection in lodash", "affected": rng("npm", "lodash", "4.17.21"),
				"severity": []any{map[string]string{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}}},
			"GHSA-0000-0000-0000": map[string]any{"id": "GHSA-0000-0000-0000", "modified": "2024-05-01T00:00:00Z",
				"affected": rng("npm", "right-pad", "9.9.9")}, // not installed
		})
		goLayer := executableLayer(t, "usr/local/bin/app", bin)
		npmLayer := scanLayer(t, [2]string{"app/package-lock.json", languageLock})
		base := scanLayer(t, [2]string{"etc/os-release", scanDebianOSRelease})
		pushRemote(t, s, "lang/app:1", scanImage(t, "A=1", base, goLayer, npmLayer))

		got := scanNow(t, s, admin, "lang/app", "1")
		if got.Status != "SUCCESS" || !slices.Equal(ids(&got), []string{"GO-2099-0001", "GHSA-35jh-r3h4-6jhm"}) {
			t.Fatalf("scan of the Go and npm image: %+v", got)
		}
		if c := got.SeverityCounts; c.Critical != 1 || c.High != 1 || got.FixableCount != 2 {
			t.Fatalf("counts: %+v fixable %d", c, got.FixableCount)
		}
		goFinding, npmFinding := got.Vulnerabilities.Edges[0].Node, got.Vulnerabilities.Edges[1].Node
		if goFinding.Package != "github.com/google/uuid" || goFinding.InstalledVersion != "1.6.0" || goFinding.FixedVersion == nil ||
			*goFinding.FixedVersion != "1.6.1" || goFinding.Severity != "CRITICAL" || goFinding.LayerDigest == nil || *goFinding.LayerDigest != layerDigest(t, goLayer) {
			t.Errorf("Go finding: %+v", goFinding)
		}
		if npmFinding.Package != "lodash" || npmFinding.InstalledVersion != "4.17.20" || npmFinding.FixedVersion == nil ||
			*npmFinding.FixedVersion != "4.17.21" || npmFinding.Severity != "HIGH" || !slices.Equal(npmFinding.Aliases, []string{"CVE-2021-23337"}) ||
			npmFinding.LayerDigest == nil || *npmFinding.LayerDigest != layerDigest(t, npmLayer) {
			t.Errorf("npm finding: %+v", npmFinding)
		}
	})
}
