package registry

import (
	"context"
	"log/slog"
	"time"

	"github.com/berth-registry/berth/ent/uploadsession"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry/storage"
)

// UploadTTL is how long an upload may sit untouched before it is dropped,
// as Distribution's upload purging does.
const UploadTTL = 24 * time.Hour

// PurgeUploads drops upload sessions untouched for longer than ttl, with
// their bytes. Several replicas may run it at once: each session is
// removed by whoever gets to it, and removing twice is harmless.
func PurgeUploads(ctx context.Context, db *database.DB, blobs *storage.Blobs, ttl time.Duration) (int, error) {
	sys := viewer.SystemContext(ctx)
	stale, err := db.UploadSession.Query().Where(uploadsession.UpdatedAtLT(time.Now().Add(-ttl))).All(sys)
	if err != nil {
		return 0, err
	}
	for _, s := range stale {
		if err := blobs.CancelUpload(ctx, s.UUID); err != nil {
			return 0, err
		}
		if _, err := db.UploadSession.Delete().Where(uploadsession.ID(s.ID)).Exec(sys); err != nil {
			return 0, err
		}
	}
	return len(stale), nil
}

// RunUploadPurge purges stale uploads every interval until ctx ends.
func RunUploadPurge(ctx context.Context, db *database.DB, blobs *storage.Blobs, log *slog.Logger, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := PurgeUploads(ctx, db, blobs, UploadTTL); err != nil {
			log.Error("purging stale uploads", "err", err)
		} else if n > 0 {
			log.Info("purged stale uploads", "uploads", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
