package artifacts_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/errdefs"
)

// FuzzParseManifest feeds arbitrary bodies and Content-Types to the parser
// every manifest PUT goes through. Whatever it accepts must be a JSON
// document whose descriptors berth can later trust (valid sha256/sha512
// digests, sizes, media types), with a shape that matches its media type
// and a classification consistent with it; re-serialising what it parsed
// must parse back to the same manifest. Whatever it refuses must be a
// MANIFEST_INVALID, so the client gets a 400 rather than a 500.
// Seeds: testdata/fuzz/FuzzParseManifest.
func FuzzParseManifest(f *testing.F) {
	f.Fuzz(func(t *testing.T, contentType string, raw []byte) {
		m, err := artifacts.ParseManifest(contentType, raw)
		if err != nil {
			if !errors.Is(err, artifacts.ErrManifestInvalid) || !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("refusal is not MANIFEST_INVALID: %v", err)
			}
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("accepted a body that is not one JSON document: %q", raw)
		}
		checkManifest(t, contentType, m)

		again, err := artifacts.ParseManifest(m.MediaType, reserialise(t, m))
		if err != nil {
			t.Fatalf("re-serialised manifest refused: %v", err)
		}
		if again.MediaType != m.MediaType || again.ArtifactType != m.ArtifactType || again.Kind != m.Kind {
			t.Fatalf("round trip changed the manifest: %s %q %s, then %s %q %s",
				m.MediaType, m.ArtifactType, m.Kind, again.MediaType, again.ArtifactType, again.Kind)
		}
		sameDescriptors(t, "layers", m.Layers, again.Layers)
		sameDescriptors(t, "manifests", m.Manifests, again.Manifests)
	})
}

// checkManifest asserts what the write path relies on in a parsed manifest.
func checkManifest(t *testing.T, contentType string, m *artifacts.Manifest) {
	t.Helper()
	switch m.MediaType {
	case artifacts.MediaTypeOCIManifest, artifacts.MediaTypeDockerManifest:
		if m.Config == nil || m.Manifests != nil || m.IsIndex() {
			t.Fatalf("image manifest %s with config %v, manifests %v", m.MediaType, m.Config, m.Manifests)
		}
		validDescriptor(t, "config", *m.Config)
	case artifacts.MediaTypeOCIIndex, artifacts.MediaTypeDockerManifestList:
		if m.Config != nil || m.Layers != nil || !m.IsIndex() {
			t.Fatalf("index %s with config %v, layers %v", m.MediaType, m.Config, m.Layers)
		}
	default:
		t.Fatalf("accepted media type %q", m.MediaType)
	}
	if ct := strings.TrimSpace(strings.Split(contentType, ";")[0]); ct != "" &&
		ct != "application/json" && ct != "application/octet-stream" && ct != "text/plain" && ct != m.MediaType {
		t.Fatalf("Content-Type %q stored as %q", contentType, m.MediaType)
	}
	for _, d := range m.Layers {
		validDescriptor(t, "layer", d)
	}
	for _, d := range m.Manifests {
		validDescriptor(t, "manifest", d)
	}
	if m.Subject != nil {
		validDescriptor(t, "subject", *m.Subject)
		if m.MediaType == artifacts.MediaTypeDockerManifest || m.MediaType == artifacts.MediaTypeDockerManifestList {
			t.Fatalf("Docker %s accepted with a subject", m.MediaType)
		}
	}

	if err := artifact.ArtifactTypeValidator(m.Kind); err != nil {
		t.Fatalf("classified as %q, which the database refuses: %v", m.Kind, err)
	}
	if (m.Kind == artifact.ArtifactTypeIMAGE_INDEX) != (m.IsIndex() && classifiedByName(m.ArtifactType) == "") {
		t.Fatalf("%s with artifactType %q classified as %s", m.MediaType, m.ArtifactType, m.Kind)
	}
	if m.Kind == artifact.ArtifactTypeIMAGE {
		if at := strings.ToLower(m.ArtifactType); at != ocispec.MediaTypeImageConfig && at != "application/vnd.docker.container.image.v1+json" {
			t.Fatalf("classified as IMAGE with artifactType %q", m.ArtifactType)
		}
	}
	if k := classifiedByName(m.ArtifactType); k != "" && m.Kind != k {
		t.Fatalf("artifactType %q classified as %s, want %s", m.ArtifactType, m.Kind, k)
	}
}

// classifiedByName is the kind an artifactType decides on its own, before
// shape or layers are looked at; "" when it decides nothing.
func classifiedByName(artifactType string) artifact.ArtifactType {
	t := strings.ToLower(artifactType)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(t, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("cosign.artifact.sig", "notary.signature", "sigstore.bundle"):
		return artifact.ArtifactTypeSIGNATURE
	case has("spdx", "cyclonedx", "sbom", "syft"):
		return artifact.ArtifactTypeSBOM
	case has("in-toto", "intoto", "dsse", "attestation", "vuln"):
		return artifact.ArtifactTypeATTESTATION
	case t == artifacts.MediaTypeHelmConfig:
		return artifact.ArtifactTypeCHART
	}
	return ""
}

// validDescriptor asserts the descriptor rules blob links and GC rely on.
func validDescriptor(t *testing.T, what string, d ocispec.Descriptor) {
	t.Helper()
	if err := d.Digest.Validate(); err != nil {
		t.Fatalf("%s digest %q accepted but invalid: %v", what, d.Digest, err)
	}
	if a := d.Digest.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
		t.Fatalf("%s digest %q accepted with algorithm %s", what, d.Digest, a)
	}
	if d.Size < 0 || d.MediaType == "" {
		t.Fatalf("%s descriptor accepted with size %d, mediaType %q", what, d.Size, d.MediaType)
	}
	if d.Data != nil && (int64(len(d.Data)) != d.Size || d.Digest.Algorithm().FromBytes(d.Data) != d.Digest) {
		t.Fatalf("%s descriptor accepted with embedded data that does not match it", what)
	}
}

// reserialise writes m back as a manifest or index of its media type.
func reserialise(t *testing.T, m *artifacts.Manifest) []byte {
	t.Helper()
	out, err := json.Marshal(struct {
		SchemaVersion int                  `json:"schemaVersion"`
		MediaType     string               `json:"mediaType"`
		ArtifactType  string               `json:"artifactType,omitempty"`
		Config        *ocispec.Descriptor  `json:"config,omitempty"`
		Layers        []ocispec.Descriptor `json:"layers,omitempty"`
		Manifests     []ocispec.Descriptor `json:"manifests,omitempty"`
		Subject       *ocispec.Descriptor  `json:"subject,omitempty"`
		Annotations   map[string]string    `json:"annotations,omitempty"`
	}{2, m.MediaType, m.ArtifactType, m.Config, m.Layers, m.Manifests, m.Subject, m.Annotations})
	if err != nil {
		t.Fatalf("re-serialising: %v", err)
	}
	return out
}

func sameDescriptors(t *testing.T, what string, a, b []ocispec.Descriptor) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("round trip: %d %s, then %d", len(a), what, len(b))
	}
	for i := range a {
		if a[i].Digest != b[i].Digest || a[i].Size != b[i].Size || a[i].MediaType != b[i].MediaType {
			t.Fatalf("round trip changed %s %d: %+v, then %+v", what, i, a[i], b[i])
		}
	}
}
