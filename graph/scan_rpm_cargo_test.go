package graph_test

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/server/servertest"
)

const scanAlmaLinuxOSRelease = "NAME=\"AlmaLinux\"\nVERSION=\"9.4 (Seafoam Ocelot)\"\nID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\n" +
	"VERSION_ID=\"9.4\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"AlmaLinux 9.4 (Seafoam Ocelot)\"\n"

// scanRustDeps is cargo-auditable's record of a Rust program: its root
// crate, smallvec from crates.io at runtime and cc at build time only.
const scanRustDeps = `{"packages":[
{"name":"app","version":"0.1.0","source":"local","root":true,"dependencies":[1,2]},
{"name":"smallvec","version":"1.6.0","source":"crates.io","dependencies":[]},
{"name":"cc","version":"1.0.83","source":"crates.io","kind":"build","dependencies":[]}
]}`

// scanTool returns the path of a command-line tool, skipping the test
// without it, or failing it when services are required
// (BERTH_TEST_REQUIRE_SERVICES=1; .ci/run installs Debian's debPkg).
func scanTool(t *testing.T, name, debPkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("BERTH_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is required but not installed (Debian package %s, installed by .ci/run)", name, debPkg)
	}
	t.Skipf("%s not installed (apt-get install %s); set BERTH_TEST_REQUIRE_SERVICES=1 to fail instead", name, debPkg)
	return ""
}

// scanRPMDatabase builds a noarch package without files named name
// (with a "-libs" subpackage; epoch 0 writes no Epoch tag) with rpmbuild, installs it (database only)
// into a new SQLite rpm database and returns the database's rpmdb.sqlite.
func scanRPMDatabase(t *testing.T, name string, epoch int, version, release string) string {
	t.Helper()
	rpmbuild, rpmTool := scanTool(t, "rpmbuild", "rpm"), scanTool(t, "rpm", "rpm")
	top := t.TempDir()
	spec := fmt.Sprintf("Name: %s\nVersion: %s\nRelease: %s\nLicense: MIT\nSummary: berth scanner test package\nBuildArch: noarch\n", name, version, release)
	if epoch > 0 {
		spec += fmt.Sprintf("Epoch: %d\n", epoch)
	}
	spec += "\n%description\nA package without files.\n\n%files\n\n" +
		"%package libs\nSummary: berth scanner test subpackage\n\n%description libs\nA subpackage without files.\n\n%files libs\n"
	specFile := filepath.Join(top, name+".spec")
	if err := os.WriteFile(specFile, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "HOME="+top) // no ~/.rpmmacros of the machine
	run := func(tool string, args ...string) {
		t.Helper()
		cmd := exec.Command(tool, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(tool), strings.Join(args, " "), err, out)
		}
	}
	run(rpmbuild, "-bb", "--quiet", "--define", "_topdir "+top, specFile)
	rpms, _ := filepath.Glob(filepath.Join(top, "RPMS", "noarch", "*.rpm"))
	if len(rpms) != 2 {
		t.Fatalf("rpmbuild made %v, want a package and its subpackage", rpms)
	}
	db := []string{"--dbpath", filepath.Join(top, "db"), "--define", "_db_backend sqlite"}
	run(rpmTool, append(db, "--initdb")...)
	run(rpmTool, append(append(db, "-i", "--justdb", "--nodeps", "--ignorearch", "--ignoreos"), rpms...)...)
	b, err := os.ReadFile(filepath.Join(top, "db", "rpmdb.sqlite"))
	if err != nil {
		t.Fatalf("rpm made no SQLite database: %v", err)
	}
	return string(b)
}

