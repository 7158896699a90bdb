package sbom

import (
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/scan/inventory"
)

func TestSanitizeIDKeepsOnlyLettersDigitsDotAndDash(t *testing.T) {
	cases := []struct{ in, want string }{
		{"libc6", "libc6"},
		{"golang.org/x/net", "golang.org-x-net"},
		{"@babel/core", "babel-core"},
		{"a b\tc", "a-b-c"},
		{"lib++--x", "lib---x"}, // a run of others is one '-'; dashes stay
		{"ünïcode_π", "n-code"},
		{"../../etc/passwd", "..-..-etc-passwd"},
		{"", "unknown"},
		{"///", "unknown"},
		{strings.Repeat("x", 100), strings.Repeat("x", 64)},
	}
	for _, c := range cases {
		if got := sanitizeID(c.in, 64); got != c.want {
			t.Errorf("sanitizeID(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestElementIDsAreSanitizedAndUnique(t *testing.T) {
	weird := inventory.Package{
		Name: "@scope/näme with spaces:and#hash", Version: "1.0", Type: "n p/m",
		PURL: "pkg:npm/%40scope/n%C3%A4me@1.0", Locations: []string{"a/package.json"},
	}
	inv := &inventory.Inventory{Packages: []inventory.Package{weird, weird, weird, {Name: "", Version: ""}}}
	els := elements(inv.Packages)
	seen := map[string]bool{}
	for _, el := range els {
		if !spdxIDPattern.MatchString("SPDXRef-" + el.id) {
			t.Errorf("id %q has characters SPDX does not allow", el.id)
		}
		if seen[el.id] {
			t.Errorf("id %q given twice", el.id)
		}
		seen[el.id] = true
	}

	out, err := SPDX(inv, fixtureSubject(), fixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range decodeSPDX(t, out).Packages {
		if !spdxIDPattern.MatchString(p.SPDXID) {
			t.Errorf("SPDXID %q has characters SPDX does not allow", p.SPDXID)
		}
	}
}

func TestElementIDsDependOnPURLAndLocationNotOnOrder(t *testing.T) {
	a := inventory.Package{Name: "x", Version: "1", Type: "npm", PURL: "pkg:npm/x@1", Locations: []string{"a/node_modules/x/package.json"}}
	b := a
	b.Locations = []string{"b/node_modules/x/package.json"}
	ab, ba := elements([]inventory.Package{a, b}), elements([]inventory.Package{b, a})
	if ab[0].id != ba[0].id || ab[1].id != ba[1].id {
		t.Errorf("ids depend on input order: %v vs %v", ab, ba)
	}
	if ab[0].id == ab[1].id {
		t.Errorf("the same PURL at two locations got one id %q", ab[0].id)
	}
}
