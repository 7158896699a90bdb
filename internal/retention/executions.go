package retention

import (
	"context"

	"entgo.io/contrib/entgql"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/retentionexecution"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/viewer"
)

// Executions pages through a project's retention runs, newest first.
func (s *Service) Executions(ctx context.Context, projectName string, first *int, after *entgql.Cursor[int]) (*ent.RetentionExecutionConnection, error) {
	p, err := s.project(ctx, projectName, auth.PolicyRead)
	if err != nil {
		return nil, err
	}
	return s.opts.Client.RetentionExecution.Query().Where(retentionexecution.ProjectID(p.ID)).
		Paginate(auth.Allow(ctx), after, first, nil, nil,
			ent.WithRetentionExecutionOrder(&ent.RetentionExecutionOrder{
				Field: ent.RetentionExecutionOrderFieldStartedAt, Direction: entgql.OrderDirectionDesc,
			}))
}

// Execution returns one retention run: nil when there is none, a
// not-found error when the caller may not see its project.
func (s *Service) Execution(ctx context.Context, id int) (*ent.RetentionExecution, error) {
	exec, err := s.opts.Client.RetentionExecution.Get(viewer.SystemContext(ctx), id)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.projectByID(ctx, exec.ProjectID, auth.PolicyRead, "retention execution"); err != nil {
		return nil, err
	}
	return exec, nil
}
