package artifacts

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/blob"
	"github.com/berth-registry/berth/ent/repositoryblob"
	"github.com/berth-registry/berth/ent/tag"
	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// DeleteManifest serves DELETE /v2/<name>/manifests/<reference>: a digest
// deletes the artifact with all its tags, a tag deletes only the tag.
func (s *Service) DeleteManifest(ctx context.Context, name, reference string) (err error) {
	defer func() { s.record(ctx, "delete", name, reference, err) }()
	if _, err := digest.Parse(reference); err == nil {
		return s.DeleteArtifact(ctx, name, reference)
	}
	return s.DeleteTag(ctx, name, reference)
}

// RecordRefusal writes to the audit log that the caller was refused action
// on repository name before the request reached the service (a registry
// token without the scope).
func (s *Service) RecordRefusal(ctx context.Context, action auth.Action, name string, err error) {
	op := "delete"
	switch action {
	case auth.RepositoryPull:
		op = "pull"
	case auth.RepositoryPush:
		op = "push"
	}
	s.record(ctx, op, name, "", err)
}

// record writes a registry action to the audit log. Refusals of anonymous
// callers are left out: every client's first request is one.
func (s *Service) record(ctx context.Context, op, name, reference string, err error) {
	if s.audit == nil || (err != nil && errors.Is(err, errdefs.ErrUnauthenticated)) {
		return
	}
	e := audit.Entry{Operation: op, ResourceType: "artifact", Resource: name, Project: ProjectName(name), Result: audit.Success}
	switch {
	case strings.Contains(reference, ":"):
		e.Resource = name + "@" + reference
	case reference != "":
		e.Resource = name + ":" + reference
	}
	if err != nil {
		e.Result, e.Detail = audit.Failure, err.Error()
	}
	s.audit.Record(ctx, e)
}

// DeleteArtifact deletes the artifact that reference (a tag or a digest)
// names in repository name, with all its tags, its referrers (signatures,
// SBOMs, attestations: artifacts of the repository whose subject it is,
// and theirs in turn) and, for an index, the children nothing else keeps
// (no tag of their own, no other index listing them). Indexes that list a
// deleted artifact stay; blobs stay until garbage collection.
func (s *Service) DeleteArtifact(ctx context.Context, name, reference string) error {
	r, err := s.Access(ctx, name, auth.ArtifactDelete)
	if err != nil {
		return err
	}
	a, err := s.find(ctx, r, reference, artifact.FieldID, artifact.FieldDigest, artifact.FieldRepositoryID)
	if err != nil {
		return err
	}
	allow := auth.Allow(ctx)
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := lockProject(ctx, tx.Client(), r.Project.ID); err != nil {
		return err
	}
	ids, err := goingWith(ctx, tx.Client(), a)
	if err != nil {
		return err
	}
	if _, err := tx.Tag.Delete().Where(tag.ArtifactIDIn(ids...)).Exec(allow); err != nil {
		return err
	}
	n, err := tx.Artifact.Delete().Where(artifact.IDIn(ids...)).Exec(allow)
	if err != nil {
		return err
	}
	if n == 0 {
		return manifestUnknown(name, reference)
	}
	if err := RefreshUsage(ctx, tx.Client(), r.Project.ID); err != nil {
		return err
	}
	return tx.Commit()
}

