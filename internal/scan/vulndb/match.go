package vulndb

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/google/osv-scalibr/semantic"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/osvaffected"
	"github.com/berth-registry/berth/ent/osvrecord"
	"github.com/berth-registry/berth/ent/schema/osvrange"
)

// matchChunk is how many names or record ids one matching query asks for.
const matchChunk = 500

// Query is one installed package to look up.
type Query struct {
	// Ecosystem is OSV's ecosystem string, with the distribution release
	// where the ecosystem has one: "Debian:12", "Alpine:v3.19",
	// "Ubuntu:22.04:LTS", "Go", "npm", "PyPI", "Maven", "crates.io".
	Ecosystem string
	// Name is the package as OSV records name it: the Go module path,
	// "group:artifact" for Maven, the source package for Debian, Ubuntu
	// and Alpine.
	Name string
	// Version is the installed version.
	Version string
}

// Finding is one vulnerability of one installed package.
type Finding struct {
	ID        string   // the OSV id
	Aliases   []string // CVE ids and the like
	Ecosystem string   // the query's ecosystem
	Package   string   // the query's name
	Version   string   // the installed version
	// FixedVersion is the smallest fixed version above the installed one
	// that the record names; empty when there is none (yet).
	FixedVersion string
	Severity     Severity
	CVSSScore    float64 // 0 without a CVSS vector
	CVSSVector   string
	Summary      string
	Links        []string
}

// Match looks the packages up in the vulnerability database and returns
// the vulnerabilities of each, in the order of the queries, the worst
// first. A few queries cover hundreds of packages: one per ecosystem and
// 500 names.
//
// Ecosystems with a release match records of the same release only: a
// "Debian:12" package matches "Debian:12" records, never "Debian:11"
// ones. A record of the bare ecosystem ("Debian", without release) makes
// no claim about releases and matches packages of every release; a query
// without release ("Debian") matches only such records, since the
// release decides which versions are fixed.
//
// A version is affected when the record lists it explicitly or when it
// falls in one of its SEMVER or ECOSYSTEM ranges (introduced, fixed,
// last_affected and limit events, evaluated as the OSV schema says).
// Versions are ordered by each ecosystem's own rules. A version that does
// not parse in its ecosystem matches explicit lists only.
func Match(ctx context.Context, client *ent.Client, queries []Query) ([]Finding, error) {
	type hit struct {
		query  int // index in queries
		record int
		fixed  string
		row    *ent.OSVAffected
	}
	byEcosystem := map[string][]int{}
	for i, q := range queries {
		if q.Ecosystem == "" || q.Name == "" || q.Version == "" {
			continue
		}
		byEcosystem[q.Ecosystem] = append(byEcosystem[q.Ecosystem], i)
	}
	hits := map[[2]int]*hit{} // (query, record id)
	for _, eco := range slices.Sorted(maps.Keys(byEcosystem)) {
		ecosystems := []string{eco}
		if base := ecosystemBase(eco); base != eco {
			ecosystems = append(ecosystems, base)
		}
		byKey := map[string][]int{}
		for _, i := range byEcosystem[eco] {
			k := nameKey(eco, queries[i].Name)
			byKey[k] = append(byKey[k], i)
		}
		for keys := range slices.Chunk(slices.Sorted(maps.Keys(byKey)), matchChunk) {
			rows, err := client.OSVAffected.Query().
				Where(osvaffected.EcosystemIn(ecosystems...), osvaffected.NameKeyIn(keys...)).
				All(ctx)
			if err != nil {
				return nil, fmt.Errorf("matching %s packages: %w", eco, err)
			}
			for _, row := range rows {
				for _, i := range byKey[row.NameKey] {
					affected, fixed := evaluate(row, queries[i].Version)
					if !affected {
						continue
					}
					k := [2]int{i, row.RecordID}
					if h := hits[k]; h != nil {
						// The same record names the package twice (or for
						// the release and the bare ecosystem): one finding,
						// the first fix.
						h.fixed = smaller(row.Ecosystem, h.fixed, fixed)
						continue
					}
					hits[k] = &hit{query: i, record: row.RecordID, fixed: fixed, row: row}
				}
			}
		}
	}
	if len(hits) == 0 {
		return nil, nil
	}
	records := map[int]*ent.OSVRecord{}
	ids := make([]int, 0, len(hits))
	for _, h := range hits {
		ids = append(ids, h.record)
	}
	slices.Sort(ids)
	for chunk := range slices.Chunk(slices.Compact(ids), matchChunk) {
		rs, err := client.OSVRecord.Query().Where(osvrecord.IDIn(chunk...)).
			Select(osvrecord.FieldOsvID, osvrecord.FieldAliases, osvrecord.FieldSummary, osvrecord.FieldReferences).
			All(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading matched vulnerabilities: %w", err)
		}
		for _, r := range rs {
			records[r.ID] = r
		}
	}
	type numbered struct {
		query int
		Finding
	}
	found := make([]numbered, 0, len(hits))
	for _, h := range hits {
		r := records[h.record]
		if r == nil {
			continue // removed by an import in between
		}
		q := queries[h.query]
		found = append(found, numbered{h.query, Finding{
			ID: r.OsvID, Aliases: r.Aliases, Ecosystem: q.Ecosystem, Package: q.Name, Version: q.Version,
			FixedVersion: h.fixed, Severity: Severity(h.row.Severity),
			CVSSScore: h.row.CvssScore, CVSSVector: h.row.CvssVector,
			Summary: r.Summary, Links: r.References,
		}})
	}
	slices.SortFunc(found, func(a, b numbered) int {
		return cmp.Or(
			cmp.Compare(a.query, b.query),
			cmp.Compare(b.Severity.Rank(), a.Severity.Rank()),
			cmp.Compare(b.CVSSScore, a.CVSSScore),
			cmp.Compare(a.ID, b.ID),
		)
	})
	out := make([]Finding, len(found))
	for i, f := range found {
		out[i] = f.Finding
	}
	return out, nil
}

// evaluate reports whether version is affected by one affected entry, and
// the smallest fixed version above it.
func evaluate(row *ent.OSVAffected, version string) (affected bool, fixed string) {
	var installed semantic.Version
	if order, ok := orderOf(osvrange.Ecosystem, row.Ecosystem); ok {
		installed, _ = order.parse(version)
	}
	affected = listed(version, installed, row.Versions)
	for _, r := range row.Ranges {
		order, ok := orderOf(r.Type, row.Ecosystem)
		if !ok {
			continue
		}
		v, err := order.parse(version)
		if err != nil {
			continue
		}
		in, f, ok := order.evaluate(v, r.Events)
		if !ok {
			continue
		}
		affected = affected || in
		fixed = smaller(row.Ecosystem, fixed, f)
	}
	return affected, fixed
}

// smaller returns the smaller of two fixed versions, ignoring empty ones;
// a or b when they do not compare.
func smaller(ecosystem, a, b string) string {
	if a == "" || b == "" || a == b {
		return cmp.Or(a, b)
	}
	if order, ok := orderOf(osvrange.Ecosystem, ecosystem); ok {
		if va, err := order.parse(a); err == nil {
			if c, err := va.CompareStr(b); err == nil && c > 0 {
				return b
			}
		}
	}
	return a
}
