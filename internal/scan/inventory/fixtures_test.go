package inventory

import (
	"archive/zip"
	"bytes"
	"fmt"
	"strings"
	"testing"
)

const debian12OSRelease = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
`

const alpine319OSRelease = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
`

// debPkg is one dpkg status paragraph.
type debPkg struct{ name, source, version string }

func dpkgStatus(pkgs ...debPkg) string {
	var b strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&b, "Package: %s\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\n", p.name)
		if p.source != "" {
			fmt.Fprintf(&b, "Source: %s\n", p.source)
		}
		fmt.Fprintf(&b, "Version: %s\nDescription: test package %s\n\n", p.version, p.name)
	}
	return b.String()
}

const apkInstalled = `C:Q1zB4cbfGj8i8GaOtS/Ks0TzB1xZo=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:383152
I:622592
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>

C:Q1fSCqT4Xd3gU8pSV0hM4c1pNj4zY=
P:busybox
V:1.36.1-r15
A:x86_64
S:509780
I:922624
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>

`

const packageLock = `{
  "name": "app",
  "version": "1.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {"name": "app", "version": "1.0.0", "dependencies": {"left-pad": "^1.3.0"}},
    "node_modules/left-pad": {
      "version": "1.3.0",
      "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz",
      "integrity": "sha512-XI5MPzVNApjAyhQzphX8BkmKsKUxD4LdyK24iZeQuo="
    }
  }
}
`

func pythonMetadata(name, version string) string {
	return fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: test\n", name, version)
}

const gemspecRack = `# -*- encoding: utf-8 -*-
# stub: rack 3.0.8 ruby lib

Gem::Specification.new do |s|
  s.name = "rack".freeze
  s.version = "3.0.8".freeze
  s.require_paths = ["lib".freeze]
  s.summary = "a modular Ruby webserver interface".freeze
end
`

// jarWithPom returns a jar (zip) holding Maven metadata.
func jarWithPom(t testing.TB, group, artifact, version string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("META-INF/MANIFEST.MF")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "Manifest-Version: 1.0\r\n\r\n")
	w, err = zw.Create(fmt.Sprintf("META-INF/maven/%s/%s/pom.properties", group, artifact))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "groupId=%s\nartifactId=%s\nversion=%s\n", group, artifact, version)
	w, err = zw.Create("org/example/Filler.class")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bytes.Repeat([]byte{0xca, 0xfe, 0xba, 0xbe}, 256))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
