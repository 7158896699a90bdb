package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/ent/retentionexecution"
	"github.com/berth-registry/berth/ent/retentionpolicy"
	"github.com/berth-registry/berth/ent/schema/rules"
	"github.com/berth-registry/berth/ent/tag"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/viewer"
)

// Execution statuses.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
)

// RunArgs is the job that runs a project's retention policy. A run asked
// for (runRetention) has the execution row it reports into; a scheduled
// one has ExecutionID 0 and creates its own.
type RunArgs struct {
	ProjectID   int  `json:"project_id"`
	ExecutionID int  `json:"execution_id,omitempty"`
	DryRun      bool `json:"dry_run,omitempty"`
}

// Kind is the job kind.
func (RunArgs) Kind() string { return "retention" }

// InsertOpts puts runs on the retention queue. A scheduled run is not
// enqueued again while the last one of the project is still waiting or
// running.
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       jobs.QueueRetention,
		MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		}},
	}
}

// Worker is the job worker of RunArgs, to register with river.AddWorker.
func (s *Service) Worker() river.Worker[RunArgs] { return &worker{s: s} }

type worker struct {
	river.WorkerDefaults[RunArgs]
	s *Service
}

// Timeout bounds one run.
func (w *worker) Timeout(*river.Job[RunArgs]) time.Duration { return time.Hour }

// Work runs the policy into the job's execution row (made now for a
// scheduled run). A row that has already finished (the job was retried
// after its process died past the end) is left as it is.
func (w *worker) Work(ctx context.Context, job *river.Job[RunArgs]) (err error) {
	s := w.s
	sys := viewer.SystemContext(ctx)
	args := job.Args
	var exec *ent.RetentionExecution
	if args.ExecutionID == 0 {
		has, perr := s.opts.Client.RetentionPolicy.Query().Where(retentionpolicy.ProjectID(args.ProjectID)).Exist(sys)
		if perr != nil {
			return perr
		}
		if !has {
			s.opts.Logger.Info("scheduled retention skipped: the project has no policy", "project", args.ProjectID, "job", job.ID)
			return nil
		}
		exec, err = s.newExecution(sys, args.ProjectID, false, "schedule")
	} else {
		exec, err = s.opts.Client.RetentionExecution.Get(sys, args.ExecutionID)
	}
	if ent.IsNotFound(err) {
		s.opts.Logger.Warn("retention job without its execution", "execution", args.ExecutionID, "job", job.ID)
		return nil
	}
	if err != nil {
		return err
	}
	if exec.Status != StatusRunning {
		return nil
	}
	defer func() {
		// River retries a failed or panicking run into the same row; a
		// scheduled run's row is its own, so it fails at once (the
		// schedule runs it again), and no row stays RUNNING for ever.
		if p := recover(); p != nil {
			err = fmt.Errorf("retention run panicked: %v", p)
		}
		if err != nil && (args.ExecutionID == 0 || job.Attempt >= job.MaxAttempts) {
			s.opts.Logger.Error("retention run failed", "project", args.ProjectID, "execution", exec.ID, "job", job.ID, "err", err)
			s.finish(ctx, exec, StatusFailed, Plan{}, fmt.Sprintf("failed after %d attempts: %v", job.Attempt, err))
			err = nil
		}
	}()
	return s.execute(ctx, exec)
}

// newExecution stores a RUNNING execution row.
func (s *Service) newExecution(ctx context.Context, projectID int, dryRun bool, by string) (*ent.RetentionExecution, error) {
	return s.opts.Client.RetentionExecution.Create().SetProjectID(projectID).SetDryRun(dryRun).
		SetTriggeredBy(by).SetStatus(StatusRunning).SetStartedAt(time.Now()).
		SetDeleted([]rules.Candidate{}).SetRetained([]rules.Candidate{}).
		SetRepositories([]rules.RepositoryCount{}).Save(viewer.SystemContext(ctx))
}

