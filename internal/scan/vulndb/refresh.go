package vulndb

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/viewer"
)

// refreshTimeout bounds one refresh: its downloads (DownloadTimeout each)
// and imports. A download file older than this is left over from a
// process that died, and is removed.
const refreshTimeout = 4 * time.Hour

// RefreshArgs is the job that imports the configured URLs into the
// database (--vulndb-url, every --vulndb-refresh).
type RefreshArgs struct{}

// Kind is the job kind.
func (RefreshArgs) Kind() string { return "vulndb_refresh" }

// InsertOpts: a refresh runs on the maintenance queue, one at a time; a
// tick while one waits, runs or is to be retried adds none. A failed one
// is retried (River's backoff from --job-retry-delay), and after its last
// attempt the next tick tries again.
func (RefreshArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       jobs.QueueMaintenance,
		MaxAttempts: 5,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		}},
	}
}

// RefreshOptions configure the scheduled refresh.
type RefreshOptions struct {
	Client *ent.Client
	// URLs are what each refresh imports, in order.
	URLs []string
	// Every is the interval between refreshes; 0 (or no URLs) schedules
	// none.
	Every time.Duration
	// TempDir holds the downloads while they are imported; "" is
	// os.TempDir().
	TempDir string
	Logger  *slog.Logger
	// Changed, if set, is the job enqueued after a refresh that changed
	// the database: the scanner's pass over the reports it made stale,
	// which then need not wait for the pass's next hourly run.
	Changed river.JobArgs
}

// Refresher keeps the database current from URLs: a periodic job on the
// leader of the job queue, so it runs once per tick across replicas.
type Refresher struct {
	opts RefreshOptions
	jobs *jobs.Service
}

// NewRefresher returns the refresher of opts; register its Worker and
// call Schedule before the queue starts.
func NewRefresher(opts RefreshOptions) *Refresher {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Refresher{opts: opts}
}

// Schedule runs the refresh every opts.Every (and once when this process
// becomes the leader, so that a new installation gets its records at
// once), if there is anything to refresh.
func (r *Refresher) Schedule(q *jobs.Service) {
	r.jobs = q
	if len(r.opts.URLs) == 0 || r.opts.Every <= 0 {
		return
	}
	q.Every(r.opts.Every, func() river.JobArgs { return RefreshArgs{} })
}

// Worker is the job worker of RefreshArgs. Register it whatever the
// settings: a refresh enqueued before the URLs were removed then finds
// nothing to do rather than no worker.
func (r *Refresher) Worker() river.Worker[RefreshArgs] { return &refreshWorker{r: r} }

type refreshWorker struct {
	river.WorkerDefaults[RefreshArgs]
	r *Refresher
}

// Timeout bounds one refresh.
func (w *refreshWorker) Timeout(*river.Job[RefreshArgs]) time.Duration { return refreshTimeout }

// Work imports every URL, each on its own: one that fails (and is logged)
// does not keep the others from being imported, but fails the job, which
// is retried. A failed download writes nothing; an import stopped by a bad
// record keeps the batches before it, as `berth vulndb import` does.
func (w *refreshWorker) Work(ctx context.Context, job *river.Job[RefreshArgs]) error {
	r := w.r
	if len(r.opts.URLs) == 0 {
		return nil
	}
	log := r.opts.Logger.With("job", job.ID)
	if r.opts.TempDir != "" {
		if err := os.MkdirAll(r.opts.TempDir, 0o750); err != nil {
			return err
		}
		removeLeftovers(r.opts.TempDir, log)
	}
	sys := viewer.SystemContext(ctx)
	var errs []error
	changed := false
	for _, u := range r.opts.URLs {
		began := time.Now()
		res, ch, err := importFrom(sys, r.opts.Client, importOptions{tempDir: r.opts.TempDir}, []string{u})
		changed = changed || ch
		attrs := []any{"url", Redact(u), "read", res.Read, "added", res.Added, "updated", res.Updated,
			"unchanged", res.Unchanged, "withdrawn", res.Withdrawn, "took", time.Since(began).Round(time.Millisecond)}
		if err != nil {
			log.Warn("vulnerability database refresh failed", append(attrs, "attempt", job.Attempt, "err", err)...)
			errs = append(errs, err)
			continue
		}
		log.Info("vulnerability database refreshed", attrs...)
	}
	if changed && r.opts.Changed != nil && r.jobs != nil {
		// Not a reason to retry the imports: the hourly pass comes anyway.
		if _, err := r.jobs.Insert(ctx, r.opts.Changed, nil); err != nil {
			log.Warn("enqueueing the re-scan after a vulnerability database refresh", "err", err)
		}
	}
	return errors.Join(errs...)
}

// removeLeftovers removes the downloads of refreshes whose process died.
func removeLeftovers(dir string, log *slog.Logger) {
	old, _ := filepath.Glob(filepath.Join(dir, "vulndb-*.download"))
	for _, p := range old {
		if info, err := os.Stat(p); err == nil && time.Since(info.ModTime()) > refreshTimeout {
			if err := os.Remove(p); err != nil {
				log.Warn("removing a leftover vulnerability database download", "path", p, "err", err)
			}
		}
	}
}
