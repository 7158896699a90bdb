package scanner

import (
	"errors"
	"net/url"
	"slices"
	"testing"

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
