package artifacts

import (
	"context"
	"errors"
	"slices"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/artifactblob"
	"github.com/berth-registry/berth/ent/blob"
	"github.com/berth-registry/berth/ent/predicate"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry/storage"
)

// Garbage collection deletes blobs through the write path too, and this
// is why it can never delete bytes that a push is about to rely on:
//
//   - A blob's row is written before its bytes are placed, in the
//     transaction that links it (CommitBlob); a mount restarts the row's
//     grace period with an UPDATE; a manifest references a blob through a
//     foreign key. All three take a lock on the blob's row (PostgreSQL's
//     foreign key check takes a KEY SHARE lock) and hold it until they
//     commit. SQLite runs one writing transaction at a time.
//   - SweepBlobs first marks its candidates (sweeping_at), in a
//     transaction that locks them FOR UPDATE (which conflicts with all of
//     those) and checks again, with a fresh snapshot, that no manifest
//     references them and that their grace period is over. From that
//     commit on, a marked blob is gone for every reader: a HEAD or GET
//     answers BLOB_UNKNOWN, a manifest referencing it is refused with
//     MANIFEST_BLOB_UNKNOWN, a mount falls back to an upload. An upload
//     of the same digest unmarks the row (and places its bytes again if
//     they are gone already).
//   - Then, in a second transaction holding the same locks, it removes
//     the bytes of the blobs still marked and unreferenced, then their
//     rows (their links go with them). A process killed in between leaves
//     marked rows that no reader serves; the next run finishes them.
//   - A file in the store without a row (a crash between placing bytes
//     and committing) is swept by SweepOrphan, which first inserts a row
//     for the digest itself: if an upload holds that row, the insert
//     waits for it and then fails, and the file is left alone.
//
// The grace period covers the rest: a client that checked a blob exists a
// moment ago, then pushes a manifest referencing it, finds it still there.

// Sweep reports what one sweep deleted (or, in a dry run, would delete).
type Sweep struct {
	Blobs int
	Bytes int64
}

// SweepCandidates returns up to limit blobs with ids above afterID, in id
// order, that no manifest references and that were last linked or
// referenced before cutoff (or were marked by a run that did not finish).
// With except non-empty, blobs referenced only by the artifacts in except
// count as unreferenced (a dry run that also deletes untagged artifacts).
func (s *Service) SweepCandidates(ctx context.Context, afterID int, cutoff time.Time, limit int, except []int) ([]*ent.Blob, error) {
	q := s.client.Blob.Query().Where(blob.IDGT(afterID), sweepable(cutoff))
	if len(except) > 0 {
		q.Where(blob.Not(blob.HasRefsWith(artifactblob.ArtifactIDNotIn(except...))))
	} else {
		q.Where(unreferenced())
	}
	return q.Order(ent.Asc(blob.FieldID)).Limit(limit).
		Select(blob.FieldID, blob.FieldDigest, blob.FieldSize).All(viewer.SystemContext(ctx))
}

// sweepable matches blobs whose grace period ended before cutoff, or that
// a run already marked.
func sweepable(cutoff time.Time) predicate.Blob {
	return blob.Or(blob.LastUsedAtLT(cutoff), blob.SweepingAtNotNil())
}

