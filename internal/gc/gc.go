// Package gc is berth's garbage collector: it reclaims the bytes of blobs
// that no manifest references any more, online, while pushes and pulls go
// on. The deleting itself happens in the write path (artifacts.SweepBlobs,
// whose comment says why a push can never lose a blob to it); this package
// decides what to look at, runs at most once at a time across every berth
// process on one database (a lease), and records each run.
//
// A run:
//  1. optionally deletes untagged artifacts pushed before the grace
//     period (with their referrers and the index children nothing keeps);
//  2. sweeps, in batches spread over workers, the blobs that no manifest
//     references and that were last linked or referenced before the grace
//     period;
//  3. sweeps files in the store that have no row (a crash between placing
//     bytes and committing their row) and upload directories without an
//     upload session, once they are older than the grace period.
package gc

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/ent/garbagecollection"
	"github.com/berth-registry/berth/ent/uploadsession"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry/storage"
)

// Options configures a Collector.
type Options struct {
	Client  *ent.Client
	Blobs   *storage.Blobs
	Content *artifacts.Service
	// Grace is how long a blob nothing references is kept after it was
	// last linked or referenced; 0 deletes at once (tests).
	Grace time.Duration
	// Workers is how many batches are swept at once; 4 when zero.
	Workers int
	Logger  *slog.Logger
}

// Collector runs garbage collections.
type Collector struct {
	opts   Options
	holder string
}

// New returns a Collector.
func New(opts Options) *Collector {
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	host, _ := os.Hostname()
	return &Collector{opts: opts, holder: fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano())}
}

const (
	leaseName = "garbage-collection"
	// leaseTTL bounds how long a run of a process that died blocks the
	// next one; the running process renews it every leaseTTL/3.
	leaseTTL = 30 * time.Second
	// batchSize is how many blobs one sweep transaction handles.
	batchSize = 500
	// stagedAge is the least age of a staged PUT upload without a session
	// before it is swept: such a request may still be streaming.
	stagedAge = time.Hour
	// maxLog bounds the log kept with a run.
	maxLog = 64 << 10
)

// Request is what a run should do.
type Request struct {
	// DryRun reports what would be freed without deleting anything.
	DryRun bool `json:"dryRun,omitempty"`
	// DeleteUntagged deletes untagged artifacts first.
	DeleteUntagged bool `json:"deleteUntagged,omitempty"`
	// TriggeredBy is who asked for the run, when not the caller (a job
	// runs as berth on someone's behalf).
	TriggeredBy string `json:"triggeredBy,omitempty"`
	// JobID is the job running it, if any.
	JobID int64 `json:"-"`
}

// Start begins a run in the background and returns its record and a
// channel closed when it has finished. System admins only (the CLI runs
// as berth itself). Another run in progress anywhere on the database is a
// conflict.
func (c *Collector) Start(ctx context.Context, req Request) (*ent.GarbageCollection, <-chan struct{}, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, nil, err
	}
	sys := viewer.SystemContext(ctx)
	ok, err := database.AcquireLease(sys, c.opts.Client, leaseName, c.holder, leaseTTL)
	if err == nil && !ok {
		ok, err = c.takeFromDead(sys)
	}
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, errdefs.Conflictf("a garbage collection is already running; wait for it to finish")
	}
	// Holding the lease, nothing else runs: a run still marked running
	// belonged to a process that stopped.
	err = c.opts.Client.GarbageCollection.Update().
		Where(garbagecollection.StatusEQ(garbagecollection.StatusRUNNING)).
		SetStatus(garbagecollection.StatusFAILED).SetFinishedAt(time.Now()).
		SetLog("interrupted: the process running it stopped before it finished\n").Exec(sys)
	if err != nil {
		database.ReleaseLease(sys, c.opts.Client, leaseName, c.holder)
		return nil, nil, err
	}
	run, err := c.opts.Client.GarbageCollection.Create().
		SetDryRun(req.DryRun).SetDeleteUntagged(req.DeleteUntagged).
		SetGraceSeconds(int64(c.opts.Grace / time.Second)).
		SetTriggeredBy(cmp.Or(req.TriggeredBy, viewer.FromContext(ctx).Name())).SetJobID(req.JobID).Save(sys)
	if err != nil {
		database.ReleaseLease(sys, c.opts.Client, leaseName, c.holder)
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.run(context.WithoutCancel(sys), run, req)
	}()
	return run, done, nil
}

// takeFromDead takes the lease from a holder that was a process of this
// host which no longer exists (killed mid-run), instead of waiting for its
// lease to lapse.
func (c *Collector) takeFromDead(ctx context.Context) (bool, error) {
	holder, err := database.LeaseHolder(ctx, c.opts.Client, leaseName)
	if err != nil || holder == "" {
		return false, err
	}
	if !database.HolderGone(holder) {
		return false, nil
	}
	c.opts.Logger.Warn("taking the garbage collection lease of a process that no longer exists", "holder", holder)
	return database.TakeLease(ctx, c.opts.Client, leaseName, holder, c.holder, leaseTTL)
}

