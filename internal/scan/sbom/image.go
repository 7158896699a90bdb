package sbom

import (
	"path"
	"slices"
	"strings"

	"github.com/package-url/packageurl-go"
)

// imagePURLs are the image's package URLs (pkg:oci), one per tag, sorted,
// or one without a tag when the image has none. The PURL name is the last
// path segment of the repository, lowercased, as the oci type wants; the
// full repository is the repository_url qualifier.
func imagePURLs(s Subject) []string {
	tags := sortedTags(s)
	if len(tags) == 0 {
		tags = []string{""}
	}
	out := make([]string, 0, len(tags))
	for _, tag := range tags {
		out = append(out, imagePURL(s, tag))
	}
	return out
}

func imagePURL(s Subject, tag string) string {
	repo := strings.TrimSuffix(s.Repository, "/")
	var q packageurl.Qualifiers
	if arch := platformArch(s.Platform); arch != "" {
		q = append(q, packageurl.Qualifier{Key: "arch", Value: arch})
	}
	q = append(q, packageurl.Qualifier{Key: "repository_url", Value: repo})
	if tag != "" {
		q = append(q, packageurl.Qualifier{Key: "tag", Value: tag})
	}
	name := strings.ToLower(path.Base(repo))
	return packageurl.NewPackageURL("oci", "", name, s.Digest, q, "").ToString()
}

// platformArch is the architecture of an "os/arch[/variant]" platform.
func platformArch(platform string) string {
	parts := strings.Split(platform, "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// sortedTags are the subject's tags, sorted and without duplicates.
func sortedTags(s Subject) []string {
	tags := slices.Clone(s.Tags)
	slices.Sort(tags)
	return slices.Compact(tags)
}