// goingWith returns the ids of a and of the artifacts that go with it when
// it is deleted: its referrers, recursively, and the children of deleted
// indexes that are left untagged and unlisted. It reads through client,
// inside the deleting transaction.
func goingWith(ctx context.Context, client *ent.Client, a *ent.Artifact) ([]int, error) {
	sys := viewer.SystemContext(ctx)
	doomed := map[int]bool{a.ID: true}
	queue := []*ent.Artifact{a}
	var keptChildren []*ent.Artifact
	for len(queue) > 0 || len(keptChildren) > 0 {
		if len(queue) == 0 {
			// A child kept because another doomed index still listed it
			// may be free now: look again until nothing changes.
			again := keptChildren
			keptChildren = nil
			changed := false
			for _, c := range again {
				if doomed[c.ID] {
					continue
				}
				free, err := unkept(ctx, client, c, doomed)
				if err != nil {
					return nil, err
				}
				if free {
					doomed[c.ID], changed = true, true
					queue = append(queue, c)
				} else {
					keptChildren = append(keptChildren, c)
				}
			}
			if !changed {
				break
			}
			continue
		}
		x := queue[0]
		queue = queue[1:]
		referrers, err := client.Artifact.Query().
			Where(artifact.RepositoryID(x.RepositoryID), artifact.SubjectDigest(x.Digest)).
			Select(artifact.FieldID, artifact.FieldDigest, artifact.FieldRepositoryID).All(sys)
		if err != nil {
			return nil, err
		}
		for _, ref := range referrers {
			if !doomed[ref.ID] {
				doomed[ref.ID] = true
				queue = append(queue, ref)
			}
		}
		children, err := client.Artifact.Query().Where(artifact.HasParentsWith(artifact.ID(x.ID))).
			Select(artifact.FieldID, artifact.FieldDigest, artifact.FieldRepositoryID).All(sys)
		if err != nil {
			return nil, err
		}
		for _, c := range children {
			if doomed[c.ID] {
				continue
			}
			free, err := unkept(ctx, client, c, doomed)
			if err != nil {
				return nil, err
			}
			if free {
				doomed[c.ID] = true
				queue = append(queue, c)
			} else {
				keptChildren = append(keptChildren, c)
			}
		}
	}
	ids := make([]int, 0, len(doomed))
	for id := range doomed {
		ids = append(ids, id)
	}
	return ids, nil
}

// unkept reports whether child c has no tag and no parent outside doomed.
func unkept(ctx context.Context, client *ent.Client, c *ent.Artifact, doomed map[int]bool) (bool, error) {
	sys := viewer.SystemContext(ctx)
	tagged, err := client.Tag.Query().Where(tag.ArtifactID(c.ID)).Exist(sys)
	if err != nil || tagged {
		return false, err
	}
	parents, err := client.Artifact.Query().Where(artifact.HasChildrenWith(artifact.ID(c.ID))).IDs(sys)
	if err != nil {
		return false, err
	}
	for _, p := range parents {
		if !doomed[p] {
			return false, nil
		}
	}
	return true, nil
}

// DeleteTag removes tag name from repository repo; the artifact stays.
func (s *Service) DeleteTag(ctx context.Context, repo, name string) error {
	r, err := s.Access(ctx, repo, auth.TagDelete)
	if err != nil {
		return err
	}
	if !ValidTag(name) {
		return coded(ErrTagInvalid, errdefs.Invalidf, "invalid tag %q", name)
	}
	n, err := s.client.Tag.Delete().Where(tag.RepositoryID(r.Repository.ID), tag.Name(name)).Exec(auth.Allow(ctx))
	if err != nil {
		return err
	}
	if n == 0 {
		return manifestUnknown(repo, name)
	}
	return nil
}

// CreateTag points tag name of repository repo at the artifact reference
// names (retagging if the tag exists) and returns the tag.
func (s *Service) CreateTag(ctx context.Context, repo, reference, name string) (*ent.Tag, error) {
	r, err := s.Access(ctx, repo, auth.TagCreate)
	if err != nil {
		return nil, err
	}
	if r.Repository == nil {
		return nil, nameUnknown(repo)
	}
	if !ValidTag(name) {
		return nil, coded(ErrTagInvalid, errdefs.Invalidf, "invalid tag %q", name)
	}
	a, err := s.find(ctx, r, reference)
	if err != nil {
		return nil, err
	}
	allow := auth.Allow(ctx)
	id, err := s.client.Tag.Create().SetName(name).SetRepositoryID(r.Repository.ID).SetArtifactID(a.ID).
		OnConflictColumns(tag.FieldRepositoryID, tag.FieldName).UpdateArtifactID().UpdateUpdatedAt().
		ID(allow)
	if err != nil {
		return nil, err
	}
	return s.client.Tag.Get(viewer.SystemContext(ctx), id)
}

