package signature_test

import (
	"context"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/scan/signature"
)

const (
	jws  = "application/jose+json"
	cose = "application/cose"
)

func mustVerifier(t *testing.T, p signature.Policy) *signature.Verifier {
	t.Helper()
	v, err := signature.NewVerifier(p)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func verify(t *testing.T, v *signature.Verifier, store signature.Store, subject ocispec.Descriptor) []signature.Signature {
	t.Helper()
	sigs, err := v.Verify(context.Background(), store, subject)
	if err != nil {
		t.Fatal(err)
	}
	return sigs
}

// one asserts sigs is one signature of kind and returns it.
func one(t *testing.T, sigs []signature.Signature, kind signature.Kind) signature.Signature {
	t.Helper()
	if len(sigs) != 1 || sigs[0].Kind != kind {
		t.Fatalf("want one %s signature, got %+v", kind, sigs)
	}
	return sigs[0]
}

func fingerprint(t *testing.T, publicPEM string) string {
	t.Helper()
	fp, err := signature.KeyFingerprint(publicPEM)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func TestRequireSignedTellsACosignSignedImageFromAnUnsignedOne(t *testing.T) {
	store := newStore()
	key := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
	signed, unsigned := store.pushImage(t), store.pushImage(t)
	body := cosignPayload(t, signed.Digest)
	sigManifest := store.pushCosignTag(t, signed.Digest, cosignLayer{body, cosignSign(t, key, body)})
	v := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{key.publicPEM}})

	sigs := verify(t, v, store, signed)
	got := one(t, sigs, signature.Cosign)
	if !got.Verified || got.Error != "" || got.Digest != sigManifest.Digest || got.Signer != fingerprint(t, key.publicPEM) {
		t.Errorf("signed image: got %+v, want verified by %s in %s", got, fingerprint(t, key.publicPEM), sigManifest.Digest)
	}
	if !signature.Verified(sigs) {
		t.Error("the signed image does not pass require-signed")
	}

	sigs = verify(t, v, store, unsigned)
	if len(sigs) != 0 {
		t.Errorf("unsigned image: got %+v, want no signature", sigs)
	}
	if signature.Verified(sigs) {
		t.Error("the unsigned image passes require-signed")
	}
}

func TestCosignSignatureVerifiesWithEachKeyTypeCosignSignsWith(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  cosignKey
	}{
		{"ECDSA-P256", newCosignKey(t, newECDSAKey(t, elliptic.P256()))},
		{"ECDSA-P384", newCosignKey(t, newECDSAKey(t, elliptic.P384()))},
		{"RSA-2048", newCosignKey(t, rsaKey)},
		{"Ed25519", newCosignKey(t, edKey)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newStore()
			img := store.pushImage(t)
			body := cosignPayload(t, img.Digest)
			store.pushCosignTag(t, img.Digest, cosignLayer{body, cosignSign(t, tc.key, body)})
			other := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
			v := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{other.publicPEM, tc.key.publicPEM}})
			got := one(t, verify(t, v, store, img), signature.Cosign)
			if !got.Verified || got.Signer != fingerprint(t, tc.key.publicPEM) {
				t.Errorf("got %+v, want verified by the second key", got)
			}
		})
	}
}

func TestCosignSignatureStoredAsReferrerIsVerified(t *testing.T) {
	store := newStore()
	key := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
	img := store.pushImage(t)
	body := cosignPayload(t, img.Digest)
	ref := store.pushCosignReferrer(t, img, cosignLayer{body, cosignSign(t, key, body)})
	v := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{key.publicPEM}})

	got := one(t, verify(t, v, store, img), signature.Cosign)
	if !got.Verified || got.Digest != ref.Digest {
		t.Errorf("got %+v, want verified in %s", got, ref.Digest)
	}
}

func TestCosignManifestWithTwoSignaturesReportsEach(t *testing.T) {
	store := newStore()
	trusted := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
	stranger := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
	img := store.pushImage(t)
	body := cosignPayload(t, img.Digest)
	store.pushCosignTag(t, img.Digest,
		cosignLayer{body, cosignSign(t, stranger, body)},
		cosignLayer{body, cosignSign(t, trusted, body)})
	v := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{trusted.publicPEM}})

	sigs := verify(t, v, store, img)
	if len(sigs) != 2 || sigs[0].Verified || !sigs[1].Verified {
		t.Fatalf("got %+v, want the stranger's unverified and the trusted key's verified", sigs)
	}
	if !signature.Verified(sigs) {
		t.Error("an image with one verified signature fails require-signed")
	}
}

