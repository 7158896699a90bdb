package scanner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/scanreport"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// WaitTimeout bounds how long Request waits for a scan to finish; after
// it the report comes back as it stands (PENDING or RUNNING).
const WaitTimeout = 2 * time.Minute

// Request asks for a scan of the artifact reference names in repository
// name and returns its report: PENDING, or with wait its finished state
// (bounded by WaitTimeout). The caller must be able to read the
// repository, and to push to it or scan in its project (scan:create: a
// developer and up, or a robot granted push or scan). Only images and
// image indexes are scanned: anything else is refused.
func (s *Service) Request(ctx context.Context, name, reference string, wait bool) (*ent.ScanReport, error) {
	if s.Content == nil || s.Jobs == nil {
		return nil, errors.New("scanner: not wired to the content service and the job queue")
	}
	repo, err := s.Content.Access(ctx, name, auth.RepositoryPull)
	if err != nil {
		return nil, err
	}
	if err := s.mayScan(ctx, name, repo.Project); err != nil {
		return nil, err
	}
	a, err := s.Content.Resolve(ctx, name, reference)
	if err != nil {
		return nil, err
	}
	if !scannable(a.ArtifactType) {
		return nil, errdefs.Invalidf("%s@%s is of type %s: only images and image indexes are scanned", name, a.Digest, a.ArtifactType)
	}
	job, err := s.enqueue(ctx, a.ID, viewer.FromContext(ctx).Name())
	if err != nil {
		return nil, err
	}
	if wait {
		wctx, cancel := context.WithTimeout(ctx, WaitTimeout)
		_, err := s.Jobs.Wait(wctx, job.ID)
		cancel()
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
	}
	// The caller's context: the report is read as the artifact is.
	return s.opts.Client.ScanReport.Query().Where(scanreport.ArtifactID(a.ID)).Only(ctx)
}

// mayScan: scan:create in the project, or push to the repository.
func (s *Service) mayScan(ctx context.Context, name string, p *ent.Project) error {
	err := s.opts.Auth.Can(ctx, auth.ScanCreate, p)
	if err == nil {
		return nil
	}
	if _, perr := s.Content.Access(ctx, name, auth.RepositoryPush); perr == nil {
		return nil
	}
	return err
}

func scannable(t artifact.ArtifactType) bool {
	return t == artifact.ArtifactTypeIMAGE || t == artifact.ArtifactTypeIMAGE_INDEX
}

// enqueue marks the artifact's report PENDING (unless a scan is running)
// and enqueues its scan job; a job of the artifact that waits or runs
// already is the one returned.
func (s *Service) enqueue(ctx context.Context, artifactID int, by string) (*rivertype.JobRow, error) {
	if s.Jobs == nil {
		return nil, errors.New("scanner: the job queue is not running")
	}
	sys := viewer.SystemContext(ctx)
	by = clip(by, 300)
	// PENDING before the job exists, so that the job's RUNNING comes after.
	running, err := s.opts.Client.ScanReport.Query().
		Where(scanreport.ArtifactID(artifactID), scanreport.StatusEQ(scanreport.StatusRUNNING)).Exist(sys)
	if err != nil {
		return nil, err
	}
	if !running {
		_, err = upsertReport(sys, s.opts.Client.ScanReport.Create().SetArtifactID(artifactID).
			SetStatus(scanreport.StatusPENDING).SetRequestedBy(by).SetRequestedAt(time.Now()))
		if err != nil {
			return nil, fmt.Errorf("recording the scan request: %w", err)
		}
	}
	job, err := s.Jobs.Insert(ctx, ScanArgs{ArtifactID: artifactID, RequestedBy: by}, nil)
	if err != nil {
		return nil, err
	}
	err = s.opts.Client.ScanReport.Update().Where(scanreport.ArtifactID(artifactID)).SetJobID(job.ID).Exec(sys)
	return job, err
}
