package registry_test

import (
	"context"
	"testing"
	"time"

	"github.com/berth-registry/berth/ent/uploadsession"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry"
)

func TestStaleUploadsArePurged(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		ctx := viewer.SystemContext(context.Background())
		fresh := e.do(req{method: "POST", path: "/v2/team/app/blobs/uploads/", user: "dev"})
		expect(t, fresh, 202, "")
		old := e.do(req{method: "POST", path: "/v2/team/app/blobs/uploads/", user: "dev"})
		expect(t, old, 202, "")
		oldID := old.Header.Get("Docker-Upload-UUID")
		expect(t, e.do(req{method: "PATCH", path: old.Header.Get("Location"), user: "dev", body: []byte("partial"),
			header: map[string]string{"Content-Type": "application/octet-stream"}}), 202, "")
		db.UploadSession.Update().Where(uploadsession.UUID(oldID)).SetUpdatedAt(time.Now().Add(-48 * time.Hour)).ExecX(ctx)

		n, err := registry.PurgeUploads(ctx, db, e.Blobs, registry.UploadTTL)
		if err != nil || n != 1 {
			t.Fatalf("purged %d, %v; want 1", n, err)
		}
		if size, _ := e.Blobs.UploadSize(ctx, oldID); size != 0 {
			t.Fatalf("the stale upload's bytes are still there: %d", size)
		}
		expect(t, e.do(req{method: "GET", path: old.Header.Get("Location"), user: "dev"}), 404, "BLOB_UPLOAD_UNKNOWN")
		expect(t, e.do(req{method: "GET", path: fresh.Header.Get("Location"), user: "dev"}), 204, "")
	})
}
