package scanner

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/scanfinding"
	"github.com/berth-registry/berth/internal/errdefs"
)

func TestPositionRoundTripsThroughItsKey(t *testing.T) {
	for _, p := range []Position{
		{Severity: scanfinding.SeverityCRITICAL, CVSS: 9.8, OsvID: "DSA-5532-1", ID: 7},
		{Severity: scanfinding.SeverityUNKNOWN, CVSS: 0, OsvID: "GHSA-xxxx-yyyy zzzz", ID: 1},
		{Severity: scanfinding.SeverityLOW, CVSS: 3.1000000000000001, OsvID: "", ID: 1 << 40},
	} {
		got, err := ParsePosition(p.ID, p.Key())
		if err != nil || got != p {
			t.Errorf("ParsePosition(%d, %q) = %+v, %v; want %+v", p.ID, p.Key(), got, err, p)
		}
	}
}

func TestParsePositionRefusesBrokenKeys(t *testing.T) {
	for _, key := range []string{"", "CRITICAL", "CRITICAL 9.8", "SEVERE 9.8 DSA-1", "HIGH x DSA-1"} {
		if _, err := ParsePosition(1, key); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("ParsePosition(%q): %v, want an invalid-input error", key, err)
		}
	}
}

func TestExportFilterReadsTheQueryString(t *testing.T) {
	q, _ := url.ParseQuery("severity=critical,%20HIGH&severity=low&fixable=false&cve=%20CVE-2023-5363%20&package=openssl")
	f, err := exportFilter(q)
	if err != nil {
		t.Fatal(err)
	}
	want := []scanfinding.Severity{scanfinding.SeverityCRITICAL, scanfinding.SeverityHIGH, scanfinding.SeverityLOW}
	if !slices.Equal(f.Severities, want) || f.Fixable == nil || *f.Fixable || f.ID != "CVE-2023-5363" || f.Package != "openssl" {
		t.Fatalf("filter %+v", f)
	}
	for _, bad := range []string{"severity=severe", "fixable=maybe"} {
		q, _ := url.ParseQuery(bad)
		if _, err := exportFilter(q); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s: %v, want an invalid-input error", bad, err)
		}
	}
}

// TestExportRecordNeutralizesFormulas: the cells an image or a
// vulnerability record controls reach the CSV as text, a leading ' before
// = + - @ tab or carriage return (OWASP's advice on CSV injection); the
// cells berth validates, and harmless text, stay exact.
func TestExportRecordNeutralizesFormulas(t *testing.T) {
	a := &ent.Artifact{Digest: "sha256:" + strings.Repeat("a", 64), Edges: ent.ArtifactEdges{
		Repository: &ent.Repository{Name: "team/app"}, Tags: []*ent.Tag{{Name: "_1"}, {Name: "v1"}}}}
	v := &ent.ScanFinding{PackageName: `=HYPERLINK("http://evil.example","x")`, InstalledVersion: "-1+cmd|' /C calc'!A0",
		FixedVersion: "+2", OsvID: "@A1", Aliases: []string{"\tCVE-2024-1", "CVE-2024-2"}, Severity: scanfinding.SeverityHIGH,
		CvssVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", CvssScore: 7.5, Summary: "\r=1+1"}
	got := exportRecord(&ArtifactFinding{Vulnerability: v, Artifact: a})
	want := []string{"team/app", a.Digest, "_1 v1", `'=HYPERLINK("http://evil.example","x")`, "'-1+cmd|' /C calc'!A0", "'+2",
		"'@A1", "'\tCVE-2024-1 CVE-2024-2", "HIGH", "7.5", "'\r=1+1"}
	if !slices.Equal(got, want) {
		t.Fatalf("record\n%q\nwant\n%q", got, want)
	}

	v = &ent.ScanFinding{PackageName: "libssl3", InstalledVersion: "1:3.0.11-1~deb12u1", FixedVersion: "", OsvID: "DSA-5532-1",
		Aliases: []string{"CVE-2023-5363"}, Severity: scanfinding.SeverityUNKNOWN, Summary: "a = b, - c"}
	got = exportRecord(&ArtifactFinding{Vulnerability: v, Artifact: a})
	want = []string{"team/app", a.Digest, "_1 v1", "libssl3", "1:3.0.11-1~deb12u1", "", "DSA-5532-1", "CVE-2023-5363", "UNKNOWN", "", "a = b, - c"}
	if !slices.Equal(got, want) {
		t.Fatalf("record\n%q\nwant\n%q", got, want)
	}
}
