package artifacts

import (
	"context"
	"database/sql"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/artifactblob"
	"github.com/berth-registry/berth/ent/blob"
	"github.com/berth-registry/berth/ent/predicate"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/repositoryblob"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// LockProject reads project id for update: on PostgreSQL the row stays
// locked until the transaction of client ends, so concurrent pushes into
// one project compute and check its usage one after the other and no
// update is lost, and a change of the project's rules is ordered with
// them (SQLite serialises writing transactions anyway).
func LockProject(ctx context.Context, client *ent.Client, id int) (*ent.Project, error) {
	return client.Project.Query().Where(project.ID(id), forUpdate).Only(viewer.SystemContext(ctx))
}

// overQuota refuses a change that leaves project p using more bytes than
// its quota (-1: unlimited), unless the change did not grow its usage.
func overQuota(p *ent.Project, used int64) error {
	if p.QuotaBytes < 0 || used <= p.QuotaBytes || used <= p.UsedBytes {
		return nil
	}
	return errdefs.Deniedf("project %q is over its storage quota: this push would use %d bytes, the limit is %d bytes (%d in use)",
		p.Name, used, p.QuotaBytes, p.UsedBytes)
}

// CheckQuota refuses a blob of size bytes for repository r when storing it
// would take r's project over its quota, before the blob is committed. A
// blob the project already holds costs nothing.
func (s *Service) CheckQuota(ctx context.Context, r *Repo, d digest.Digest, size int64) error {
	if r.Project.QuotaBytes < 0 {
		// Unlimited a moment ago (the row may be cached for a second or
		// two): the manifest that would make the blob count is checked
		// under the project's lock anyway.
		return nil
	}
	sys := viewer.SystemContext(ctx)
	p, err := s.client.Project.Get(sys, r.Project.ID)
	if err != nil {
		return err
	}
	if p.QuotaBytes < 0 || p.UsedBytes+size <= p.QuotaBytes {
		return nil
	}
	held, err := s.client.Blob.Query().Where(blob.Digest(d.String()),
		blob.HasLinksWith(repositoryblob.HasRepositoryWith(repository.ProjectID(p.ID)))).Exist(sys)
	if err != nil || held {
		return err
	}
	if err := overQuota(p, p.UsedBytes+size); err != nil {
		s.quotaExceeded(ctx, p, size)
		return err
	}
	return nil
}

// recountUsage recounts a project's used bytes from references and stores
// the figure: the distinct blobs the project's artifacts reference, each
// counted once however many repositories or artifacts share it, plus the
// manifests themselves. Blobs uploaded but not (yet) referenced by a
// manifest do not count: a push that is refused leaves no usage behind.
// The write path keeps the figure exact incrementally; this is the
// check (and repair) of RecalculateUsage.
func recountUsage(ctx context.Context, client *ent.Client, projectID int) (int64, error) {
	sys := viewer.SystemContext(ctx)
	blobs, err := blobBytes(sys, client.Blob.Query().
		Where(blob.HasRefsWith(artifactblob.HasArtifactWith(artifact.HasRepositoryWith(repository.ProjectID(projectID))))))
	if err != nil {
		return 0, wrapf(err, "summing the blobs of project %d", projectID)
	}
	manifests, err := manifestBytes(sys, client, artifact.HasRepositoryWith(repository.ProjectID(projectID)))
	if err != nil {
		return 0, wrapf(err, "summing the manifests of project %d", projectID)
	}
	used := blobs + manifests
	if err := client.Project.UpdateOneID(projectID).SetUsedBytes(used).Exec(auth.Allow(ctx)); err != nil {
		return 0, err
	}
	// The repositories' artifact counts are kept the same way: recount them.
	var counts []struct {
		RepositoryID int `json:"repository_id"`
		Count        int `json:"count"`
	}
	err = client.Artifact.Query().Where(artifact.HasRepositoryWith(repository.ProjectID(projectID))).
		GroupBy(artifact.FieldRepositoryID).Aggregate(ent.Count()).Scan(sys, &counts)
	if err != nil {
		return 0, wrapf(err, "counting the artifacts of project %d", projectID)
	}
	err = client.Repository.Update().Where(repository.ProjectID(projectID)).SetArtifactCount(0).Exec(auth.Allow(ctx))
	for _, c := range counts {
		if err != nil {
			break
		}
		err = client.Repository.UpdateOneID(c.RepositoryID).SetArtifactCount(int64(c.Count)).Exec(auth.Allow(ctx))
	}
	return used, err
}

// blobBytes sums the sizes of the blobs q matches.
func blobBytes(ctx context.Context, q *ent.BlobQuery) (int64, error) {
	return sumOf(ctx, q.Aggregate(ent.As(ent.Sum(blob.FieldSize), "sum")))
}

// manifestBytes sums the lengths of the manifests of the artifacts where
// matches.
func manifestBytes(ctx context.Context, client *ent.Client, where predicate.Artifact) (int64, error) {
	return sumOf(ctx, client.Artifact.Query().Where(where).Aggregate(func(s *entsql.Selector) string {
		return "SUM(LENGTH(" + s.C(artifact.FieldManifest) + ")) AS sum"
	}))
}

// sumOf scans an aggregate named sum; no rows (NULL) is 0.
func sumOf(ctx context.Context, q interface {
	Scan(context.Context, any) error
}) (int64, error) {
	var sums []struct {
		Sum sql.NullInt64 `json:"sum"`
	}
	if err := q.Scan(ctx, &sums); err != nil {
		return 0, err
	}
	if len(sums) == 0 || !sums[0].Sum.Valid {
		return 0, nil
	}
	return sums[0].Sum.Int64, nil
}

// ProjectUsage is a project's used bytes before and after a recount.
type ProjectUsage struct {
	Project           string
	Stored, Recounted int64
}

// RecalculateUsage recounts the used bytes of project name (every project
// when name is empty) from references, stores the result and returns both
// figures. System admins only.
func (s *Service) RecalculateUsage(ctx context.Context, name string) ([]ProjectUsage, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	q := s.client.Project.Query().Order(ent.Asc(project.FieldName))
	if name != "" {
		q.Where(project.Name(name))
	}
	ids, err := q.IDs(sys)
	if err != nil {
		return nil, err
	}
	if name != "" && len(ids) == 0 {
		return nil, errdefs.NotFoundf("project %q does not exist", name)
	}
	out := make([]ProjectUsage, 0, len(ids))
	for _, id := range ids {
		var u ProjectUsage
		err := s.write(ctx, id, func(w *writeTx) (err error) {
			u.Project, u.Stored = w.project.Name, w.project.UsedBytes
			u.Recounted, err = recountUsage(ctx, w.client, id)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

// StorageBytesOnDisk walks the blob store and sums what it holds. System
// admins only.
func (s *Service) StorageBytesOnDisk(ctx context.Context) (int64, error) {
	if _, err := auth.RequireAdminRead(ctx); err != nil {
		return 0, err
	}
	return s.blobs.BytesOnDisk(ctx)
}
