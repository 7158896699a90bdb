package artifacts

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/blob"
	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/ent/repositoryblob"
	"github.com/berth-registry/berth/internal/audit"
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
	defer func() {
		if err != nil { // a push that succeeded recorded its entry as it committed
			s.record(ctx, "push", name, reference, err)
		}
	}()
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
		a, err = s.storeManifest(ctx, r, p, auditEntry("push", name, reference, nil))
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

// storeManifest stores p in repository r, with the audit entry e of its
// push.
func (s *Service) storeManifest(ctx context.Context, r *Repo, p *manifestPush, e audit.Entry) (a *ent.Artifact, err error) {
	err = s.push(ctx, r, func(w *writeTx) error {
		as, err := w.putManifests(s, r, []*manifestPush{p})
		if err != nil {
			return err
		}
		a = as[0]
		w.entry = &e
		return nil
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

// putManifests records the manifests ps as artifacts of repository r, in
// order, as one change: a manifest pushed alone is a batch of one, and the
// bulk loader's batches cost a fixed number of statements, not a number
// per manifest. Each manifest's blobs must be linked in the repository or
// readable elsewhere (then they are linked here too); an index's children
// must be stored in the repository. A digest pushed again (or twice in the
// batch) keeps its row and has its push time renewed; a tag named twice
// ends on the last manifest that names it.
func (w *writeTx) putManifests(s *Service, r *Repo, ps []*manifestPush) ([]*ent.Artifact, error) {
	ctx, client := w.ctx, w.client
	sys := viewer.SystemContext(ctx)
	allow := auth.Allow(ctx)
	repo, err := s.ensureRepository(w, r)
	if err != nil {
		return nil, err
	}
	refs, err := w.manifestBlobs(r, repo.ID, ps)
	if err != nil {
		return nil, err
	}
	children := make([][]int, len(ps))
	sizes := make([]int64, len(ps))
	for i, p := range ps {
		if sizes[i], children[i], err = w.indexChildren(r, repo.ID, p); err != nil {
			return nil, err
		}
	}

	now := time.Now()
	digests := make([]string, len(ps))
	for i, p := range ps {
		digests[i] = p.dgst.String()
	}
	existing, err := client.Artifact.Query().Where(artifact.RepositoryID(repo.ID), artifact.DigestIn(digests...)).All(sys)
	if err != nil {
		return nil, err
	}
	byDigest := make(map[string]*ent.Artifact, len(ps))
	var renewed []int
	for _, a := range existing {
		byDigest[a.Digest] = a
		renewed = append(renewed, a.ID)
	}
	var creates []*ent.ArtifactCreate
	creating := map[string]bool{}
	for i, p := range ps {
		d := digests[i]
		if byDigest[d] != nil || creating[d] {
			continue
		}
		creating[d] = true
		c := client.Artifact.Create().
			SetRepositoryID(repo.ID).
			SetDigest(d).
			SetMediaType(p.m.MediaType).
			SetArtifactType(p.m.Kind).
			SetOciArtifactType(p.m.ArtifactType).
			SetSize(sizes[i]).
			SetManifest(p.raw).
			SetPushedAt(now).
			AddChildIDs(children[i]...)
		if len(p.m.Annotations) > 0 {
			c.SetAnnotations(p.m.Annotations)
		}
		if p.m.Subject != nil {
			c.SetSubjectDigest(p.m.Subject.Digest.String())
		}
		creates = append(creates, c)
		w.delta += int64(len(p.raw))
	}
	if len(creates) > 0 {
		as, err := client.Artifact.CreateBulk(creates...).Save(allow)
		if err != nil {
			return nil, wrapf(err, "recording %d artifacts", len(creates))
		}
		for _, a := range as {
			byDigest[a.Digest] = a
		}
	}
	if len(renewed) > 0 {
		if err := client.Artifact.Update().Where(artifact.IDIn(renewed...)).SetPushedAt(now).Exec(allow); err != nil {
			return nil, err
		}
	}

	out := make([]*ent.Artifact, len(ps))
	var all []artifactRefs
	tags := map[string]int{} // tag name -> artifact id, the last naming wins
	var order []string
	for i, p := range ps {
		a := byDigest[digests[i]]
		a.PushedAt = now
		out[i] = a
		all = append(all, artifactRefs{artifact: a.ID, blobs: refs[i]})
		for _, t := range p.tags {
			if _, ok := tags[t]; !ok {
				order = append(order, t)
			}
			tags[t] = a.ID
		}
	}
	if err := w.referenced(all...); err != nil {
		return nil, err
	}
	targets := make([]tagTarget, len(order))
	for i, t := range order {
		targets[i] = tagTarget{name: t, artifactID: tags[t]}
	}
	if err := w.tags(r.Name, repo.ID, targets); err != nil {
		return nil, err
	}
	if err := w.pushInto(repo.ID, int64(len(creates)), now); err != nil {
		return nil, err
	}
	for i, p := range ps {
		w.record(change.OperationARTIFACT_PUSHED, r.Project.Name, r.Name, digests[i], p.m.MediaType, p.tags, sizes[i])
	}
	return out, nil
}

// manifestBlobs returns, for each manifest of ps, the ids of the blobs it
// references: its config and layers must be linked in repository r
// (repoID), or readable elsewhere by the caller, and are then linked here.
func (w *writeTx) manifestBlobs(r *Repo, repoID int, ps []*manifestPush) ([][]int, error) {
	sys := viewer.SystemContext(w.ctx)
	var ds []string
	for _, p := range ps {
		ds = append(ds, blobDigests(p.m)...)
	}
	refs := make([][]int, len(ps))
	if len(ds) == 0 {
		return refs, nil
	}
	slices.Sort(ds)
	ds = slices.Compact(ds)
	// One query: each blob with whether the repository links it.
	var known []struct {
		ID     int    `json:"id"`
		Digest string `json:"digest"`
		Linked bool   `json:"linked"`
	}
	err := w.client.Blob.Query().Where(blob.DigestIn(ds...), blob.SweepingAtIsNil()).
		Modify(func(s *entsql.Selector) {
			links := entsql.Table(repositoryblob.Table)
			s.Select(s.C(blob.FieldID), s.C(blob.FieldDigest)).AppendSelectExprAs(
				entsql.Exists(entsql.Select(links.C(repositoryblob.FieldBlobID)).From(links).
					Where(entsql.And(entsql.ColumnsEQ(links.C(repositoryblob.FieldBlobID), s.C(blob.FieldID)),
						entsql.EQ(links.C(repositoryblob.FieldRepositoryID), repoID)))), "linked")
		}).Scan(sys, &known)
	if err != nil {
		return nil, err
	}
	byDigest := make(map[string]int, len(known))
	linked := map[int]bool{}
	for _, b := range known {
		byDigest[b.Digest] = b.ID
		linked[b.ID] = b.Linked
	}
	for i, p := range ps {
		for _, d := range blobDigests(p.m) {
			id, ok := byDigest[d]
			if !ok {
				return nil, coded(ErrManifestBlobUnknown, errdefs.Invalidf, "blob %s referenced by the manifest is not in repository %q: push it first", d, r.Name)
			}
			refs[i] = append(refs[i], id)
			if linked[id] {
				continue
			}
			if _, ok, err := readableBlob(w.ctx, w.client, digest.Digest(d)); err != nil {
				return nil, err
			} else if !ok {
				return nil, coded(ErrManifestBlobUnknown, errdefs.Invalidf, "blob %s referenced by the manifest is not in repository %q: push it first", d, r.Name)
			}
			if err := w.link(repoID, id); err != nil {
				return nil, err
			}
			linked[id] = true
		}
	}
	return refs, nil
}

// indexChildren returns the size of manifest p with its children, and the
// ids of its children (an index's manifests), which must be stored in
// repository r (repoID).
func (w *writeTx) indexChildren(r *Repo, repoID int, p *manifestPush) (int64, []int, error) {
	size := p.size
	if len(p.m.Manifests) == 0 {
		return size, nil, nil
	}
	ds := make([]string, len(p.m.Manifests))
	for i, c := range p.m.Manifests {
		ds[i] = c.Digest.String()
	}
	children, err := w.client.Artifact.Query().
		Where(artifact.RepositoryID(repoID), artifact.DigestIn(ds...)).
		Select(artifact.FieldID, artifact.FieldDigest, artifact.FieldSize).All(viewer.SystemContext(w.ctx))
	if err != nil {
		return 0, nil, err
	}
	found := map[string]*ent.Artifact{}
	for _, c := range children {
		found[c.Digest] = c
	}
	var ids []int
	for _, d := range ds {
		c := found[d]
		if c == nil {
			return 0, nil, coded(ErrManifestBlobUnknown, errdefs.Invalidf, "manifest %s listed by the index is not in repository %q: push it first", d, r.Name)
		}
		if !slices.Contains(ids, c.ID) {
			ids = append(ids, c.ID)
			if size, err = addSize(size, c.Size); err != nil {
				return 0, nil, err
			}
		}
	}
	return size, ids, nil
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
