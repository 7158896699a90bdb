package inventory

import (
	"archive/tar"
	"testing"
)

const sitePackages = "usr/lib/python3/dist-packages/"

// TestWhiteouts checks that a whiteout file and an opaque directory in a
// later layer remove packages an earlier layer added.
func TestWhiteouts(t *testing.T) {
	base := gzipLayer(t, tarOf(t,
		file("etc/os-release", debian12OSRelease),
		file(sitePackages+"six-1.16.0.dist-info/METADATA", pythonMetadata("six", "1.16.0")),
		file(sitePackages+"idna-3.6.dist-info/METADATA", pythonMetadata("idna", "3.6")),
		file("app/package-lock.json", packageLock),
		file("srv/www/package-lock.json", packageLock),
	))
	removals := gzipLayer(t, tarOf(t,
		// whiteout file: removes the six dist-info directory
		file(sitePackages+".wh.six-1.16.0.dist-info", ""),
		// opaque directory: hides everything /app held below this layer
		dir("app/"),
		file("app/.wh..wh..opq", ""),
		file("app/README", "no lock file any more"),
		// opaque directory re-filled in the same layer with the same lock
		// file: the package never left the image
		file("srv/www/.wh..wh..opq", ""),
		file("srv/www/package-lock.json", packageLock),
	))
	inv := scan(t, imageOf(t, base, removals), Limits{})

	if ps := find(inv, "pypi", "six"); len(ps) != 0 {
		t.Errorf("six was whited out but is listed: %+v", ps)
	}
	if p := one(t, inv, "pypi", "idna"); p.LayerDigest != digestOf(t, base) {
		t.Errorf("idna in %s, want base layer", p.LayerDigest)
	}
	lefts := find(inv, "npm", "left-pad")
	if len(lefts) != 1 {
		t.Fatalf("want left-pad only from /srv/www, got %+v", lefts)
	}
	assertPackage(t, lefts[0], Package{Name: "left-pad", Version: "1.3.0", Ecosystem: "npm", Type: "npm",
		PURL: "pkg:npm/left-pad@1.3.0?source=PUBLIC_REGISTRY", LayerDigest: digestOf(t, base),
		Locations: []string{"/srv/www/package-lock.json"}})
}

// TestAttribution checks which layer a package is attributed to when later
// layers rewrite the file it was found in.
func TestAttribution(t *testing.T) {
	base := gzipLayer(t, tarOf(t,
		file("etc/os-release", debian12OSRelease),
		file("var/lib/dpkg/status", dpkgStatus(
			debPkg{"base-files", "", "12.4+deb12u5"},
			debPkg{"libssl3", "openssl", "3.0.11-1~deb12u2"},
		)),
	))
	// A layer that does not touch the dpkg database.
	middle := gzipLayer(t, tarOf(t, file("etc/motd", "hello")))
	// apt-get upgrade libssl3 && apt-get install curl: the whole status
	// file is rewritten.
	upgrade := gzipLayer(t, tarOf(t,
		file("var/lib/dpkg/status", dpkgStatus(
			debPkg{"base-files", "", "12.4+deb12u5"},
			debPkg{"curl", "", "7.88.1-10+deb12u5"},
			debPkg{"libssl3", "openssl", "3.0.13-1~deb12u1"},
		)),
	))
	inv := scan(t, imageOf(t, base, middle, upgrade), Limits{})

	cases := map[string]struct{ version, layer string }{
		"base-files": {"12.4+deb12u5", digestOf(t, base)},         // unchanged since the base
		"libssl3":    {"3.0.13-1~deb12u1", digestOf(t, upgrade)},  // upgraded
		"curl":       {"7.88.1-10+deb12u5", digestOf(t, upgrade)}, // added
	}
	if len(inv.Packages) != len(cases) {
		t.Fatalf("got %d packages, want %d: %+v", len(inv.Packages), len(cases), inv.Packages)
	}
	for name, want := range cases {
		p := one(t, inv, "deb", name)
		if p.Version != want.version || p.LayerDigest != want.layer {
			t.Errorf("%s: version %s in %s, want %s in %s", name, p.Version, p.LayerDigest, want.version, want.layer)
		}
	}
}

// TestDeletedThenReadded checks that a package removed by one layer and
// installed again by a later one belongs to the later one.
func TestDeletedThenReadded(t *testing.T) {
	meta := sitePackages + "idna-3.6.dist-info/METADATA"
	base := gzipLayer(t, tarOf(t, file(meta, pythonMetadata("idna", "3.6"))))
	remove := gzipLayer(t, tarOf(t, file(sitePackages+".wh.idna-3.6.dist-info", "")))
	readd := gzipLayer(t, tarOf(t, file(meta, pythonMetadata("idna", "3.6"))))
	inv := scan(t, imageOf(t, base, remove, readd), Limits{})
	if p := one(t, inv, "pypi", "idna"); p.LayerDigest != digestOf(t, readd) {
		t.Errorf("idna in %s, want %s", p.LayerDigest, digestOf(t, readd))
	}
}

// TestSymlinkedDirectories checks paths reached through symlinks, as in
// merged-/usr images.
func TestSymlinkedDirectories(t *testing.T) {
	base := gzipLayer(t, tarOf(t,
		symlink("lib", "usr/lib"),
		dir("usr/lib/"),
		file("usr/lib/os-release", alpine319OSRelease),
		symlink("etc/os-release", "/lib/os-release"), // absolute, inside the image
		file("usr/lib/apk/db/installed", apkInstalled),
	))
	inv := scan(t, imageOf(t, base), Limits{})
	if inv.OS.ID != "alpine" {
		t.Errorf("os-release through symlinks: %+v", inv.OS)
	}
	// The walk does not follow symlinks, so the database is found once,
	// at its real path.
	if p := one(t, inv, "apk", "musl"); p.Locations[0] != "/usr/lib/apk/db/installed" || p.Ecosystem != "Alpine:v3.19" {
		t.Errorf("musl = %+v", p)
	}
}

// TestHardlinks checks that a hard link carries its target's content (kept
// when an extractor wants the target: hard links join files of one kind,
// like the names of one executable).
func TestHardlinks(t *testing.T) {
	base := gzipLayer(t, tarOf(t,
		file("etc/os-release", debian12OSRelease),
		file("var/lib/dpkg/status.d/base-files", dpkgStatus(debPkg{"base-files", "", "12.4+deb12u5"})),
		entry{name: "var/lib/dpkg/status", typeflag: tar.TypeLink, linkname: "var/lib/dpkg/status.d/base-files"},
	))
	inv := scan(t, imageOf(t, base), Limits{})
	ps := find(inv, "deb", "base-files")
	if len(ps) != 2 {
		t.Fatalf("want base-files from both names of the file, got %+v", ps)
	}
	for _, p := range ps {
		if p.Ecosystem != "Debian:12" || p.LayerDigest != digestOf(t, base) {
			t.Errorf("base-files = %+v", p)
		}
	}
}
