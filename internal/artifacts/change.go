package artifacts

import (
	"context"
	"errors"
	"slices"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/artifactblob"
	"github.com/berth-registry/berth/ent/blob"
	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/ent/predicate"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/tag"
	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// This file is the write path's core. Every change of registry content
// (a blob upload committed, a mount, a manifest put, a tag created, moved
// or deleted, an artifact copied or deleted, a repository or a project
// deleted) runs as one call of Service.write:
//
//   - one database transaction, which on PostgreSQL first locks the
//     project's row (SELECT ... FOR UPDATE), so changes to one project's
//     content run one after the other and its usage figure is exact;
//     SQLite serialises writing transactions anyway (BEGIN IMMEDIATE);
//   - except a push into a project without a quota on PostgreSQL
//     (Service.push), which holds the row in share mode: pushes run side
//     by side and only ever wait for the exclusive changes, and write
//     what they add to the counters as UsageDelta rows (usage.go);
//   - the project's used bytes change by the delta the change computed
//     from references (a blob counts once per project however many
//     artifacts reference it, plus each manifest), and a change that
//     grows the usage past the quota is refused before anything commits;
//   - one outbox row (Change) per change, in the same transaction, for
//     events, webhooks and replication to consume.
//
// Garbage collection (SweepBlobs) is the only other writer of blob rows;
// the comment on SweepBlobs says why it can never delete bytes a push is
// about to reference.

// writeTx is one change of registry content in progress.
type writeTx struct {
	ctx    context.Context
	client *ent.Client
	// project is the project whose content changes, locked; nil for a
	// change that touches no project's usage.
	project *ent.Project
	// shared is set when the project is held in share mode (a push into a
	// project without a quota on PostgreSQL): the change's delta and its
	// repository's counters go to a UsageDelta row, not to their rows.
	shared bool
	// pushed is the repository the change pushed into, with how many
	// artifacts it added and when, for a shared change's UsageDelta row.
	pushed pushedInto
	// delta is what the change adds to the project's used bytes.
	delta int64
	// dropped is set when the change deletes the project itself.
	dropped bool
	// keepGrace leaves the grace period of released blobs alone: garbage
	// collection deleting untagged artifacts frees their blobs in the
	// same run, as its dry run reported.
	keepGrace bool
	changes   []*ent.ChangeCreate
	// touched lists the projects whose content the change records changes
	// of, whose cached manifests are stale once it commits.
	touched []string
	// forget lists repository names to drop from the name cache once the
	// change is committed.
	forget []string
	// found lists repositories the change looked up or created for a
	// name cached without one, for the name cache once it commits.
	found []*ent.Repository
	// entry is the audit entry the change writes as it commits, if any.
	entry *audit.Entry
	// rules are the project's immutability rules, loaded on first use.
	rules       []*ent.ImmutabilityRule
	rulesLoaded bool
}

// maxWriteAttempts bounds the retries of a change that PostgreSQL aborted
// to break a deadlock.
const maxWriteAttempts = 3

// write runs fn as one change of the content of project projectID (0 for
// a change that needs no project lock, such as linking an uploaded blob).
// fn reads and writes through w.client only; it may run again if the
// database aborted the transaction to break a deadlock.
func (s *Service) write(ctx context.Context, projectID int, fn func(w *writeTx) error) error {
	return s.writeAs(ctx, projectID, writeMode{}, fn)
}

// writeMode says how a change holds its project and commits.
type writeMode struct {
	// shared holds the project in share mode (see push).
	shared bool
	// unsynced commits without waiting for PostgreSQL to flush its log;
	// see CommitBlob for when that is safe.
	unsynced bool
}

// push runs fn as a push into repository r: on PostgreSQL, into a project
// without a quota, with the project held in share mode, so that pushes
// into one project do not queue for its row (see usage.go); the counters
// the push changed are folded in right after it.
func (s *Service) push(ctx context.Context, r *Repo, fn func(w *writeTx) error) error {
	shared := s.postgres && r.Project.QuotaBytes < 0
	err := s.writeAs(ctx, r.Project.ID, writeMode{shared: shared}, fn)
	if shared {
		s.foldAfterPush(ctx, r.Project.ID)
	}
	return err
}

func (s *Service) writeAs(ctx context.Context, projectID int, mode writeMode, fn func(w *writeTx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = s.writeOnce(ctx, projectID, mode, fn)
		if errors.Is(err, errQuotaSet) {
			// The project has a quota now: check it in turn.
			mode.shared = false
			continue
		}
		if attempt == maxWriteAttempts || !retryable(err) {
			return err
		}
	}
}

// errQuotaSet is a shared change finding that its project has a quota:
// it runs again with the project locked.
var errQuotaSet = errors.New("artifacts: the project has a quota; the change needs its lock")

func (s *Service) writeOnce(ctx context.Context, projectID int, mode writeMode, fn func(w *writeTx) error) error {
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	w := &writeTx{ctx: ctx, client: tx.Client(), shared: mode.shared}
	if projectID != 0 {
		if mode.shared {
			if w.project, err = shareProject(ctx, w.client, projectID); err != nil {
				return err
			}
			if w.project.QuotaBytes >= 0 {
				return errQuotaSet
			}
		} else {
			if w.project, err = LockProject(ctx, w.client, projectID); err != nil {
				return err
			}
			if s.postgres {
				if err := w.foldUsage(); err != nil {
					return err
				}
			}
		}
	}
	if err := fn(w); err != nil {
		return err
	}
	if w.shared {
		if err := w.recordUsage(); err != nil {
			return err
		}
	} else if w.project != nil && w.delta != 0 && !w.dropped {
		if w.delta > 0 {
			if err := overQuota(w.project, w.project.UsedBytes+w.delta); err != nil {
				tx.Rollback() // nothing of the change is kept
				s.quotaExceeded(ctx, w.project, w.delta)
				return err
			}
			w.quotaWarning()
		}
		if err := w.client.Project.UpdateOneID(w.project.ID).AddUsedBytes(w.delta).Exec(auth.Allow(ctx)); err != nil {
			return err
		}
	}
	if len(w.changes) > 0 {
		if err := w.client.Change.CreateBulk(w.changes...).Exec(viewer.SystemContext(ctx)); err != nil {
			return wrapf(err, "recording the change")
		}
	}
	if w.entry != nil {
		if err := s.audit.RecordIn(ctx, w.client, *w.entry); err != nil {
			return wrapf(err, "recording the audit entry")
		}
	}
	if mode.unsynced && s.postgres {
		if err := database.SkipCommitFlush(ctx, tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.manifests.invalidate(w.touched...)
	s.Forget(w.forget...)
	for _, repo := range w.found {
		s.learnRepository(repo)
	}
	if len(w.changes) > 0 {
		s.changed()
	}
	return nil
}

// quotaWarningAt is the share of its quota past which a project's growth
// is announced with a QUOTA_WARNING event.
const quotaWarningAt = 0.85

// quotaWarning records a QUOTA_WARNING when the change takes the project's
// usage across quotaWarningAt of its quota.
func (w *writeTx) quotaWarning() {
	p := w.project
	if p.QuotaBytes <= 0 {
		return
	}
	mark := int64(float64(p.QuotaBytes) * quotaWarningAt)
	if used := p.UsedBytes + w.delta; p.UsedBytes < mark && used >= mark {
		w.record(change.OperationQUOTA_WARNING, p.Name, "", "", "", nil, used)
		w.changes[len(w.changes)-1].SetDetail(map[string]any{"usedBytes": used, "quotaBytes": p.QuotaBytes})
	}
}

// quotaExceeded records the QUOTA_EXCEEDED event of a refused change, in a
// transaction of its own since the change's was rolled back.
func (s *Service) quotaExceeded(ctx context.Context, p *ent.Project, delta int64) {
	err := s.RecordEvent(ctx, change.OperationQUOTA_EXCEEDED, p.Name, map[string]any{
		"usedBytes": p.UsedBytes, "quotaBytes": p.QuotaBytes, "refusedBytes": delta,
	})
	if err != nil {
		s.log.Warn("recording a quota-exceeded event", "project", p.Name, "err", err)
	}
}

// immutable returns the immutability rule that selects tag name of
// repository repo of the locked project, or nil.
func (w *writeTx) immutable(repo, name string) (*ent.ImmutabilityRule, error) {
	if w.project == nil {
		return nil, nil
	}
	if !w.rulesLoaded {
		rules, err := immutabilityRules(w.ctx, w.client, w.project.ID)
		if err != nil {
			return nil, err
		}
		w.rules, w.rulesLoaded = rules, true
	}
	if len(w.rules) == 0 {
		return nil, nil
	}
	return ImmutableBy(w.rules, repo, name), nil
}

// refuseImmutableDelete refuses deleting the artifacts where selects when
// one of them carries an immutable tag.
func (w *writeTx) refuseImmutableDelete(where predicate.Artifact) error {
	if w.project == nil || w.dropped {
		return nil
	}
	if _, err := w.immutable("", ""); err != nil || len(w.rules) == 0 {
		return err
	}
	tags, err := w.client.Tag.Query().Where(tag.HasArtifactWith(where)).
		WithRepository(func(q *ent.RepositoryQuery) { q.Select(repository.FieldName) }).
		All(viewer.SystemContext(w.ctx))
	if err != nil {
		return err
	}
	for _, t := range tags {
		if r := ImmutableBy(w.rules, t.Edges.Repository.Name, t.Name); r != nil {
			return immutableError(r, t.Edges.Repository.Name, t.Name, "an artifact carrying it cannot be deleted")
		}
	}
	return nil
}

// retryable reports whether PostgreSQL aborted a transaction that may
// simply run again: a deadlock it broke, or a serialization failure.
func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

// record adds a change record (the outbox row) to the transaction.
func (w *writeTx) record(op change.Operation, project, repo, dgst, mediaType string, tags []string, size int64) {
	c := w.client.Change.Create().SetOperation(op).SetProject(project).SetRepository(repo).
		SetDigest(dgst).SetMediaType(mediaType).SetSize(size).SetActor(clipActor(viewer.FromContext(w.ctx).Name()))
	if len(tags) > 0 {
		c.SetTags(tags)
	}
	w.changes = append(w.changes, c)
	if project != "" && (len(w.touched) == 0 || w.touched[len(w.touched)-1] != project) {
		w.touched = append(w.touched, project)
	}
}

func clipActor(name string) string {
	if len(name) > 255 {
		return name[:255]
	}
	return name
}

// artifactRefs is an artifact and the blobs it references.
type artifactRefs struct {
	artifact int
	blobs    []int
}

// referenced records the references of artifacts, and adds to the
// project's usage the sizes of the blobs no artifact of the project
// referenced before.
func (w *writeTx) referenced(artifacts ...artifactRefs) error {
	var blobIDs []int
	for _, a := range artifacts {
		blobIDs = append(blobIDs, a.blobs...)
	}
	slices.Sort(blobIDs)
	blobIDs = slices.Compact(blobIDs)
	if len(blobIDs) == 0 {
		return nil
	}
	if w.project == nil {
		return errors.New("artifacts: references recorded outside a project's change")
	}
	added, err := w.sumUnreferenced(blobIDs)
	if err != nil {
		return err
	}
	w.delta += added
	if err := referenceBlobs(w.ctx, w.client, w.project.ID, artifacts...); err != nil {
		return err
	}
	// The references now hold the blobs' rows, so no collection can mark
	// them any more; one may have marked them before (see sweep.go).
	marked, err := w.client.Blob.Query().Where(blob.IDIn(blobIDs...), blob.SweepingAtNotNil()).
		Select(blob.FieldDigest).Strings(viewer.SystemContext(w.ctx))
	if err != nil {
		return err
	}
	if len(marked) > 0 {
		return coded(ErrManifestBlobUnknown, errdefs.Invalidf, "blob %s is being garbage collected: push it again", marked[0])
	}
	return nil
}

// sumUnreferenced sums the sizes of the blobs among ids that no artifact
// of the change's project references. Each blob costs one probe of the
// references' (blob, project) index, however many artifacts share it: a
// push onto a base layer under a million images costs what the first did.
func (w *writeTx) sumUnreferenced(ids []int) (int64, error) {
	if w.shared {
		// Another push may be bringing the same new blob: decide under
		// the (project, blob) lock, which it holds until it commits.
		fresh, err := w.lockNewBlobs(ids)
		if err != nil || len(fresh) == 0 {
			return 0, err
		}
		ids = fresh
	}
	q := w.client.Blob.Query().Where(blob.IDIn(ids...), notReferencedBy(w.project.ID))
	sum, err := blobBytes(viewer.SystemContext(w.ctx), q)
	if err != nil {
		return 0, wrapf(err, "summing the sizes of blobs new to the project")
	}
	return sum, nil
}

// notReferencedBy matches blobs no artifact of project projectID
// references, as a correlated NOT EXISTS the (blob, project) index answers.
func notReferencedBy(projectID int) predicate.Blob {
	return func(s *entsql.Selector) {
		refs := entsql.Table(artifactblob.Table)
		s.Where(entsql.Not(entsql.Exists(entsql.Select(refs.C(artifactblob.FieldBlobID)).From(refs).
			Where(entsql.And(entsql.ColumnsEQ(refs.C(artifactblob.FieldBlobID), s.C(blob.FieldID)),
				entsql.EQ(refs.C(artifactblob.FieldProjectID), projectID))))))
	}
}

// unreferenced matches blobs no artifact references, as a correlated
// NOT EXISTS over the references' blob column.
func unreferenced() predicate.Blob {
	return func(s *entsql.Selector) {
		refs := entsql.Table(artifactblob.Table)
		s.Where(entsql.Not(entsql.Exists(entsql.Select(refs.C(artifactblob.FieldBlobID)).From(refs).
			Where(entsql.ColumnsEQ(refs.C(artifactblob.FieldBlobID), s.C(blob.FieldID))))))
	}
}

// removeArtifacts deletes the artifacts where matches, with their tags
// and references (the database cascades those and index membership),
// takes from the project's usage the manifests and the blobs no other
// artifact of the project references any more, and restarts the grace
// period of blobs no artifact references at all any more: garbage
// collection frees them only after it, so a client that saw a blob a
// moment ago can still push a manifest that references it. It returns
// how many artifacts it deleted.
func (w *writeTx) removeArtifacts(where predicate.Artifact) (int, error) {
	if err := w.refuseImmutableDelete(where); err != nil {
		return 0, err
	}
	sys := viewer.SystemContext(w.ctx)
	allow := auth.Allow(w.ctx)
	blobIDs, err := w.client.ArtifactBlob.Query().Where(artifactblob.HasArtifactWith(where)).
		Unique(true).Select(artifactblob.FieldBlobID).Ints(sys)
	if err != nil {
		return 0, err
	}
	manifests, err := manifestBytes(sys, w.client, where)
	if err != nil {
		return 0, wrapf(err, "summing manifest sizes")
	}
	var perRepo []struct {
		RepositoryID int `json:"repository_id"`
		Count        int `json:"count"`
	}
	err = w.client.Artifact.Query().Where(where).GroupBy(artifact.FieldRepositoryID).
		Aggregate(ent.Count()).Scan(sys, &perRepo)
	if err != nil {
		return 0, wrapf(err, "counting the artifacts per repository")
	}
	if _, err := w.client.Tag.Delete().Where(tag.HasArtifactWith(where)).Exec(allow); err != nil {
		return 0, err
	}
	n, err := w.client.Artifact.Delete().Where(where).Exec(allow)
	if err != nil || n == 0 {
		return n, err
	}
	for _, r := range perRepo {
		err := w.client.Repository.Update().Where(repository.ID(r.RepositoryID)).
			AddArtifactCount(-int64(r.Count)).Exec(allow)
		if err != nil {
			return 0, err
		}
	}
	w.delta -= manifests
	slices.Sort(blobIDs)
	now := time.Now()
	for chunk := range slices.Chunk(blobIDs, 1000) {
		if w.project != nil && !w.dropped {
			freed, err := w.sumUnreferenced(chunk)
			if err != nil {
				return 0, err
			}
			w.delta -= freed
		}
		if w.keepGrace {
			continue
		}
		err := w.client.Blob.Update().Where(blob.IDIn(chunk...), unreferenced()).
			SetLastUsedAt(now).Exec(sys)
		if err != nil {
			return 0, wrapf(err, "restarting the grace period of released blobs")
		}
	}
	return n, nil
}

// forUpdate is the Where clause that locks the rows a query reads on
// PostgreSQL until the transaction ends (SQLite has no row locks and
// needs none: it serialises writing transactions).
func forUpdate(s *entsql.Selector) {
	if s.Dialect() == dialect.Postgres {
		s.ForUpdate()
	}
}

// RecordEvent writes an outbox row for an event that changes no content:
// a retention or garbage collection run finished, a quota was exceeded.
// project is "" for system-wide events.
func (s *Service) RecordEvent(ctx context.Context, op change.Operation, project string, detail map[string]any) error {
	c := s.client.Change.Create().SetOperation(op).SetProject(project).
		SetActor(clipActor(viewer.FromContext(ctx).Name()))
	if detail != nil {
		c.SetDetail(detail)
	}
	if err := c.Exec(viewer.SystemContext(ctx)); err != nil {
		return err
	}
	s.changed()
	return nil
}

// changed tells the event dispatcher that the outbox has new rows.
func (s *Service) changed() {
	if s.onChange != nil {
		s.onChange()
	}
}
