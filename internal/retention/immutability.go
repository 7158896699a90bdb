package retention

import (
	"context"
	"fmt"
	"sync"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/immutabilityrule"
	"github.com/berth-registry/berth/ent/schema/rules"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// ImmutabilityInput is an immutability rule as created or replaced.
type ImmutabilityInput struct {
	Repositories rules.Pattern
	Tags         rules.Pattern
	Disabled     bool
}

func (in ImmutabilityInput) validate() error {
	if err := in.Repositories.Validate(); err != nil {
		return errdefs.Invalidf("repositories: %v", err)
	}
	if err := in.Tags.Validate(); err != nil {
		return errdefs.Invalidf("tags: %v", err)
	}
	return nil
}

// ImmutabilityRules lists a project's immutability rules, disabled ones
// too, in the order they were created.
func (s *Service) ImmutabilityRules(ctx context.Context, projectName string) ([]*ent.ImmutabilityRule, error) {
	p, err := s.project(ctx, projectName, auth.PolicyRead)
	if err != nil {
		return nil, err
	}
	return s.opts.Client.ImmutabilityRule.Query().Where(immutabilityrule.ProjectID(p.ID)).
		Order(ent.Asc(immutabilityrule.FieldID)).All(auth.Allow(ctx))
}

// CreateImmutabilityRule adds an immutability rule to a project; a
// project has at most rules.MaxRules.
func (s *Service) CreateImmutabilityRule(ctx context.Context, projectName string, in ImmutabilityInput) (*ent.ImmutabilityRule, error) {
	p, err := s.project(ctx, projectName, auth.PolicyWrite)
	if err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	allowed := auth.Allow(ctx)
	tx, err := s.opts.Client.Tx(allowed)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	// Locking the project orders the creation with concurrent ones (the
	// count stays within the limit) and with pushes (a push sees the rule
	// or committed before it).
	if _, err := artifacts.LockProject(allowed, tx.Client(), p.ID); err != nil {
		return nil, err
	}
	n, err := tx.ImmutabilityRule.Query().Where(immutabilityrule.ProjectID(p.ID)).Count(allowed)
	if err != nil {
		return nil, err
	}
	if n >= rules.MaxRules {
		return nil, errdefs.Invalidf("project %q has %d immutability rules already, the most it may have", p.Name, n)
	}
	r, err := tx.ImmutabilityRule.Create().SetProjectID(p.ID).SetRepositories(in.Repositories).
		SetTags(in.Tags).SetDisabled(in.Disabled).Save(allowed)
	if err != nil {
		return nil, fmt.Errorf("creating an immutability rule: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	s.opts.Logger.Info("immutability rule created", "project", p.Name, "user", viewer.FromContext(ctx).Name(), "rule", r.ID)
	return r.Unwrap(), nil
}

// writableRule loads an immutability rule the caller may change.
func (s *Service) writableRule(ctx context.Context, id int) (*ent.ImmutabilityRule, *ent.Project, error) {
	r, err := s.opts.Client.ImmutabilityRule.Get(viewer.SystemContext(ctx), id)
	if ent.IsNotFound(err) {
		return nil, nil, errdefs.NotFoundf("immutability rule %d does not exist", id)
	}
	if err != nil {
		return nil, nil, err
	}
	p, err := s.projectByID(ctx, r.ProjectID, auth.PolicyWrite, fmt.Sprintf("immutability rule %d", id))
	return r, p, err
}

// UpdateImmutabilityRule replaces an immutability rule.
func (s *Service) UpdateImmutabilityRule(ctx context.Context, id int, in ImmutabilityInput) (*ent.ImmutabilityRule, error) {
	_, p, err := s.writableRule(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	r, err := s.opts.Client.ImmutabilityRule.UpdateOneID(id).SetRepositories(in.Repositories).
		SetTags(in.Tags).SetDisabled(in.Disabled).Save(auth.Allow(ctx))
	if err != nil {
		return nil, err
	}
	s.opts.Logger.Info("immutability rule updated", "project", p.Name, "user", viewer.FromContext(ctx).Name(), "rule", id)
	return r, nil
}

// DeleteImmutabilityRule deletes an immutability rule.
func (s *Service) DeleteImmutabilityRule(ctx context.Context, id int) error {
	_, p, err := s.writableRule(ctx, id)
	if err != nil {
		return err
	}
	if err := s.opts.Client.ImmutabilityRule.DeleteOneID(id).Exec(auth.Allow(ctx)); err != nil {
		if ent.IsNotFound(err) {
			return errdefs.NotFoundf("immutability rule %d does not exist", id)
		}
		return err
	}
	s.opts.Logger.Info("immutability rule deleted", "project", p.Name, "user", viewer.FromContext(ctx).Name(), "rule", id)
	return nil
}

// ImmutableRules caches, for one caller (a GraphQL request), the enabled
// immutability rules of the projects it has asked about.
// It is safe for concurrent use, as GraphQL resolves list items.
type ImmutableRules struct {
	s     *Service
	mu    sync.Mutex
	rules map[int][]*ent.ImmutabilityRule
	repos map[int]repoInfo
}

type repoInfo struct {
	name      string
	projectID int
}

// NewImmutableRules returns an empty cache.
func (s *Service) NewImmutableRules() *ImmutableRules {
	return &ImmutableRules{s: s, rules: map[int][]*ent.ImmutabilityRule{}, repos: map[int]repoInfo{}}
}

// TagImmutable reports whether an enabled immutability rule of its
// project selects tag t. The caller has read t, so may know.
func (s *Service) TagImmutable(ctx context.Context, t *ent.Tag) (bool, error) {
	return s.NewImmutableRules().TagImmutable(ctx, t)
}

// TagImmutable reports whether an enabled immutability rule of its
// project selects tag t. The caller has read t, so may know.
func (c *ImmutableRules) TagImmutable(ctx context.Context, t *ent.Tag) (bool, error) {
	sys := viewer.SystemContext(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	repo, ok := c.repos[t.RepositoryID]
	if !ok {
		r, err := c.s.opts.Client.Repository.Get(sys, t.RepositoryID)
		if err != nil {
			return false, err
		}
		repo = repoInfo{name: r.Name, projectID: r.ProjectID}
		c.repos[t.RepositoryID] = repo
	}
	rs, ok := c.rules[repo.projectID]
	if !ok {
		var err error
		if rs, err = c.s.opts.Content.ImmutabilityRules(sys, repo.projectID); err != nil {
			return false, err
		}
		c.rules[repo.projectID] = rs
	}
	return artifacts.ImmutableBy(rs, repo.name, t.Name) != nil, nil
}