// Run runs a collection to its end and returns its record.
func (c *Collector) Run(ctx context.Context, req Request) (*ent.GarbageCollection, error) {
	run, done, err := c.Start(ctx, req)
	if err != nil {
		return nil, err
	}
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return c.opts.Client.GarbageCollection.Get(viewer.SystemContext(ctx), run.ID)
}

// result is what a run found and did, filled by its phases.
type result struct {
	mu  sync.Mutex
	log strings.Builder
	// verb says what the run does to what it finds: "deleted", or
	// "would delete" in a dry run.
	verb     string
	blobs    atomic.Int64
	bytes    atomic.Int64
	arts     int
	failures int
}

func (r *result) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.log.Len() > maxLog {
		return
	}
	fmt.Fprintf(&r.log, "%s ", time.Now().UTC().Format(time.TimeOnly))
	fmt.Fprintf(&r.log, format, args...)
	r.log.WriteByte('\n')
	if r.log.Len() > maxLog {
		r.log.WriteString("(log truncated)\n")
	}
}

func (r *result) fail(format string, args ...any) {
	r.mu.Lock()
	r.failures++
	r.mu.Unlock()
	r.logf("error: "+format, args...)
}

func (c *Collector) run(ctx context.Context, run *ent.GarbageCollection, req Request) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := c.opts.Client
	defer database.ReleaseLease(context.WithoutCancel(ctx), client, leaseName, c.holder)
	go c.renew(ctx, cancel)

	res := &result{verb: "deleted"}
	start := time.Now()
	cutoff := start.Add(-c.opts.Grace)
	if req.DryRun {
		res.verb = "would delete"
		res.logf("dry run: nothing is deleted")
	}
	res.logf("grace period %s: blobs last used before %s are eligible", c.opts.Grace, cutoff.UTC().Format(time.RFC3339))

	var doomed []int
	if req.DeleteUntagged {
		if req.DryRun {
			ids, err := c.opts.Content.UntaggedArtifacts(ctx, cutoff)
			if err != nil {
				res.fail("listing untagged artifacts: %v", err)
			}
			doomed, res.arts = ids, len(ids)
		} else {
			n, err := c.opts.Content.DeleteUntagged(ctx, cutoff)
			if err != nil {
				res.fail("deleting untagged artifacts: %v", err)
			}
			res.arts = n
		}
		res.logf("untagged artifacts: %s %d", res.verb, res.arts)
	}

	c.sweepBlobs(ctx, res, cutoff, req.DryRun, doomed)
	res.logf("unreferenced blobs: %s %d (%d bytes)", res.verb, res.blobs.Load(), res.bytes.Load())
	c.sweepStore(ctx, res, cutoff, req.DryRun)

	status := garbagecollection.StatusSUCCEEDED
	if res.failures > 0 || ctx.Err() != nil {
		status = garbagecollection.StatusFAILED
		if ctx.Err() != nil {
			res.logf("error: the run lost its lease and stopped")
		}
	}
	res.logf("finished in %s: %s %d blobs, %d bytes, %d artifacts", time.Since(start).Round(time.Millisecond),
		res.verb, res.blobs.Load(), res.bytes.Load(), res.arts)
	c.opts.Logger.Info("garbage collection finished", "run", run.ID, "status", status, "dry_run", req.DryRun,
		"blobs", res.blobs.Load(), "bytes", res.bytes.Load(), "artifacts", res.arts, "duration", time.Since(start))
	err := client.GarbageCollection.UpdateOneID(run.ID).SetStatus(status).SetFinishedAt(time.Now()).
		SetBlobsDeleted(int(res.blobs.Load())).SetBytesFreed(res.bytes.Load()).SetArtifactsDeleted(res.arts).
		SetLog(res.log.String()).Exec(context.WithoutCancel(ctx))
	if err != nil {
		c.opts.Logger.Error("recording the end of a garbage collection", "run", run.ID, "err", err)
	}
	err = c.opts.Content.RecordEvent(context.WithoutCancel(ctx), change.OperationGC_COMPLETED, "", map[string]any{
		"runId": run.ID, "status": string(status), "dryRun": req.DryRun,
		"blobsDeleted": res.blobs.Load(), "bytesFreed": res.bytes.Load(), "artifactsDeleted": res.arts,
	})
	if err != nil {
		c.opts.Logger.Warn("recording the garbage collection's event", "run", run.ID, "err", err)
	}
}

