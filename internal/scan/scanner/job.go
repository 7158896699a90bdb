package scanner

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/scanreport"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/viewer"
)

// scanTimeout bounds one scan job (an index's: all its images).
const scanTimeout = 30 * time.Minute

// ScanArgs is the job that scans one artifact: an image, or an index and
// the images it lists.
type ScanArgs struct {
	ArtifactID int `json:"artifact_id" river:"unique"`
	// RequestedBy is who asked, for the report and the event.
	RequestedBy string `json:"requested_by,omitempty"`
}

// Kind is the job kind.
func (ScanArgs) Kind() string { return "scan" }

// InsertOpts puts scans on their own queue. A scan asked for while one of
// the same artifact waits or runs is that one.
func (ScanArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       jobs.QueueScan,
		MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		}},
	}
}

// Worker is the job worker of ScanArgs, to register with river.AddWorker.
func (s *Service) Worker() river.Worker[ScanArgs] { return &worker{s: s} }

type worker struct {
	river.WorkerDefaults[ScanArgs]
	s *Service
}

// Timeout bounds one scan.
func (w *worker) Timeout(*river.Job[ScanArgs]) time.Duration { return scanTimeout }

// Work scans the artifact and stores its report. An artifact deleted
// since is skipped; a report made after the job was asked for, against
// the database as it is now, is kept (another job scanned it already,
// as an index's scan does for its images). Failures that another attempt
// may cure (the blob store, the database) are retried; after the last
// attempt, and for failures of the image itself, the report says ERROR.
func (w *worker) Work(ctx context.Context, job *river.Job[ScanArgs]) error {
	s := w.s
	sys := viewer.SystemContext(ctx)
	a, err := s.opts.Client.Artifact.Query().Where(artifact.ID(job.Args.ArtifactID)).Only(sys)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	reg, err := s.adapterFor(sys, a)
	if err != nil {
		return err
	}
	var state dbState
	if reg != nil {
		state = adapterState(reg)
	} else if state, err = s.databaseState(sys); err != nil {
		return err
	}
	fresh, err := s.opts.Client.ScanReport.Query().Where(scanreport.ArtifactID(a.ID),
		scanreport.StatusEQ(scanreport.StatusSUCCESS), scanreport.DbState(state.key),
		scanreport.FinishedAtGT(job.CreatedAt)).Exist(sys)
	if err != nil || fresh {
		return err
	}
	by := job.Args.RequestedBy
	if by == "" {
		by = "berth"
	}
	if err := s.markRunning(sys, a.ID, by); err != nil {
		return err
	}
	log := s.opts.Logger.With("digest", a.Digest, "job", job.ID)
	res, err := s.scan(sys, a, state, by, reg)
	if err != nil {
		if job.Attempt < job.MaxAttempts {
			log.Warn("scan failed, retrying", "attempt", job.Attempt, "err", err)
			return err
		}
		res = &result{err: fmt.Errorf("scan failed after %d attempts: %w", job.Attempt, err)}
	}
	if reg != nil {
		res.scanner = reg.Name
	}
	if res.err != nil {
		log.Info("scan ended in error", "err", res.err)
	}
	return s.store(context.WithoutCancel(sys), a, res, state, by)
}

// scan scans an image, or an index and its images, with the built-in
// scanner or, when reg is not nil, its adapter.
func (s *Service) scan(ctx context.Context, a *ent.Artifact, state dbState, by string, reg *ent.ScannerRegistration) (*result, error) {
	image := s.scanImage
	if reg != nil {
		image = func(ctx context.Context, a *ent.Artifact) (*result, error) { return s.scanAdapter(ctx, a, reg) }
	}
	switch a.ArtifactType {
	case artifact.ArtifactTypeIMAGE:
		return image(ctx, a)
	case artifact.ArtifactTypeIMAGE_INDEX:
		return s.scanIndex(ctx, a, state, by, image)
	}
	return &result{err: fmt.Errorf("artifacts of type %s are not scanned: only images and image indexes are", a.ArtifactType)}, nil
}

// markRunning makes the artifact's report RUNNING, keeping the figures
// and findings of the last scan until this one replaces them.
func (s *Service) markRunning(ctx context.Context, artifactID int, by string) error {
	_, err := upsertReport(ctx, s.opts.Client.ScanReport.Create().SetArtifactID(artifactID).
		SetStatus(scanreport.StatusRUNNING).SetStartedAt(time.Now()).SetRequestedBy(clip(by, 300)))
	return err
}
