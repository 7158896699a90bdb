package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry"
	"github.com/berth-registry/berth/registry/storage"
)

// Housekeeping runs as jobs, so that one process does each of them per
// tick however many replicas there are.

// outboxKeep is how long published outbox rows are kept.
const outboxKeep = 7 * 24 * time.Hour

// HousekeepingArgs is an hourly cleanup job: What is "uploads" (stale
// upload sessions), "audit" (audit entries past retention) or "outbox"
// (published change records).
type HousekeepingArgs struct {
	What string `json:"what"`
}

// Kind names the job kind.
func (a HousekeepingArgs) Kind() string { return "housekeeping" }

// InsertOpts puts housekeeping on the maintenance queue.
func (HousekeepingArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMaintenance, MaxAttempts: 3}
}

type housekeeper struct {
	river.WorkerDefaults[HousekeepingArgs]
	db        *database.DB
	blobs     *storage.Blobs
	audit     *audit.Recorder
	retention time.Duration
	log       *slog.Logger
}

func (h *housekeeper) Work(ctx context.Context, job *river.Job[HousekeepingArgs]) error {
	var n int
	var err error
	switch job.Args.What {
	case "uploads":
		n, err = registry.PurgeUploads(ctx, h.db, h.blobs, registry.UploadTTL)
	case "audit":
		if h.retention > 0 {
			n, err = h.audit.Purge(ctx, h.retention)
		}
	case "outbox":
		n, err = h.db.Change.Delete().
			Where(change.PublishedAtLT(time.Now().Add(-outboxKeep))).Exec(viewer.SystemContext(ctx))
	default:
		return river.JobCancel(errUnknownHousekeeping(job.Args.What))
	}
	if err == nil && n > 0 {
		h.log.Info("housekeeping", "what", job.Args.What, "deleted", n)
	}
	return err
}

type errUnknownHousekeeping string

func (e errUnknownHousekeeping) Error() string { return "unknown housekeeping " + string(e) }

// scheduleHousekeeping makes the leader run each cleanup hourly.
func scheduleHousekeeping(q *jobs.Service) {
	for _, what := range []string{"uploads", "audit", "outbox"} {
		q.Every(time.Hour, func() river.JobArgs { return HousekeepingArgs{What: what} })
	}
}
