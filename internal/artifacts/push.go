package artifacts

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/blob"
	"github.com/berth-registry/berth/ent/repositoryblob"
	"github.com/berth-registry/berth/ent/tag"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// PushResult describes a stored manifest.
type PushResult struct {
	Artifact *ent.Artifact
	// Digest is the canonical digest (the reference's algorithm when the
	// manifest was pushed by digest, sha256 otherwise).
	Digest digest.Digest
	// Subject is the digest of the manifest's subject, for OCI-Subject.
	Subject digest.Digest
}

// PutManifest stores a manifest pushed to repository name under reference
// (a tag or a digest), and tags it with each of tags as well. It reads at
// most MaxManifestSize bytes of body, verifies the digest, parses and
// validates the manifest, checks that its blobs are linked in the
// repository (or readable elsewhere, then links them) and that an index's
// children are stored there, and writes the repository, artifact, tags and
// blob links in one transaction.
func (s *Service) PutManifest(ctx context.Context, name, reference, contentType string, body io.Reader, tags []string) (res *PushResult, err error) {
	defer func() { s.record(ctx, "push", name, reference, err) }()
	r, err := s.Access(ctx, name, auth.RepositoryPush)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(body, MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	if len(raw) > MaxManifestSize {
		return nil, coded(ErrManifestTooLarge, errdefs.Invalidf, "manifest exceeds the %d-byte limit", MaxManifestSize)
	}
	var dgst digest.Digest
	if d, err := digest.Parse(reference); err == nil {
		if a := d.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
			return nil, digestInvalid("digest algorithm %s is not supported", a)
		}
		if actual := d.Algorithm().FromBytes(raw); actual != d {
			return nil, digestInvalid("manifest digest is %s, not %s", actual, d)
		}
		dgst = d
	} else if ValidTag(reference) {
		dgst = digest.SHA256.FromBytes(raw)
		tags = append([]string{reference}, tags...)
	} else if looksLikeDigest(reference) {
		return nil, digestInvalid("invalid digest %q", reference)
	} else {
		return nil, coded(ErrTagInvalid, errdefs.Invalidf, "invalid tag %q", reference)
	}
	for _, t := range tags {
		if !ValidTag(t) {
			return nil, coded(ErrTagInvalid, errdefs.Invalidf, "invalid tag %q", t)
		}
	}
	m, err := ParseManifest(contentType, raw)
	if err != nil {
		return nil, err
	}
	var a *ent.Artifact
	for attempt := 0; ; attempt++ {
		a, err = s.storeManifest(ctx, r, dgst, raw, m, tags)
		// Two pushes creating the same row race on a unique index; the
		// loser retries and finds the winner's row.
		if err == nil || !ent.IsConstraintError(err) || attempt == 2 {
			break
		}
		r.Repository = nil
	}
	if err != nil {
		return nil, err
	}
	res = &PushResult{Artifact: a, Digest: dgst}
	if m.Subject != nil {
		res.Subject = m.Subject.Digest
	}
	return res, nil
}

func looksLikeDigest(ref string) bool {
	for _, c := range ref {
		if c == ':' {
			return true
		}
	}
	return false
}

