package pullpolicy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/tag"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/scan/signature"
	"github.com/berth-registry/berth/internal/viewer"
)

// BlobReader reads blobs from berth's blob store (storage.Blobs).
type BlobReader interface {
	Open(ctx context.Context, dgst digest.Digest, offset int64) (io.ReadCloser, error)
}

// Signatures finds the cosign and Notation signatures of artifact a (of
// project p) and verifies them against p's keys and certificates; with
// none configured, every signature is reported unverified. The caller
// has already been allowed to read a.
func (s *Service) Signatures(ctx context.Context, p *ent.Project, a *ent.Artifact) ([]signature.Signature, error) {
	if s.blobs == nil {
		return nil, fmt.Errorf("signatures cannot be read: no blob store")
	}
	v, err := s.verifier(p)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	raw := a.Manifest
	if len(raw) == 0 {
		full, err := s.client.Artifact.Query().Where(artifact.ID(a.ID)).Select(artifact.FieldManifest).Only(sys)
		if err != nil {
			return nil, err
		}
		raw = full.Manifest
	}
	subject := ocispec.Descriptor{MediaType: a.MediaType, Digest: digest.Digest(a.Digest), Size: int64(len(raw))}
	return v.Verify(sys, repoStore{client: s.client, blobs: s.blobs, repoID: a.RepositoryID}, subject)
}

// maxSignedParents bounds the indexes checked for an image's signature.
const maxSignedParents = 8

// checkSignatures is the "require signed images" policy: nil when a
// signature of a verifies with p's keys or certificates.
func (s *Service) checkSignatures(ctx context.Context, p *ent.Project, a *ent.Artifact) error {
	sigs, err := s.Signatures(ctx, p, a)
	if err != nil {
		return err
	}
	if signature.Verified(sigs) {
		return nil
	}
	// cosign and Notation sign an image index, not each of its images
	// (unless told to): a client pulls the index, then an image by digest,
	// so an image listed by a verified index counts as signed.
	parents, err := s.client.Artifact.Query().
		Where(artifact.HasChildrenWith(artifact.ID(a.ID)), artifact.RepositoryID(a.RepositoryID)).
		Limit(maxSignedParents).All(viewer.SystemContext(ctx))
	if err != nil {
		return err
	}
	for _, parent := range parents {
		psigs, err := s.Signatures(ctx, p, parent)
		if err != nil {
			return err
		}
		if signature.Verified(psigs) {
			return nil
		}
	}
	if len(sigs) == 0 {
		return fmt.Errorf("it has no cosign or Notation signature")
	}
	reasons := make([]string, 0, len(sigs))
	for _, sig := range sigs {
		reasons = append(reasons, fmt.Sprintf("%s signature %s: %s", strings.ToLower(string(sig.Kind)), sig.Digest, sig.Error))
		if len(reasons) == 3 {
			break
		}
	}
	return fmt.Errorf("none of its %d signatures verifies with the project's keys or certificates (%s)", len(sigs), strings.Join(reasons, "; "))
}

// verifiers keeps each policy's parsed verifier, keyed by a digest of its
// keys and certificates: a setting change is a new key.
type verifiers struct {
	mu sync.Mutex
	m  map[string]*signature.Verifier
}

func (s *Service) verifier(p *ent.Project) (*signature.Verifier, error) {
	h := sha256.New()
	for _, k := range p.CosignPublicKeys {
		fmt.Fprintf(h, "k%d:%s", len(k), k)
	}
	for _, c := range p.NotationCertificates {
		fmt.Fprintf(h, "c%d:%s", len(c), c)
	}
	key := hex.EncodeToString(h.Sum(nil))
	s.verifiers.mu.Lock()
	defer s.verifiers.mu.Unlock()
	if v, ok := s.verifiers.m[key]; ok {
		return v, nil
	}
	v, err := signature.NewVerifier(signature.Policy{CosignPublicKeys: p.CosignPublicKeys, NotationCertificates: p.NotationCertificates})
	if err != nil {
		return nil, fmt.Errorf("project %s's signature settings: %w", p.Name, err)
	}
	if s.verifiers.m == nil || len(s.verifiers.m) >= 256 {
		s.verifiers.m = map[string]*signature.Verifier{}
	}
	s.verifiers.m[key] = v
	return v, nil
}

// repoStore reads the signature artifacts of one repository for
// signature.Verify, as berth itself.
type repoStore struct {
	client *ent.Client
	blobs  BlobReader
	repoID int
}

func (r repoStore) Referrers(ctx context.Context, subject digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	rows, err := r.client.Artifact.Query().
		Where(artifact.RepositoryID(r.repoID), artifact.SubjectDigest(subject.String()), artifact.OciArtifactType(artifactType)).
		Order(ent.Desc(artifact.FieldPushedAt), ent.Asc(artifact.FieldID)).Limit(signature.MaxSignatures).
		Select(artifact.FieldDigest, artifact.FieldMediaType, artifact.FieldManifest).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ocispec.Descriptor, len(rows))
	for i, a := range rows {
		out[i] = ocispec.Descriptor{MediaType: a.MediaType, Digest: digest.Digest(a.Digest), Size: int64(len(a.Manifest)), ArtifactType: artifactType}
	}
	return out, nil
}

func (r repoStore) Tag(ctx context.Context, name string) (digest.Digest, bool, error) {
	a, err := r.client.Artifact.Query().
		Where(artifact.HasTagsWith(tag.RepositoryID(r.repoID), tag.Name(name))).
		Select(artifact.FieldDigest).Only(ctx)
	if ent.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return digest.Digest(a.Digest), true, nil
}

func (r repoStore) Manifest(ctx context.Context, d digest.Digest) ([]byte, error) {
	a, err := r.client.Artifact.Query().Where(artifact.RepositoryID(r.repoID), artifact.Digest(d.String())).
		Select(artifact.FieldManifest).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errdefs.NotFoundf("manifest %s not found", d)
	}
	if err != nil {
		return nil, err
	}
	return a.Manifest, nil
}

func (r repoStore) Blob(ctx context.Context, d digest.Digest, max int64) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, errdefs.Invalidf("blob digest %q: %v", d, err)
	}
	rc, err := r.blobs.Open(ctx, d, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, errdefs.TooLargef("blob %s is larger than %d bytes", d, max)
	}
	if d.Algorithm().FromBytes(b) != d {
		return nil, fmt.Errorf("blob %s does not match its digest", d)
	}
	return b, nil
}

// ArtifactSignatures is Signatures for an artifact the caller has read:
// none for what is not an image or an index.
func (s *Service) ArtifactSignatures(ctx context.Context, a *ent.Artifact) ([]signature.Signature, error) {
	if a.ArtifactType != artifact.ArtifactTypeIMAGE && a.ArtifactType != artifact.ArtifactTypeIMAGE_INDEX {
		return []signature.Signature{}, nil
	}
	p, err := s.client.Project.Query().
		Where(project.HasRepositoriesWith(repository.ID(a.RepositoryID))).Only(viewer.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	sigs, err := s.Signatures(ctx, p, a)
	if sigs == nil && err == nil {
		sigs = []signature.Signature{}
	}
	return sigs, err
}
