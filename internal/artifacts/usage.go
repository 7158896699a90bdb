package artifacts

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

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

// shareProject reads project id in share mode (PostgreSQL only): pushes
// into the project hold it side by side, and a change that locks it
// (LockProject: a delete, a rule or quota change, a fold) waits for them
// and they for it.
func shareProject(ctx context.Context, client *ent.Client, id int) (*ent.Project, error) {
	return client.Project.Query().Where(project.ID(id), func(s *entsql.Selector) { s.ForShare() }).
		Only(viewer.SystemContext(ctx))
}

// Pushes into a project without a quota on PostgreSQL hold the project's
// row in share mode (Service.push), not in turn: eight clients pushing
// into one project commit side by side and share the log flushes, where
// in turn each paid its own flush with the lock held (about 250 manifests
// a second, whatever the machine). Three things keep the figures exact:
//
//   - A push does not update the project's or the repository's row (two
//     pushes would queue on it again): what it adds to the used bytes,
//     the artifact count and the push time is a UsageDelta row, folded
//     into the rows as soon as no push holds the project (foldAfterPush,
//     right after each push) and by every change that locks the project,
//     before it reads the figures.
//   - Whether a blob is new to the project (and so counts) is decided
//     under a transaction-scoped advisory lock on (project, blob), taken
//     only for blobs that look new: of two pushes that both bring a new
//     layer, the second waits for the first and then finds its
//     reference. Blobs the project already references cannot lose their
//     last reference meanwhile: only deletes remove references, and they
//     lock the project.
//   - A project with a quota is pushed into in turn, as before: its quota
//     is checked against the exact figure under the lock.

// pushedInto is the repository a shared push wrote into, how many
// artifacts it added there, and when.
type pushedInto struct {
	repo      int
	artifacts int64
	at        time.Time
}

// pushInto records that the change added artifacts to repository repoID
// at at: in the repository's row, or for a shared change in its
// UsageDelta row.
func (w *writeTx) pushInto(repoID int, artifacts int64, at time.Time) error {
	if w.shared {
		w.pushed = pushedInto{repo: repoID, artifacts: w.pushed.artifacts + artifacts, at: at}
		return nil
	}
	return w.client.Repository.UpdateOneID(repoID).SetPushedAt(at).AddArtifactCount(artifacts).Exec(auth.Allow(w.ctx))
}

// recordUsage writes a shared change's UsageDelta row.
func (w *writeTx) recordUsage() error {
	if w.pushed.repo == 0 {
		if w.delta != 0 {
			return errors.New("artifacts: a shared change grew the usage without pushing into a repository")
		}
		return nil
	}
	return w.client.UsageDelta.Create().SetProjectID(w.project.ID).SetRepositoryID(w.pushed.repo).
		SetBytes(w.delta).SetArtifacts(w.pushed.artifacts).SetPushedAt(w.pushed.at).
		Exec(viewer.SystemContext(w.ctx))
}

// lockNewBlobs returns, among the blobs ids, those no artifact of the
// shared change's project references, and takes for each the advisory lock
// on (project, blob), in id order (every change takes them in that order,
// so two cannot deadlock), in one statement. The key is the low 32 bits
// of each id (ids carry their type in the high bits), in the two-key space
// that no single-key lock (migrations, jobs) shares; a collision only
// makes two pushes wait for each other. The ids are those new to the
// project when the statement began: the caller counts them again once it
// holds the locks.
func (w *writeTx) lockNewBlobs(ids []int) ([]int, error) {
	args := make([]any, 0, len(ids)+2)
	args = append(args, int32(uint32(w.project.ID)), w.project.ID)
	var in strings.Builder
	for i, id := range ids {
		if i > 0 {
			in.WriteString(", ")
		}
		in.WriteString("$" + strconv.Itoa(i+3))
		args = append(args, id)
	}
	rows, err := w.client.QueryContext(w.ctx, `SELECT id, pg_advisory_xact_lock($1::int4, (id & 4294967295)::bit(32)::int4)::text
FROM (SELECT b.id FROM blobs b WHERE b.id IN (`+in.String()+`)
	AND NOT EXISTS (SELECT 1 FROM artifact_blobs r WHERE r.blob_id = b.id AND r.project_id = $2)
	ORDER BY b.id) s`, args...)
	if err != nil {
		return nil, wrapf(err, "locking the blobs new to project %d", w.project.ID)
	}
	defer rows.Close()
	var fresh []int
	for rows.Next() {
		var id int
		var locked string
		if err := rows.Scan(&id, &locked); err != nil {
			return nil, err
		}
		fresh = append(fresh, id)
	}
	return fresh, rows.Err()
}

// foldSQL moves a project's UsageDelta rows into its used bytes and its
// repositories' artifact counts and push times, in one statement, and
// returns the bytes it added (no row when there was nothing to fold). The
// caller holds the project's row.
var foldSQL = "WITH " + foldInto("$1")

// foldIfFreeSQL is foldSQL for a caller that does not hold the project's
// row: it takes the row itself, unless a change or a push holds it (and
// folds when it ends), all in one statement.
var foldIfFreeSQL = "WITH p AS (SELECT id FROM projects WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED),\n" +
	foldInto("(SELECT id FROM p)")

// foldInto is the fold of the project whose id the SQL expression id
// gives.
func foldInto(id string) string {
	return `d AS (DELETE FROM usage_deltas WHERE project_id = ` + id + `
	RETURNING repository_id, bytes, artifacts, pushed_at),
r AS (UPDATE repositories SET artifact_count = repositories.artifact_count + s.n,
		pushed_at = GREATEST(repositories.pushed_at, s.t), updated_at = now()
	FROM (SELECT repository_id, SUM(artifacts) AS n, MAX(pushed_at) AS t FROM d GROUP BY repository_id) s
	WHERE repositories.id = s.repository_id)
UPDATE projects SET used_bytes = projects.used_bytes + s.b, updated_at = now()
FROM (SELECT SUM(bytes) AS b FROM d) s
WHERE projects.id = ` + id + ` AND s.b <> 0
RETURNING s.b`
}

// foldUsage folds the pending UsageDelta rows of the change's project,
// which it holds locked, into the figures it is about to read.
func (w *writeTx) foldUsage() error {
	added, err := fold(w.ctx, w.client, foldSQL, w.project.ID)
	w.project.UsedBytes += added
	return err
}

// fold runs query (foldSQL or foldIfFreeSQL) for project id through
// client.
func fold(ctx context.Context, client *ent.Client, query string, id int) (int64, error) {
	rows, err := client.QueryContext(ctx, query, id)
	if err != nil {
		return 0, wrapf(err, "folding the usage of project %d", id)
	}
	defer rows.Close()
	var added int64
	for rows.Next() {
		if err := rows.Scan(&added); err != nil {
			return 0, err
		}
	}
	return added, rows.Err()
}

// foldAfterPush folds the UsageDelta rows of project id after a shared push,
// unless a push still holds the project (it folds when it ends) or a
// change has it locked (it folded when it began, and pushes wait for it).
// It is one statement, which on the unsynced pool commits without waiting
// for the log flush: a crash can only take back the fold as a whole, with
// its rows. A failure is logged; the next change of the project folds
// what is left.
func (s *Service) foldAfterPush(ctx context.Context, id int) {
	ctx = context.WithoutCancel(ctx)
	client := s.unsynced
	if client == nil {
		client = s.client
	}
	if _, err := fold(ctx, client, foldIfFreeSQL, id); err != nil {
		s.log.Warn("folding a project's usage after a push", "project", id, "err", err)
	}
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
