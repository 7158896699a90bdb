package inventory

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const almaLinux94OSRelease = `NAME="AlmaLinux"
VERSION="9.4 (Seafoam Ocelot)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.4 (Seafoam Ocelot)"
CPE_NAME="cpe:/o:almalinux:almalinux:9::baseos"
`

// requireTool returns the path of a command-line tool the test drives,
// skipping the test without it, or failing it when services are required
// (BERTH_TEST_REQUIRE_SERVICES=1, as .ci/run sets; .ci/run installs the
// Debian package debPkg).
func requireTool(t *testing.T, name, debPkg string) string {
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

// rpmSpec is a package rpmbuild makes: a noarch package without files,
// and an optional "-libs" subpackage of the same source rpm.
type rpmSpec struct {
	name             string
	epoch            int // 0: no Epoch tag
	version, release string
	libs             bool
}

// buildRPMs runs rpmbuild on spec and returns the binary rpms it made.
func buildRPMs(t *testing.T, spec rpmSpec) []string {
	t.Helper()
	rpmbuild := requireTool(t, "rpmbuild", "rpm")
	top := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, "Name: %s\nVersion: %s\nRelease: %s\nLicense: MIT\nSummary: berth scanner test package\nBuildArch: noarch\n",
		spec.name, spec.version, spec.release)
	if spec.epoch > 0 {
		fmt.Fprintf(&b, "Epoch: %d\n", spec.epoch)
	}
	b.WriteString("\n%description\nA package without files, for berth's scanner tests.\n\n%files\n")
	if spec.libs {
		b.WriteString("\n%package libs\nSummary: berth scanner test subpackage\n\n%description libs\nA subpackage without files.\n\n%files libs\n")
	}
	specFile := filepath.Join(top, spec.name+".spec")
	if err := os.WriteFile(specFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rpmbuild, "-bb", "--quiet", "--define", "_topdir "+top, specFile)
	cmd.Env = append(os.Environ(), "HOME="+top) // no ~/.rpmmacros of the machine
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild %s: %v\n%s", spec.name, err, out)
	}
	rpms, err := filepath.Glob(filepath.Join(top, "RPMS", "noarch", "*.rpm"))
	if err != nil || len(rpms) == 0 {
		t.Fatalf("rpmbuild %s made no rpm (%v)", spec.name, err)
	}
	return rpms
}

