package adapter

import (
	"cmp"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/scan/vulndb"
)

// Finding is one vulnerability of one package in the shape of berth's
// scan findings (vulndb.Finding and the scanner's per-finding package,
// installed version and layer), bounded as the scan_finding columns are,
// so that an adapter's report is stored like the built-in scanner's.
type Finding struct {
	// ID is the adapter's vulnerability id (a CVE, a GHSA, a distribution
	// advisory).
	ID string
	// Aliases are the CVE ids the vulnerability's links name, other than ID.
	Aliases          []string
	Package          string
	InstalledVersion string
	FixedVersion     string
	Severity         vulndb.Severity
	// CVSSScore and CVSSVector are the CVSS v3 ones, else the v2 ones; 0
	// and empty without.
	CVSSScore  float64
	CVSSVector string
	// Summary is the description on one line, cut to 1024 bytes.
	Summary string
	// Links are the http(s) links, at most 32.
	Links []string
	// LayerDigest is the layer the package came from, when the adapter
	// says (Trivy's does) and it is a valid digest.
	LayerDigest string
}

// Bounds of a finding, those of the scan_finding columns.
const (
	maxFindingID      = 128
	maxFindingPackage = 512
	maxFindingVersion = 256
	maxFindingVector  = 256
	maxFindingSummary = 1024
	maxFindingLinks   = 32
	maxFindingLink    = 2048
	maxFindingAliases = 64
	maxFindingAlias   = 128
)

// cveID finds CVE ids in links (NVD's, MITRE's, Aqua's lower-case ones).
var cveID = regexp.MustCompile(`(?i)\bCVE-\d{4}-\d{4,}\b`)

// Findings maps a report's vulnerabilities to findings, the most severe
// first (then the highest CVSS score, then by id, package and version),
// one per vulnerability id, package and installed version: an adapter
// that reports the same one for several layers or paths counts once.
func Findings(r *Report) []Finding {
	if r == nil {
		return nil
	}
	out := make([]Finding, 0, len(r.Vulnerabilities))
	for _, v := range r.Vulnerabilities {
		out = append(out, finding(v))
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity.Rank(), a.Severity.Rank()),
			cmp.Compare(b.CVSSScore, a.CVSSScore),
			cmp.Compare(a.ID, b.ID), cmp.Compare(a.Package, b.Package), cmp.Compare(a.InstalledVersion, b.InstalledVersion))
	})
	type key struct{ id, pkg, version string }
	seen := make(map[key]bool, len(out))
	return slices.DeleteFunc(out, func(f Finding) bool {
		k := key{f.ID, f.Package, f.InstalledVersion}
		if seen[k] {
			return true
		}
		seen[k] = true
		return false
	})
}

func finding(v Vulnerability) Finding {
	sev, score := rate(v)
	_, vector, _ := cvssOf(v.PreferredCVSS)
	f := Finding{
		ID:               printable(v.ID, maxFindingID),
		Package:          printable(v.Package, maxFindingPackage),
		InstalledVersion: printable(v.Version, maxFindingVersion),
		FixedVersion:     printable(v.FixVersion, maxFindingVersion),
		Severity:         sev,
		CVSSScore:        score,
		CVSSVector:       printable(vector, maxFindingVector),
		Summary:          printable(strings.Join(strings.Fields(v.Description), " "), maxFindingSummary),
	}
	for _, l := range v.Links {
		if len(f.Links) == maxFindingLinks {
			break
		}
		u, err := url.Parse(l)
		if err != nil || len(l) > maxFindingLink || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			slices.Contains(f.Links, l) {
			continue
		}
		f.Links = append(f.Links, l)
		for _, id := range cveID.FindAllString(l, -1) {
			id = strings.ToUpper(id)
			if id != strings.ToUpper(f.ID) && len(id) <= maxFindingAlias && len(f.Aliases) < maxFindingAliases &&
				!slices.Contains(f.Aliases, id) {
				f.Aliases = append(f.Aliases, id)
			}
		}
	}
	if v.Layer != nil {
		if d, err := digest.Parse(v.Layer.Digest); err == nil && len(d) <= maxFindingID {
			f.LayerDigest = d.String()
		}
	}
	return f
}

// MapSeverity maps an adapter's severity to berth's: Critical, High,
// Medium and Low as they are, Negligible to Low, Unknown, None and
// anything else to Unknown. Case does not matter.
func MapSeverity(s string) vulndb.Severity {
	sev, _ := severityWord(s)
	return sev
}

// severityWord maps a severity word, and reports whether the adapter
// rated the vulnerability at all (a word it knows, "Unknown" included).
func severityWord(s string) (vulndb.Severity, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical":
		return vulndb.Critical, true
	case "high":
		return vulndb.High, true
	case "medium":
		return vulndb.Medium, true
	case "low", "negligible":
		return vulndb.Low, true
	case "unknown", "none":
		return vulndb.Unknown, true
	}
	return vulndb.Unknown, false
}

// rate is a vulnerability's severity and CVSS score: the adapter's word
// when it gave one, else the level of its CVSS score (v3, else v2, which
// has no Critical), as the built-in scanner rates a record without one.
func rate(v Vulnerability) (vulndb.Severity, float64) {
	score, _, v2 := cvssOf(v.PreferredCVSS)
	if sev, ok := severityWord(v.Severity); ok {
		return sev, score
	}
	switch {
	case score >= 9.0 && !v2:
		return vulndb.Critical, score
	case score >= 7.0:
		return vulndb.High, score
	case score >= 4.0:
		return vulndb.Medium, score
	case score > 0:
		return vulndb.Low, score
	}
	return vulndb.Unknown, score
}

// cvssOf is a vulnerability's CVSS v3 score and vector, else its v2 ones
// (v2 true); a vector without a score has score 0.
func cvssOf(c *CVSS) (score float64, vector string, v2 bool) {
	switch {
	case c == nil:
		return 0, "", false
	case validScore(c.ScoreV3):
		return *c.ScoreV3, c.VectorV3, false
	case validScore(c.ScoreV2):
		return *c.ScoreV2, c.VectorV2, true
	}
	return 0, cmp.Or(c.VectorV3, c.VectorV2), false
}

func validScore(s *float64) bool { return s != nil && *s > 0 && *s <= 10 }
