package registry

import (
	"context"
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
