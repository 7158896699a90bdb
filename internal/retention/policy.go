package retention

import (
	"context"
	"fmt"
	"strings"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/retentionpolicy"
	"github.com/berth-registry/berth/ent/schedule"
	"github.com/berth-registry/berth/ent/schema/rules"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/viewer"
)

// Bounds of a rule's count and days.
const (
	MaxCount = 10000
	MaxDays  = 36500
)

// ValidateRules reports the first problem of a policy's rules: too many,
// a malformed pattern, a count or days missing, out of range or given to
// a template that does not use it.
func ValidateRules(rs []rules.RetentionRule) error {
	if len(rs) > rules.MaxRules {
		return errdefs.Invalidf("a retention policy may have at most %d rules, not %d", rules.MaxRules, len(rs))
	}
	for i, r := range rs {
		if err := validateRule(r); err != nil {
			return errdefs.Invalidf("rule %d: %v", i+1, err)
		}
	}
	return nil
}

func validateRule(r rules.RetentionRule) error {
	if err := r.Repositories.Validate(); err != nil {
		return fmt.Errorf("repositories: %w", err)
	}
	if err := r.Tags.Validate(); err != nil {
		return fmt.Errorf("tags: %w", err)
	}
	count, days := false, false
	switch r.Template {
	case rules.LatestPushed, rules.LatestPulled:
		count = true
	case rules.PushedWithinDays, rules.PulledWithinDays:
		days = true
	case rules.Always:
	default:
		return fmt.Errorf("%q is not a retention template", r.Template)
	}
	switch {
	case count && r.Count == nil:
		return fmt.Errorf("%s needs a count", r.Template)
	case count && (*r.Count < 1 || *r.Count > MaxCount):
		return fmt.Errorf("count must be between 1 and %d, not %d", MaxCount, *r.Count)
	case !count && r.Count != nil:
		return fmt.Errorf("%s takes no count", r.Template)
	case days && r.Days == nil:
		return fmt.Errorf("%s needs days", r.Template)
	case days && (*r.Days < 1 || *r.Days > MaxDays):
		return fmt.Errorf("days must be between 1 and %d, not %d", MaxDays, *r.Days)
	case !days && r.Days != nil:
		return fmt.Errorf("%s takes no days", r.Template)
	}
	return nil
}

// Policy returns a project's retention policy, or nil when it has none.
func (s *Service) Policy(ctx context.Context, projectName string) (*ent.RetentionPolicy, error) {
	p, err := s.project(ctx, projectName, auth.PolicyRead)
	if err != nil {
		return nil, err
	}
	pol, err := s.opts.Client.RetentionPolicy.Query().Where(retentionpolicy.ProjectID(p.ID)).Only(auth.Allow(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return pol, err
}

// SetPolicy replaces a project's retention rules and its schedule: a cron
// expression, or nil (or "") to run the policy only when asked.
func (s *Service) SetPolicy(ctx context.Context, projectName string, rs []rules.RetentionRule, cron *string) (*ent.RetentionPolicy, error) {
	p, err := s.project(ctx, projectName, auth.PolicyWrite)
	if err != nil {
		return nil, err
	}
	if err := ValidateRules(rs); err != nil {
		return nil, err
	}
	expr := strings.TrimSpace(deref(cron))
	if expr != "" {
		if _, err := jobs.ParseCron(expr); err != nil {
			return nil, err
		}
	}
	if rs == nil {
		rs = []rules.RetentionRule{}
	}
	by := viewer.FromContext(ctx).Name()
	allowed := auth.Allow(ctx)
	tx, err := s.opts.Client.Tx(allowed)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	err = tx.RetentionPolicy.Create().SetProjectID(p.ID).SetRules(rs).SetUpdatedBy(by).
		OnConflictColumns(retentionpolicy.FieldProjectID).
		UpdateRules().UpdateUpdatedBy().UpdateUpdatedAt().Exec(allowed)
	if err != nil {
		return nil, fmt.Errorf("storing the retention policy of %q: %w", p.Name, err)
	}
	if _, err := jobs.SetSchedule(allowed, tx.Client(), schedule.KindRETENTION, p.ID, expr, expr != "", by); err != nil {
		return nil, err
	}
	pol, err := tx.RetentionPolicy.Query().Where(retentionpolicy.ProjectID(p.ID)).Only(allowed)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	s.kick()
	s.opts.Logger.Info("retention policy set", "project", p.Name, "user", by, "rules", len(rs), "schedule", expr)
	return pol.Unwrap(), nil
}

// DeletePolicy deletes a project's retention policy and its schedule, and
// reports whether it had one. Its executions stay.
func (s *Service) DeletePolicy(ctx context.Context, projectName string) (bool, error) {
	p, err := s.project(ctx, projectName, auth.PolicyWrite)
	if err != nil {
		return false, err
	}
	allowed := auth.Allow(ctx)
	tx, err := s.opts.Client.Tx(allowed)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	n, err := tx.RetentionPolicy.Delete().Where(retentionpolicy.ProjectID(p.ID)).Exec(allowed)
	if err != nil {
		return false, err
	}
	if _, err := tx.Schedule.Delete().Where(schedule.KindEQ(schedule.KindRETENTION), schedule.ProjectID(p.ID)).Exec(allowed); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	s.kick()
	s.opts.Logger.Info("retention policy deleted", "project", p.Name, "user", viewer.FromContext(ctx).Name())
	return n > 0, nil
}

// Schedule returns the schedule of a project's retention, or nil. The
// caller has read the policy, so may see it.
func (s *Service) Schedule(ctx context.Context, projectID int) (*ent.Schedule, error) {
	sch, err := s.opts.Client.Schedule.Query().
		Where(schedule.KindEQ(schedule.KindRETENTION), schedule.ProjectID(projectID)).
		Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return sch, err
}

// ProjectName names the project of a policy object the caller has read.
func (s *Service) ProjectName(ctx context.Context, projectID int) (string, error) {
	p, err := s.opts.Client.Project.Get(viewer.SystemContext(ctx), projectID)
	if err != nil {
		return "", err
	}
	return p.Name, nil
}

// kick makes the job queue apply a schedule change now.
func (s *Service) kick() {
	if s.Jobs != nil {
		s.Jobs.Kick()
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
