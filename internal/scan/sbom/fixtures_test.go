package sbom

import (
	"time"

	"github.com/berth-registry/berth/internal/scan/inventory"
)

// Digests of the fixture image and its two layers.
const (
	imageDigest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	baseLayer   = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	appLayer    = "sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"
)

// fixtureInventory is a Debian image with dpkg packages (two built from
// source packages of another name) in the base layer, and an npm package
// and a Go module added by the application layer.
func fixtureInventory() *inventory.Inventory {
	return &inventory.Inventory{
		OS: inventory.OSRelease{ID: "debian", VersionID: "12", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		Packages: []inventory.Package{
			{
				Name: "libc6", Version: "2.36-9+deb12u4", Ecosystem: "Debian:12", Type: "deb",
				PURL:       "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64&distro=debian-12",
				SourceName: "glibc", SourceVersion: "2.36-9+deb12u4",
				LayerDigest: baseLayer, Locations: []string{"var/lib/dpkg/status"},
			},
			{
				Name: "libssl3", Version: "3.0.11-1~deb12u2", Ecosystem: "Debian:12", Type: "deb",
				PURL:       "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
				SourceName: "openssl", SourceVersion: "3.0.11-1~deb12u2",
				LayerDigest: baseLayer, Locations: []string{"var/lib/dpkg/status"},
			},
			{
				Name: "bash", Version: "5.2.15-2+b2", Ecosystem: "Debian:12", Type: "deb",
				PURL:        "pkg:deb/debian/bash@5.2.15-2+b2?arch=amd64&distro=debian-12",
				LayerDigest: baseLayer, Locations: []string{"var/lib/dpkg/status"},
			},
			{
				Name: "@babel/core", Version: "7.23.2", Ecosystem: "npm", Type: "npm",
				PURL:        "pkg:npm/%40babel/core@7.23.2",
				LayerDigest: appLayer,
				Locations:   []string{"app/node_modules/@babel/core/package.json"},
			},
			{
				Name: "golang.org/x/net", Version: "v0.17.0", Ecosystem: "Go", Type: "golang",
				PURL:        "pkg:golang/golang.org/x/net@v0.17.0",
				LayerDigest: appLayer, Locations: []string{"usr/local/bin/server"},
			},
		},
		Warnings: []string{"usr/lib/python3/dist-packages/broken.egg-info: unreadable"},
	}
}

func fixtureSubject() Subject {
	return Subject{
		Repository: "registry.example/library/app",
		Digest:     imageDigest,
		MediaType:  "application/vnd.oci.image.manifest.v1+json",
		Tags:       []string{"latest", "1.0"},
		Platform:   "linux/amd64",
	}
}

func fixtureOptions() Options {
	return Options{
		Created:     time.Date(2026, 3, 1, 12, 30, 45, 123, time.UTC),
		ToolVersion: "1.4.0",
		Namespace:   "https://registry.example/spdx",
	}
}
