// Package sbom turns an image's package inventory into software bills of
// materials: an SPDX 2.3 JSON document and a CycloneDX 1.5 JSON document,
// each describing the container image and the packages it contains, and the
// OCI 1.1 referrer manifest under which a document is attached to the image.
//
// Output is deterministic: the same inventory, subject and options give the
// same bytes, whatever the order of the inventory's packages. Identifiers
// (SPDXIDs, CycloneDX bom-refs, the document namespace, the serial number)
// are derived from the content instead of drawn at random, so the caller
// must supply the creation time.
package sbom

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/scan/inventory"
)

// Media types of the SBOM documents, used as the layer media type and the
// artifactType of the referrer manifest.
const (
	MediaTypeSPDX      = "application/spdx+json"
	MediaTypeCycloneDX = "application/vnd.cyclonedx+json"
)

// Bounds on one document; zero Options fields take these.
const (
	// DefaultMaxPackages is the largest inventory turned into a document.
	DefaultMaxPackages = 200_000
	// DefaultMaxBytes is the largest document produced.
	DefaultMaxBytes = 64 << 20
)

// DefaultNamespace is the base of the SPDX document namespace when
// Options.Namespace is empty.
const DefaultNamespace = "https://spdx.org/spdxdocs/berth"

// Subject describes the image an SBOM is about: one platform's image
// manifest.
type Subject struct {
	// Repository is the repository as clients pull from it, with the
	// registry host (e.g. "registry.example/library/debian"); it names the
	// image element and is the repository_url of its PURL.
	Repository string
	// Digest and MediaType are the image manifest's.
	Digest    string
	MediaType string
	// Tags point at the image; order does not matter.
	Tags []string
	// Platform is "os/arch[/variant]", e.g. "linux/amd64"; may be empty.
	Platform string
}

// Options are the parts of a document that do not come from the image.
type Options struct {
	// Created is the document's creation time; required, since output is
	// deterministic.
	Created time.Time
	// ToolVersion is berth's version, named in the document's creators.
	ToolVersion string
	// Namespace is the base URL of SPDX document namespaces, e.g.
	// https://registry.example/spdx; empty means DefaultNamespace.
	Namespace string
	// MaxPackages and MaxBytes bound the document; zero means
	// DefaultMaxPackages and DefaultMaxBytes.
	MaxPackages int
	MaxBytes    int64
}

// toolName is the tool named in creators and annotations.
const toolName = "berth"

func (o Options) toolVersion() string {
	if o.ToolVersion == "" {
		return "unknown"
	}
	return o.ToolVersion
}

func (o Options) maxPackages() int {
	if o.MaxPackages <= 0 {
		return DefaultMaxPackages
	}
	return o.MaxPackages
}

func (o Options) maxBytes() int64 {
	if o.MaxBytes <= 0 {
		return DefaultMaxBytes
	}
	return o.MaxBytes
}

// timestamp is Created as both formats want it: UTC, whole seconds.
func (o Options) timestamp() string {
	return o.Created.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// check validates the inputs common to both formats.
func check(inv *inventory.Inventory, subject Subject, opts Options) error {
	if inv == nil {
		return errdefs.Invalidf("sbom: no inventory")
	}
	if n, limit := len(inv.Packages), opts.maxPackages(); n > limit {
		return errdefs.TooLargef("sbom: inventory has %d packages, more than the %d a document may list", n, limit)
	}
	if strings.TrimSpace(subject.Repository) == "" {
		return errdefs.Invalidf("sbom: subject has no repository")
	}
	if _, err := digest.Parse(subject.Digest); err != nil {
		return errdefs.Invalidf("sbom: subject digest %q: %v", subject.Digest, err)
	}
	if opts.Created.IsZero() {
		return errdefs.Invalidf("sbom: Options.Created is required")
	}
	if opts.Namespace != "" {
		u, err := url.Parse(opts.Namespace)
		if err != nil || u.Scheme == "" || strings.Contains(opts.Namespace, "#") {
			return errdefs.Invalidf("sbom: namespace %q is not an absolute URI without a fragment", opts.Namespace)
		}
	}
	return nil
}

// boundedBuffer is a buffer that refuses to grow past max bytes, so an
// oversized document fails instead of being handed on.
type boundedBuffer struct {
	bytes.Buffer
	max int64
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if int64(b.Len())+int64(len(p)) > b.max {
		return 0, errdefs.TooLargef("sbom: document exceeds %d bytes", b.max)
	}
	return b.Buffer.Write(p)
}

// encodeBounded runs encode into a buffer bounded by opts and returns the
// bytes without the encoder's trailing newline.
func encodeBounded(opts Options, encode func(w *boundedBuffer) error) ([]byte, error) {
	buf := &boundedBuffer{max: opts.maxBytes() + 1} // +1: the trailing newline
	if err := encode(buf); err != nil {
		if errors.Is(err, errdefs.ErrTooLarge) {
			return nil, err
		}
		return nil, fmt.Errorf("sbom: encode: %w", err)
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if int64(len(out)) > opts.maxBytes() {
		return nil, errdefs.TooLargef("sbom: document exceeds %d bytes", opts.maxBytes())
	}
	return out, nil
}
