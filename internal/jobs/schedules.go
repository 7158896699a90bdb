package jobs

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/robfig/cron/v3"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/schedule"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// ParseCron parses a schedule: five fields (minute hour day-of-month month
// day-of-week) or a descriptor (@hourly, @daily, @weekly, @monthly,
// @every 6h).
func ParseCron(expr string) (cron.Schedule, error) {
	if len(expr) > 128 {
		return nil, errdefs.Invalidf("a cron expression may be at most 128 characters")
	}
	sch, err := cron.ParseStandard(expr)
	if err != nil {
		return nil, errdefs.Invalidf("%q is not a cron expression (five fields such as \"0 3 * * *\", or @daily, @every 6h): %v", expr, err)
	}
	if every, ok := sch.(cron.ConstantDelaySchedule); ok && every.Delay < time.Second {
		return nil, errdefs.Invalidf("a schedule may run at most once a second")
	}
	return sch, nil
}

// NextRun is when an enabled schedule runs next, or nil.
func NextRun(s *ent.Schedule) *time.Time {
	if s == nil || !s.Enabled || s.Cron == "" {
		return nil
	}
	sch, err := ParseCron(s.Cron)
	if err != nil {
		return nil
	}
	t := sch.Next(time.Now())
	return &t
}

// SetSchedule creates or updates the schedule of kind (for RETENTION, of
// project projectID) and applies it here at once; other processes pick it
// up within a few seconds. The caller has checked who may.
func SetSchedule(ctx context.Context, client *ent.Client, kind schedule.Kind, projectID int, expr string, enabled bool, by string) (*ent.Schedule, error) {
	if expr != "" {
		if _, err := ParseCron(expr); err != nil {
			return nil, err
		}
	} else if enabled {
		return nil, errdefs.Invalidf("an enabled schedule needs a cron expression")
	}
	sys := viewer.SystemContext(ctx)
	err := client.Schedule.Create().SetKind(kind).SetProjectID(projectID).SetCron(expr).
		SetEnabled(enabled).SetUpdatedBy(by).
		OnConflictColumns(schedule.FieldKind, schedule.FieldProjectID).
		UpdateCron().UpdateEnabled().UpdateUpdatedBy().UpdateUpdatedAt().Exec(sys)
	if err != nil {
		return nil, err
	}
	return client.Schedule.Query().Where(schedule.KindEQ(kind), schedule.ProjectID(projectID)).Only(sys)
}

// Kick makes the service apply schedule changes now instead of at its
// next tick.
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// reconcile makes River's periodic jobs those of the enabled schedules.
func (s *Service) reconcile(ctx context.Context) error {
	rows, err := s.opts.DB.Client.Schedule.Query().Where(schedule.Enabled(true)).All(viewer.SystemContext(ctx))
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]*ent.Schedule{}
	for _, r := range rows {
		// The key changes with the expression, so an edit replaces the
		// periodic job.
		want[string(r.Kind)+":"+strconv.Itoa(r.ProjectID)+":"+r.Cron] = r
	}
	for key, h := range s.scheduled {
		if want[key] == nil {
			s.client.PeriodicJobs().Remove(h)
			delete(s.scheduled, key)
		}
	}
	for key, r := range want {
		if _, ok := s.scheduled[key]; ok {
			continue
		}
		make := s.periodic[string(r.Kind)]
		if make == nil {
			continue
		}
		sch, err := ParseCron(r.Cron)
		if err != nil {
			s.opts.Logger.Warn("ignoring a schedule", "kind", r.Kind, "project", r.ProjectID, "err", err)
			continue
		}
		projectID := r.ProjectID
		h, err := s.client.PeriodicJobs().AddSafely(river.NewPeriodicJob(sch,
			func() (river.JobArgs, *river.InsertOpts) { return make(projectID), nil }, nil))
		if err != nil {
			return fmt.Errorf("scheduling %s: %w", key, err)
		}
		s.scheduled[key] = h
	}
	return nil
}

// Every runs the job make returns every interval (and once when this
// process becomes the leader), on whichever process leads: for
// housekeeping that needs no schedule of its own.
func (s *Service) Every(interval time.Duration, make func() river.JobArgs) {
	s.client.PeriodicJobs().Add(river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return make(), nil },
		&river.PeriodicJobOpts{RunOnStart: true}))
}
