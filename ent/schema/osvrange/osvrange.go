// Package osvrange holds the stored shape of an OSV "affected" entry's
// version ranges, apart from ent/schema so that the generated client and
// internal/scan/vulndb share one type.
package osvrange

// The range types berth stores and evaluates. GIT ranges (commit hashes)
// cannot be matched against installed package versions and are dropped at
// import.
const (
	SemVer    = "SEMVER"
	Ecosystem = "ECOSYSTEM"
)

// Range is one OSV range: events over versions of its type. SEMVER ranges
// are ordered by Semantic Versioning 2.0, ECOSYSTEM ranges by the
// ecosystem's own rules.
type Range struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

// Event is one OSV range event; exactly one of its fields is set.
// Introduced "0" means "since the first version".
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}
