package signature_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/signer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	sigstore "github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/scan/signature"
)

// memStore is one repository's manifests, blobs and tags in maps, with
// referrers derived from the manifests' subject field as the registry
// derives them.
type memStore struct {
	manifests map[digest.Digest][]byte
	blobs     map[digest.Digest][]byte
	tags      map[string]digest.Digest
	referrers map[digest.Digest][]ocispec.Descriptor
	// blobReads counts Blob calls, to show what bounds stop reading.
	blobReads atomic.Int64
}

func newStore() *memStore {
	return &memStore{
		manifests: map[digest.Digest][]byte{},
		blobs:     map[digest.Digest][]byte{},
		tags:      map[string]digest.Digest{},
		referrers: map[digest.Digest][]ocispec.Descriptor{},
	}
}

func (s *memStore) Referrers(_ context.Context, subject digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	var out []ocispec.Descriptor
	for _, d := range s.referrers[subject] {
		if artifactType == "" || d.ArtifactType == artifactType {
			out = append(out, d)
		}
	}
	return out, nil
}

func (s *memStore) Tag(_ context.Context, tag string) (digest.Digest, bool, error) {
	d, ok := s.tags[tag]
	return d, ok, nil
}

func (s *memStore) Manifest(_ context.Context, d digest.Digest) ([]byte, error) {
	raw, ok := s.manifests[d]
	if !ok {
		return nil, errdefs.NotFoundf("manifest %s not found", d)
	}
	return raw, nil
}

func (s *memStore) Blob(_ context.Context, d digest.Digest, max int64) ([]byte, error) {
	s.blobReads.Add(1)
	raw, ok := s.blobs[d]
	if !ok {
		return nil, errdefs.NotFoundf("blob %s not found", d)
	}
	if int64(len(raw)) > max {
		return nil, errdefs.TooLargef("blob %s is over %d bytes", d, max)
	}
	return raw, nil
}

func (s *memStore) putBlob(raw []byte) digest.Digest {
	d := digest.FromBytes(raw)
	s.blobs[d] = raw
	return d
}

// putManifest stores raw, records it as a referrer of its subject, and
// returns its descriptor.
func (s *memStore) putManifest(t *testing.T, raw []byte) ocispec.Descriptor {
	t.Helper()
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	desc := ocispec.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(raw), Size: int64(len(raw)), ArtifactType: m.ArtifactType}
	if desc.ArtifactType == "" {
		desc.ArtifactType = m.Config.MediaType
	}
	s.manifests[desc.Digest] = raw
	if m.Subject != nil {
		s.referrers[m.Subject.Digest] = append(s.referrers[m.Subject.Digest], desc)
	}
	return desc
}

// pushImage stores a random image with one layer and returns its
// descriptor.
func (s *memStore) pushImage(t *testing.T) ocispec.Descriptor {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(raw)
	s.manifests[d] = raw
	return ocispec.Descriptor{MediaType: string(mt), Digest: d, Size: int64(len(raw))}
}

// cosignKey is a cosign key pair: the signer cosign loads from cosign.key
// and the PEM of cosign.pub.
type cosignKey struct {
	signer    sigstore.SignerVerifier
	publicPEM string
}

