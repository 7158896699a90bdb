// Package signature finds the cosign and Notation signatures stored in berth
// for an artifact and verifies them against a project's policy: the cosign
// public keys and the Notation trust store (certificates) the project
// configured. It backs a project's "require signed images" rule and the
// per-artifact signature status.
//
// Verification is offline. cosign signatures are checked with the
// project's keys only (as `cosign verify --key k --insecure-ignore-tlog`
// would): no Rekor transparency log, no Fulcio certificate. Notation
// signatures are checked by notation-go's verifier with no revocation
// check (OCSP and CRL need the network) and no timestamp authority; the
// signing certificate chain must be valid now.
//
// The package reads signatures through a Store, which the registry
// implements over one repository; it never writes.
package signature

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/errdefs"
)

// Bounds of what one verification reads.
const (
	// MaxSignatures is how many signatures Verify reports for one
	// artifact; signature artifacts past it are not read.
	MaxSignatures = 32
	// MaxManifestSize bounds a signature artifact's manifest.
	MaxManifestSize = 1 << 20
	// MaxBlobSize bounds a cosign payload or a Notation envelope.
	MaxBlobSize = 1 << 20
)

// Kind is the signature format, named as the GraphQL SignatureKind enum.
type Kind string

// The signature formats berth verifies.
const (
	Cosign   Kind = "COSIGN"
	Notation Kind = "NOTATION"
)

// Signature is one signature found for an artifact and its verification
// result.
type Signature struct {
	Kind Kind
	// Digest is the digest of the signature artifact's manifest (a cosign
	// `.sig` manifest may hold several signatures, one per layer).
	Digest digest.Digest
	// Verified is true when the signature is valid under the policy and
	// signs this very artifact.
	Verified bool
	// Signer names who signed, set only when Verified: for cosign the
	// fingerprint of the project key that verified it ("sha256:<hex>" of
	// the DER public key, see KeyFingerprint), for Notation the subject of
	// the signing (leaf) certificate.
	Signer string
	// Error says why the signature is not verified; empty when it is.
	Error string
}

// Verified reports whether any of sigs is verified: what "require signed
// images" asks of an artifact.
func Verified(sigs []Signature) bool {
	for _, s := range sigs {
		if s.Verified {
			return true
		}
	}
	return false
}

// Store reads the signature artifacts of one repository: the one the
// subject artifact is in. A missing manifest, blob or tag is reported
// with an error wrapping errdefs.ErrNotFound; any other error stops
// verification.
type Store interface {
	// Referrers lists the manifests whose subject is subject, only those
	// of artifactType (their artifactType, else their config media type).
	Referrers(ctx context.Context, subject digest.Digest, artifactType string) ([]ocispec.Descriptor, error)
	// Tag resolves a tag to the digest of its manifest; ok is false when
	// the tag does not exist.
	Tag(ctx context.Context, name string) (d digest.Digest, ok bool, err error)
	// Manifest returns the bytes of the manifest with digest d. The
	// package rejects one over MaxManifestSize.
	Manifest(ctx context.Context, d digest.Digest) ([]byte, error)
	// Blob returns the bytes of blob d, or an error wrapping
	// errdefs.ErrTooLarge when it is over max bytes.
	Blob(ctx context.Context, d digest.Digest, max int64) ([]byte, error)
}

// Verifier verifies signatures against one project's policy. It is safe
// for concurrent use.
type Verifier struct {
	keys     []cosignKey
	notation *notationVerifier
}

// NewVerifier parses and checks policy; see Policy for what it accepts.
// The error for a bad policy wraps errdefs.ErrInvalid and names the bad
// entry ("cosign public key 2: is a private key; ...").
func NewVerifier(policy Policy) (*Verifier, error) {
	keys, err := parseCosignKeys(policy.CosignPublicKeys)
	if err != nil {
		return nil, err
	}
	nv, err := newNotationVerifier(policy.NotationCertificates)
	if err != nil {
		return nil, err
	}
	return &Verifier{keys: keys, notation: nv}, nil
}

