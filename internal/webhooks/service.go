// Package webhooks sends a project's events to the HTTP endpoints of its
// webhook policies: one River job per delivery, retried with backoff,
// every attempt logged, every request signed.
//
// Project admins manage policies (auth.WebhookWrite); maintainers and
// read-only tokens may read them and their delivery logs
// (auth.WebhookRead). The service checks that itself and then reads and
// writes past ent's admin-only privacy rules.
package webhooks

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/webhookdelivery"
	"github.com/berth-registry/berth/ent/webhookpolicy"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/secrets"
	"github.com/berth-registry/berth/internal/viewer"
)

// Options configure the webhook service.
type Options struct {
	Client *ent.Client
	Auth   *auth.Service
	Logger *slog.Logger
	// AllowPrivate lets targets resolve to loopback, link-local and
	// private addresses (--webhook-allow-private).
	AllowPrivate bool
	// ExternalURL is berth's public URL; CloudEvents name their source
	// after it.
	ExternalURL string
	// Secrets seals the policies' signing secrets and targets' auth
	// headers in the database. Required.
	Secrets *secrets.Box
}

// Service manages webhook policies and delivers events.
type Service struct {
	opts Options
	// Jobs is the job queue deliveries are enqueued on; set before use
	// (it is built after the workers are registered).
	Jobs *jobs.Service

	// client and insecure send deliveries; insecure skips TLS
	// verification, for targets that ask for it.
	client, insecure *http.Client
}

// New returns the webhook service.
func New(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{opts: opts}
	s.client, s.insecure = newClients(opts.AllowPrivate)
	return s
}

// project returns the project named name if the caller may do action in
// it; a project hidden from the caller is not found.
func (s *Service) project(ctx context.Context, name string, action auth.Action) (*ent.Project, error) {
	if _, err := auth.RequireUser(ctx); err != nil {
		return nil, err
	}
	return s.opts.Auth.ProjectCan(ctx, name, action)
}

// policy returns policy id and its project if the caller may do action
// on it. Someone who may not even read the project's webhooks is told the
// policy does not exist rather than that it is off limits.
func (s *Service) policy(ctx context.Context, id int, action auth.Action) (*ent.WebhookPolicy, *ent.Project, error) {
	if _, err := auth.RequireUser(ctx); err != nil {
		return nil, nil, err
	}
	notFound := errdefs.NotFoundf("webhook policy %d does not exist", id)
	pol, err := s.opts.Client.WebhookPolicy.Get(viewer.SystemContext(ctx), id)
	if ent.IsNotFound(err) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, err
	}
	// The caller's own context: the privacy rules hide projects they may
	// not see.
	p, err := s.opts.Client.Project.Get(ctx, pol.ProjectID)
	if ent.IsNotFound(err) {
		return nil, nil, notFound
	}
	if err != nil {
		return nil, nil, err
	}
	if err := s.opts.Auth.Can(ctx, action, p); err != nil {
		if errors.Is(err, errdefs.ErrDenied) && (action == auth.WebhookRead || s.opts.Auth.Can(ctx, auth.WebhookRead, p) != nil) {
			return nil, nil, notFound
		}
		return nil, nil, err
	}
	return pol, p, nil
}

// List returns a project's webhook policies by name.
func (s *Service) List(ctx context.Context, projectName string) ([]*ent.WebhookPolicy, error) {
	p, err := s.project(ctx, projectName, auth.WebhookRead)
	if err != nil {
		return nil, err
	}
	return s.opts.Client.WebhookPolicy.Query().
		Where(webhookpolicy.ProjectID(p.ID)).
		Order(webhookpolicy.ByName()).
		All(auth.Allow(ctx))
}

// Deliveries pages through a policy's delivery attempts, newest first.
func (s *Service) Deliveries(ctx context.Context, policyID int, first *int, after *entgql.Cursor[int]) (*ent.WebhookDeliveryConnection, error) {
	if _, _, err := s.policy(ctx, policyID, auth.WebhookRead); err != nil {
		return nil, err
	}
	return s.opts.Client.WebhookDelivery.Query().
		Where(webhookdelivery.PolicyID(policyID)).
		Paginate(auth.Allow(ctx), after, first, nil, nil,
			ent.WithWebhookDeliveryOrder(&ent.WebhookDeliveryOrder{
				Field: ent.WebhookDeliveryOrderFieldCreatedAt, Direction: entgql.OrderDirectionDesc,
			}))
}

// LastDelivery returns the latest delivery attempt of a policy the caller
// has already been allowed to read, or nil.
func (s *Service) LastDelivery(ctx context.Context, pol *ent.WebhookPolicy) (*ent.WebhookDelivery, error) {
	d, err := s.opts.Client.WebhookDelivery.Query().
		Where(webhookdelivery.PolicyID(pol.ID)).
		Order(webhookdelivery.ByCreatedAt(sql.OrderDesc()), webhookdelivery.ByID(sql.OrderDesc())).
		First(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return d, err
}

// ProjectName returns the name of the project of a policy the caller has
// already been allowed to read.
func (s *Service) ProjectName(ctx context.Context, pol *ent.WebhookPolicy) (string, error) {
	p, err := s.opts.Client.Project.Get(viewer.SystemContext(ctx), pol.ProjectID)
	if err != nil {
		return "", err
	}
	return p.Name, nil
}