// SweepBlobs deletes the blobs among ids that are still unreferenced and
// past cutoff when locked: it marks them, then removes their bytes, then
// their rows (their links go with them); see the comment at the top of
// this file. A blob whose bytes cannot be removed stays marked, for the
// next run.
func (s *Service) SweepBlobs(ctx context.Context, ids []int, cutoff time.Time) (Sweep, error) {
	sys := viewer.SystemContext(ctx)
	var marked []int
	err := s.write(ctx, 0, func(w *writeTx) error {
		locked, err := w.client.Blob.Query().Where(blob.IDIn(ids...), forUpdate).
			Order(ent.Asc(blob.FieldID)).IDs(sys)
		if err != nil || len(locked) == 0 {
			return err
		}
		if marked, err = w.client.Blob.Query().Where(blob.IDIn(locked...), sweepable(cutoff), unreferenced()).IDs(sys); err != nil || len(marked) == 0 {
			return err
		}
		return w.client.Blob.Update().Where(blob.IDIn(marked...)).SetSweepingAt(time.Now()).Exec(sys)
	})
	if err != nil || len(marked) == 0 {
		return Sweep{}, err
	}
	// The bytes go in small transactions: each holds the rows' locks (on
	// SQLite, the database's one write lock) while it removes files, and
	// pushes wait meanwhile.
	var done Sweep
	for chunk := range slices.Chunk(marked, removeBatch) {
		swept, err := s.removeMarked(ctx, chunk)
		done.Blobs += swept.Blobs
		done.Bytes += swept.Bytes
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// removeBatch is how many marked blobs one transaction removes.
const removeBatch = 50

// removeMarked removes the bytes, then the rows, of the blobs among marked
// that are still marked and unreferenced, under their locks.
func (s *Service) removeMarked(ctx context.Context, marked []int) (Sweep, error) {
	sys := viewer.SystemContext(ctx)
	var done Sweep
	var failed error
	err := s.write(ctx, 0, func(w *writeTx) error {
		done, failed = Sweep{}, nil
		if _, err := w.client.Blob.Query().Where(blob.IDIn(marked...), forUpdate).
			Order(ent.Asc(blob.FieldID)).IDs(sys); err != nil {
			return err
		}
		// An upload may have unmarked a blob meanwhile; a manifest that
		// read it before it was marked may have referenced it: both keep it.
		sure, err := w.client.Blob.Query().
			Where(blob.IDIn(marked...), blob.SweepingAtNotNil(), unreferenced()).
			Select(blob.FieldID, blob.FieldDigest, blob.FieldSize).All(sys)
		if err != nil {
			return err
		}
		var gone []int
		for _, b := range sure {
			if err := s.blobs.Delete(ctx, digest.Digest(b.Digest)); err != nil && !errors.Is(err, storage.ErrNotFound) {
				failed = err
				break
			}
			gone = append(gone, b.ID)
			done.Blobs++
			done.Bytes += b.Size
		}
		if len(gone) > 0 {
			if _, err := w.client.Blob.Delete().Where(blob.IDIn(gone...)).Exec(sys); err != nil {
				return err
			}
		}
		// Referenced since it was marked: it stays, and is served again.
		return w.client.Blob.Update().Where(blob.IDIn(marked...), blob.SweepingAtNotNil(), blob.Not(unreferenced())).
			ClearSweepingAt().Exec(sys)
	})
	if err == nil {
		err = failed
	}
	return done, err
}

// SweepOrphan deletes file d of the store, which has no row, unless an
// upload is recording it right now (see the top of this file). It
// reports whether it deleted the file.
func (s *Service) SweepOrphan(ctx context.Context, d digest.Digest, size int64) (bool, error) {
	deleted := false
	err := s.write(ctx, 0, func(w *writeTx) error {
		sys := viewer.SystemContext(ctx)
		b, err := w.client.Blob.Create().SetDigest(d.String()).SetSize(size).
			SetLastUsedAt(time.Unix(0, 0)).Save(sys)
		if ent.IsConstraintError(err) {
			return errSkip // a row exists now: not an orphan
		}
		if err != nil {
			return err
		}
		if err := s.blobs.Delete(ctx, d); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		deleted = true
		return w.client.Blob.DeleteOneID(b.ID).Exec(sys)
	})
	if errors.Is(err, errSkip) {
		return false, nil
	}
	return deleted, err
}

// errSkip rolls back a change that turned out to have nothing to do.
var errSkip = errors.New("nothing to do")

// KnownBlobs returns which of digests have a row.
func (s *Service) KnownBlobs(ctx context.Context, digests []string) (map[string]bool, error) {
	known, err := s.client.Blob.Query().Where(blob.DigestIn(digests...)).
		Select(blob.FieldDigest).Strings(viewer.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(known))
	for _, d := range known {
		out[d] = true
	}
	return out, nil
}

// untagged matches the artifacts garbage collection may delete as
// untagged: no tag, listed by no index, not a referrer of an artifact that
// exists, pushed before cutoff.
func untagged(cutoff time.Time) predicate.Artifact {
	return artifact.And(
		artifact.Not(artifact.HasTags()),
		artifact.Not(artifact.HasParents()),
		artifact.PushedAtLT(cutoff),
		artifact.Or(artifact.SubjectDigestIsNil(), artifact.Not(SubjectExists())),
	)
}

// UntaggedArtifacts returns the ids of the artifacts deleting the untagged
// ones before cutoff would delete: each with its referrers and the index
// children nothing else keeps.
func (s *Service) UntaggedArtifacts(ctx context.Context, cutoff time.Time) ([]int, error) {
	roots, err := s.untaggedRoots(ctx, cutoff)
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	var out []int
	for _, a := range roots {
		ids, err := goingWith(ctx, s.client, a)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out, nil
}

// DeleteUntagged deletes the untagged artifacts pushed before cutoff (see
// untagged), each through the write path in its own transaction with its
// referrers and unkept children, and returns how many artifacts went.
// An artifact tagged or listed meanwhile is left alone. Called by garbage
// collection, which the caller has authorised.
func (s *Service) DeleteUntagged(ctx context.Context, cutoff time.Time) (int, error) {
	sys := viewer.SystemContext(ctx)
	roots, err := s.untaggedRoots(ctx, cutoff)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, a := range roots {
		repo := a.Edges.Repository
		n := 0
		err := s.write(sys, repo.ProjectID, func(w *writeTx) (err error) {
			n, w.keepGrace = 0, true
			// Still untagged now that the project is locked?
			still, err := w.client.Artifact.Query().Where(artifact.ID(a.ID), untagged(cutoff)).Exist(sys)
			if err != nil || !still {
				return err
			}
			ids, err := goingWith(sys, w.client, a)
			if err != nil {
				return err
			}
			n, err = w.deleteArtifacts(repo.Name, ids)
			return err
		})
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// untaggedRoots reads the artifacts untagged(cutoff) matches, with their
// repository.
func (s *Service) untaggedRoots(ctx context.Context, cutoff time.Time) ([]*ent.Artifact, error) {
	return s.client.Artifact.Query().Where(untagged(cutoff)).
		WithRepository(func(q *ent.RepositoryQuery) {
			q.Select(repository.FieldID, repository.FieldName, repository.FieldProjectID)
		}).
		Select(artifact.FieldID, artifact.FieldDigest, artifact.FieldRepositoryID).All(viewer.SystemContext(ctx))
}

// SubjectExists matches referrers whose subject is an artifact of their
// own repository.
func SubjectExists() predicate.Artifact {
	return func(s *entsql.Selector) {
		subj := entsql.Table(artifact.Table).As("subject")
		s.Where(entsql.Exists(entsql.Select(subj.C(artifact.FieldID)).From(subj).Where(entsql.And(
			entsql.ColumnsEQ(subj.C(artifact.FieldRepositoryID), s.C(artifact.FieldRepositoryID)),
			entsql.ColumnsEQ(subj.C(artifact.FieldDigest), s.C(artifact.FieldSubjectDigest)),
		))))
	}
}