// renew keeps the lease while the run goes on and cancels the run if the
// lease was lost (the database was unreachable for longer than its TTL
// and another process took it).
func (c *Collector) renew(ctx context.Context, cancel context.CancelFunc) {
	t := time.NewTicker(leaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := database.RenewLease(ctx, c.opts.Client, leaseName, c.holder, leaseTTL)
		if err != nil {
			c.opts.Logger.Warn("renewing the garbage collection lease", "err", err)
			continue
		}
		if !ok {
			cancel()
			return
		}
	}
}

// sweepBlobs reads unreferenced blobs past the grace period in id order,
// a batch at a time, and sweeps the batches on the workers.
func (c *Collector) sweepBlobs(ctx context.Context, res *result, cutoff time.Time, dryRun bool, doomed []int) {
	batches := make(chan []int, c.opts.Workers)
	var wg sync.WaitGroup
	for range c.opts.Workers {
		wg.Go(func() {
			for ids := range batches {
				swept, err := c.opts.Content.SweepBlobs(ctx, ids, cutoff)
				res.blobs.Add(int64(swept.Blobs))
				res.bytes.Add(swept.Bytes)
				if err != nil {
					res.fail("sweeping %d blobs: %v", len(ids), err)
				}
			}
		})
	}
	after := 0
	for ctx.Err() == nil {
		page, err := c.opts.Content.SweepCandidates(ctx, after, cutoff, batchSize, doomed)
		if err != nil {
			res.fail("finding unreferenced blobs: %v", err)
			break
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
		if dryRun {
			for _, b := range page {
				res.blobs.Add(1)
				res.bytes.Add(b.Size)
			}
			continue
		}
		ids := make([]int, len(page))
		for i, b := range page {
			ids[i] = b.ID
		}
		batches <- ids
	}
	close(batches)
	wg.Wait()
}

// sweepStore removes what the store holds that no row accounts for: blob
// files without a row and upload directories without a session, older
// than the grace period.
func (c *Collector) sweepStore(ctx context.Context, res *result, cutoff time.Time, dryRun bool) {
	var orphans, orphanBytes atomic.Int64
	type file struct {
		d    digest.Digest
		size int64
	}
	// Each orphan is swept in its own transaction, on the workers.
	work := make(chan file, c.opts.Workers)
	var wg sync.WaitGroup
	for range c.opts.Workers {
		wg.Go(func() {
			for f := range work {
				deleted, err := c.opts.Content.SweepOrphan(ctx, f.d, f.size)
				if err != nil {
					res.fail("sweeping file %s: %v", f.d, err)
				} else if deleted {
					orphans.Add(1)
					orphanBytes.Add(f.size)
				}
			}
		})
	}
	var pending []file
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		ds := make([]string, len(pending))
		for i, f := range pending {
			ds[i] = f.d.String()
		}
		known, err := c.opts.Content.KnownBlobs(ctx, ds)
		if err != nil {
			return err
		}
		for _, f := range pending {
			switch {
			case known[f.d.String()]:
			case dryRun:
				orphans.Add(1)
				orphanBytes.Add(f.size)
			default:
				work <- f
			}
		}
		pending = pending[:0]
		return nil
	}
	err := c.opts.Blobs.WalkBlobs(ctx, func(d digest.Digest, size int64, mod time.Time) error {
		if !mod.Before(cutoff) {
			return nil
		}
		pending = append(pending, file{d, size})
		if len(pending) == batchSize {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	close(work)
	wg.Wait()
	if err != nil {
		res.fail("walking the blob store: %v", err)
	}
	res.blobs.Add(orphans.Load())
	res.bytes.Add(orphanBytes.Load())
	res.logf("files without a blob row: %s %d (%d bytes)", res.verb, orphans.Load(), orphanBytes.Load())

	var uploads int
	var stale []string
	err = c.opts.Blobs.WalkUploads(ctx, func(id string, mod time.Time) error {
		limit := cutoff
		if strings.HasPrefix(id, "put-") {
			if staged := time.Now().Add(-stagedAge); staged.Before(limit) {
				limit = staged
			}
		}
		if mod.Before(limit) {
			stale = append(stale, id)
		}
		return nil
	})
	if err != nil {
		res.fail("walking uploads: %v", err)
	}
	sys := viewer.SystemContext(ctx)
	for len(stale) > 0 {
		n := min(len(stale), batchSize)
		ids := stale[:n]
		stale = stale[n:]
		live, err := c.opts.Client.UploadSession.Query().Where(uploadsession.UUIDIn(ids...)).
			Select(uploadsession.FieldUUID).Strings(sys)
		if err != nil {
			res.fail("reading upload sessions: %v", err)
			break
		}
		for _, id := range ids {
			if slices.Contains(live, id) {
				continue
			}
			if !dryRun {
				if err := c.opts.Blobs.CancelUpload(ctx, id); err != nil {
					res.fail("removing upload %s: %v", id, err)
					continue
				}
			}
			uploads++
		}
	}
	res.logf("upload directories without a session: %s %d", res.verb, uploads)
}