// Start runs a project's retention policy in the background, for real or
// as a dry run, and returns its execution row, RUNNING. Project admins may.
func (s *Service) Start(ctx context.Context, projectName string, dryRun bool) (*ent.RetentionExecution, error) {
	p, err := s.project(ctx, projectName, auth.PolicyWrite)
	if err != nil {
		return nil, err
	}
	has, err := s.opts.Client.RetentionPolicy.Query().Where(retentionpolicy.ProjectID(p.ID)).Exist(auth.Allow(ctx))
	if err != nil {
		return nil, err
	}
	if !has {
		return nil, errdefs.Invalidf("project %q has no retention policy to run", p.Name)
	}
	if s.Jobs == nil {
		return nil, errors.New("retention: no job queue")
	}
	exec, err := s.newExecution(ctx, p.ID, dryRun, viewer.FromContext(ctx).Name())
	if err != nil {
		return nil, err
	}
	if _, err := s.Jobs.Insert(ctx, RunArgs{ProjectID: p.ID, ExecutionID: exec.ID, DryRun: dryRun}, nil); err != nil {
		s.finish(ctx, exec, StatusFailed, Plan{}, "enqueueing the run: "+err.Error())
		return nil, err
	}
	s.opts.Logger.Info("retention run started", "project", p.Name, "user", exec.TriggeredBy, "execution", exec.ID, "dry_run", dryRun)
	return exec, nil
}

// Wait polls execution id until it has finished or ctx ends, and returns
// it as it last was.
func (s *Service) Wait(ctx context.Context, id int) (*ent.RetentionExecution, error) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		exec, err := s.opts.Client.RetentionExecution.Get(viewer.SystemContext(ctx), id)
		if err != nil || exec.Status != StatusRunning {
			return exec, err
		}
		select {
		case <-ctx.Done():
			return exec, ctx.Err()
		case <-t.C:
		}
	}
}

// runLog is an execution's log.
type runLog struct{ strings.Builder }

func (l *runLog) printf(format string, args ...any) {
	fmt.Fprintf(l, "%s ", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(l, format, args...)
	l.WriteByte('\n')
}

// execute plans the run of exec, deletes what it plans to delete unless
// it is a dry run, and stores the outcome in exec. It returns an error
// only when the job should be retried.
func (s *Service) execute(ctx context.Context, exec *ent.RetentionExecution) error {
	sys := viewer.SystemContext(ctx)
	var log runLog
	projectName, err := s.ProjectName(ctx, exec.ProjectID)
	if err != nil {
		if ent.IsNotFound(err) {
			return s.finish(ctx, exec, StatusFailed, Plan{}, "the project no longer exists")
		}
		return err
	}
	logger := s.opts.Logger.With("project", projectName, "execution", exec.ID)
	pol, err := s.opts.Client.RetentionPolicy.Query().Where(retentionpolicy.ProjectID(exec.ProjectID)).Only(sys)
	if ent.IsNotFound(err) {
		return s.finish(ctx, exec, StatusFailed, Plan{}, "the project has no retention policy")
	}
	if err != nil {
		return err
	}
	immutable, err := s.opts.Content.ImmutabilityRules(sys, exec.ProjectID)
	if err != nil {
		return err
	}
	arts, err := s.roots(ctx, exec.ProjectID)
	if err != nil {
		return err
	}
	plan := Evaluate(pol.Rules, immutable, arts, time.Now())
	what := "deleting"
	if exec.DryRun {
		what = "a dry run: would delete"
	}
	log.printf("%d rules, %d immutability rules, %d artifacts; %s %d, keeping %d",
		len(pol.Rules), len(immutable), len(arts), what, len(plan.Delete), len(plan.Retained))
	status := StatusSucceeded
	if !exec.DryRun {
		plan, status = s.delete(ctx, plan, &log)
	}
	if err := s.finish(ctx, exec, status, plan, log.String()); err != nil {
		return err
	}
	err = s.opts.Content.RecordEvent(sys, change.OperationRETENTION_COMPLETED, projectName, map[string]any{
		"executionId": exec.ID, "dryRun": exec.DryRun, "status": status,
		"deleted": len(plan.Deleted), "retained": len(plan.Retained),
	})
	if err != nil {
		logger.Warn("recording the retention event", "err", err)
	}
	logger.Info("retention run finished", "status", status, "dry_run", exec.DryRun, "deleted", len(plan.Deleted), "retained", len(plan.Retained))
	return nil
}

// delete deletes the artifacts plan deletes, each through the write path
// as berth. One re-tagged since it was planned, or gone, is left alone; the
// plan returned is what happened.
func (s *Service) delete(ctx context.Context, plan Plan, log *runLog) (Plan, string) {
	sys := viewer.SystemContext(ctx)
	status := StatusSucceeded
	done := Plan{Delete: []Artifact{}, Deleted: []rules.Candidate{}, Retained: plan.Retained}
	for i, a := range plan.Delete {
		c := plan.Deleted[i]
		now, err := s.opts.Client.Artifact.Query().Where(artifact.ID(a.ID)).
			WithTags(func(q *ent.TagQuery) { q.Select(tag.FieldArtifactID, tag.FieldName) }).
			Select(artifact.FieldID).Only(sys)
		if ent.IsNotFound(err) {
			log.printf("%s@%s is gone already", a.Repository, a.Digest)
			continue
		}
		if err != nil {
			log.printf("reading %s@%s: %v", a.Repository, a.Digest, err)
			status = StatusFailed
			continue
		}
		if tags := toArtifact(now).Tags; !slices.Equal(tags, a.Tags) {
			c.Reason = fmt.Sprintf("re-tagged while the run was deleting (now %s); left for the next run", quoteAll(tags))
			log.printf("%s@%s kept: %s", a.Repository, a.Digest, c.Reason)
			done.Retained = append(done.Retained, c)
			continue
		}
		if err := s.opts.Content.DeleteArtifact(sys, a.Repository, a.Digest); err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				log.printf("%s@%s is gone already", a.Repository, a.Digest)
				continue
			}
			log.printf("deleting %s@%s: %v", a.Repository, a.Digest, err)
			done.Retained = append(done.Retained, c)
			if errors.Is(err, errdefs.ErrDenied) {
				// An immutability rule made since the plan: the write
				// path kept it, as it should.
				c.Reason = "the write path refused to delete it: " + err.Error()
				done.Retained[len(done.Retained)-1] = c
				continue
			}
			c.Reason = "deleting it failed: " + err.Error()
			done.Retained[len(done.Retained)-1] = c
			status = StatusFailed
			continue
		}
		log.printf("deleted %s@%s %s", a.Repository, a.Digest, quoteAll(a.Tags))
		done.Delete = append(done.Delete, a)
		done.Deleted = append(done.Deleted, c)
	}
	done.Repositories = countRepositories(done)
	return done, status
}