func TestCosignSignatureWithAnotherKeyIsNotVerified(t *testing.T) {
	store := newStore()
	signer := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
	trusted := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
	img := store.pushImage(t)
	body := cosignPayload(t, img.Digest)
	store.pushCosignTag(t, img.Digest, cosignLayer{body, cosignSign(t, signer, body)})
	v := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{trusted.publicPEM}})

	got := one(t, verify(t, v, store, img), signature.Cosign)
	if got.Verified || got.Signer != "" || !strings.Contains(got.Error, "does not verify with any of the project's 1 cosign public keys") {
		t.Errorf("got %+v, want not verified: no key verifies it", got)
	}
}

func TestCosignSignatureOfAnotherImageIsNotVerified(t *testing.T) {
	// A valid signature by a trusted key, copied from another image to
	// this image's .sig tag, must not count for this image.
	store := newStore()
	key := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
	img, other := store.pushImage(t), store.pushImage(t)
	body := cosignPayload(t, other.Digest)
	store.pushCosignTag(t, img.Digest, cosignLayer{body, cosignSign(t, key, body)})
	v := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{key.publicPEM}})

	got := one(t, verify(t, v, store, img), signature.Cosign)
	want := "signed image " + other.Digest.String() + ", not this one"
	if got.Verified || got.Signer != "" || !strings.Contains(got.Error, want) {
		t.Errorf("got %+v, want not verified: %q", got, want)
	}
}

func TestCosignSignatureOverAlteredPayloadIsNotVerified(t *testing.T) {
	store := newStore()
	key := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
	img, other := store.pushImage(t), store.pushImage(t)
	signed := cosignPayload(t, other.Digest)
	altered := cosignPayload(t, img.Digest)
	store.pushCosignTag(t, img.Digest, cosignLayer{altered, cosignSign(t, key, signed)})
	v := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{key.publicPEM}})

	got := one(t, verify(t, v, store, img), signature.Cosign)
	if got.Verified || !strings.Contains(got.Error, "does not verify") {
		t.Errorf("got %+v, want not verified", got)
	}
}

func TestCosignSignatureWithoutProjectKeysIsListedUnverified(t *testing.T) {
	store := newStore()
	key := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
	img := store.pushImage(t)
	body := cosignPayload(t, img.Digest)
	store.pushCosignTag(t, img.Digest, cosignLayer{body, cosignSign(t, key, body)})
	v := mustVerifier(t, signature.Policy{})

	got := one(t, verify(t, v, store, img), signature.Cosign)
	if got.Verified || !strings.Contains(got.Error, "no cosign public key") {
		t.Errorf("got %+v, want not verified: no key", got)
	}
}

func TestCosignSignatureWithMissingPayloadIsNotVerified(t *testing.T) {
	store := newStore()
	key := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
	img := store.pushImage(t)
	body := cosignPayload(t, img.Digest)
	store.pushCosignTag(t, img.Digest, cosignLayer{body, cosignSign(t, key, body)})
	delete(store.blobs, digest.FromBytes(body))
	v := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{key.publicPEM}})

	got := one(t, verify(t, v, store, img), signature.Cosign)
	if got.Verified || !strings.Contains(got.Error, "not found") {
		t.Errorf("got %+v, want not verified: payload not found", got)
	}
}

func TestNotationSignatureFromTrustedCAIsVerified(t *testing.T) {
	for _, envelopeType := range []string{jws, cose} {
		t.Run(envelopeType, func(t *testing.T) {
			store := newStore()
			pki := newNotationPKI(t, "Acme")
			img := store.pushImage(t)
			sig := store.pushNotation(t, img, notationSign(t, pki, img, envelopeType), envelopeType)
			v := mustVerifier(t, signature.Policy{NotationCertificates: []string{pki.caPEM}})

			sigs := verify(t, v, store, img)
			got := one(t, sigs, signature.Notation)
			wantSigner := pki.chain[0].Subject.String()
			if !got.Verified || got.Error != "" || got.Digest != sig.Digest || got.Signer != wantSigner {
				t.Errorf("got %+v, want verified, signed by %q", got, wantSigner)
			}
			if !signature.Verified(sigs) {
				t.Error("a Notation-signed image fails require-signed")
			}
		})
	}
}

