package vulndb

import (
	"errors"
	"slices"

	"github.com/google/osv-scalibr/semantic"

	"github.com/berth-registry/berth/ent/schema/osvrange"
)

// versionOrder compares versions of one ecosystem and range type: OSV
// SEMVER ranges by Semantic Versioning 2.0 whatever the ecosystem,
// ECOSYSTEM ranges and explicit versions by the ecosystem's own rules
// (dpkg for Debian and Ubuntu, apk for Alpine, rpm for Red Hat and its
// rebuilds, PEP 440 for PyPI, Maven's, RubyGems'...) as osv-scalibr's
// semantic package implements them.
type versionOrder struct {
	parse func(string) (semantic.Version, error)
}

func orderOf(rangeType, ecosystem string) (versionOrder, bool) {
	if rangeType == osvrange.SemVer {
		return versionOrder{parse: func(s string) (semantic.Version, error) {
			return semantic.ParseSemverVersion(s), nil
		}}, true
	}
	// Parse rejects the ecosystems it has no rules for; only explicit
	// versions of their records match.
	if _, err := semantic.Parse("0", ecosystem); errors.Is(err, semantic.ErrUnsupportedEcosystem) {
		return versionOrder{}, false
	}
	return versionOrder{parse: func(s string) (semantic.Version, error) {
		return semantic.Parse(s, ecosystem)
	}}, true
}

// event is a range event with its version parsed; zero is the "0" of
// introduced, before every version.
type event struct {
	kind    string // introduced, fixed, last_affected or limit
	version string
	parsed  semantic.Version
	zero    bool
}

// evaluate reports whether installed (parsed by order) is inside the
// range, following OSV's evaluation: events sorted by version, introduced
// opens, fixed (at or below installed) and last_affected (below installed)
// close; with limit events, only versions below a limit are in. It also
// returns the smallest fixed version above installed. ok is false when
// some version of the range does not parse in the order.
func (o versionOrder) evaluate(installed semantic.Version, events []osvrange.Event) (affected bool, fixed string, ok bool) {
	list := make([]event, 0, len(events))
	for _, e := range events {
		var ev event
		switch {
		case e.Introduced != "":
			ev = event{kind: "introduced", version: e.Introduced, zero: e.Introduced == "0"}
		case e.Fixed != "":
			ev = event{kind: "fixed", version: e.Fixed}
		case e.LastAffected != "":
			ev = event{kind: "last_affected", version: e.LastAffected}
		case e.Limit != "":
			if e.Limit == "*" { // no limit, as OSV writes it
				continue
			}
			ev = event{kind: "limit", version: e.Limit}
		default:
			continue
		}
		if !ev.zero {
			p, err := o.parse(ev.version)
			if err != nil {
				return false, "", false
			}
			ev.parsed = p
		}
		list = append(list, ev)
	}
	failed := false
	slices.SortStableFunc(list, func(a, b event) int {
		switch {
		case a.zero && b.zero:
			return 0
		case a.zero:
			return -1
		case b.zero:
			return 1
		}
		c, err := a.parsed.Compare(b.parsed)
		if err != nil {
			failed = true
		}
		return c
	})
	if failed {
		return false, "", false
	}
	// cmp(installed, event version): <0, 0 or >0.
	cmp := func(e event) int {
		if e.zero {
			return 1
		}
		c, err := installed.Compare(e.parsed)
		if err != nil {
			failed = true
		}
		return c
	}
	limited, belowLimit := false, false
	for _, e := range list {
		c := cmp(e)
		switch e.kind {
		case "introduced":
			if c >= 0 {
				affected = true
			}
		case "fixed":
			if c >= 0 {
				affected = false
			} else if fixed == "" {
				// Sorted: the first fixed above installed is the smallest.
				fixed = e.version
			}
		case "last_affected":
			if c > 0 {
				affected = false
			}
		case "limit":
			limited = true
			if c < 0 {
				belowLimit = true
			}
		}
	}
	if failed {
		return false, "", false
	}
	if limited && !belowLimit {
		affected = false
	}
	return affected, fixed, true
}

// listed reports whether installed is one of the record's explicit
// versions: the same string, or the same version by the ecosystem's
// rules ("v1.2.3" and "1.2.3" in Go).
func listed(installed string, parsed semantic.Version, versions []string) bool {
	if slices.Contains(versions, installed) {
		return true
	}
	if parsed == nil {
		return false
	}
	for _, v := range versions {
		if c, err := parsed.CompareStr(v); err == nil && c == 0 {
			return true
		}
	}
	return false
}
