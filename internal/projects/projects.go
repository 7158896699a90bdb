// Package projects holds the business rules of projects and labels: naming,
// who may create, change and delete them, and what deletion takes along.
package projects

import (
	"context"
	"regexp"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/pullpolicy"
	"github.com/berth-registry/berth/internal/viewer"
)

// namePattern is Harbor's rule for project names: lowercase letters and
// digits, separated by single '.', '_' or '-'.
var namePattern = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// Service creates, changes and deletes projects and labels.
type Service struct {
	client  *ent.Client
	auth    *auth.Service
	content *artifacts.Service
}

// New returns a Service. Deleting a project's content goes through
// content, the registry's write path.
func New(client *ent.Client, authz *auth.Service, content *artifacts.Service) *Service {
	return &Service{client: client, auth: authz, content: content}
}

// ValidateName checks a project name.
func ValidateName(name string) error {
	if len(name) < 1 || len(name) > 255 || !namePattern.MatchString(name) {
		return errdefs.Invalidf("project name %q is invalid: use 1 to 255 lowercase letters, digits, and single '.', '_' or '-' between them", name)
	}
	return nil
}

// CreateInput describes a new project.
type CreateInput struct {
	Name        string
	Public      bool
	Description string
	QuotaBytes  *int64
}

// Create makes a project; its creator becomes its project admin.
func (s *Service) Create(ctx context.Context, in CreateInput) (*ent.Project, error) {
	v, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	if v.ReadOnly {
		return nil, errdefs.Deniedf("this access token is read-only")
	}
	if v.Kind == viewer.Robot {
		return nil, errdefs.Deniedf("robot accounts cannot create projects")
	}
	if err := ValidateName(in.Name); err != nil {
		return nil, err
	}
	quota := int64(-1)
	if in.QuotaBytes != nil {
		if !v.IsAdmin() {
			return nil, errdefs.Deniedf("only system administrators may set quotas")
		}
		if *in.QuotaBytes < -1 {
			return nil, errdefs.Invalidf("quotaBytes must be -1 (unlimited) or at least 0")
		}
		quota = *in.QuotaBytes
	}
	var p *ent.Project
	err = database.WithTx(auth.Allow(ctx), s.client, func(tx *ent.Tx) error {
		ctx := auth.Allow(ctx) // the transaction writes on the caller's behalf
		exists, err := tx.Project.Query().Where(project.Name(in.Name)).Exist(viewer.SystemContext(ctx))
		if err != nil {
			return err
		}
		if exists {
			return errdefs.Conflictf("project %q already exists", in.Name)
		}
		p, err = tx.Project.Create().SetName(in.Name).SetPublic(in.Public).
			SetDescription(in.Description).SetQuotaBytes(quota).Save(ctx)
		if ent.IsConstraintError(err) {
			return errdefs.Conflictf("project %q already exists", in.Name)
		}
		if err != nil {
			return err
		}
		if v.Kind == viewer.User {
			return tx.Member.Create().SetProjectID(p.ID).SetUserID(v.UserID).
				SetRole(member.RolePROJECT_ADMIN).Exec(ctx)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p.Unwrap(), nil
}

// Get returns a project the caller may see, or a not-found error (also for
// projects that exist but are hidden from the caller).
func (s *Service) Get(ctx context.Context, name string) (*ent.Project, error) {
	p, err := s.client.Project.Query().Where(project.Name(name)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errdefs.NotFoundf("project %q does not exist", name)
	}
	return p, err
}

// UpdateInput changes a project; nil fields stay as they are.
type UpdateInput struct {
	Public      *bool
	Description *string
	QuotaBytes  *int64
	// ScanOnPush makes every image pushed to the project be scanned.
	ScanOnPush *bool
	// PreventVulnerable and RequireSignature are the pull policies.
	PreventVulnerable *pullpolicy.PreventVulnerable
	RequireSignature  *pullpolicy.RequireSignature
}

// Update changes a project's settings.
func (s *Service) Update(ctx context.Context, name string, in UpdateInput) (*ent.Project, error) {
	p, err := s.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := s.auth.Can(ctx, auth.ProjectUpdate, p); err != nil {
		return nil, err
	}
	upd := s.client.Project.UpdateOneID(p.ID)
	if in.Public != nil {
		upd.SetPublic(*in.Public)
	}
	if in.Description != nil {
		upd.SetDescription(*in.Description)
	}
	if in.ScanOnPush != nil {
		upd.SetScanOnPush(*in.ScanOnPush)
	}
	if in.PreventVulnerable != nil {
		if err := pullpolicy.ApplyPreventVulnerable(upd, *in.PreventVulnerable); err != nil {
			return nil, err
		}
	}
	if in.RequireSignature != nil {
		if err := pullpolicy.ApplyRequireSignature(upd, *in.RequireSignature); err != nil {
			return nil, err
		}
	}
	if in.QuotaBytes != nil {
		if !viewer.FromContext(ctx).IsAdmin() {
			return nil, errdefs.Deniedf("only system administrators may set quotas")
		}
		if *in.QuotaBytes < -1 {
			return nil, errdefs.Invalidf("quotaBytes must be -1 (unlimited) or at least 0")
		}
		upd.SetQuotaBytes(*in.QuotaBytes)
	}
	p, err = upd.Save(auth.Allow(ctx))
	if err == nil {
		// Visibility, quota and pull policies apply to the registry at once, on every
		// replica.
		s.content.Forget(p.Name)
	}
	return p, err
}

// Delete removes a project with its members and labels. A project that
// still holds repositories is refused unless force is set; then its
// repositories, artifacts and tags go too (their blobs are left for garbage
// collection), through the registry's write path.
func (s *Service) Delete(ctx context.Context, name string, force bool) error {
	p, err := s.Get(ctx, name)
	if err != nil {
		return err
	}
	if err := s.auth.Can(ctx, auth.ProjectDelete, p); err != nil {
		return err
	}
	return s.content.DeleteProject(ctx, p, force)
}
