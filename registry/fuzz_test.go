package registry

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/artifacts"
)

// FuzzParseDigest checks the digest parser of blob, referrers and upload
// requests: what it accepts is a sha256 or sha512 digest that go-digest
// validates, unchanged, and that the router hands back intact.
// Seeds: testdata/fuzz/FuzzParseDigest.
func FuzzParseDigest(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDigest(s)
		if err != nil {
			if d != "" {
				t.Fatalf("refused %q but returned %q", s, d)
			}
			return
		}
		if d.String() != s {
			t.Fatalf("parsed %q as %q", s, d)
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("accepted %q, which go-digest refuses: %v", s, err)
		}
		if a := d.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
			t.Fatalf("accepted %q with algorithm %s", s, a)
		}
		if artifacts.ValidTag(s) {
			t.Fatalf("%q is both a digest and a tag", s)
		}
		for _, kind := range []string{"blob", "referrers", "manifest"} {
			rt, ok := parseRoute(routePath(kind, "library/app", s))
			if !ok || rt.kind != kind || rt.ref != s || rt.name != "library/app" {
				t.Fatalf("route of %s %q: %+v, %v", kind, s, rt, ok)
			}
		}
	})
}

// FuzzParseRoute splits arbitrary /v2/ paths: whatever it accepts must put
// back together into the same path, so no part of the path is dropped or
// read twice, and a reference never contains a slash.
// Seeds: testdata/fuzz/FuzzParseRoute.
func FuzzParseRoute(f *testing.F) {
	f.Fuzz(func(t *testing.T, path string) {
		rt, ok := parseRoute(path)
		if !ok {
			if rt != (route{}) {
				t.Fatalf("refused %q but returned %+v", path, rt)
			}
			return
		}
		if strings.Contains(rt.ref, "/") {
			t.Fatalf("%q: reference %q contains a slash", path, rt.ref)
		}
		var back []string
		switch rt.kind {
		case "base":
			back = []string{"/v2/", "/v2"}
		case "catalog":
			back = []string{"/v2/_catalog"}
		case "upload":
			if rt.ref == "" {
				back = []string{routePath(rt.kind, rt.name, ""), "/v2/" + rt.name + "/blobs/uploads"}
				break
			}
			fallthrough
		case "tags", "manifest", "blob", "referrers":
			if rt.kind != "upload" && rt.kind != "tags" && rt.ref == "" {
				t.Fatalf("%q: %s route without a reference", path, rt.kind)
			}
			back = []string{routePath(rt.kind, rt.name, rt.ref)}
		default:
			t.Fatalf("%q: unknown route kind %q", path, rt.kind)
		}
		for _, b := range back {
			if b == path {
				return
			}
		}
		t.Fatalf("%q parsed as %+v, which is the path %q", path, rt, back[0])
	})
}

// FuzzRepositoryReference checks repository names and references the way a
// client sends them: every name ValidateName accepts, with every tag or
// digest a manifest may be addressed by, reaches its handler with the name
// and reference intact, whatever path-like components the name contains
// ("blobs", "manifests", "uploads", "tags/list"). Tags and digests never
// overlap, so a reference is never read as both.
// Seeds: testdata/fuzz/FuzzRepositoryReference.
func FuzzRepositoryReference(f *testing.F) {
	f.Fuzz(func(t *testing.T, name, ref string) {
		if err := artifacts.ValidateName(name); err != nil {
			if !strings.Contains(err.Error(), "name") {
				t.Fatalf("name refusal does not say why: %v", err)
			}
			return
		}
		if len(name) > 255 || !strings.Contains(name, "/") || name != strings.ToLower(name) ||
			strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
			t.Fatalf("ValidateName accepted %q", name)
		}
		check := func(kind, ref string) {
			t.Helper()
			p := routePath(kind, name, ref)
			if rt, ok := parseRoute(p); !ok || rt.kind != kind || rt.name != name || rt.ref != ref {
				t.Fatalf("route of %q: %+v, %v; want %s %q %q", p, rt, ok, kind, name, ref)
			}
		}
		check("tags", "")
		check("upload", "")
		if rt, ok := parseRoute("/v2/" + name + "/blobs/uploads"); !ok || rt.kind != "upload" || rt.name != name || rt.ref != "" {
			t.Fatalf("upload start without the trailing slash for %q: %+v, %v", name, rt, ok)
		}

		isTag := artifacts.ValidTag(ref)
		d, derr := parseDigest(ref)
		if isTag && derr == nil {
			t.Fatalf("%q is both a tag and a digest", ref)
		}
		if isTag {
			if len(ref) > 128 || strings.ContainsAny(ref, ":/@") {
				t.Fatalf("ValidTag accepted %q", ref)
			}
			check("manifest", ref)
		}
		if derr == nil {
			for _, kind := range []string{"manifest", "blob", "referrers"} {
				check(kind, d.String())
			}
		}
		if ref != "" && !strings.Contains(ref, "/") {
			check("upload", ref) // upload ids are opaque
		}
	})
}