func (s *Service) storeManifest(ctx context.Context, r *Repo, dgst digest.Digest, raw []byte, m *Manifest, tags []string) (*ent.Artifact, error) {
	sys := viewer.SystemContext(ctx)
	allow := auth.Allow(ctx)
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	client := tx.Client()
	proj, err := lockProject(ctx, client, r.Project.ID)
	if err != nil {
		return nil, err
	}
	repo, err := s.ensureRepository(ctx, client, r)
	if err != nil {
		return nil, err
	}

	size := int64(len(raw))
	// Blobs: config and layers must be linked here, or readable elsewhere.
	var blobDigests []string
	var refIDs []int
	if m.Config != nil {
		blobDigests = append(blobDigests, m.Config.Digest.String())
		if size, err = addSize(size, m.Config.Size); err != nil {
			return nil, err
		}
	}
	for _, l := range m.Layers {
		if size, err = addSize(size, l.Size); err != nil {
			return nil, err
		}
		if !Foreign(l) {
			blobDigests = append(blobDigests, l.Digest.String())
		}
	}
	if len(blobDigests) > 0 {
		known, err := client.Blob.Query().Where(blob.DigestIn(blobDigests...)).All(sys)
		if err != nil {
			return nil, err
		}
		linked, err := client.Blob.Query().
			Where(blob.DigestIn(blobDigests...), blob.HasLinksWith(repositoryblob.RepositoryID(repo.ID))).
			Select(blob.FieldDigest).Strings(sys)
		if err != nil {
			return nil, err
		}
		isLinked := map[string]bool{}
		for _, d := range linked {
			isLinked[d] = true
		}
		byDigest := map[string]*ent.Blob{}
		for _, b := range known {
			byDigest[b.Digest] = b
		}
		for _, d := range blobDigests {
			if b := byDigest[d]; b != nil {
				refIDs = append(refIDs, b.ID)
			}
			if isLinked[d] {
				continue
			}
			b := byDigest[d]
			if b == nil {
				return nil, coded(ErrManifestBlobUnknown, errdefs.Invalidf, "blob %s referenced by the manifest is not in repository %q: push it first", d, r.Name)
			}
			if _, ok, err := s.readableBlob(ctx, digest.Digest(d)); err != nil {
				return nil, err
			} else if !ok {
				return nil, coded(ErrManifestBlobUnknown, errdefs.Invalidf, "blob %s referenced by the manifest is not in repository %q: push it first", d, r.Name)
			}
			if err := s.link(ctx, client, repo.ID, digest.Digest(d), b.Size); err != nil {
				return nil, err
			}
			isLinked[d] = true
		}
	}
	// Children of an index must be stored in the same repository.
	var childIDs []int
	if len(m.Manifests) > 0 {
		ds := make([]string, len(m.Manifests))
		for i, c := range m.Manifests {
			ds[i] = c.Digest.String()
		}
		children, err := client.Artifact.Query().
			Where(artifact.RepositoryID(repo.ID), artifact.DigestIn(ds...)).All(sys)
		if err != nil {
			return nil, err
		}
		found := map[string]*ent.Artifact{}
		for _, c := range children {
			found[c.Digest] = c
		}
		for _, d := range ds {
			c := found[d]
			if c == nil {
				return nil, coded(ErrManifestBlobUnknown, errdefs.Invalidf, "manifest %s listed by the index is not in repository %q: push it first", d, r.Name)
			}
			if !contains(childIDs, c.ID) {
				childIDs = append(childIDs, c.ID)
				if size, err = addSize(size, c.Size); err != nil {
					return nil, err
				}
			}
		}
	}

	now := time.Now()
	a, err := client.Artifact.Query().Where(artifact.RepositoryID(repo.ID), artifact.Digest(dgst.String())).Only(sys)
	switch {
	case ent.IsNotFound(err):
		c := client.Artifact.Create().
			SetRepositoryID(repo.ID).
			SetDigest(dgst.String()).
			SetMediaType(m.MediaType).
			SetArtifactType(m.Kind).
			SetOciArtifactType(m.ArtifactType).
			SetSize(size).
			SetManifest(raw).
			SetPushedAt(now).
			AddChildIDs(childIDs...)
		if len(m.Annotations) > 0 {
			c.SetAnnotations(m.Annotations)
		}
		if m.Subject != nil {
			c.SetSubjectDigest(m.Subject.Digest.String())
		}
		a, err = c.Save(allow)
		if err != nil {
			return nil, wrapf(err, "recording artifact %s", dgst)
		}
	case err != nil:
		return nil, err
	default:
		if a, err = a.Update().SetPushedAt(now).Save(allow); err != nil {
			return nil, err
		}
	}
	if err := referenceBlobs(ctx, client, a.ID, refIDs); err != nil {
		return nil, err
	}
	for _, t := range tags {
		err := client.Tag.Create().SetName(t).SetRepositoryID(repo.ID).SetArtifactID(a.ID).
			OnConflictColumns(tag.FieldRepositoryID, tag.FieldName).
			UpdateArtifactID().UpdateUpdatedAt().
			Exec(allow)
		if err != nil {
			return nil, wrapf(err, "tagging %s as %q", dgst, t)
		}
	}
	if err := client.Repository.UpdateOneID(repo.ID).SetPushedAt(now).Exec(allow); err != nil {
		return nil, err
	}
	used, err := refreshUsage(ctx, client, repo.ProjectID)
	if err != nil {
		return nil, err
	}
	if err := overQuota(proj, used); err != nil {
		return nil, err // rolled back: nothing of the push is kept
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return a, nil
}

func contains(ids []int, id int) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// addSize adds a descriptor's size to an artifact's total, refusing
// negative sizes and totals that would overflow int64 (no real artifact
// comes near; a crafted manifest could wrap the sum negative).
func addSize(total, size int64) (int64, error) {
	if size < 0 || total > math.MaxInt64-size {
		return 0, coded(ErrManifestInvalid, errdefs.Invalidf, "descriptor size %d is negative or makes the artifact's size overflow", size)
	}
	return total + size, nil
}
