package sbom

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/errdefs"
)

// AnnotationGenerator marks a referrer manifest berth made: Manifest sets
// it to "berth", so that berth's scanner replaces the SBOMs it attached
// and never one a user attached.
const AnnotationGenerator = "io.berth.sbom.generator"

// Titles of the SBOM layer, by media type: the file name `oras pull` writes.
var layerTitles = map[string]string{
	MediaTypeSPDX:      "sbom.spdx.json",
	MediaTypeCycloneDX: "sbom.cdx.json",
}

// Manifest builds the OCI 1.1 image manifest that attaches an SBOM to the
// image subject as a referrer: artifactType and the one layer's media type
// are mediaType (MediaTypeSPDX or MediaTypeCycloneDX), the config is the
// empty descriptor, the layer is the sbom blob titled sbom.spdx.json or
// sbom.cdx.json, and the manifest carries org.opencontainers.image.created
// and AnnotationGenerator.
//
// It returns the manifest and the config blob ("{}"); the caller pushes the
// config, the sbom and then the manifest.
func Manifest(subject ocispec.Descriptor, sbom []byte, mediaType string, created time.Time) (manifest []byte, config []byte, err error) {
	title, ok := layerTitles[mediaType]
	if !ok {
		return nil, nil, errdefs.Invalidf("sbom: media type %q is not an SBOM media type", mediaType)
	}
	if err := subject.Digest.Validate(); err != nil {
		return nil, nil, errdefs.Invalidf("sbom: subject digest %q: %v", subject.Digest, err)
	}
	if subject.MediaType == "" || subject.Size <= 0 {
		return nil, nil, errdefs.Invalidf("sbom: subject descriptor needs a media type and a size")
	}
	if len(sbom) == 0 {
		return nil, nil, errdefs.Invalidf("sbom: empty document")
	}
	if created.IsZero() {
		return nil, nil, errdefs.Invalidf("sbom: creation time is required")
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: mediaType,
		Config:       ocispec.DescriptorEmptyJSON,
		Layers: []ocispec.Descriptor{{
			MediaType:   mediaType,
			Digest:      digest.FromBytes(sbom),
			Size:        int64(len(sbom)),
			Annotations: map[string]string{ocispec.AnnotationTitle: title},
		}},
		// Only the fields that identify the image: annotations or data the
		// caller's descriptor may carry do not belong in a referrer.
		Subject: &ocispec.Descriptor{
			MediaType: subject.MediaType,
			Digest:    subject.Digest,
			Size:      subject.Size,
		},
		Annotations: map[string]string{
			ocispec.AnnotationCreated: created.UTC().Truncate(time.Second).Format(time.RFC3339),
			AnnotationGenerator:       toolName,
		},
	}
	manifest, err = json.Marshal(m)
	if err != nil {
		return nil, nil, fmt.Errorf("sbom: encode manifest: %w", err)
	}
	return manifest, []byte("{}"), nil
}
