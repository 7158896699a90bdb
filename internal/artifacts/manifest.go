package artifacts

import (
	"encoding/json"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/ent/artifact"
)

// Manifest media types berth accepts.
const (
	MediaTypeOCIManifest        = ocispec.MediaTypeImageManifest
	MediaTypeOCIIndex           = ocispec.MediaTypeImageIndex
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerSchema1      = "application/vnd.docker.distribution.manifest.v1+json"
	mediaTypeDockerSchema1JWS   = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	mediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	mediaTypeDockerForeign      = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	// MediaTypeHelmConfig is the config media type of a Helm chart.
	MediaTypeHelmConfig = "application/vnd.cncf.helm.config.v1+json"
)

// MaxManifestSize caps a manifest; the distribution spec suggests 4 MiB.
const MaxManifestSize = 4 << 20

// Manifest is a parsed and validated manifest or index.
type Manifest struct {
	// MediaType is the stored media type, from Content-Type or the body.
	MediaType string
	// ArtifactType is the declared artifactType, or the config media type.
	ArtifactType string
	// Kind is the classification stored in Artifact.artifact_type.
	Kind artifact.ArtifactType
	// Config is nil for an index.
	Config *ocispec.Descriptor
	// Layers of an image manifest.
	Layers []ocispec.Descriptor
	// Manifests listed by an index.
	Manifests []ocispec.Descriptor
	// Subject is the manifest this one refers to, if any.
	Subject *ocispec.Descriptor
	// Annotations of the manifest.
	Annotations map[string]string
}

// IsIndex reports whether m lists other manifests.
func (m *Manifest) IsIndex() bool {
	return m.MediaType == MediaTypeOCIIndex || m.MediaType == MediaTypeDockerManifestList
}

type rawManifest struct {
	SchemaVersion int                  `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	ArtifactType  string               `json:"artifactType"`
	Config        *ocispec.Descriptor  `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
	Subject       *ocispec.Descriptor  `json:"subject"`
	Annotations   map[string]string    `json:"annotations"`
	FSLayers      json.RawMessage      `json:"fsLayers"`
	Signatures    json.RawMessage      `json:"signatures"`
}

// ParseManifest validates raw as a manifest of contentType (which may be
// empty, then the body's mediaType decides). Errors wrap ErrManifestInvalid.
func ParseManifest(contentType string, raw []byte) (*Manifest, error) {
	contentType = strings.TrimSpace(strings.Split(contentType, ";")[0])
	// Unmarshal, not a Decoder: a body with a second document after the
	// manifest is not one JSON document, and clients that read it with
	// json.Unmarshal would refuse what the registry accepted.
	var r rawManifest
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, manifestInvalid("manifest is not valid JSON: %v", err)
	}
	if r.SchemaVersion == 1 || r.FSLayers != nil || contentType == mediaTypeDockerSchema1 ||
		contentType == mediaTypeDockerSchema1JWS || r.MediaType == mediaTypeDockerSchema1 || r.MediaType == mediaTypeDockerSchema1JWS {
		return nil, manifestInvalid("Docker schema 1 manifests are not supported: push with a client that writes schema 2 or OCI manifests")
	}
	if r.SchemaVersion != 2 {
		return nil, manifestInvalid("unsupported manifest schemaVersion %d", r.SchemaVersion)
	}
	mt := r.MediaType
	switch {
	case contentType != "" && !genericContentType(contentType):
		if mt != "" && mt != contentType {
			return nil, manifestInvalid("Content-Type %q does not match the manifest's mediaType %q", contentType, mt)
		}
		mt = contentType
	case mt == "":
		// An OCI manifest may omit mediaType; tell manifest from index by shape.
		if r.Manifests != nil && r.Config == nil {
			mt = MediaTypeOCIIndex
		} else {
			mt = MediaTypeOCIManifest
		}
	}
	m := &Manifest{MediaType: mt, ArtifactType: r.ArtifactType, Subject: r.Subject, Annotations: r.Annotations}
	switch mt {
	case MediaTypeOCIManifest, MediaTypeDockerManifest:
		if r.Config == nil {
			return nil, manifestInvalid("image manifest has no config")
		}
		if r.Manifests != nil {
			return nil, manifestInvalid("image manifest must not list manifests")
		}
		if err := validateDescriptor("config", *r.Config); err != nil {
			return nil, err
		}
		for i, l := range r.Layers {
			if err := validateDescriptor("layer", l); err != nil {
				return nil, wrapf(err, "layer %d", i)
			}
		}
		m.Config, m.Layers = r.Config, r.Layers
		if m.ArtifactType == "" {
			m.ArtifactType = r.Config.MediaType
		}
	case MediaTypeOCIIndex, MediaTypeDockerManifestList:
		if r.Config != nil || r.Layers != nil {
			return nil, manifestInvalid("index must not have a config or layers")
		}
		for i, c := range r.Manifests {
			if err := validateDescriptor("manifest", c); err != nil {
				return nil, wrapf(err, "manifest %d", i)
			}
		}
		m.Manifests = r.Manifests
	default:
		return nil, manifestInvalid("unsupported manifest media type %q", mt)
	}
	if m.Subject != nil {
		if err := validateDescriptor("subject", *m.Subject); err != nil {
			return nil, err
		}
		if mt == MediaTypeDockerManifest || mt == MediaTypeDockerManifestList {
			return nil, manifestInvalid("Docker manifests cannot have a subject")
		}
	}
	m.Kind = classify(m)
	return m, nil
}