// scanAuditableBinary returns a copy of the system's true(1), a real ELF
// executable, with cargo-auditable's .dep-v0 section: deps compressed
// with zlib.
func scanAuditableBinary(t *testing.T, deps string) []byte {
	t.Helper()
	objcopy := scanTool(t, "objcopy", "binutils")
	trueBin, err := exec.LookPath("true")
	if err != nil {
		t.Fatalf("no true(1) executable: %v", err)
	}
	dir := t.TempDir()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(deps))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	section, out := filepath.Join(dir, "dep-v0"), filepath.Join(dir, "app")
	if err := os.WriteFile(section, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(objcopy, "--add-section", ".dep-v0="+section, "--set-section-flags", ".dep-v0=noload,readonly", trueBin, out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// scanRPMRecord is an OSV record of AlmaLinux-style ECOSYSTEM ranges.
func scanRPMRecord(id, ecosystem, pkg, fixed string, extra map[string]any) map[string]any {
	r := map[string]any{"id": id, "modified": "2024-05-01T00:00:00Z",
		"affected": []any{map[string]any{"package": map[string]string{"ecosystem": ecosystem, "name": pkg},
			"ranges": []any{map[string]any{"type": "ECOSYSTEM", "events": []map[string]string{{"introduced": "0"}, {"fixed": fixed}}}}}}}
	for k, v := range extra {
		r[k] = v
	}
	return r
}

// TestScanFindsVulnerableRPMPackagesAndRustCrates: an AlmaLinux 9 image
// holding an rpm database made by rpm and a Rust binary with
// cargo-auditable data is pushed over /v2/ and scanned against
// AlmaLinux:9 and crates.io records: the rpm package and the crate with
// vulnerable versions are found with their fixed versions and layers;
// records of another release, fixed in the installed version, or naming
// a build-only dependency do not match.
func TestScanFindsVulnerableRPMPackagesAndRustCrates(t *testing.T) {
	rpmdb := scanRPMDatabase(t, "berth-demo", 0, "1.2.3", "4.el9")
	bin := scanAuditableBinary(t, scanRustDeps)
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "rpmrust", false)
		semver := func(pkg, introduced, fixed string) []any {
			return []any{map[string]any{"package": map[string]string{"ecosystem": "crates.io", "name": pkg},
				"ranges": []any{map[string]any{"type": "SEMVER", "events": []map[string]string{{"introduced": introduced}, {"fixed": fixed}}}}}}
		}
		importRecords(t, s, map[string]any{
			"ALSA-2099:0001": scanRPMRecord("ALSA-2099:0001", "AlmaLinux:9", "berth-demo", "1.2.3-5.el9", map[string]any{
				"aliases": []string{"CVE-2099-1001"}, "summary": "berth-demo flaw",
				"severity": []any{map[string]string{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H"}}}),
			// AlmaLinux 8's berth-demo, not this image's release
			"ALSA-2099:0002": scanRPMRecord("ALSA-2099:0002", "AlmaLinux:8", "berth-demo", "1.2.3-9.el8", nil),
			// fixed in the installed version
			"ALSA-2099:0003": scanRPMRecord("ALSA-2099:0003", "AlmaLinux:9", "berth-demo-libs", "1.2.3-4.el9", nil),
			"RUSTSEC-2021-0003": map[string]any{"id": "RUSTSEC-2021-0003", "modified": "2024-05-01T00:00:00Z",
				"aliases": []string{"CVE-2021-25900", "GHSA-43w2-9j62-hq99"}, "summary": "Buffer overflow in SmallVec::insert_many",
				"affected": semver("smallvec", "1.0.0", "1.6.1"),
				"severity": []any{map[string]string{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}},
			// smallvec fixed in the installed version
			"RUSTSEC-2099-0001": map[string]any{"id": "RUSTSEC-2099-0001", "modified": "2024-05-01T00:00:00Z",
				"affected": semver("smallvec", "0", "1.6.0")},
			// cc is a build dependency, not in the binary
			"RUSTSEC-2099-0002": map[string]any{"id": "RUSTSEC-2099-0002", "modified": "2024-05-01T00:00:00Z",
				"affected": semver("cc", "0", "1.0.84")},
		})
		base := scanLayer(t, [2]string{"etc/os-release", scanAlmaLinuxOSRelease}, [2]string{"var/lib/rpm/rpmdb.sqlite", rpmdb})
		rust := executableLayer(t, "usr/local/bin/app", bin)
		pushRemote(t, s, "rpmrust/app:1", scanImage(t, "A=1", base, rust))

		got := scanNow(t, s, admin, "rpmrust/app", "1")
		if got.Status != "SUCCESS" || got.Os == nil || *got.Os != "almalinux 9.4" ||
			!slices.Equal(ids(&got), []string{"RUSTSEC-2021-0003", "ALSA-2099:0001"}) {
			t.Fatalf("scan of the rpm and Rust image: %+v", got)
		}
		if c := got.SeverityCounts; c.Critical != 1 || c.High != 1 || got.FixableCount != 2 {
			t.Fatalf("counts: %+v fixable %d", c, got.FixableCount)
		}
		crate, rpm := got.Vulnerabilities.Edges[0].Node, got.Vulnerabilities.Edges[1].Node
		if crate.Package != "smallvec" || crate.InstalledVersion != "1.6.0" || crate.FixedVersion == nil || *crate.FixedVersion != "1.6.1" ||
			crate.Severity != "CRITICAL" || !slices.Equal(crate.Aliases, []string{"CVE-2021-25900", "GHSA-43w2-9j62-hq99"}) ||
			crate.LayerDigest == nil || *crate.LayerDigest != layerDigest(t, rust) {
			t.Errorf("crates.io finding: %+v", crate)
		}
		if rpm.Package != "berth-demo" || rpm.InstalledVersion != "1.2.3-4.el9" || rpm.FixedVersion == nil || *rpm.FixedVersion != "1.2.3-5.el9" ||
			rpm.Severity != "HIGH" || !slices.Equal(rpm.Aliases, []string{"CVE-2099-1001"}) ||
			rpm.LayerDigest == nil || *rpm.LayerDigest != layerDigest(t, base) {
			t.Errorf("rpm finding: %+v", rpm)
		}
	})
}

// TestScanComparesRPMVersionsWithTheirEpoch: an rpm installed at epoch 1
// (1:1.2.3-4.el9) is past a fix released as 1:1.2.3-3.el9, so the record
// does not match: rpm orders versions by epoch first.
func TestScanComparesRPMVersionsWithTheirEpoch(t *testing.T) {
	rpmdb := scanRPMDatabase(t, "berth-demo", 1, "1.2.3", "4.el9")
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "rpmepoch", false)
		importRecords(t, s, map[string]any{
			"ALSA-2099:0004": scanRPMRecord("ALSA-2099:0004", "AlmaLinux:9", "berth-demo", "1:1.2.3-3.el9", nil),
		})
		base := scanLayer(t, [2]string{"etc/os-release", scanAlmaLinuxOSRelease}, [2]string{"var/lib/rpm/rpmdb.sqlite", rpmdb})
		pushRemote(t, s, "rpmepoch/app:1", scanImage(t, "A=1", base))

		got := scanNow(t, s, admin, "rpmepoch/app", "1")
		if got.Status != "SUCCESS" || got.PackageCount != 2 || len(ids(&got)) != 0 {
			t.Fatalf("scan of an rpm at epoch 1 past its fix: %+v", got)
		}
	})
}
