package auth

import (
	"context"
	"errors"
	"regexp"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/robot"
	"github.com/berth-registry/berth/ent/schema/robotperm"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// DefaultRobotPrefix starts robot login names unless configured otherwise.
const DefaultRobotPrefix = "robot$"

// RobotSecretPrefix starts every robot secret, so a Bearer secret says
// which table to look in.
const RobotSecretPrefix = "berth_robot_"

var robotNamePattern = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// RobotInput describes a new robot account. Project set makes a project
// robot whose permissions all apply to that project; otherwise each
// permission names its project, or "*" for every project.
type RobotInput struct {
	Name        string
	Project     string
	Description string
	Permissions []robotperm.Permission
	// ExpiresInDays: nil for the default expiry, -1 for never.
	ExpiresInDays *int
}

// RobotUpdate changes a robot; nil fields stay as they are.
type RobotUpdate struct {
	Description   *string
	Disabled      *bool
	Permissions   []robotperm.Permission
	ExpiresInDays *int
}

func (s *Service) robotBySecret(ctx context.Context, secret string) (*viewer.Viewer, error) {
	sys := viewer.SystemContext(ctx)
	r, err := s.client.Robot.Query().Where(robot.SecretHash(HashSecret(secret))).Only(sys)
	if err != nil {
		if ent.IsNotFound(err) {
			return nil, ErrBadCredentials
		}
		return nil, err
	}
	now := time.Now()
	if r.Disabled || (r.ExpiresAt != nil && now.After(*r.ExpiresAt)) {
		return nil, ErrBadCredentials
	}
	if r.LastUsedAt == nil || now.Sub(*r.LastUsedAt) > time.Minute {
		_ = s.client.Robot.UpdateOneID(r.ID).SetLastUsedAt(now).Exec(sys)
	}
	v := &viewer.Viewer{Kind: viewer.Robot, RobotID: r.ID, Username: r.Login}
	for _, p := range r.Permissions {
		v.Grants = append(v.Grants, viewer.Grant{Project: p.Project, Action: p.Action})
	}
	return v, nil
}

// robotProject checks the caller may manage robots of the project (write)
// or of the whole system (project nil), and returns the project.
func (s *Service) robotScope(ctx context.Context, projectName string, action Action) (*ent.Project, error) {
	if _, err := RequireUser(ctx); err != nil {
		return nil, err
	}
	if projectName == "" {
		_, err := RequireAdmin(ctx)
		return nil, err
	}
	p, err := s.client.Project.Query().Where(project.Name(projectName)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errdefs.NotFoundf("project %q does not exist", projectName)
	}
	if err != nil {
		return nil, err
	}
	return p, s.Can(ctx, action, p)
}

// checkGrants validates a permission list: known robot actions, existing
// projects, and nothing the caller could not do themselves.
func (s *Service) checkGrants(ctx context.Context, p *ent.Project, perms []robotperm.Permission) ([]robotperm.Permission, error) {
	if len(perms) == 0 {
		return nil, errdefs.Invalidf("a robot needs at least one permission")
	}
	out := make([]robotperm.Permission, 0, len(perms))
	seen := map[robotperm.Permission]bool{}
	for _, perm := range perms {
		if !RobotAction(Action(perm.Action)) {
			return nil, errdefs.Invalidf("%q is not a permission a robot can have", perm.Action)
		}
		target := p
		if p != nil {
			perm.Project = p.Name
		} else if perm.Project == "" {
			return nil, errdefs.Invalidf("each permission of a system robot names its project (or \"*\")")
		} else if perm.Project != "*" {
			var err error
			target, err = s.client.Project.Query().Where(project.Name(perm.Project)).Only(ctx)
			if ent.IsNotFound(err) {
				return nil, errdefs.NotFoundf("project %q does not exist", perm.Project)
			}
			if err != nil {
				return nil, err
			}
		}
		if target != nil {
			if err := s.Can(ctx, Action(perm.Action), target); err != nil {
				return nil, errdefs.Deniedf("you cannot grant %s in project %q: you do not have it", perm.Action, target.Name)
			}
		}
		if !seen[perm] {
			seen[perm] = true
			out = append(out, perm)
		}
	}
	return out, nil
}

func (s *Service) robotExpiry(days *int) (*time.Time, error) {
	switch {
	case days == nil:
		t := time.Now().Add(s.RobotDefaultExpiry)
		return &t, nil
	case *days == -1:
		return nil, nil
	case *days < 1 || *days > 3650:
		return nil, errdefs.Invalidf("expiresInDays must be between 1 and 3650, or -1 for never")
	}
	t := time.Now().Add(time.Duration(*days) * 24 * time.Hour)
	return &t, nil
}

// CreateRobot makes a robot account and returns it with its secret, which
// is shown only this once.
func (s *Service) CreateRobot(ctx context.Context, in RobotInput) (*ent.Robot, string, error) {
	p, err := s.robotScope(ctx, in.Project, RobotWrite)
	if err != nil {
		return nil, "", err
	}
	if len(in.Name) > 64 || !robotNamePattern.MatchString(in.Name) {
		return nil, "", errdefs.Invalidf("robot name %q is invalid: use 1 to 64 lowercase letters, digits, and single '.', '_' or '-' between them", in.Name)
	}
	perms, err := s.checkGrants(ctx, p, in.Permissions)
	if err != nil {
		return nil, "", err
	}
	expires, err := s.robotExpiry(in.ExpiresInDays)
	if err != nil {
		return nil, "", err
	}
	login := s.RobotPrefix + in.Name
	if p != nil {
		login = s.RobotPrefix + p.Name + "+" + in.Name
	}
	secret := NewSecret(RobotSecretPrefix)
	create := s.client.Robot.Create().SetName(in.Name).SetLogin(login).SetDescription(in.Description).
		SetSecretHash(HashSecret(secret)).SetPermissions(perms).SetNillableExpiresAt(expires).
		SetCreatedBy(viewer.FromContext(ctx).Name())
	if p != nil {
		create.SetProjectID(p.ID)
	}
	r, err := create.Save(Allow(ctx))
	if ent.IsConstraintError(err) {
		return nil, "", errdefs.Conflictf("robot %q already exists", login)
	}
	return r, secret, err
}

// Robots lists the robots of a project, or the system robots when
// projectName is empty.
func (s *Service) Robots(ctx context.Context, projectName string) ([]*ent.Robot, error) {
	p, err := s.robotScope(ctx, projectName, RobotRead)
	if err != nil {
		return nil, err
	}
	q := s.client.Robot.Query().Order(robot.ByName())
	if p != nil {
		q.Where(robot.ProjectID(p.ID))
	} else {
		q.Where(robot.ProjectIDIsNil())
	}
	return q.All(Allow(ctx))
}

// writableRobot returns a robot the caller may change.
func (s *Service) writableRobot(ctx context.Context, id int) (*ent.Robot, *ent.Project, error) {
	r, err := s.client.Robot.Query().Where(robot.ID(id)).WithProject().Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil, errdefs.NotFoundf("robot %d does not exist", id)
	}
	if err != nil {
		return nil, nil, err
	}
	name := ""
	if r.Edges.Project != nil {
		name = r.Edges.Project.Name
	}
	p, err := s.robotScope(ctx, name, RobotWrite)
	if err != nil {
		if name != "" && errors.Is(err, errdefs.ErrDenied) {
			// Do not confirm the robot exists to someone who may not see it.
			return nil, nil, errdefs.NotFoundf("robot %d does not exist", id)
		}
		return nil, nil, err
	}
	return r, p, nil
}

