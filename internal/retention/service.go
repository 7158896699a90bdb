// Package retention runs projects' tag retention policies: it works out
// which artifacts the rules keep and why, and deletes the rest through
// the write path, as a dry run or for real, on a schedule or on demand.
// It also keeps projects' tag immutability rules, which the write path
// enforces and retention respects.
package retention

import (
	"context"
	"log/slog"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/jobs"
)

// Options configure the retention service.
type Options struct {
	Client  *ent.Client
	Auth    *auth.Service
	Content *artifacts.Service
	Logger  *slog.Logger
}

// Service manages retention policies and immutability rules, and runs
// retention.
type Service struct {
	opts Options
	// Jobs is the job queue runs are enqueued on; set before use (it is
	// built after the workers are registered).
	Jobs *jobs.Service
}

// New returns the retention service.
func New(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{opts: opts}
}

// project loads the project name as the caller sees it (a hidden project
// is not found) and checks the caller may perform action on it.
func (s *Service) project(ctx context.Context, name string, action auth.Action) (*ent.Project, error) {
	return s.opts.Auth.ProjectCan(ctx, name, action)
}

// projectByID is project for a policy object that names its project by
// id; what is not found is called what.
func (s *Service) projectByID(ctx context.Context, id int, action auth.Action, what string) (*ent.Project, error) {
	p, err := s.opts.Client.Project.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, errdefs.NotFoundf("%s does not exist", what)
	}
	if err != nil {
		return nil, err
	}
	return p, s.opts.Auth.Can(ctx, action, p)
}