func newCosignKey(t *testing.T, priv crypto.Signer) cosignKey {
	t.Helper()
	// cosign.LoadPrivateKey: the default algorithm for the key type, with
	// Ed25519ph for Ed25519 keys.
	sv, err := sigstore.LoadDefaultSignerVerifier(priv, options.WithED25519ph())
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return cosignKey{signer: sv, publicPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
}

func newECDSAKey(t *testing.T, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// cosignPayload is the simple-signing payload `cosign sign` signs for the
// image repo@signed.
func cosignPayload(t *testing.T, signed digest.Digest) []byte {
	t.Helper()
	ref, err := name.NewDigest("registry.example/team/app@" + signed.String())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := payload.Cosign{Image: ref}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// cosignSign signs body as cosign does and returns the base64 signature
// of the layer annotation.
func cosignSign(t *testing.T, key cosignKey, body []byte) string {
	t.Helper()
	sig, err := key.signer.SignMessage(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// pushCosignTag stores a cosign signature manifest for subject under its
// .sig tag, the way cosign writes one: an OCI image built from the empty
// image with one simple-signing layer per signature, the signature in the
// layer's annotation.
func (s *memStore) pushCosignTag(t *testing.T, subject digest.Digest, layers ...cosignLayer) ocispec.Descriptor {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, l := range layers {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:       static.NewLayer(l.payload, "application/vnd.dev.cosign.simplesigning.v1+json"),
			Annotations: map[string]string{"dev.cosignproject.cosign/signature": l.signature},
		})
		if err != nil {
			t.Fatal(err)
		}
		s.putBlob(l.payload)
	}
	raw := s.storeImage(t, img)
	desc := s.putManifest(t, raw)
	s.tags[signature.CosignTag(subject)] = desc.Digest
	return desc
}

type cosignLayer struct {
	payload   []byte
	signature string
}

// storeImage stores img's config blob and returns its manifest.
func (s *memStore) storeImage(t *testing.T, img v1.Image) []byte {
	t.Helper()
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	s.putBlob(cfg)
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// pushCosignReferrer stores a cosign signature the way cosign's OCI 1.1
// mode does: a manifest with the cosign artifactType, the empty config and
// subject as its subject.
func (s *memStore) pushCosignReferrer(t *testing.T, subject ocispec.Descriptor, l cosignLayer) ocispec.Descriptor {
	t.Helper()
	layer := ocispec.Descriptor{
		MediaType:   "application/vnd.dev.cosign.simplesigning.v1+json",
		Digest:      s.putBlob(l.payload),
		Size:        int64(len(l.payload)),
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": l.signature},
	}
	return s.putManifest(t, s.artifactManifest(t, signature.CosignArtifactType, subject, layer))
}

// artifactManifest is an OCI 1.1 artifact manifest with the empty config.
func (s *memStore) artifactManifest(t *testing.T, artifactType string, subject ocispec.Descriptor, layers ...ocispec.Descriptor) []byte {
	t.Helper()
	emptyJSON := []byte("{}")
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: s.putBlob(emptyJSON), Size: 2},
		Layers:       layers,
		Subject:      &subject,
	}
	m.SchemaVersion = 2
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// notationPKI is a certificate authority and a code-signing leaf it
// issued, as `notation cert generate-test` or an organisation's CA makes.
type notationPKI struct {
	caPEM   string
	leafKey *ecdsa.PrivateKey
	chain   []*x509.Certificate
}

func newNotationPKI(t *testing.T, org string) notationPKI {
	t.Helper()
	return newNotationPKIWith(t, org, func(*x509.Certificate) {})
}

// newNotationPKIWith is newNotationPKI with the leaf's template changed by
// leafTemplate.
func newNotationPKIWith(t *testing.T, org string, leafTemplate func(*x509.Certificate)) notationPKI {
	t.Helper()
	now := time.Now()
	caKey := newECDSAKey(t, elliptic.P256())
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: org + " Root CA", Organization: []string{org}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey := newECDSAKey(t, elliptic.P256())
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: org + " release signing", Organization: []string{org}, Country: []string{"DE"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(12 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafTemplate(leafTmpl)
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		t.Fatal(err)
	}
	return notationPKI{
		caPEM:   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		leafKey: leafKey,
		chain:   []*x509.Certificate{leaf, ca},
	}
}

// notationSign signs target with notation-go's signer and returns the
// envelope.
func notationSign(t *testing.T, pki notationPKI, target ocispec.Descriptor, envelopeType string) []byte {
	t.Helper()
	s, err := signer.NewGenericSigner(pki.leafKey, pki.chain)
	if err != nil {
		t.Fatal(err)
	}
	env, _, err := s.Sign(context.Background(), target, notation.SignerSignOptions{
		SignatureMediaType: envelopeType,
		ExpiryDuration:     time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// pushNotation stores envelope as a Notation signature of subject, as
// `notation sign` pushes one.
func (s *memStore) pushNotation(t *testing.T, subject ocispec.Descriptor, envelope []byte, envelopeType string) ocispec.Descriptor {
	t.Helper()
	layer := ocispec.Descriptor{MediaType: envelopeType, Digest: s.putBlob(envelope), Size: int64(len(envelope))}
	return s.putManifest(t, s.artifactManifest(t, signature.NotationArtifactType, subject, layer))
}