// UpdateRobot changes a robot's description, permissions, expiry or
// disabled flag.
func (s *Service) UpdateRobot(ctx context.Context, id int, in RobotUpdate) (*ent.Robot, error) {
	defer s.recent.clear() // sign-ins reused from before the change must not outlive it
	r, p, err := s.writableRobot(ctx, id)
	if err != nil {
		return nil, err
	}
	upd := s.client.Robot.UpdateOneID(r.ID)
	if in.Description != nil {
		upd.SetDescription(*in.Description)
	}
	if in.Disabled != nil {
		upd.SetDisabled(*in.Disabled)
	}
	if in.Permissions != nil {
		perms, err := s.checkGrants(ctx, p, in.Permissions)
		if err != nil {
			return nil, err
		}
		upd.SetPermissions(perms)
	}
	if in.ExpiresInDays != nil {
		expires, err := s.robotExpiry(in.ExpiresInDays)
		if err != nil {
			return nil, err
		}
		if expires == nil {
			upd.ClearExpiresAt()
		} else {
			upd.SetExpiresAt(*expires)
		}
	}
	return upd.Save(Allow(ctx))
}

// RefreshRobotSecret replaces a robot's secret; the old one stops working.
func (s *Service) RefreshRobotSecret(ctx context.Context, id int) (*ent.Robot, string, error) {
	defer s.recent.clear() // sign-ins reused from before the change must not outlive it
	r, _, err := s.writableRobot(ctx, id)
	if err != nil {
		return nil, "", err
	}
	secret := NewSecret(RobotSecretPrefix)
	r, err = s.client.Robot.UpdateOneID(r.ID).SetSecretHash(HashSecret(secret)).Save(Allow(ctx))
	return r, secret, err
}

// DeleteRobot deletes a robot account.
func (s *Service) DeleteRobot(ctx context.Context, id int) error {
	defer s.recent.clear() // sign-ins reused from before the change must not outlive it
	r, _, err := s.writableRobot(ctx, id)
	if err != nil {
		return err
	}
	return s.client.Robot.DeleteOneID(r.ID).Exec(Allow(ctx))
}
