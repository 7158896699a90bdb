package adapter_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/scan/adapter"
	"github.com/berth-registry/berth/internal/scan/vulndb"
)

func TestSeverityMapsToBerthsLevels(t *testing.T) {
	for _, tc := range []struct {
		adapter string
		want    vulndb.Severity
	}{
		{"Critical", vulndb.Critical},
		{"High", vulndb.High},
		{"Medium", vulndb.Medium},
		{"Low", vulndb.Low},
		{"Negligible", vulndb.Low},
		{"Unknown", vulndb.Unknown},
		{"None", vulndb.Unknown},
		{"CRITICAL", vulndb.Critical},
		{" high ", vulndb.High},
		{"negligible", vulndb.Low},
		{"", vulndb.Unknown},
		{"Severe", vulndb.Unknown},
	} {
		if got := adapter.MapSeverity(tc.adapter); got != tc.want {
			t.Errorf("MapSeverity(%q) = %s, want %s", tc.adapter, got, tc.want)
		}
	}
}

func score(f float64) *float64 { return &f }

func TestAVulnerabilityWithoutASeverityIsRatedByItsCVSSScore(t *testing.T) {
	for _, tc := range []struct {
		severity string
		cvss     *adapter.CVSS
		want     vulndb.Severity
	}{
		{"", &adapter.CVSS{ScoreV3: score(9.1)}, vulndb.Critical},
		{"", &adapter.CVSS{ScoreV3: score(7.0)}, vulndb.High},
		{"", &adapter.CVSS{ScoreV3: score(4.0)}, vulndb.Medium},
		{"", &adapter.CVSS{ScoreV3: score(0.1)}, vulndb.Low},
		{"", &adapter.CVSS{ScoreV2: score(9.5)}, vulndb.High}, // CVSS v2 has no Critical
		{"", nil, vulndb.Unknown},
		{"Bogus", &adapter.CVSS{ScoreV3: score(9.8)}, vulndb.Critical},
		{"Unknown", &adapter.CVSS{ScoreV3: score(9.8)}, vulndb.Unknown}, // the adapter's word wins
		{"Low", &adapter.CVSS{ScoreV3: score(9.8)}, vulndb.Low},
		{"", &adapter.CVSS{ScoreV3: score(42)}, vulndb.Unknown}, // out of range
	} {
		f := adapter.Findings(&adapter.Report{Vulnerabilities: []adapter.Vulnerability{{ID: "CVE-1", Severity: tc.severity, PreferredCVSS: tc.cvss}}})
		if f[0].Severity != tc.want {
			t.Errorf("severity %q, CVSS %+v: %s, want %s", tc.severity, tc.cvss, f[0].Severity, tc.want)
		}
	}
}

func TestFindingsMapAReportToBerthsFindingsTheWorstFirst(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	r, _, err := a.client().Report(context.Background(), a.scanID)
	if err != nil {
		t.Fatal(err)
	}
	got := adapter.Findings(r)
	want := []adapter.Finding{
		{
			ID: "GHSA-xxxx-yyyy-zzzz", Aliases: []string{"CVE-2023-44487"}, Package: "golang.org/x/net",
			InstalledVersion: "v0.1.0", FixedVersion: "0.17.0", Severity: vulndb.Critical,
			CVSSScore: 9.8, CVSSVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Summary: "HTTP/2 rapid reset",
			Links:       []string{"https://github.com/advisories/GHSA-xxxx-yyyy-zzzz", "https://nvd.nist.gov/vuln/detail/CVE-2023-44487"},
			LayerDigest: layerDigest,
		},
		{
			ID: "CVE-2023-0002", Package: "zlib", InstalledVersion: "1.2.13-r0", Severity: vulndb.Low,
			Summary: "zlib is slow", Links: []string{"https://avd.aquasec.com/nvd/cve-2023-0002"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings\n got %+v\nwant %+v", got, want)
	}
}

func TestFindingsCountAVulnerabilityOfAPackageOnceAndAreBounded(t *testing.T) {
	long := strings.Repeat("é", 2000)
	var links []string
	for i := range 40 {
		links = append(links, fmt.Sprintf("https://example.com/%d", i))
	}
	r := &adapter.Report{Vulnerabilities: []adapter.Vulnerability{
		{ID: "CVE-2024-1", Package: "openssl", Version: "3.0.0", Severity: "Medium", Layer: &adapter.Layer{Digest: "sha256:nothex"}},
		{ID: "CVE-2024-1", Package: "openssl", Version: "3.0.0", Severity: "High", Layer: &adapter.Layer{Digest: layerDigest}},
		{ID: "CVE-2024-1", Package: "openssl", Version: "3.0.1", Severity: "High"},
		{ID: "CVE-2024-2", Package: long, Version: long, FixVersion: long, Description: long, Links: links,
			PreferredCVSS: &adapter.CVSS{ScoreV2: score(5), VectorV2: "AV:N/AC:L/Au:N/C:P/I:N/A:N", VectorV3: "CVSS:3.1/x"}},
	}}
	got := adapter.Findings(r)
	if len(got) != 3 {
		t.Fatalf("%d findings, want 3: %+v", len(got), got)
	}
	if got[0].InstalledVersion != "3.0.0" || got[0].Severity != vulndb.High || got[0].LayerDigest != layerDigest {
		t.Errorf("the duplicate kept is %+v; want the High one, with its layer", got[0])
	}
	if got[1].InstalledVersion != "3.0.1" {
		t.Errorf("another installed version is another finding: %+v", got[1])
	}
	f := got[2]
	if len(f.Package) > 512 || len(f.InstalledVersion) > 256 || len(f.FixedVersion) > 256 || len(f.Summary) > 1024 || len(f.Links) != 32 {
		t.Errorf("bounds: package %d, version %d, fixed %d, summary %d bytes, %d links",
			len(f.Package), len(f.InstalledVersion), len(f.FixedVersion), len(f.Summary), len(f.Links))
	}
	if !strings.HasSuffix(f.Summary, "é") {
		t.Error("the summary was cut inside a character")
	}
	if f.Severity != vulndb.Medium || f.CVSSScore != 5 || f.CVSSVector != "AV:N/AC:L/Au:N/C:P/I:N/A:N" {
		t.Errorf("rated by CVSS v2: %s %v %q", f.Severity, f.CVSSScore, f.CVSSVector)
	}
}

func TestAReportPastTheLimitKeepsTheMostSevereInTheAdaptersOrder(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	a.report = `{"vulnerabilities": [
	  {"id": "A", "severity": "Low"},
	  {"id": "B", "severity": "Critical"},
	  {"id": "C", "severity": "Medium", "preferred_cvss": {"score_v3": 6.5}},
	  {"id": "D", "severity": "Unknown"},
	  {"id": "E", "severity": "Medium", "preferred_cvss": {"score_v3": 5.0}},
	  {"id": "F", "severity": "High"},
	  {"id": "G", "severity": "Medium", "preferred_cvss": {"score_v3": 6.5}}
	]}`
	c := a.client(func(o *adapter.Options) { o.MaxVulnerabilities = 3 })
	r, _, err := c.Report(context.Background(), a.scanID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, v := range r.Vulnerabilities {
		ids = append(ids, v.ID)
	}
	// Critical B, High F, and of the two Medium 6.5s the first, C.
	if strings.Join(ids, " ") != "B C F" || r.Dropped != 4 {
		t.Errorf("kept %v, dropped %d; want B C F and 4", ids, r.Dropped)
	}
}
