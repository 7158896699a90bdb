package signature

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/result"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/errdefs"
)

// The Notary Project's storage conventions (its signing-and-storage
// spec): a signature is a referrer of the signed manifest with this
// artifactType (or, in the OCI 1.0 form, config media type) and exactly
// one layer, the signature envelope.
const (
	// NotationArtifactType is the artifactType of a Notation signature.
	NotationArtifactType = "application/vnd.cncf.notary.signature"
	// notationJWS and notationCOSE are the envelope media types.
	notationJWS  = "application/jose+json"
	notationCOSE = "application/cose"
	// notationTrustStore names the one trust store berth builds from a
	// project's certificates.
	notationTrustStore = "berth"
	// notationReference prefixes the subject digest in the artifact
	// reference notation-go matches trust policies by. berth's one
	// policy applies to every reference ("*"), so the name is only
	// there to be well-formed.
	notationReference = "berth.invalid/subject@"
	// maxReasonLength clips notation-go's error messages in a reason.
	maxReasonLength = 1024
)

// notationVerifier verifies Notation signatures against the trust store a
// project configured.
//
// It is notation-go's verifier with a trust policy built in memory:
// verification level strict (integrity, authenticity, trusted identity,
// expiry, authentic timestamp all enforced) except revocation, which is
// skipped because OCSP and CRL checks need the network. The policy names
// no "tsa" trust store, so timestamp countersignatures are not checked and
// the certificate chain must be valid now. Only the notary.x509 signing
// scheme verifies (the trust store is of type "ca"); notary.x509.signing
// Authority signatures fail authenticity. No plugin manager is given, so a
// signature that asks for a verification plugin is inconclusive. The
// revocation validators notation-go would otherwise build (with HTTP
// clients) are replaced by ones that refuse, so no code path reaches the
// network.
type notationVerifier struct {
	// verifier is nil when the project has no certificates.
	verifier notation.Verifier
}

func newNotationVerifier(pems []string) (*notationVerifier, error) {
	if len(pems) > MaxPolicyEntries {
		return nil, errdefs.Invalidf("%d Notation certificate entries, more than the %d allowed", len(pems), MaxPolicyEntries)
	}
	var certs memoryTrustStore
	for i, p := range pems {
		cs, err := parseCertificates(p)
		if err != nil {
			return nil, errdefs.Invalidf("Notation certificate entry %d: %v", i+1, err)
		}
		// The rule `notation cert add` applies to a trust store of type ca.
		if err := truststore.ValidateCertificates(cs); err != nil {
			return nil, errdefs.Invalidf("Notation certificate entry %d: %v", i+1, err)
		}
		certs = append(certs, cs...)
	}
	if len(certs) == 0 {
		return &notationVerifier{}, nil
	}
	policy := &trustpolicy.Document{
		Version: "1.0",
		TrustPolicies: []trustpolicy.TrustPolicy{{
			Name:           "berth",
			RegistryScopes: []string{"*"},
			SignatureVerification: trustpolicy.SignatureVerification{
				VerificationLevel: trustpolicy.LevelStrict.Name,
				Override: map[trustpolicy.ValidationType]trustpolicy.ValidationAction{
					trustpolicy.TypeRevocation: trustpolicy.ActionSkip,
				},
			},
			TrustStores:       []string{string(truststore.TypeCA) + ":" + notationTrustStore},
			TrustedIdentities: []string{"*"},
		}},
	}
	v, err := verifier.NewWithOptions(policy, certs, nil, verifier.VerifierOptions{
		RevocationCodeSigningValidator:  offlineRevocation{},
		RevocationTimestampingValidator: offlineRevocation{},
	})
	if err != nil {
		return nil, fmt.Errorf("building the Notation verifier: %w", err)
	}
	return &notationVerifier{verifier: v}, nil
}

// memoryTrustStore is the trust store "ca:berth": the project's
// certificates.
type memoryTrustStore []*x509.Certificate