func TestNotationSignatureFromUntrustedCAIsNotVerified(t *testing.T) {
	store := newStore()
	signer, trusted := newNotationPKI(t, "Mallory"), newNotationPKI(t, "Acme")
	img := store.pushImage(t)
	store.pushNotation(t, img, notationSign(t, signer, img, jws), jws)
	v := mustVerifier(t, signature.Policy{NotationCertificates: []string{trusted.caPEM}})

	got := one(t, verify(t, v, store, img), signature.Notation)
	if got.Verified || got.Signer != "" || !strings.Contains(got.Error, "does not contain any trusted certificate") {
		t.Errorf("got %+v, want not verified: no trusted certificate", got)
	}
}

func TestTamperedNotationEnvelopeIsNotVerified(t *testing.T) {
	// The envelope's payload is swapped for one naming another image while
	// the signature is kept, and the tampered envelope is pushed whole
	// (with its own digest), as an attacker with push rights could.
	store := newStore()
	pki := newNotationPKI(t, "Acme")
	img, other := store.pushImage(t), store.pushImage(t)
	env := notationSign(t, pki, img, jws)
	var parts map[string]any
	if err := json.Unmarshal(env, &parts); err != nil {
		t.Fatal(err)
	}
	p, err := base64.RawURLEncoding.DecodeString(parts["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(string(p), img.Digest.Encoded(), other.Digest.Encoded(), 1)
	if tampered == string(p) {
		t.Fatal("the payload does not name the image")
	}
	parts["payload"] = base64.RawURLEncoding.EncodeToString([]byte(tampered))
	env, err = json.Marshal(parts)
	if err != nil {
		t.Fatal(err)
	}
	store.pushNotation(t, other, env, jws)
	v := mustVerifier(t, signature.Policy{NotationCertificates: []string{pki.caPEM}})

	got := one(t, verify(t, v, store, other), signature.Notation)
	if got.Verified || !strings.Contains(got.Error, "signature is invalid") {
		t.Errorf("got %+v, want not verified: invalid signature", got)
	}
}

func TestNotationSignatureOfAnotherArtifactIsNotVerified(t *testing.T) {
	store := newStore()
	pki := newNotationPKI(t, "Acme")
	img, other := store.pushImage(t), store.pushImage(t)
	store.pushNotation(t, img, notationSign(t, pki, other, cose), cose)
	v := mustVerifier(t, signature.Policy{NotationCertificates: []string{pki.caPEM}})

	got := one(t, verify(t, v, store, img), signature.Notation)
	if got.Verified || !strings.Contains(got.Error, "content descriptor mismatch") {
		t.Errorf("got %+v, want not verified: descriptor mismatch", got)
	}
}

func TestNotationVerificationMakesNoRevocationRequest(t *testing.T) {
	// The signing certificate names an OCSP responder and a CRL on a
	// local server; verifying must not ask either.
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	pki := newNotationPKIWith(t, "Acme", func(leaf *x509.Certificate) {
		leaf.OCSPServer = []string{srv.URL + "/ocsp"}
		leaf.CRLDistributionPoints = []string{srv.URL + "/ca.crl"}
	})
	store := newStore()
	img := store.pushImage(t)
	store.pushNotation(t, img, notationSign(t, pki, img, cose), cose)
	v := mustVerifier(t, signature.Policy{NotationCertificates: []string{pki.caPEM}})

	if got := one(t, verify(t, v, store, img), signature.Notation); !got.Verified {
		t.Errorf("got %+v, want verified", got)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests to the revocation server, want none", n)
	}
}

func TestNotationSignatureWithoutProjectCertificatesIsListedUnverified(t *testing.T) {
	store := newStore()
	pki := newNotationPKI(t, "Acme")
	img := store.pushImage(t)
	store.pushNotation(t, img, notationSign(t, pki, img, jws), jws)
	key := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
	v := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{key.publicPEM}})

	got := one(t, verify(t, v, store, img), signature.Notation)
	if got.Verified || !strings.Contains(got.Error, "no Notation certificate") {
		t.Errorf("got %+v, want not verified: no certificate", got)
	}
}

