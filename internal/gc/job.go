package gc

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/garbagecollection"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/viewer"
)

// JobArgs is a garbage collection job: what runGarbageCollection and the
// GARBAGE_COLLECTION schedule enqueue.
type JobArgs struct {
	Request
}

// Kind names the job kind.
func (JobArgs) Kind() string { return "garbage_collection" }

// InsertOpts puts runs on their own queue, one at a time per process (the
// lease makes it one at a time everywhere). A run the lease refused is
// not retried: the run holding it does the work.
func (JobArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueGC, MaxAttempts: 5}
}

// Worker runs garbage collection jobs.
type Worker struct {
	river.WorkerDefaults[JobArgs]
	c *Collector
}

// Worker returns the River worker of garbage collection jobs.
func (c *Collector) Worker() *Worker { return &Worker{c: c} }

// Work runs one collection to its end.
func (w *Worker) Work(ctx context.Context, job *river.Job[JobArgs]) error {
	req := job.Args.Request
	req.JobID = job.ID
	_, err := w.c.Run(viewer.SystemContext(ctx), req)
	if errors.Is(err, errdefs.ErrConflict) {
		return river.JobCancel(err)
	}
	return err
}

// Enqueue asks for a run as a job and returns its record once the job has
// started it (with wait, once it has finished). A run in progress is a
// conflict. System admins only.
func (c *Collector) Enqueue(ctx context.Context, q *jobs.Service, req Request, wait bool) (*ent.GarbageCollection, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	if holder, err := database.LeaseHolder(sys, c.opts.Client, leaseName); err != nil {
		return nil, err
	} else if holder != "" && !database.HolderGone(holder) {
		return nil, errdefs.Conflictf("a garbage collection is already running; wait for it to finish")
	}
	req.TriggeredBy = viewer.FromContext(ctx).Name()
	job, err := q.Insert(ctx, JobArgs{Request: req}, nil)
	if err != nil {
		return nil, err
	}
	if wait {
		if job, err = q.Wait(ctx, job.ID); err != nil {
			return nil, err
		}
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		run, err := c.opts.Client.GarbageCollection.Query().
			Where(garbagecollection.JobID(job.ID)).Order(ent.Desc(garbagecollection.FieldID)).First(sys)
		if err == nil {
			return run, nil
		}
		if !ent.IsNotFound(err) {
			return nil, err
		}
		if job, err = q.Get(ctx, job.ID); err != nil {
			return nil, err
		}
		if job.FinalizedAt != nil {
			return nil, errdefs.Conflictf("a garbage collection is already running; wait for it to finish")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}
