package sbom

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/berth-registry/berth/internal/scan/inventory"
)

// element is one inventory package with the identifier both formats use
// for it.
type element struct {
	pkg inventory.Package
	// id is unique within the document and made only of letters, digits,
	// '.' and '-': the SPDXID without its "SPDXRef-" prefix, and the
	// CycloneDX bom-ref.
	id string
}

// maxNameInID bounds the part of an identifier taken from a package name;
// the hash that follows keeps identifiers unique.
const maxNameInID = 64

// elements orders the inventory's packages and gives each its identifier.
//
// The order is by type, name, version, PURL, layer and locations, so it does
// not depend on the order the scan found packages in. The identifier is
// "Package-<type>-<name>-<hash>", the hash taken over what makes a package
// found in an image distinct (its PURL, or name and version, and the files
// it was read from); two identical entries get "-2", "-3"... in order.
func elements(pkgs []inventory.Package) []element {
	sorted := slices.Clone(pkgs)
	slices.SortStableFunc(sorted, comparePackages)
	out := make([]element, len(sorted))
	seen := make(map[string]int, len(sorted))
	for i, p := range sorted {
		id := "Package-" + sanitizeID(p.Type, 16) + "-" + sanitizeID(p.Name, maxNameInID) + "-" + packageHash(p)
		if n := seen[id]; n > 0 {
			seen[id] = n + 1
			id += "-" + strconv.Itoa(n+1)
		} else {
			seen[id] = 1
		}
		out[i] = element{pkg: p, id: id}
	}
	return out
}

func comparePackages(a, b inventory.Package) int {
	return cmp.Or(
		cmp.Compare(a.Type, b.Type),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.PURL, b.PURL),
		cmp.Compare(a.LayerDigest, b.LayerDigest),
		slices.Compare(a.Locations, b.Locations),
		cmp.Compare(a.SourceName, b.SourceName),
		cmp.Compare(a.SourceVersion, b.SourceVersion),
		cmp.Compare(a.Ecosystem, b.Ecosystem),
	)
}

// packageHash is 16 hex digits of a SHA-256 over the package's identity:
// PURL, name, version and locations, NUL-separated.
func packageHash(p inventory.Package) string {
	h := sha256.New()
	for _, s := range append([]string{p.PURL, p.Type, p.Name, p.Version}, p.Locations...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// sanitizeID keeps the characters an SPDX identifier may hold (letters,
// digits, '.' and '-'), writes '-' for each run of others, and cuts the
// result to at most max bytes. An empty result is "unknown".
func sanitizeID(s string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		ok := r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-')
		if !ok {
			if !dash {
				b.WriteByte('-')
			}
			dash = true
			continue
		}
		b.WriteRune(r)
		dash = false
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > max {
		out = strings.TrimRight(out[:max], "-")
	}
	if out == "" {
		return "unknown"
	}
	return out
}

// documentUUID is a name-based (version 5) UUID for one document: the same
// format, subject and options give the same UUID, any change a new one.
func documentUUID(format string, subject Subject, opts Options) uuid.UUID {
	tags := slices.Clone(subject.Tags)
	slices.Sort(tags)
	name := strings.Join([]string{
		"berth-sbom", format, subject.Repository, subject.Digest, subject.Platform,
		strings.Join(tags, ","), opts.timestamp(), opts.toolVersion(),
	}, "\x00")
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(name))
}
