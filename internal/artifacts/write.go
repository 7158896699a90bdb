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
	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/ent/cveallowlist"
	"github.com/berth-registry/berth/ent/immutabilityrule"
	"github.com/berth-registry/berth/ent/label"
	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/repositoryblob"
	"github.com/berth-registry/berth/ent/retentionexecution"
	"github.com/berth-registry/berth/ent/retentionpolicy"
	"github.com/berth-registry/berth/ent/schedule"
	"github.com/berth-registry/berth/ent/tag"
	"github.com/berth-registry/berth/ent/webhookdelivery"
	"github.com/berth-registry/berth/ent/webhookpolicy"
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
	s.audit.Record(ctx, auditEntry(op, name, reference, err))
}

// auditEntry is the audit entry of registry action op on reference (a tag, a
// digest or empty) of repository name, which ended with err.
func auditEntry(op, name, reference string, err error) audit.Entry {
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
	return e
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
	return s.write(ctx, r.Project.ID, func(w *writeTx) error {
		ids, err := goingWith(ctx, w.client, a)
		if err != nil {
			return err
		}
		n, err := w.deleteArtifacts(r.Name, ids)
		if err != nil {
			return err
		}
		if n == 0 {
			return manifestUnknown(name, reference)
		}
		return nil
	})
}

