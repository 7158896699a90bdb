package artifacts

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/blob"
	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/repositoryblob"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry/storage"
)

// BlobSize returns the size of blob d if repository r links it (an upload
// to r, a mount into r, or a manifest of r referencing it); otherwise the
// error wraps ErrBlobUnknown.
func (s *Service) BlobSize(ctx context.Context, r *Repo, d digest.Digest) (int64, error) {
	if r.Repository == nil {
		return 0, blobUnknown(r.Name, d.String())
	}
	key := strconv.Itoa(r.Repository.ID) + "@" + d.String()
	if size, ok := s.manifests.blobSize(r.Project.Name, key); ok {
		return size, nil
	}
	gen := s.manifests.generation(r.Project.Name)
	b, err := s.client.Blob.Query().
		Where(blob.Digest(d.String()), blob.SweepingAtIsNil(), blob.HasLinksWith(repositoryblob.RepositoryID(r.Repository.ID))).
		Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return 0, blobUnknown(r.Name, d.String())
	}
	if err != nil {
		return 0, err
	}
	s.manifests.putBlobSize(r.Project.Name, key, gen, b.Size)
	return b.Size, nil
}

// CommitBlob makes blob d of size bytes readable from repository r:
// place moves its verified bytes into the blob store. The blob's row is
// written (or, if it exists, locked and its grace period restarted)
// before place runs, in the transaction that links the blob, so garbage
// collection, which deletes a row under the same lock before the bytes,
// can never remove bytes this commit has just placed or found in place.
// The repository is created on its first upload. The caller got r from
// Access with auth.RepositoryPush. Each of also runs in the same
// transaction (on every attempt of it), for the caller's own bookkeeping
// that must stand or fall with the blob, such as removing the finished
// upload's session.
//
// On PostgreSQL the commit does not wait for the write-ahead log's flush
// (one disk flush fewer per blob; it follows within the WAL writer's
// delay). A database crash may then lose the last blobs' rows, never
// half of one: their bytes, fsynced before the commit, are swept as
// orphans, and the client's manifest PUT answers MANIFEST_BLOB_UNKNOWN,
// so it pushes them again. Nothing that was answered as pushed for good
// is lost: the manifest's commit waits for the flush, and the log is
// flushed in order, so a manifest that committed carries its blobs'
// rows with it. SQLite in WAL mode with synchronous=NORMAL treats every
// commit so already.
func (s *Service) CommitBlob(ctx context.Context, r *Repo, d digest.Digest, size int64, place func(context.Context) error, also ...func(tx *ent.Client) error) error {
	placed := false
	err := s.writeAs(ctx, 0, writeMode{unsynced: true}, func(w *writeTx) error {
		repo, err := s.ensureRepository(w, r)
		if err != nil {
			return err
		}
		id, err := w.client.Blob.Create().SetDigest(d.String()).SetSize(size).SetLastUsedAt(time.Now()).
			OnConflictColumns(blob.FieldDigest).UpdateLastUsedAt().ClearSweepingAt().
			ID(viewer.SystemContext(ctx))
		if err != nil {
			return wrapf(err, "recording blob %s", d)
		}
		// A retry (PostgreSQL broke a deadlock) finds the bytes placed by
		// the first attempt: under the row's lock again, they are there
		// unless a sweep removed them meanwhile.
		if placed {
			if _, err := s.blobs.Stat(ctx, d); err != nil {
				return fmt.Errorf("blob %s vanished while its upload was retried: push it again: %w", d, err)
			}
		} else if err := place(ctx); err != nil {
			return err
		}
		placed = true
		if err := w.link(repo.ID, id); err != nil {
			return err
		}
		w.record(change.OperationBLOB_LINKED, r.Project.Name, r.Name, d.String(), "", nil, size)
		for _, fn := range also {
			if err := fn(w.client); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && r.Repository != nil && ent.IsConstraintError(err) {
		r.Repository = nil // a cached repository deleted meanwhile
	}
	return err
}

// link records that repository repoID may serve blob blobID. The blob's
// row must exist: linking takes the same row lock as a reference, so a
// blob that garbage collection removed meanwhile fails the foreign key.
func (w *writeTx) link(repoID, blobID int) error {
	err := w.client.RepositoryBlob.Create().SetRepositoryID(repoID).SetBlobID(blobID).
		OnConflictColumns(repositoryblob.FieldRepositoryID, repositoryblob.FieldBlobID).Ignore().
		Exec(viewer.SystemContext(w.ctx))
	if err != nil {
		return wrapf(err, "linking blob %d", blobID)
	}
	return nil
}

// UnlinkBlob removes blob d from repository r (DELETE of a blob). The bytes
// stay in the store until garbage collection finds nothing links them.
func (s *Service) UnlinkBlob(ctx context.Context, name string, d digest.Digest) error {
	r, err := s.Access(ctx, name, auth.ArtifactDelete)
	if err != nil {
		return err
	}
	return s.write(ctx, r.Project.ID, func(w *writeTx) error {
		n, err := w.client.RepositoryBlob.Delete().
			Where(repositoryblob.RepositoryID(r.Repository.ID), repositoryblob.HasBlobWith(blob.Digest(d.String()))).
			Exec(viewer.SystemContext(ctx))
		if err != nil {
			return err
		}
		if n == 0 {
			return blobUnknown(name, d.String())
		}
		w.record(change.OperationBLOB_UNLINKED, r.Project.Name, name, d.String(), "", nil, 0)
		return nil
	})
}

// MountBlob links blob d into r without an upload. With from set, the blob
// must be linked in repository from and the caller may pull from it; with
// from empty, any repository the caller can see that links d will do. It
// reports false (and no error) when the blob cannot be mounted, so that the
// handler falls back to a regular upload as the spec requires.
func (s *Service) MountBlob(ctx context.Context, r *Repo, from string, d digest.Digest) (int64, bool, error) {
	if err := d.Validate(); err != nil {
		return 0, false, nil
	}
	var size int64
	if from != "" {
		src, err := s.Access(ctx, from, auth.RepositoryPull)
		if err != nil {
			return 0, false, nil
		}
		size, err = s.BlobSize(ctx, src, d)
		if errors.Is(err, ErrBlobUnknown) {
			return 0, false, nil
		} else if err != nil {
			return 0, false, err
		}
	} else {
		var ok bool
		var err error
		size, ok, err = s.readableBlob(ctx, d)
		if err != nil || !ok {
			return 0, false, err
		}
	}
	if err := s.CheckQuota(ctx, r, d, size); err != nil {
		return 0, false, err
	}
	mounted := false
	err := s.write(ctx, 0, func(w *writeTx) error {
		sys := viewer.SystemContext(ctx)
		// Restarting the grace period locks the row; a row garbage
		// collection removed meanwhile is gone, and the client uploads.
		if n, err := w.client.Blob.Update().Where(blob.Digest(d.String()), blob.SweepingAtIsNil()).SetLastUsedAt(time.Now()).Save(sys); err != nil || n == 0 {
			return err
		}
		id, err := w.client.Blob.Query().Where(blob.Digest(d.String())).OnlyID(sys)
		if err != nil {
			return err
		}
		// The database may know a blob the store lost (a failed
		// restore): mount only what is really there.
		if _, err := s.blobs.Stat(ctx, d); errors.Is(err, storage.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		repo, err := s.ensureRepository(w, r)
		if err != nil {
			return err
		}
		if err := w.link(repo.ID, id); err != nil {
			return err
		}
		w.record(change.OperationBLOB_MOUNTED, r.Project.Name, r.Name, d.String(), "", nil, size)
		mounted = true
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	return size, mounted, nil
}

// readableBlob reports whether some repository the caller may see links d.
func (s *Service) readableBlob(ctx context.Context, d digest.Digest) (int64, bool, error) {
	return readableBlob(ctx, s.client, d)
}

// readableBlob asks client: inside a write, the transaction's, so that it
// needs no second connection. (SQLite's pool is small: writers waiting
// for the write lock could hold every other connection, and the write
// holding the lock would wait on them for the whole busy timeout.)
func readableBlob(ctx context.Context, client *ent.Client, d digest.Digest) (int64, bool, error) {
	sys := viewer.SystemContext(ctx)
	b, err := client.Blob.Query().Where(blob.Digest(d.String()), blob.SweepingAtIsNil()).Only(sys)
	if ent.IsNotFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	// The caller's own context: privacy rules keep only visible repositories.
	ok, err := client.Repository.Query().
		Where(repository.HasBlobLinksWith(repositoryblob.BlobID(b.ID))).Exist(ctx)
	if err != nil {
		return 0, false, err
	}
	return b.Size, ok, nil
}
