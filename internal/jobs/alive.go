package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/berth-registry/berth/internal/database"
)

// aliveTTL is how long a process's lease lasts unless renewed: a job of a
// process that stopped renewing it is put back in the queue after this.
const aliveTTL = 30 * time.Second

func aliveLease(id string) string { return "process:" + id }

// stayAlive takes or renews this process's lease.
func (s *Service) stayAlive(ctx context.Context) error {
	_, err := database.AcquireLease(ctx, s.opts.DB.Client, aliveLease(s.id), s.id, aliveTTL)
	return err
}

// reap puts back in the queue the running jobs whose latest attempt
// belongs to a process that is gone: one of this host that no longer
// exists, or one whose lease lapsed. River itself would only rescue them
// after RescueStuckJobsAfter (an hour), which must stay longer than the
// longest garbage collection.
func (s *Service) reap(ctx context.Context) error {
	res, err := s.client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateRunning).First(1000))
	if err != nil {
		return err
	}
	alive := map[string]bool{}
	for _, j := range res.Jobs {
		if len(j.AttemptedBy) == 0 {
			continue
		}
		owner := j.AttemptedBy[len(j.AttemptedBy)-1]
		if owner == s.id {
			continue
		}
		live, seen := alive[owner]
		if !seen {
			live, err = s.processAlive(ctx, owner)
			if err != nil {
				return err
			}
			alive[owner] = live
		}
		if live {
			continue
		}
		if err := s.requeue(ctx, j.ID); err != nil {
			return err
		}
		s.opts.Logger.Warn("requeued a job whose process stopped mid-run", "job", j.ID, "kind", j.Kind, "process", owner)
	}
	return nil
}

func (s *Service) processAlive(ctx context.Context, id string) (bool, error) {
	if database.HolderGone(id) {
		return false, nil
	}
	holder, err := database.LeaseHolder(ctx, s.opts.DB.Client, aliveLease(id))
	// A process started before berth kept process leases has none; give it
	// the benefit of the doubt only while its lease could still be fresh.
	return holder == id, err
}

// requeue makes a running job retryable now; River's scheduler then makes
// it available and a worker picks it up.
func (s *Service) requeue(ctx context.Context, id int64) error {
	q := `UPDATE river_job SET state = 'retryable' WHERE id = $1 AND state = 'running'`
	if s.opts.DB.Kind == database.SQLite {
		q = `UPDATE river_job SET state = 'retryable' WHERE id = ? AND state = 'running'`
	}
	_, err := s.opts.DB.SQL().ExecContext(ctx, q, id)
	return err
}