func TestBothKindsAreReportedCosignFirst(t *testing.T) {
	store := newStore()
	key := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
	pki := newNotationPKI(t, "Acme")
	img := store.pushImage(t)
	store.pushNotation(t, img, notationSign(t, pki, img, jws), jws)
	body := cosignPayload(t, img.Digest)
	store.pushCosignTag(t, img.Digest, cosignLayer{body, cosignSign(t, key, body)})
	v := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{key.publicPEM}, NotationCertificates: []string{pki.caPEM}})

	sigs := verify(t, v, store, img)
	if len(sigs) != 2 || sigs[0].Kind != signature.Cosign || sigs[1].Kind != signature.Notation || !sigs[0].Verified || !sigs[1].Verified {
		t.Errorf("got %+v, want a verified cosign and a verified Notation signature", sigs)
	}
}

func TestPolicyRejectsBadPEMWithAClearError(t *testing.T) {
	ecKey := newECDSAKey(t, elliptic.P256())
	goodKey := newCosignKey(t, ecKey).publicPEM
	privDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	privPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}))
	pki := newNotationPKI(t, "Acme")
	leafPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.chain[0].Raw}))
	many := make([]string, signature.MaxPolicyEntries+1)
	for i := range many {
		many[i] = newCosignKey(t, newECDSAKey(t, elliptic.P256())).publicPEM
	}

	for _, tc := range []struct {
		name   string
		policy signature.Policy
		want   string
	}{
		{"NotPEM", signature.Policy{CosignPublicKeys: []string{"ssh-ed25519 AAAA"}}, "cosign public key 1: is not PEM"},
		{"PrivateKey", signature.Policy{CosignPublicKeys: []string{goodKey, privPEM}}, "cosign public key 2: is a private key"},
		{"CertificateAsKey", signature.Policy{CosignPublicKeys: []string{pki.caPEM}}, "cosign public key 1: is a certificate"},
		{"TwoKeysInOneEntry", signature.Policy{CosignPublicKeys: []string{goodKey + goodKey}}, "holds more than one PEM block"},
		{"SameKeyTwice", signature.Policy{CosignPublicKeys: []string{goodKey, goodKey}}, "cosign public key 2: the same key as an earlier one"},
		{"CorruptKey", signature.Policy{CosignPublicKeys: []string{"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}}, "cosign public key 1: parsing the public key"},
		{"TooManyKeys", signature.Policy{CosignPublicKeys: many}, "more than the 16 allowed"},
		{"HugeKey", signature.Policy{CosignPublicKeys: []string{goodKey + strings.Repeat(" ", signature.MaxPEMSize)}}, "over the 16384-byte limit"},
		{"CertificateNotPEM", signature.Policy{NotationCertificates: []string{"MIIB..."}}, "Notation certificate entry 1: holds no PEM certificate"},
		{"KeyAsCertificate", signature.Policy{NotationCertificates: []string{goodKey}}, `Notation certificate entry 1: PEM block "PUBLIC KEY" is not a certificate`},
		{"PrivateKeyWithCertificate", signature.Policy{NotationCertificates: []string{pki.caPEM + privPEM}}, "holds a private key"},
		{"LeafNotCA", signature.Policy{NotationCertificates: []string{leafPEM}}, "is not a CA certificate or self-signed signing certificate"},
		{"TextAfterCertificate", signature.Policy{NotationCertificates: []string{pki.caPEM + "trailing"}}, "has text that is not PEM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signature.NewVerifier(tc.policy)
			if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an invalid-input error containing %q", err, tc.want)
			}
			if err2 := signature.ValidatePolicy(tc.policy); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("ValidatePolicy: got %v, want %v", err2, err)
			}
		})
	}
	if err := signature.ValidatePolicy(signature.Policy{CosignPublicKeys: []string{goodKey}, NotationCertificates: []string{pki.caPEM}}); err != nil {
		t.Errorf("a good policy: %v", err)
	}
}