// routePath builds the /v2/ path of a route, as clients do.
func routePath(kind, name, ref string) string {
	switch kind {
	case "tags":
		return "/v2/" + name + "/tags/list"
	case "manifest":
		return "/v2/" + name + "/manifests/" + ref
	case "blob":
		return "/v2/" + name + "/blobs/" + ref
	case "referrers":
		return "/v2/" + name + "/referrers/" + ref
	case "upload":
		return "/v2/" + name + "/blobs/uploads/" + ref
	}
	panic("unknown route kind " + kind)
}

// FuzzParseRange checks the Range header of blob GETs against a blob of
// size bytes: a satisfiable range lies inside the blob, its length fits in
// Content-Length, and its canonical form parses back to itself.
// Seeds: testdata/fuzz/FuzzParseRange.
func FuzzParseRange(f *testing.F) {
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			return // sizes come from the database, never negative
		}
		s, e, ok, satisfiable := parseRange(header, size)
		if !ok || !satisfiable {
			if s != 0 || e != 0 || (!ok && satisfiable) {
				t.Fatalf("parseRange(%q, %d) = %d, %d, %v, %v", header, size, s, e, ok, satisfiable)
			}
			return
		}
		if s < 0 || s > e || e >= size {
			t.Fatalf("parseRange(%q, %d) = bytes %d-%d, outside the blob", header, size, s, e)
		}
		if n := e - s + 1; n <= 0 || n > size {
			t.Fatalf("parseRange(%q, %d): length %d", header, size, n)
		}
		canonical := fmt.Sprintf("bytes=%d-%d", s, e)
		if s2, e2, ok2, sat2 := parseRange(canonical, size); s2 != s || e2 != e || !ok2 || !sat2 {
			t.Fatalf("%q parsed as %d-%d; %q then as %d-%d (%v, %v)", header, s, e, canonical, s2, e2, ok2, sat2)
		}
	})
}

// FuzzParseContentRange checks the Content-Range of upload chunks: an
// accepted range starts at or after 0, ends at or after its start, has a
// length that fits in int64 (it is compared with Content-Length), and each
// of the three accepted spellings parses back to the same range.
// Seeds: testdata/fuzz/FuzzParseContentRange.
func FuzzParseContentRange(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		start, end, ok := parseContentRange(v)
		if !ok {
			if start != 0 || end != 0 {
				t.Fatalf("refused %q but returned %d-%d", v, start, end)
			}
			return
		}
		if start < 0 || end < start {
			t.Fatalf("%q parsed as %d-%d", v, start, end)
		}
		if n := end - start + 1; n <= 0 {
			t.Fatalf("%q parsed as %d-%d, whose length %d overflows", v, start, end, n)
		}
		for _, form := range []string{"%d-%d", "bytes %d-%d/*", "bytes=%d-%d"} {
			c := fmt.Sprintf(form, start, end)
			if s2, e2, ok2 := parseContentRange(c); s2 != start || e2 != end || !ok2 {
				t.Fatalf("%q parsed as %d-%d; %q then as %d-%d, %v", v, start, end, c, s2, e2, ok2)
			}
		}
		// An upload answers with Range: 0-<end>, which clients echo.
		if end < math.MaxInt64 {
			if s2, e2, ok2 := parseContentRange(uploadRange(end + 1)); !ok2 || s2 != 0 || e2 != end {
				t.Fatalf("Range %q of a %d-byte upload parsed as %d-%d, %v", uploadRange(end+1), end+1, s2, e2, ok2)
			}
		}
	})
}