// CopyArtifact copies the artifact reference names in srcRepo into dstRepo
// (any project the caller may push to; the repository is created if
// needed), with an index's children, links its blobs there and tags it
// with tag if not empty. Nothing is copied in the blob store: blobs are
// content-addressed and shared.
func (s *Service) CopyArtifact(ctx context.Context, srcRepo, reference, dstRepo, tagName string) (*ent.Artifact, error) {
	src, err := s.Access(ctx, srcRepo, auth.RepositoryPull)
	if err != nil {
		return nil, err
	}
	dst, err := s.Access(ctx, dstRepo, auth.RepositoryPush)
	if err != nil {
		return nil, err
	}
	if tagName != "" && !ValidTag(tagName) {
		return nil, coded(ErrTagInvalid, errdefs.Invalidf, "invalid tag %q", tagName)
	}
	a, err := s.find(ctx, src, reference)
	if err != nil {
		return nil, err
	}
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	client := tx.Client()
	repo, err := s.ensureRepository(ctx, client, dst)
	if err != nil {
		return nil, err
	}
	out, err := s.copyInto(ctx, client, a, repo.ID)
	if err != nil {
		return nil, err
	}
	allow := auth.Allow(ctx)
	if tagName != "" {
		err := client.Tag.Create().SetName(tagName).SetRepositoryID(repo.ID).SetArtifactID(out.ID).
			OnConflictColumns(tag.FieldRepositoryID, tag.FieldName).UpdateArtifactID().UpdateUpdatedAt().
			Exec(allow)
		if err != nil {
			return nil, err
		}
	}
	if err := client.Repository.UpdateOneID(repo.ID).SetPushedAt(time.Now()).Exec(allow); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return out, nil
}

// copyInto copies artifact a (children first) into repository repoID.
func (s *Service) copyInto(ctx context.Context, client *ent.Client, a *ent.Artifact, repoID int) (*ent.Artifact, error) {
	sys := viewer.SystemContext(ctx)
	if existing, err := client.Artifact.Query().Where(artifact.RepositoryID(repoID), artifact.Digest(a.Digest)).Only(sys); err == nil {
		return existing, nil
	} else if !ent.IsNotFound(err) {
		return nil, err
	}
	m, err := ParseManifest(a.MediaType, a.Manifest)
	if err != nil {
		return nil, err
	}
	var childIDs []int
	if len(m.Manifests) > 0 {
		children, err := a.QueryChildren().All(sys)
		if err != nil {
			return nil, err
		}
		for _, c := range children {
			cc, err := s.copyInto(ctx, client, c, repoID)
			if err != nil {
				return nil, err
			}
			childIDs = append(childIDs, cc.ID)
		}
	}
	var blobIDs []int
	if ds := blobDigests(m); len(ds) > 0 {
		ids, err := client.Blob.Query().Where(blob.DigestIn(ds...)).IDs(sys)
		if err != nil {
			return nil, err
		}
		blobIDs = ids
		for _, id := range ids {
			if err := client.RepositoryBlob.Create().SetRepositoryID(repoID).SetBlobID(id).
				OnConflictColumns(repositoryblob.FieldRepositoryID, repositoryblob.FieldBlobID).Ignore().Exec(sys); err != nil {
				return nil, err
			}
		}
	}
	c := client.Artifact.Create().
		SetRepositoryID(repoID).SetDigest(a.Digest).SetMediaType(a.MediaType).
		SetArtifactType(a.ArtifactType).SetOciArtifactType(a.OciArtifactType).
		SetSize(a.Size).SetManifest(a.Manifest).SetPushedAt(time.Now()).
		AddChildIDs(childIDs...)
	if a.Annotations != nil {
		c.SetAnnotations(a.Annotations)
	}
	if a.SubjectDigest != nil {
		c.SetSubjectDigest(*a.SubjectDigest)
	}
	copied, err := c.Save(auth.Allow(ctx))
	if err != nil {
		return nil, err
	}
	return copied, referenceBlobs(ctx, client, copied.ID, blobIDs)
}