func TestOversizedSignatureArtifactsAreBoundedNotRead(t *testing.T) {
	store := newStore()
	key := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
	pki := newNotationPKI(t, "Acme")
	img := store.pushImage(t)
	v := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{key.publicPEM}, NotationCertificates: []string{pki.caPEM}})

	// A cosign payload layer that claims more than MaxBlobSize is not read.
	huge := ocispec.Descriptor{
		MediaType:   "application/vnd.dev.cosign.simplesigning.v1+json",
		Digest:      digest.FromString("huge"),
		Size:        signature.MaxBlobSize + 1,
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString([]byte("sig"))},
	}
	store.putManifest(t, store.artifactManifest(t, signature.CosignArtifactType, img, huge))
	// A Notation envelope over MaxBlobSize that claims a small size is cut
	// off by the store.
	big := make([]byte, signature.MaxBlobSize+1)
	layer := ocispec.Descriptor{MediaType: jws, Digest: store.putBlob(big), Size: 10}
	store.putManifest(t, store.artifactManifest(t, signature.NotationArtifactType, img, layer))

	sigs := verify(t, v, store, img)
	if len(sigs) != 2 {
		t.Fatalf("got %+v, want two unverified signatures", sigs)
	}
	for _, s := range sigs {
		if s.Verified || !(strings.Contains(s.Error, "over the 1048576-byte limit") || strings.Contains(s.Error, "over 1048576 bytes")) {
			t.Errorf("got %+v, want not verified: too large", s)
		}
	}
	if store.blobReads.Load() != 1 {
		t.Errorf("%d blob reads, want 1: the cosign payload's declared size must stop its read", store.blobReads.Load())
	}
}

func TestAtMostMaxSignaturesAreExamined(t *testing.T) {
	t.Run("NotationReferrers", func(t *testing.T) {
		store := newStore()
		pki := newNotationPKI(t, "Acme")
		img := store.pushImage(t)
		for range signature.MaxSignatures + 5 {
			store.pushNotation(t, img, notationSign(t, pki, img, jws), jws)
		}
		v := mustVerifier(t, signature.Policy{NotationCertificates: []string{pki.caPEM}})

		if sigs := verify(t, v, store, img); len(sigs) != signature.MaxSignatures {
			t.Errorf("got %d signatures, want %d", len(sigs), signature.MaxSignatures)
		}
	})
	t.Run("CosignLayers", func(t *testing.T) {
		store := newStore()
		key := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
		img := store.pushImage(t)
		var layers []cosignLayer
		for i := range signature.MaxSignatures + 5 {
			body := cosignPayload(t, img.Digest)
			body = append(body[:len(body)-1], fmt.Sprintf(",%q:%d}", "n", i)...)
			layers = append(layers, cosignLayer{body, cosignSign(t, key, body)})
		}
		store.pushCosignTag(t, img.Digest, layers...)
		v := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{key.publicPEM}})

		if sigs := verify(t, v, store, img); len(sigs) != signature.MaxSignatures || !sigs[0].Verified {
			t.Errorf("got %d signatures (first %+v), want %d verified", len(sigs), sigs[0], signature.MaxSignatures)
		}
		if n := store.blobReads.Load(); n != signature.MaxSignatures {
			t.Errorf("%d payloads read, want %d", n, signature.MaxSignatures)
		}
	})
}

func TestCosignTagIsCosignsNaming(t *testing.T) {
	d := digest.Digest("sha256:" + strings.Repeat("ab", 32))
	if got, want := signature.CosignTag(d), "sha256-"+strings.Repeat("ab", 32)+".sig"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestVerifierIsSafeForConcurrentUse(t *testing.T) {
	store := newStore()
	key := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
	pki := newNotationPKI(t, "Acme")
	img := store.pushImage(t)
	store.pushNotation(t, img, notationSign(t, pki, img, jws), jws)
	body := cosignPayload(t, img.Digest)
	store.pushCosignTag(t, img.Digest, cosignLayer{body, cosignSign(t, key, body)})
	v := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{key.publicPEM}, NotationCertificates: []string{pki.caPEM}})

	done := make(chan []signature.Signature)
	for range 4 {
		go func() {
			sigs, _ := v.Verify(context.Background(), store, img)
			done <- sigs
		}()
	}
	for range 4 {
		if sigs := <-done; len(sigs) != 2 || !sigs[0].Verified || !sigs[1].Verified {
			t.Errorf("got %+v, want two verified signatures", sigs)
		}
	}
}