// rpmDatabase installs rpms (database only) into a new SQLite rpm
// database, the format of RHEL 9 and its rebuilds, and returns its
// rpmdb.sqlite.
func rpmDatabase(t *testing.T, rpms ...string) string {
	t.Helper()
	rpmTool := requireTool(t, "rpm", "rpm")
	home := t.TempDir()
	dbpath := filepath.Join(home, "db")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(rpmTool, append([]string{"--dbpath", dbpath, "--define", "_db_backend sqlite"}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rpm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("--initdb")
	run(append([]string{"-i", "--justdb", "--nodeps", "--ignorearch", "--ignoreos"}, rpms...)...)
	db, err := os.ReadFile(filepath.Join(dbpath, "rpmdb.sqlite"))
	if err != nil {
		t.Fatalf("rpm made no SQLite database: %v", err)
	}
	return string(db)
}

// cargoAuditableBinary returns a real ELF executable (a copy of the
// system's true(1)) with a .dep-v0 section holding depsJSON, compressed
// with zlib as cargo-auditable embeds it.
func cargoAuditableBinary(t *testing.T, depsJSON string) string {
	t.Helper()
	objcopy := requireTool(t, "objcopy", "binutils")
	trueBin, err := exec.LookPath("true")
	if err != nil {
		t.Fatalf("no true(1) executable: %v", err)
	}
	elf, err := os.ReadFile(trueBin)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(elf, []byte("\x7fELF")) {
		t.Fatalf("%s is not an ELF executable", trueBin)
	}
	dir := t.TempDir()
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(depsJSON))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	in, section, out := filepath.Join(dir, "in"), filepath.Join(dir, "dep-v0"), filepath.Join(dir, "out")
	if err := os.WriteFile(in, elf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(section, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(objcopy, "--add-section", ".dep-v0="+section, "--set-section-flags", ".dep-v0=noload,readonly", in, out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(bin)
}

// rustDeps is the dependency tree of a Rust program as cargo-auditable
// records it: the root crate, a runtime dependency from crates.io and a
// build dependency.
const rustDeps = `{"packages":[
{"name":"app","version":"0.1.0","source":"local","root":true,"dependencies":[1,2]},
{"name":"smallvec","version":"1.6.0","source":"crates.io","dependencies":[]},
{"name":"cc","version":"1.0.83","source":"crates.io","kind":"build","dependencies":[]}
]}`

// TestScanRPMDatabase: the SQLite rpm database of an AlmaLinux 9 image,
// built by rpm itself, lists its packages with version-release, epoch,
// source rpm and the AlmaLinux:9 ecosystem; a package added by a later
// layer that rewrote the database belongs to that layer, the unchanged
// ones to the layer that installed them.
func TestScanRPMDatabase(t *testing.T) {
	demo := buildRPMs(t, rpmSpec{name: "berth-demo", epoch: 1, version: "1.2.3", release: "4.el9", libs: true})
	extra := buildRPMs(t, rpmSpec{name: "berth-extra", version: "2.0", release: "1.el9"})
	base := gzipLayer(t, tarOf(t,
		file("etc/os-release", almaLinux94OSRelease),
		file("var/lib/rpm/rpmdb.sqlite", rpmDatabase(t, demo...)),
	))
	update := gzipLayer(t, tarOf(t, file("var/lib/rpm/rpmdb.sqlite", rpmDatabase(t, append(demo, extra...)...))))
	inv := scan(t, imageOf(t, base, update), Limits{})

	if want := (OSRelease{ID: "almalinux", VersionID: "9.4", PrettyName: "AlmaLinux 9.4 (Seafoam Ocelot)"}); inv.OS != want {
		t.Errorf("OS = %+v, want %+v", inv.OS, want)
	}
	if len(inv.Warnings) != 0 {
		t.Errorf("warnings: %v", inv.Warnings)
	}
	loc := []string{"/var/lib/rpm/rpmdb.sqlite"}
	baseDigest, updateDigest := digestOf(t, base), digestOf(t, update)
	want := []Package{
		{Name: "berth-demo", Version: "1.2.3-4.el9", Ecosystem: "AlmaLinux:9", Type: "rpm",
			PURL:       "pkg:rpm/almalinux/berth-demo@1.2.3-4.el9?arch=noarch&distro=almalinux-9.4&epoch=1&sourcerpm=berth-demo-1.2.3-4.el9.src.rpm",
			SourceName: "berth-demo", LayerDigest: baseDigest, Locations: loc},
		{Name: "berth-demo-libs", Version: "1.2.3-4.el9", Ecosystem: "AlmaLinux:9", Type: "rpm",
			PURL:       "pkg:rpm/almalinux/berth-demo-libs@1.2.3-4.el9?arch=noarch&distro=almalinux-9.4&epoch=1&sourcerpm=berth-demo-1.2.3-4.el9.src.rpm",
			SourceName: "berth-demo", LayerDigest: baseDigest, Locations: loc},
		{Name: "berth-extra", Version: "2.0-1.el9", Ecosystem: "AlmaLinux:9", Type: "rpm",
			PURL:       "pkg:rpm/almalinux/berth-extra@2.0-1.el9?arch=noarch&distro=almalinux-9.4&sourcerpm=berth-extra-2.0-1.el9.src.rpm",
			SourceName: "berth-extra", LayerDigest: updateDigest, Locations: loc},
	}
	assertPackages(t, inv.Packages, want)
	for _, p := range inv.Packages { // each source rpm is version-release of its spec
		if p.SourceVersion != p.Version {
			t.Errorf("%s: source version %q, want %q", p.Name, p.SourceVersion, p.Version)
		}
	}
}

// TestScanCargoAuditableBinary: an ELF executable carrying
// cargo-auditable's .dep-v0 section lists its runtime crates as crates.io
// packages of the layer holding the binary; build dependencies are left
// out.
func TestScanCargoAuditableBinary(t *testing.T) {
	bin := cargoAuditableBinary(t, rustDeps)
	base := gzipLayer(t, tarOf(t, file("etc/os-release", debian12OSRelease)))
	rust := rawLayer(tarOf(t, entry{name: "usr/local/bin/app", body: bin, mode: 0o755}))
	inv := scan(t, imageOf(t, base, rust), Limits{})

	assertPackage(t, one(t, inv, "cargo", "smallvec"), Package{Name: "smallvec", Version: "1.6.0", Ecosystem: "crates.io", Type: "cargo",
		PURL: "pkg:cargo/smallvec@1.6.0", LayerDigest: digestOf(t, rust), Locations: []string{"/usr/local/bin/app"}})
	if build := find(inv, "cargo", "cc"); len(build) != 0 {
		t.Errorf("build dependency listed: %+v", build)
	}
	if len(inv.Warnings) != 0 {
		t.Errorf("warnings: %v", inv.Warnings)
	}
}
