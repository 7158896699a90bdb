package rules

import (
	"regexp"
	"strings"
	"time"
)

// MaxCVEAllowances is how many entries one CVE allowlist may hold.
const MaxCVEAllowances = 1000

// CVEAllowance is one entry of a CVE allowlist: a vulnerability id (a CVE
// id, or any OSV id or alias such as GHSA-... or DSA-...) that does not
// count against the pull policy until ExpiresAt, or for good when nil.
type CVEAllowance struct {
	CVE       string     `json:"cve"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// Active reports whether the allowance still applies at now.
func (a CVEAllowance) Active(now time.Time) bool {
	return a.ExpiresAt == nil || now.Before(*a.ExpiresAt)
}

// vulnIDRE is the shape of OSV ids and their aliases: CVE-2023-1234,
// GHSA-xxxx-xxxx-xxxx, DSA-5532-1, ALPINE-CVE-2023-42366, GO-2024-0001.
var vulnIDRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9._:]+)+$`)

// ValidVulnerabilityID reports whether id looks like an OSV id or alias.
func ValidVulnerabilityID(id string) bool {
	return len(id) <= 128 && vulnIDRE.MatchString(id)
}

// NormalizeVulnerabilityID is how ids are compared: upper case, as CVE
// and GHSA ids are written.
func NormalizeVulnerabilityID(id string) string { return strings.ToUpper(strings.TrimSpace(id)) }