// deleteArtifacts deletes the artifacts ids of repository repo, recording
// a change for each, and returns how many there were.
func (w *writeTx) deleteArtifacts(repo string, ids []int) (int, error) {
	sys := viewer.SystemContext(w.ctx)
	doomed, err := w.client.Artifact.Query().Where(artifact.IDIn(ids...)).
		Select(artifact.FieldID, artifact.FieldDigest, artifact.FieldMediaType, artifact.FieldSize).
		WithTags(func(q *ent.TagQuery) { q.Select(tag.FieldArtifactID, tag.FieldName) }).
		All(sys)
	if err != nil {
		return 0, err
	}
	n, err := w.removeArtifacts(artifact.IDIn(ids...))
	if err != nil {
		return 0, err
	}
	for _, a := range doomed {
		var tags []string
		for _, t := range a.Edges.Tags {
			tags = append(tags, t.Name)
		}
		w.record(change.OperationARTIFACT_DELETED, ProjectName(repo), repo, a.Digest, a.MediaType, tags, a.Size)
	}
	return n, nil
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
	return s.write(ctx, r.Project.ID, func(w *writeTx) error {
		t, err := w.client.Tag.Query().Where(tag.RepositoryID(r.Repository.ID), tag.Name(name)).
			WithArtifact(func(q *ent.ArtifactQuery) { q.Select(artifact.FieldDigest, artifact.FieldMediaType) }).
			Only(viewer.SystemContext(ctx))
		if ent.IsNotFound(err) {
			return manifestUnknown(repo, name)
		}
		if err != nil {
			return err
		}
		if rule, err := w.immutable(repo, name); err != nil || rule != nil {
			if rule != nil {
				err = immutableError(rule, repo, name, "it cannot be deleted")
			}
			return err
		}
		if err := w.client.Tag.DeleteOneID(t.ID).Exec(auth.Allow(ctx)); err != nil {
			return err
		}
		a := t.Edges.Artifact
		w.record(change.OperationTAG_DELETED, r.Project.Name, repo, a.Digest, a.MediaType, []string{name}, 0)
		return nil
	})
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
	var id int
	err = s.write(ctx, r.Project.ID, func(w *writeTx) (err error) {
		if id, err = w.tag(repo, r.Repository.ID, a.ID, name); err != nil {
			return err
		}
		w.record(change.OperationTAG_CREATED, r.Project.Name, repo, a.Digest, a.MediaType, []string{name}, a.Size)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.client.Tag.Get(viewer.SystemContext(ctx), id)
}

// tag points tag name of repository repoID at artifact artifactID,
// creating the tag or moving it, and returns the tag's id. Two pushes of
// one tag both succeed and the one that commits last wins: the tag row is
// one row, written by whole-row upserts.
func (w *writeTx) tag(repo string, repoID, artifactID int, name string) (int, error) {
	if err := w.tagMovable(repo, repoID, tagTarget{name, artifactID}); err != nil {
		return 0, err
	}
	id, err := w.client.Tag.Create().SetName(name).SetRepositoryID(repoID).SetArtifactID(artifactID).
		OnConflictColumns(tag.FieldRepositoryID, tag.FieldName).UpdateArtifactID().UpdateUpdatedAt().
		ID(auth.Allow(w.ctx))
	if err != nil {
		return 0, wrapf(err, "tagging %q", name)
	}
	return id, nil
}

// tagTarget is a tag name and the artifact it is to point at.
type tagTarget struct {
	name       string
	artifactID int
}

// tags points tags of repository repoID at their artifacts, as tag does,
// in one statement. The names must be distinct.
func (w *writeTx) tags(repo string, repoID int, targets []tagTarget) error {
	creates := make([]*ent.TagCreate, len(targets))
	for i, t := range targets {
		if err := w.tagMovable(repo, repoID, t); err != nil {
			return err
		}
		creates[i] = w.client.Tag.Create().SetName(t.name).SetRepositoryID(repoID).SetArtifactID(t.artifactID)
	}
	if len(creates) == 0 {
		return nil
	}
	err := w.client.Tag.CreateBulk(creates...).
		OnConflictColumns(tag.FieldRepositoryID, tag.FieldName).UpdateArtifactID().UpdateUpdatedAt().
		Exec(auth.Allow(w.ctx))
	if err != nil {
		return wrapf(err, "tagging %d tags", len(creates))
	}
	return nil
}

// tagMovable refuses pointing t at its artifact when an immutability rule
// selects the tag and it points at another artifact already.
func (w *writeTx) tagMovable(repo string, repoID int, t tagTarget) error {
	rule, err := w.immutable(repo, t.name)
	if err != nil || rule == nil {
		return err
	}
	current, err := w.client.Tag.Query().Where(tag.RepositoryID(repoID), tag.Name(t.name)).
		Select(tag.FieldArtifactID).Only(viewer.SystemContext(w.ctx))
	if err != nil && !ent.IsNotFound(err) {
		return err
	}
	if current != nil && current.ArtifactID != t.artifactID {
		return immutableError(rule, repo, t.name, "it cannot be moved to another artifact")
	}
	return nil
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
	var out *ent.Artifact
	err = s.write(ctx, dst.Project.ID, func(w *writeTx) error {
		repo, err := s.ensureRepository(w, dst)
		if err != nil {
			return err
		}
		if out, err = w.copyInto(a, repo.ID); err != nil {
			return err
		}
		var tags []string
		if tagName != "" {
			if _, err := w.tag(dst.Name, repo.ID, out.ID, tagName); err != nil {
				return err
			}
			tags = []string{tagName}
		}
		if err := w.client.Repository.UpdateOneID(repo.ID).SetPushedAt(time.Now()).Exec(auth.Allow(ctx)); err != nil {
			return err
		}
		w.record(change.OperationARTIFACT_COPIED, dst.Project.Name, dst.Name, out.Digest, out.MediaType, tags, out.Size)
		return nil
	})
	if err != nil {
		dst.Repository = nil // it may have been created in the transaction that failed
		return nil, err
	}
	return out, nil
}

// copyInto copies artifact a (children first) into repository repoID.
func (w *writeTx) copyInto(a *ent.Artifact, repoID int) (*ent.Artifact, error) {
	ctx := w.ctx
	client := w.client
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
			cc, err := w.copyInto(c, repoID)
			if err != nil {
				return nil, err
			}
			childIDs = append(childIDs, cc.ID)
		}
	}
	var blobIDs []int
	if ds := blobDigests(m); len(ds) > 0 {
		if blobIDs, err = client.Blob.Query().Where(blob.DigestIn(ds...)).IDs(sys); err != nil {
			return nil, err
		}
		for _, id := range blobIDs {
			if err := w.link(repoID, id); err != nil {
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
	if err := client.Repository.UpdateOneID(repoID).AddArtifactCount(1).Exec(auth.Allow(ctx)); err != nil {
		return nil, err
	}
	w.delta += int64(len(a.Manifest))
	return copied, w.referenced(artifactRefs{copied.ID, blobIDs})
}

// DeleteRepository deletes repository name with its artifacts and tags;
// its blobs are left for garbage collection.
func (s *Service) DeleteRepository(ctx context.Context, name string) error {
	// The caller's own context: a repository they may not see does not exist.
	repo, err := s.client.Repository.Query().Where(repository.Name(name)).WithProject().Only(ctx)
	if ent.IsNotFound(err) {
		return errdefs.NotFoundf("repository %q does not exist", name)
	}
	if err != nil {
		return err
	}
	if err := s.auth.Can(ctx, auth.RepositoryDelete, repo.Edges.Project); err != nil {
		return err
	}
	return s.write(ctx, repo.ProjectID, func(w *writeTx) error {
		if err := w.deleteRepositories([]*ent.Repository{repo}); err != nil {
			return err
		}
		w.record(change.OperationREPOSITORY_DELETED, repo.Edges.Project.Name, repo.Name, "", "", nil, 0)
		return nil
	})
}

// DeleteProject deletes project p with its members and labels. A project
// that still holds repositories is refused unless force is set; then its
// repositories, artifacts and tags go too (their blobs are left for
// garbage collection). The caller has checked auth.ProjectDelete.
func (s *Service) DeleteProject(ctx context.Context, p *ent.Project, force bool) error {
	return s.write(ctx, p.ID, func(w *writeTx) error {
		allow := auth.Allow(ctx)
		repos, err := w.client.Repository.Query().Where(repository.ProjectID(p.ID)).
			Select(repository.FieldID, repository.FieldName).All(viewer.SystemContext(ctx))
		if err != nil {
			return err
		}
		if len(repos) > 0 && !force {
			return errdefs.Conflictf("project %q still holds %d repositories; delete them first or pass force: true", p.Name, len(repos))
		}
		w.dropped = true
		w.forget = append(w.forget, p.Name)
		if err := w.deleteRepositories(repos); err != nil {
			return err
		}
		if _, err := w.client.Label.Delete().Where(label.ProjectID(p.ID)).Exec(allow); err != nil {
			return err
		}
		if _, err := w.client.Member.Delete().Where(member.ProjectID(p.ID)).Exec(allow); err != nil {
			return err
		}
		if err := w.deletePolicies(p.ID); err != nil {
			return err
		}
		if err := w.client.Project.DeleteOneID(p.ID).Exec(allow); err != nil {
			return err
		}
		w.record(change.OperationPROJECT_DELETED, p.Name, "", "", "", nil, 0)
		return nil
	})
}

// deleteRepositories removes repos with their tags, artifacts and blob links.
func (w *writeTx) deleteRepositories(repos []*ent.Repository) error {
	if len(repos) == 0 {
		return nil
	}
	ids := make([]int, len(repos))
	for i, r := range repos {
		ids[i] = r.ID
		w.forget = append(w.forget, r.Name)
	}
	if _, err := w.removeArtifacts(artifact.RepositoryIDIn(ids...)); err != nil {
		return err
	}
	sys := viewer.SystemContext(w.ctx)
	if _, err := w.client.RepositoryBlob.Delete().Where(repositoryblob.RepositoryIDIn(ids...)).Exec(sys); err != nil {
		return err
	}
	_, err := w.client.Repository.Delete().Where(repository.IDIn(ids...)).Exec(auth.Allow(w.ctx))
	return err
}

// deletePolicies deletes what hangs off a project by id: its immutability
// and retention rules, retention runs and schedule, webhook policies and
// their delivery logs, its CVE allowlist. (Immutable tags bind nothing once their project
// is being deleted: only a project admin can, with force.)
func (w *writeTx) deletePolicies(projectID int) error {
	sys := viewer.SystemContext(w.ctx)
	policies, err := w.client.WebhookPolicy.Query().Where(webhookpolicy.ProjectID(projectID)).IDs(sys)
	if err != nil {
		return err
	}
	deletes := []func() (int, error){
		func() (int, error) {
			return w.client.WebhookDelivery.Delete().Where(webhookdelivery.PolicyIDIn(policies...)).Exec(sys)
		},
		func() (int, error) {
			return w.client.WebhookPolicy.Delete().Where(webhookpolicy.ProjectID(projectID)).Exec(sys)
		},
		func() (int, error) {
			return w.client.ImmutabilityRule.Delete().Where(immutabilityrule.ProjectID(projectID)).Exec(sys)
		},
		func() (int, error) {
			return w.client.RetentionPolicy.Delete().Where(retentionpolicy.ProjectID(projectID)).Exec(sys)
		},
		func() (int, error) {
			return w.client.RetentionExecution.Delete().Where(retentionexecution.ProjectID(projectID)).Exec(sys)
		},
		func() (int, error) {
			return w.client.Schedule.Delete().Where(schedule.ProjectID(projectID), schedule.KindEQ(schedule.KindRETENTION)).Exec(sys)
		},
		func() (int, error) {
			return w.client.CVEAllowlist.Delete().Where(cveallowlist.ProjectID(projectID)).Exec(sys)
		},
	}
	for _, del := range deletes {
		if _, err := del(); err != nil {
			return err
		}
	}
	return nil
}
