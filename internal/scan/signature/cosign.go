package signature

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/signature/payload"
)

// cosign's storage conventions (its pkg/oci): a signature manifest holds one layer per signature,
// the layer is the signed simple-signing payload and the signature is in
// its annotation.
const (
	// CosignArtifactType is the artifactType of a cosign signature pushed
	// as a referrer (`--registry-referrers-mode=oci-1-1`).
	CosignArtifactType = "application/vnd.dev.cosign.artifact.sig.v1+json"
	// cosignPayloadType is the media type of a signature layer.
	cosignPayloadType = "application/vnd.dev.cosign.simplesigning.v1+json"
	// cosignSignatureAnnotation holds a layer's base64 signature.
	cosignSignatureAnnotation = "dev.cosignproject.cosign/signature"
	// cosignCertificateAnnotation holds the signing certificate of a
	// keyless (Fulcio) signature.
	cosignCertificateAnnotation = "dev.sigstore.cosign/certificate"
	// maxCosignSignatureSize bounds a decoded signature (RSA 4096 makes
	// 512 bytes).
	maxCosignSignatureSize = 4 << 10
)

// CosignTag is the tag cosign stores the signatures of subject under in
// its repository: "sha256-<hex>.sig".
func CosignTag(subject digest.Digest) string {
	return strings.Replace(subject.String(), ":", "-", 1) + ".sig"
}

// verifyCosign finds subject's cosign signature manifests (the .sig tag,
// then referrers) and verifies each layer of each, reporting at most max.
func (v *Verifier) verifyCosign(ctx context.Context, store Store, subject ocispec.Descriptor, max int) ([]Signature, error) {
	var manifests []ocispec.Descriptor
	tagged, ok, err := store.Tag(ctx, CosignTag(subject.Digest))
	if err != nil {
		return nil, fmt.Errorf("resolving tag %s: %w", CosignTag(subject.Digest), err)
	}
	if ok {
		manifests = append(manifests, ocispec.Descriptor{Digest: tagged, Size: -1})
	}
	refs, err := store.Referrers(ctx, subject.Digest, CosignArtifactType)
	if err != nil {
		return nil, fmt.Errorf("listing the cosign referrers of %s: %w", subject.Digest, err)
	}
	for _, r := range refs {
		if !ok || r.Digest != tagged {
			manifests = append(manifests, r)
		}
	}

	var out []Signature
	for _, m := range manifests {
		if len(out) >= max {
			break
		}
		sigs, err := v.verifyCosignManifest(ctx, store, subject, m, max-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, sigs...)
	}
	return out, nil
}

// verifyCosignManifest verifies the signatures in one cosign signature
// manifest, one per simple-signing layer, at most max of them.
func (v *Verifier) verifyCosignManifest(ctx context.Context, store Store, subject, desc ocispec.Descriptor, max int) ([]Signature, error) {
	failed := func(reason string) []Signature {
		return []Signature{{Kind: Cosign, Digest: desc.Digest, Error: reason}}
	}
	raw, reason, err := readManifest(ctx, store, desc.Digest, desc.Size)
	if err != nil {
		return nil, err
	}
	if reason != "" {
		return failed(reason), nil
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return failed(fmt.Sprintf("parsing signature manifest: %v", err)), nil
	}
	var out []Signature
	for _, l := range m.Layers {
		if l.MediaType != cosignPayloadType {
			continue
		}
		if len(out) == max {
			break
		}
		signer, reason, err := v.verifyCosignLayer(ctx, store, subject, l)
		if err != nil {
			return nil, err
		}
		out = append(out, Signature{Kind: Cosign, Digest: desc.Digest, Verified: reason == "", Signer: signer, Error: reason})
	}
	if len(out) == 0 {
		return failed("the signature manifest has no " + cosignPayloadType + " layer"), nil
	}
	return out, nil
}

// verifyCosignLayer verifies the signature of one layer and returns the
// fingerprint of the key that made it, or the reason it does not verify;
// err is a store failure. The signature must verify over the payload with
// one of the project's keys, and the payload must be a cosign signature
// payload naming subject's digest: nothing else binds a cosign signature
// to its image.
func (v *Verifier) verifyCosignLayer(ctx context.Context, store Store, subject, layer ocispec.Descriptor) (signer, reason string, err error) {
	b64, ok := layer.Annotations[cosignSignatureAnnotation]
	if !ok || b64 == "" {
		return "", fmt.Sprintf("the layer has no %s annotation", cosignSignatureAnnotation), nil
	}
	if base64.StdEncoding.DecodedLen(len(b64)) > maxCosignSignatureSize {
		return "", fmt.Sprintf("the signature is over the %d-byte limit", maxCosignSignatureSize), nil
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Sprintf("decoding the base64 signature: %v", err), nil
	}
	if len(v.keys) == 0 {
		return "", "the project has no cosign public key to verify it with", nil
	}
	body, reason, err := readBlob(ctx, store, "signed payload", layer)
	if err != nil || reason != "" {
		return "", reason, err
	}

	for _, k := range v.keys {
		for _, kv := range k.verifiers {
			if kv.VerifySignature(bytes.NewReader(sig), bytes.NewReader(body)) == nil {
				signer = k.fingerprint
				break
			}
		}
		if signer != "" {
			break
		}
	}
	if signer == "" {
		if _, keyless := layer.Annotations[cosignCertificateAnnotation]; keyless {
			return "", "a keyless (certificate) signature, which berth does not verify; sign with a key the project trusts", nil
		}
		return "", fmt.Sprintf("the signature does not verify with any of the project's %d cosign public keys", len(v.keys)), nil
	}

	var p payload.SimpleContainerImage
	if err := json.Unmarshal(body, &p); err != nil {
		return "", fmt.Sprintf("parsing the signed payload: %v", err), nil
	}
	if p.Critical.Type != payload.CosignSignatureType {
		return "", fmt.Sprintf("the signed payload is of type %q, not %q", p.Critical.Type, payload.CosignSignatureType), nil
	}
	if got := p.Critical.Image.DockerManifestDigest; got != subject.Digest.String() {
		return "", fmt.Sprintf("key %s signed image %s, not this one", signer, got), nil
	}
	return signer, "", nil
}