// genericContentType is a Content-Type that says nothing about the manifest.
func genericContentType(ct string) bool {
	return ct == "application/json" || ct == "application/octet-stream" || ct == "text/plain"
}

func validateDescriptor(what string, d ocispec.Descriptor) error {
	if err := d.Digest.Validate(); err != nil {
		return manifestInvalid("%s descriptor has an invalid digest %q: %v", what, d.Digest, err)
	}
	if a := d.Digest.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
		return manifestInvalid("%s descriptor uses unsupported digest algorithm %s", what, a)
	}
	if d.Size < 0 {
		return manifestInvalid("%s descriptor %s has a negative size", what, d.Digest)
	}
	if d.MediaType == "" {
		return manifestInvalid("%s descriptor %s has no mediaType", what, d.Digest)
	}
	if d.Data != nil {
		if int64(len(d.Data)) != d.Size || d.Digest.Algorithm().FromBytes(d.Data) != d.Digest {
			return manifestInvalid("%s descriptor %s: embedded data does not match its digest and size", what, d.Digest)
		}
	}
	return nil
}

// Foreign reports whether a layer need not be pushed to the registry:
// non-distributable OCI layers and Docker foreign layers.
func Foreign(d ocispec.Descriptor) bool {
	return strings.Contains(d.MediaType, ".nondistributable.") || d.MediaType == mediaTypeDockerForeign
}

// classify decides Artifact.artifact_type from the media types involved.
func classify(m *Manifest) artifact.ArtifactType {
	t := strings.ToLower(m.ArtifactType)
	switch {
	case strings.Contains(t, "cosign.artifact.sig"), strings.Contains(t, "notary.signature"),
		strings.Contains(t, "sigstore.bundle"):
		return artifact.ArtifactTypeSIGNATURE
	case strings.Contains(t, "spdx"), strings.Contains(t, "cyclonedx"), strings.Contains(t, "sbom"), strings.Contains(t, "syft"):
		return artifact.ArtifactTypeSBOM
	case strings.Contains(t, "in-toto"), strings.Contains(t, "intoto"), strings.Contains(t, "dsse"),
		strings.Contains(t, "attestation"), strings.Contains(t, "vuln"):
		return artifact.ArtifactTypeATTESTATION
	case t == MediaTypeHelmConfig:
		return artifact.ArtifactTypeCHART
	}
	if m.IsIndex() {
		return artifact.ArtifactTypeIMAGE_INDEX
	}
	// cosign's classic layout: an image-like manifest whose layers are
	// simple-signing payloads (signatures) or DSSE envelopes (attestations).
	for _, l := range m.Layers {
		switch {
		case strings.Contains(l.MediaType, "cosign.simplesigning"):
			return artifact.ArtifactTypeSIGNATURE
		case strings.Contains(l.MediaType, "dsse.envelope"), strings.Contains(l.MediaType, "in-toto"):
			return artifact.ArtifactTypeATTESTATION
		case strings.Contains(l.MediaType, "spdx"), strings.Contains(l.MediaType, "cyclonedx"):
			return artifact.ArtifactTypeSBOM
		}
	}
	if t == ocispec.MediaTypeImageConfig || t == mediaTypeDockerConfig {
		return artifact.ArtifactTypeIMAGE
	}
	return artifact.ArtifactTypeOTHER
}