// GetCertificates implements truststore.X509TrustStore.
func (s memoryTrustStore) GetCertificates(_ context.Context, t truststore.Type, name string) ([]*x509.Certificate, error) {
	if t != truststore.TypeCA || name != notationTrustStore {
		return nil, truststore.TrustStoreError{Msg: fmt.Sprintf("no trust store %q of type %q", name, t)}
	}
	return slices.Clone(s), nil
}

// offlineRevocation refuses to check revocation: berth verifies offline.
type offlineRevocation struct{}

// ValidateContext implements revocation.Validator.
func (offlineRevocation) ValidateContext(context.Context, revocation.ValidateContextOptions) ([]*result.CertRevocationResult, error) {
	return nil, errors.New("revocation is not checked: berth verifies signatures offline")
}

// verifyNotation verifies subject's Notation signatures, at most max.
func (v *Verifier) verifyNotation(ctx context.Context, store Store, subject ocispec.Descriptor, max int) ([]Signature, error) {
	if max <= 0 {
		return nil, nil
	}
	refs, err := store.Referrers(ctx, subject.Digest, NotationArtifactType)
	if err != nil {
		return nil, fmt.Errorf("listing the Notation referrers of %s: %w", subject.Digest, err)
	}
	var out []Signature
	for _, r := range refs[:min(len(refs), max)] {
		signer, reason, err := v.verifyNotationManifest(ctx, store, subject, r)
		if err != nil {
			return nil, err
		}
		out = append(out, Signature{Kind: Notation, Digest: r.Digest, Verified: reason == "", Signer: signer, Error: reason})
	}
	return out, nil
}

// verifyNotationManifest verifies the signature in one Notation signature
// manifest and returns the subject of its signing certificate, or the
// reason it does not verify; err is a store failure.
func (v *Verifier) verifyNotationManifest(ctx context.Context, store Store, subject, desc ocispec.Descriptor) (signer, reason string, err error) {
	if v.notation.verifier == nil {
		return "", "the project has no Notation certificate to verify it with", nil
	}
	raw, reason, err := readManifest(ctx, store, desc.Digest, desc.Size)
	if err != nil || reason != "" {
		return "", reason, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Sprintf("parsing signature manifest: %v", err), nil
	}
	if t := cmp.Or(m.ArtifactType, m.Config.MediaType); t != NotationArtifactType {
		return "", fmt.Sprintf("the signature manifest's artifact type is %q, not %q", t, NotationArtifactType), nil
	}
	if m.Subject == nil || m.Subject.Digest != subject.Digest {
		return "", "the signature manifest's subject is not this artifact", nil
	}
	if len(m.Layers) != 1 {
		return "", fmt.Sprintf("the signature manifest has %d layers, not one", len(m.Layers)), nil
	}
	envelope := m.Layers[0]
	if envelope.MediaType != notationJWS && envelope.MediaType != notationCOSE {
		return "", fmt.Sprintf("the signature envelope's media type is %q, not %q or %q", envelope.MediaType, notationJWS, notationCOSE), nil
	}
	body, reason, err := readBlob(ctx, store, "signature envelope", envelope)
	if err != nil || reason != "" {
		return "", reason, err
	}

	// notation-go checks the envelope against the trust policy and that
	// its payload names subject's exact descriptor.
	outcome, err := v.notation.verifier.Verify(ctx, subject, body, notation.VerifierVerifyOptions{
		ArtifactReference:  notationReference + subject.Digest.String(),
		SignatureMediaType: envelope.MediaType,
	})
	if err != nil {
		return "", clip(err.Error(), maxReasonLength), nil
	}
	if outcome == nil || outcome.EnvelopeContent == nil || len(outcome.EnvelopeContent.SignerInfo.CertificateChain) == 0 {
		return "", "notation-go verified the signature but returned no certificate chain", nil
	}
	return outcome.EnvelopeContent.SignerInfo.CertificateChain[0].Subject.String(), "", nil
}

// clip shortens s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