// ValidatePolicy reports whether NewVerifier accepts policy, for checking
// a project's settings when they are saved.
func ValidatePolicy(policy Policy) error {
	_, err := NewVerifier(policy)
	return err
}

// Verify finds the signatures of subject in store and verifies each:
// cosign signatures under the tag "<alg>-<hex>.sig" and as referrers
// (cosign's OCI 1.1 mode), Notation signatures as referrers. subject must
// be the artifact's exact descriptor (digest, media type and size), as a
// Notation signature signs all three. The result is empty for an unsigned
// artifact and holds at most MaxSignatures entries. A signature that
// cannot be read or does not verify is reported with its reason; only a
// failing store or ctx makes Verify return an error.
func (v *Verifier) Verify(ctx context.Context, store Store, subject ocispec.Descriptor) ([]Signature, error) {
	if err := subject.Digest.Validate(); err != nil {
		return nil, errdefs.Invalidf("subject digest %q: %v", subject.Digest, err)
	}
	var out []Signature
	sigs, err := v.verifyCosign(ctx, store, subject, MaxSignatures)
	if err != nil {
		return nil, err
	}
	out = append(out, sigs...)
	sigs, err = v.verifyNotation(ctx, store, subject, MaxSignatures-len(out))
	if err != nil {
		return nil, err
	}
	return append(out, sigs...), nil
}

// unreadable is the reason a signature artifact that is missing or broken
// in store is not verified, or err when the store itself failed.
func unreadable(what string, d digest.Digest, err error) (string, error) {
	if errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrTooLarge) || errors.Is(err, errdefs.ErrInvalid) {
		return fmt.Sprintf("reading %s %s: %v", what, d, err), nil
	}
	return "", fmt.Errorf("reading %s %s: %w", what, d, err)
}

// readManifest reads manifest d from store, checking its size and digest.
// A problem with the manifest is returned as reason; err is a store
// failure.
func readManifest(ctx context.Context, store Store, d digest.Digest, size int64) (raw []byte, reason string, err error) {
	if err := d.Validate(); err != nil {
		return nil, fmt.Sprintf("manifest digest %q: %v", d, err), nil
	}
	if size > MaxManifestSize {
		return nil, fmt.Sprintf("manifest %s is %d bytes, over the %d-byte limit", d, size, MaxManifestSize), nil
	}
	raw, err = store.Manifest(ctx, d)
	if err != nil {
		reason, err = unreadable("manifest", d, err)
		return nil, reason, err
	}
	if len(raw) > MaxManifestSize {
		return nil, fmt.Sprintf("manifest %s is %d bytes, over the %d-byte limit", d, len(raw), MaxManifestSize), nil
	}
	if got := d.Algorithm().FromBytes(raw); got != d {
		return nil, fmt.Sprintf("manifest %s read back as %s", d, got), nil
	}
	return raw, "", nil
}

// readBlob reads blob desc from store, checking its size and digest, as
// readManifest does.
func readBlob(ctx context.Context, store Store, what string, desc ocispec.Descriptor) (raw []byte, reason string, err error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Sprintf("%s digest %q: %v", what, desc.Digest, err), nil
	}
	if desc.Size > MaxBlobSize {
		return nil, fmt.Sprintf("%s %s is %d bytes, over the %d-byte limit", what, desc.Digest, desc.Size, MaxBlobSize), nil
	}
	raw, err = store.Blob(ctx, desc.Digest, MaxBlobSize)
	if err != nil {
		reason, err = unreadable(what, desc.Digest, err)
		return nil, reason, err
	}
	if len(raw) > MaxBlobSize {
		return nil, fmt.Sprintf("%s %s is %d bytes, over the %d-byte limit", what, desc.Digest, len(raw), MaxBlobSize), nil
	}
	if got := desc.Digest.Algorithm().FromBytes(raw); got != desc.Digest {
		return nil, fmt.Sprintf("%s %s read back as %s", what, desc.Digest, got), nil
	}
	return raw, "", nil
}
