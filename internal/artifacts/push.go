package artifacts

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/blob"
	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/ent/repositoryblob"
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
	p, err := checkManifest(contentType, reference, raw, tags)
	if err != nil {
		return nil, err
	}
	dgst, m := p.dgst, p.m
	var a *ent.Artifact
	for attempt := 0; ; attempt++ {
		a, err = s.storeManifest(ctx, r, p)
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

func (s *Service) storeManifest(ctx context.Context, r *Repo, p *manifestPush) (a *ent.Artifact, err error) {
	err = s.write(ctx, r.Project.ID, func(w *writeTx) (err error) {
		a, err = w.putManifest(s, r, p.dgst, p.raw, p.m, p.size, p.tags)
		return err
	})
	return a, err
}

// manifestPush is a manifest read, checked and parsed, ready to store.
type manifestPush struct {
	dgst digest.Digest
	raw  []byte
	m    *Manifest
	size int64
	// tags includes the reference when it is a tag.
	tags []string
}

// checkManifest checks manifest raw, pushed under reference (a tag or a
// digest) with content type contentType and extra tags: its size, its
// digest against a digest reference, the tags' syntax, and the manifest
// itself.
func checkManifest(contentType, reference string, raw []byte, tags []string) (*manifestPush, error) {
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
	size, err := manifestSize(raw, m)
	if err != nil {
		return nil, err
	}
	return &manifestPush{dgst: dgst, raw: raw, m: m, size: size, tags: tags}, nil
}

// manifestSize is the size of an artifact: its manifest, config and layers
// (foreign ones too: they are part of the image a client pulls).
func manifestSize(raw []byte, m *Manifest) (int64, error) {
	size := int64(len(raw))
	var err error
	if m.Config != nil {
		if size, err = addSize(size, m.Config.Size); err != nil {
			return 0, err
		}
	}
	for _, l := range m.Layers {
		if size, err = addSize(size, l.Size); err != nil {
			return 0, err
		}
	}
	return size, nil
}

// putManifest records manifest raw (parsed as m, of size bytes with its
// blobs) as artifact dgst of repository r, tagged with tags.
func (w *writeTx) putManifest(s *Service, r *Repo, dgst digest.Digest, raw []byte, m *Manifest, size int64, tags []string) (*ent.Artifact, error) {
	ctx, client := w.ctx, w.client
	sys := viewer.SystemContext(ctx)
	allow := auth.Allow(ctx)
	repo, err := s.ensureRepository(ctx, client, r)
	if err != nil {
		return nil, err
	}
	// Blobs: config and layers must be linked here, or readable elsewhere
	// (then they are linked here too).
	var refIDs []int
	if ds := blobDigests(m); len(ds) > 0 {
		known, err := client.Blob.Query().Where(blob.DigestIn(ds...), blob.SweepingAtIsNil()).
			Select(blob.FieldID, blob.FieldDigest).
			WithLinks(func(q *ent.RepositoryBlobQuery) { q.Where(repositoryblob.RepositoryID(repo.ID)) }).
			All(sys)
		if err != nil {
			return nil, err
		}
		byDigest := make(map[string]*ent.Blob, len(known))
		linked := map[int]bool{}
		for _, b := range known {
			byDigest[b.Digest] = b
			linked[b.ID] = len(b.Edges.Links) > 0
		}
		for _, d := range ds {
			b := byDigest[d]
			if b == nil {
				return nil, coded(ErrManifestBlobUnknown, errdefs.Invalidf, "blob %s referenced by the manifest is not in repository %q: push it first", d, r.Name)
			}
			refIDs = append(refIDs, b.ID)
			if linked[b.ID] {
				continue
			}
			if _, ok, err := s.readableBlob(ctx, digest.Digest(d)); err != nil {
				return nil, err
			} else if !ok {
				return nil, coded(ErrManifestBlobUnknown, errdefs.Invalidf, "blob %s referenced by the manifest is not in repository %q: push it first", d, r.Name)
			}
			if err := w.link(repo.ID, b.ID); err != nil {
				return nil, err
			}
			linked[b.ID] = true
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
			Where(artifact.RepositoryID(repo.ID), artifact.DigestIn(ds...)).
			Select(artifact.FieldID, artifact.FieldDigest, artifact.FieldSize).All(sys)
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
			if !slices.Contains(childIDs, c.ID) {
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
		w.delta += int64(len(raw))
	case err != nil:
		return nil, err
	default:
		if a, err = a.Update().SetPushedAt(now).Save(allow); err != nil {
			return nil, err
		}
	}
	if err := w.referenced(a.ID, refIDs); err != nil {
		return nil, err
	}
	for _, t := range tags {
		if _, err := w.tag(r.Name, repo.ID, a.ID, t); err != nil {
			return nil, err
		}
	}
	if err := client.Repository.UpdateOneID(repo.ID).SetPushedAt(now).Exec(allow); err != nil {
		return nil, err
	}
	w.record(change.OperationARTIFACT_PUSHED, r.Project.Name, r.Name, dgst.String(), m.MediaType, tags, size)
	return a, nil
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
