package projects

import (
	"context"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/ent/predicate"
	"github.com/berth-registry/berth/ent/user"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// MemberRef names a member: a user by username, or a group by the name the
// identity provider's groups claim gives it. Exactly one is set.
type MemberRef struct {
	Username string
	Group    string
}

func (m MemberRef) String() string {
	if m.Group != "" {
		return "group " + m.Group
	}
	return "user " + m.Username
}

// where resolves the reference to a member predicate.
func (s *Service) where(ctx context.Context, p *ent.Project, ref MemberRef) (predicate.Member, *ent.User, error) {
	switch {
	case (ref.Username == "") == (ref.Group == ""):
		return nil, nil, errdefs.Invalidf("name either a username or a group")
	case ref.Group != "":
		if len(ref.Group) > 255 {
			return nil, nil, errdefs.Invalidf("group names are at most 255 characters")
		}
		return member.And(member.ProjectID(p.ID), member.GroupName(ref.Group)), nil, nil
	}
	u, err := s.client.User.Query().Where(user.Username(ref.Username)).Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, nil, errdefs.NotFoundf("user %q does not exist", ref.Username)
	}
	if err != nil {
		return nil, nil, err
	}
	return member.And(member.ProjectID(p.ID), member.UserID(u.ID)), u, nil
}

// memberTarget loads the project and checks the caller may manage its members.
func (s *Service) memberTarget(ctx context.Context, projectName string) (*ent.Project, error) {
	p, err := s.Get(ctx, projectName)
	if err != nil {
		return nil, err
	}
	return p, s.auth.Can(ctx, auth.MemberWrite, p)
}

// AddMember gives a user or group a role in a project.
func (s *Service) AddMember(ctx context.Context, projectName string, ref MemberRef, role member.Role) (*ent.Member, error) {
	p, err := s.memberTarget(ctx, projectName)
	if err != nil {
		return nil, err
	}
	if err := member.RoleValidator(role); err != nil {
		return nil, errdefs.Invalidf("unknown role %q", role)
	}
	pred, u, err := s.where(ctx, p, ref)
	if err != nil {
		return nil, err
	}
	sys := viewer.SystemContext(ctx)
	if exists, err := s.client.Member.Query().Where(pred).Exist(sys); err != nil {
		return nil, err
	} else if exists {
		return nil, errdefs.Conflictf("%s is already a member of %q; change their role instead", ref, projectName)
	}
	create := s.client.Member.Create().SetProjectID(p.ID).SetRole(role)
	if u != nil {
		create.SetUserID(u.ID)
	} else {
		create.SetGroupName(ref.Group)
	}
	m, err := create.Save(auth.Allow(ctx))
	if ent.IsConstraintError(err) {
		return nil, errdefs.Conflictf("%s is already a member of %q", ref, projectName)
	}
	return m, err
}

// UpdateMember changes a member's role.
func (s *Service) UpdateMember(ctx context.Context, projectName string, ref MemberRef, role member.Role) (*ent.Member, error) {
	p, err := s.memberTarget(ctx, projectName)
	if err != nil {
		return nil, err
	}
	if err := member.RoleValidator(role); err != nil {
		return nil, errdefs.Invalidf("unknown role %q", role)
	}
	m, err := s.findMember(ctx, p, ref)
	if err != nil {
		return nil, err
	}
	if m.Role == member.RolePROJECT_ADMIN && role != member.RolePROJECT_ADMIN {
		if err := s.keepOneAdmin(ctx, p, m); err != nil {
			return nil, err
		}
	}
	return s.client.Member.UpdateOneID(m.ID).SetRole(role).Save(auth.Allow(ctx))
}

// RemoveMember takes a user or group out of a project.
func (s *Service) RemoveMember(ctx context.Context, projectName string, ref MemberRef) error {
	p, err := s.memberTarget(ctx, projectName)
	if err != nil {
		return err
	}
	m, err := s.findMember(ctx, p, ref)
	if err != nil {
		return err
	}
	if m.Role == member.RolePROJECT_ADMIN {
		if err := s.keepOneAdmin(ctx, p, m); err != nil {
			return err
		}
	}
	return s.client.Member.DeleteOneID(m.ID).Exec(auth.Allow(ctx))
}

func (s *Service) findMember(ctx context.Context, p *ent.Project, ref MemberRef) (*ent.Member, error) {
	pred, _, err := s.where(ctx, p, ref)
	if err != nil {
		return nil, err
	}
	m, err := s.client.Member.Query().Where(pred).Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return nil, errdefs.NotFoundf("%s is not a member of %q", ref, p.Name)
	}
	return m, err
}

// keepOneAdmin refuses to take away the last user project admin, which
// would leave a project only system admins can manage.
func (s *Service) keepOneAdmin(ctx context.Context, p *ent.Project, m *ent.Member) error {
	if viewer.FromContext(ctx).IsAdmin() {
		return nil
	}
	n, err := s.client.Member.Query().Where(member.ProjectID(p.ID), member.RoleEQ(member.RolePROJECT_ADMIN),
		member.UserIDNotNil(), member.IDNEQ(m.ID)).Count(viewer.SystemContext(ctx))
	if err != nil {
		return err
	}
	if n == 0 {
		return errdefs.Conflictf("%q must keep at least one project admin", p.Name)
	}
	return nil
}
