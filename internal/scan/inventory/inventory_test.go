package inventory

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
)

func TestScanDebian(t *testing.T) {
	base := gzipLayer(t, tarOf(t,
		dir("etc/"),
		symlink("etc/os-release", "../usr/lib/os-release"),
		file("usr/lib/os-release", debian12OSRelease),
		file("var/lib/dpkg/status", dpkgStatus(
			debPkg{"base-files", "", "12.4+deb12u5"},
			debPkg{"libssl3", "openssl", "3.0.11-1~deb12u2"},
			debPkg{"zlib1g", "zlib", "1:1.2.13.dfsg-1"},
		)),
		// distroless images list packages in status.d, one file each
		file("var/lib/dpkg/status.d/tzdata", dpkgStatus(debPkg{"tzdata", "", "2024a-0+deb12u1"})),
	))
	inv := scan(t, imageOf(t, base), Limits{})

	if want := (OSRelease{ID: "debian", VersionID: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"}); inv.OS != want {
		t.Errorf("OS = %+v, want %+v", inv.OS, want)
	}
	want := []Package{
		{Name: "base-files", Version: "12.4+deb12u5", Ecosystem: "Debian:12", Type: "deb",
			PURL: "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=bookworm", SourceName: "", Locations: []string{"/var/lib/dpkg/status"}},
		{Name: "libssl3", Version: "3.0.11-1~deb12u2", Ecosystem: "Debian:12", Type: "deb",
			PURL: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=bookworm&source=openssl", SourceName: "openssl", Locations: []string{"/var/lib/dpkg/status"}},
		{Name: "tzdata", Version: "2024a-0+deb12u1", Ecosystem: "Debian:12", Type: "deb",
			PURL: "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=amd64&distro=bookworm", Locations: []string{"/var/lib/dpkg/status.d/tzdata"}},
		{Name: "zlib1g", Version: "1:1.2.13.dfsg-1", Ecosystem: "Debian:12", Type: "deb",
			PURL: "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=bookworm&source=zlib", SourceName: "zlib", Locations: []string{"/var/lib/dpkg/status"}},
	}
	for i := range want {
		want[i].LayerDigest = digestOf(t, base)
	}
	assertPackages(t, inv.Packages, want)
}

func TestScanAlpineZstd(t *testing.T) {
	base := compressedLayer(t, tarOf(t,
		file("etc/os-release", alpine319OSRelease),
		file("lib/apk/db/installed", apkInstalled),
	), compression.ZStd)
	img := imageOf(t, base)
	if mt := img.Layers[0].MediaType; mt != MediaTypeOCILayerZstd {
		t.Fatalf("media type %q, want zstd", mt)
	}
	inv := scan(t, img, Limits{})

	if inv.OS.ID != "alpine" || inv.OS.VersionID != "3.19.1" {
		t.Errorf("OS = %+v", inv.OS)
	}
	d := digestOf(t, base)
	want := []Package{
		{Name: "busybox", Version: "1.36.1-r15", Ecosystem: "Alpine:v3.19", Type: "apk", SourceName: "busybox",
			PURL: "pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64&distro=3.19.1&origin=busybox", LayerDigest: d, Locations: []string{"/lib/apk/db/installed"}},
		{Name: "musl", Version: "1.2.4_git20230717-r4", Ecosystem: "Alpine:v3.19", Type: "apk", SourceName: "musl",
			PURL: "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=3.19.1&origin=musl", LayerDigest: d, Locations: []string{"/lib/apk/db/installed"}},
	}
	assertPackages(t, inv.Packages, want)
}

func TestScanLanguagePackages(t *testing.T) {
	bin := buildGoBinary(t)
	base := gzipLayer(t, tarOf(t, file("etc/os-release", debian12OSRelease)))
	goLayer := rawLayer(tarOf(t, entry{name: "usr/local/bin/app", body: string(bin), mode: 0o755}))
	apps := gzipLayer(t, tarOf(t,
		file("app/package-lock.json", packageLock),
		file("usr/local/lib/python3.12/site-packages/requests-2.31.0.dist-info/METADATA", pythonMetadata("requests", "2.31.0")),
		file("opt/app/lib/commons-lang3-3.14.0.jar", jarWithPom(t, "org.apache.commons", "commons-lang3", "3.14.0")),
		file("usr/local/bundle/specifications/rack-3.0.8.gemspec", gemspecRack),
	))
	inv := scan(t, imageOf(t, base, goLayer, apps), Limits{})

	goDigest, appsDigest := digestOf(t, goLayer), digestOf(t, apps)
	assertPackage(t, one(t, inv, "golang", "github.com/google/uuid"), Package{Name: "github.com/google/uuid", Version: "1.6.0",
		Ecosystem: "Go", Type: "golang", PURL: "pkg:golang/github.com/google/uuid@1.6.0", LayerDigest: goDigest,
		Locations: []string{"/usr/local/bin/app"}})
	stdlib := one(t, inv, "golang", "go") // scalibr names the standard library "go"
	if want := strings.TrimPrefix(runtime.Version(), "go"); stdlib.Version != want || stdlib.LayerDigest != goDigest {
		t.Errorf("stdlib = %+v, want version %s in %s", stdlib, want, goDigest)
	}

	assertPackage(t, one(t, inv, "npm", "left-pad"), Package{Name: "left-pad", Version: "1.3.0", Ecosystem: "npm", Type: "npm",
		PURL: "pkg:npm/left-pad@1.3.0?source=PUBLIC_REGISTRY", LayerDigest: appsDigest, Locations: []string{"/app/package-lock.json"}})
	assertPackage(t, one(t, inv, "pypi", "requests"), Package{Name: "requests", Version: "2.31.0", Ecosystem: "PyPI", Type: "pypi",
		PURL: "pkg:pypi/requests@2.31.0", LayerDigest: appsDigest,
		Locations: []string{"/usr/local/lib/python3.12/site-packages/requests-2.31.0.dist-info/METADATA"}})
	assertPackage(t, one(t, inv, "maven", "org.apache.commons:commons-lang3"), Package{Name: "org.apache.commons:commons-lang3", Version: "3.14.0",
		Ecosystem: "Maven", Type: "maven", PURL: "pkg:maven/org.apache.commons/commons-lang3@3.14.0", LayerDigest: appsDigest,
		Locations: []string{"/opt/app/lib/commons-lang3-3.14.0.jar",
			"/opt/app/lib/commons-lang3-3.14.0.jar/META-INF/maven/org.apache.commons/commons-lang3/pom.properties"}})
	assertPackage(t, one(t, inv, "gem", "rack"), Package{Name: "rack", Version: "3.0.8", Ecosystem: "RubyGems", Type: "gem",
		PURL: "pkg:gem/rack@3.0.8", LayerDigest: appsDigest, Locations: []string{"/usr/local/bundle/specifications/rack-3.0.8.gemspec"}})
}

func assertPackages(t *testing.T, got, want []Package) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d packages, want %d:\ngot  %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		assertPackage(t, got[i], want[i])
	}
}

func assertPackage(t *testing.T, got, want Package) {
	t.Helper()
	if got.Name != want.Name || got.Version != want.Version || got.Ecosystem != want.Ecosystem || got.Type != want.Type ||
		got.PURL != want.PURL || got.LayerDigest != want.LayerDigest || got.SourceName != want.SourceName ||
		!slices.Equal(got.Locations, want.Locations) {
		t.Errorf("package mismatch:\ngot  %+v\nwant %+v", got, want)
	}
}

// buildGoBinary builds testdata/gobin, a program importing
// github.com/google/uuid, and returns the executable.
func buildGoBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go toolchain to build a test binary")
	}
	out := filepath.Join(t.TempDir(), "gobin")
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", out, "./testdata/gobin")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(bin)
}