// countRepositories recounts a plan's per-repository counts.
func countRepositories(p Plan) []rules.RepositoryCount {
	var out []rules.RepositoryCount
	at := map[string]int{}
	add := func(repo string, deleted, retained int) {
		i, ok := at[repo]
		if !ok {
			i = len(out)
			at[repo] = i
			out = append(out, rules.RepositoryCount{Repository: repo})
		}
		out[i].Deleted += deleted
		out[i].Retained += retained
	}
	for _, c := range p.Deleted {
		add(c.Repository, 1, 0)
	}
	for _, c := range p.Retained {
		add(c.Repository, 0, 1)
	}
	slices.SortFunc(out, func(a, b rules.RepositoryCount) int { return strings.Compare(a.Repository, b.Repository) })
	return nonNil(out)
}

func quoteAll(tags []string) string {
	if len(tags) == 0 {
		return "(untagged)"
	}
	q := make([]string, len(tags))
	for i, t := range tags {
		q[i] = fmt.Sprintf("%q", t)
	}
	return "(" + strings.Join(q, ", ") + ")"
}

// finish stores the outcome of a run.
func (s *Service) finish(ctx context.Context, exec *ent.RetentionExecution, status string, plan Plan, log string) error {
	err := s.opts.Client.RetentionExecution.UpdateOneID(exec.ID).
		Where(retentionexecution.Status(StatusRunning)).
		SetStatus(status).SetFinishedAt(time.Now()).
		SetDeleted(nonNil(plan.Deleted)).SetRetained(nonNil(plan.Retained)).
		SetRepositories(nonNil(plan.Repositories)).SetRetainedCount(len(plan.Retained)).
		SetLog(log).Exec(viewer.SystemContext(context.WithoutCancel(ctx)))
	if ent.IsNotFound(err) {
		return nil
	}
	return err
}
