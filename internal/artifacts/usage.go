package artifacts

import (
	"context"
	"database/sql"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/blob"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/repositoryblob"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/viewer"
)

// RefreshUsage recomputes a project's used bytes: the sizes of the distinct
// blobs its repositories link, each counted once however many repositories
// or artifacts share it. Callers run it inside the transaction that changed
// the links, so the figure is exact when the transaction commits.
func RefreshUsage(ctx context.Context, client *ent.Client, projectID int) error {
	var sums []struct {
		Sum sql.NullInt64 `json:"sum"`
	}
	err := client.Blob.Query().
		Where(blob.HasLinksWith(repositoryblob.HasRepositoryWith(repository.ProjectID(projectID)))).
		Aggregate(ent.As(ent.Sum(blob.FieldSize), "sum")).
		Scan(viewer.SystemContext(ctx), &sums)
	if err != nil {
		return wrapf(err, "summing the blobs of project %d", projectID)
	}
	var used int64
	if len(sums) > 0 && sums[0].Sum.Valid {
		used = sums[0].Sum.Int64
	}
	return client.Project.UpdateOneID(projectID).SetUsedBytes(used).Exec(auth.Allow(ctx))
}
