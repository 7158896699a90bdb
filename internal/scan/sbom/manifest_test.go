package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/errdefs"
)

func imageDescriptor() ocispec.Descriptor {
	return ocispec.Descriptor{
		MediaType:   ocispec.MediaTypeImageManifest,
		Digest:      digest.Digest(imageDigest),
		Size:        1234,
		Annotations: map[string]string{"not": "copied"},
	}
}

func TestManifestIsAnOCIReferrerOfTheImage(t *testing.T) {
	created := time.Date(2026, 3, 1, 12, 30, 45, 0, time.FixedZone("CET", 3600))
	for mediaType, title := range map[string]string{
		MediaTypeSPDX:      "sbom.spdx.json",
		MediaTypeCycloneDX: "sbom.cdx.json",
	} {
		doc := []byte(`{"a":"document"}`)
		manifest, config, err := Manifest(imageDescriptor(), doc, mediaType, created)
		if err != nil {
			t.Fatal(err)
		}
		if string(config) != "{}" {
			t.Errorf("config blob = %q, want {}", config)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(manifest, &m); err != nil {
			t.Fatalf("manifest is not JSON: %v", err)
		}
		if m.SchemaVersion != 2 || m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.ArtifactType != mediaType {
			t.Errorf("%s: schemaVersion, mediaType, artifactType = %d, %q, %q", mediaType, m.SchemaVersion, m.MediaType, m.ArtifactType)
		}
		if m.Config.MediaType != "application/vnd.oci.empty.v1+json" ||
			m.Config.Digest != "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" || m.Config.Size != 2 {
			t.Errorf("%s: config = %+v, want the empty descriptor", mediaType, m.Config)
		}
		if got := digest.FromBytes(config); got != m.Config.Digest {
			t.Errorf("config blob digest %s, descriptor says %s", got, m.Config.Digest)
		}
		sum := sha256.Sum256(doc)
		if len(m.Layers) != 1 {
			t.Fatalf("%s: %d layers, want 1", mediaType, len(m.Layers))
		}
		l := m.Layers[0]
		if l.MediaType != mediaType || l.Digest.String() != "sha256:"+hex.EncodeToString(sum[:]) || l.Size != int64(len(doc)) {
			t.Errorf("%s: layer = %+v, want the SBOM blob", mediaType, l)
		}
		if l.Annotations[ocispec.AnnotationTitle] != title {
			t.Errorf("%s: layer title = %q, want %q", mediaType, l.Annotations[ocispec.AnnotationTitle], title)
		}
		if m.Subject == nil || m.Subject.Digest != imageDigest || m.Subject.MediaType != ocispec.MediaTypeImageManifest || m.Subject.Size != 1234 {
			t.Errorf("%s: subject = %+v, want the image", mediaType, m.Subject)
		}
		if m.Subject != nil && m.Subject.Annotations != nil {
			t.Errorf("%s: subject carries the caller's annotations %v", mediaType, m.Subject.Annotations)
		}
		if got := m.Annotations[ocispec.AnnotationCreated]; got != "2026-03-01T11:30:45Z" {
			t.Errorf("%s: created annotation = %q", mediaType, got)
		}
		if got := m.Annotations[AnnotationGenerator]; got != "berth" {
			t.Errorf("%s: generator annotation = %q, want berth", mediaType, got)
		}
	}
}

func TestManifestRefusesWhatIsNotAnSBOMReferrer(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	noDigest := imageDescriptor()
	noDigest.Digest = "sha256:short"
	noSize := imageDescriptor()
	noSize.Size = 0
	cases := map[string]struct {
		subject   ocispec.Descriptor
		sbom      []byte
		mediaType string
		created   time.Time
	}{
		"other media type": {imageDescriptor(), []byte("{}"), "application/json", now},
		"bad subject":      {noDigest, []byte("{}"), MediaTypeSPDX, now},
		"subject size 0":   {noSize, []byte("{}"), MediaTypeSPDX, now},
		"empty document":   {imageDescriptor(), nil, MediaTypeCycloneDX, now},
		"no creation time": {imageDescriptor(), []byte("{}"), MediaTypeCycloneDX, time.Time{}},
	}
	for name, c := range cases {
		if _, _, err := Manifest(c.subject, c.sbom, c.mediaType, c.created); !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}
