package schema

import (
	"context"

	"entgo.io/ent"

	gen "github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/accesstoken"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/label"
	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/ent/predicate"
	"github.com/berth-registry/berth/ent/privacy"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/session"
	"github.com/berth-registry/berth/ent/tag"
	"github.com/berth-registry/berth/internal/viewer"
)

// The privacy rules below are the floor of authorization: whatever a
// resolver or handler forgets, a query never returns rows of a private
// project to someone who is not its member, and nothing is written unless
// the caller is an admin or a service has checked auth.Can first and says
// so with privacy.DecisionContext(ctx, privacy.Allow).

// allowAdmin lets system admins and berth itself through every rule.
func allowAdmin() privacy.QueryMutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if viewer.FromContext(ctx).IsAdmin() {
			return privacy.Allow
		}
		return privacy.Skip
	})
}

// denyReadOnly refuses every write of a caller who signed in with a
// read-only access token, admin or not; it comes first in every mutation
// policy so that allowAdmin cannot let such a caller through.
func denyReadOnly() privacy.MutationRule {
	return privacy.ContextQueryMutationRule(func(ctx context.Context) error {
		if viewer.FromContext(ctx).ReadOnly {
			return privacy.Denyf("this access token is read-only")
		}
		return privacy.Skip
	})
}

// visibleProjects matches the projects the viewer may see: public ones, and
// for a signed-in user the ones they are a member of.
func visibleProjects(v *viewer.Viewer) predicate.Project {
	switch v.Kind {
	case viewer.User:
		mine := member.UserID(v.UserID)
		if len(v.Groups) > 0 {
			mine = member.Or(mine, member.GroupNameIn(v.Groups...))
		}
		return project.Or(project.Public(true), project.HasMembersWith(mine))
	case viewer.Robot:
		// A robot sees what it may pull: a push-only robot (CI that
		// publishes) reads nothing, not even the manifests it pushed.
		names, all := v.RobotProjects("repository:pull")
		if all {
			return project.IDGT(0)
		}
		return project.Or(project.Public(true), project.NameIn(names...))
	}
	return project.Public(true)
}

func projectPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowAdmin(),
			privacy.ProjectQueryRuleFunc(func(ctx context.Context, q *gen.ProjectQuery) error {
				q.Where(visibleProjects(viewer.FromContext(ctx)))
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{denyReadOnly(), allowAdmin(), privacy.AlwaysDenyRule()},
	}
}

func repositoryPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowAdmin(),
			privacy.RepositoryQueryRuleFunc(func(ctx context.Context, q *gen.RepositoryQuery) error {
				q.Where(repository.HasProjectWith(visibleProjects(viewer.FromContext(ctx))))
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{denyReadOnly(), allowAdmin(), privacy.AlwaysDenyRule()},
	}
}

// artifactPolicy and tagPolicy guard repository content: visible when the
// repository is. Each type has its own policy because a typed query rule
// denies queries of any other type.
func artifactPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowAdmin(),
			privacy.ArtifactQueryRuleFunc(func(ctx context.Context, q *gen.ArtifactQuery) error {
				q.Where(artifact.HasRepositoryWith(repository.HasProjectWith(visibleProjects(viewer.FromContext(ctx)))))
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{denyReadOnly(), allowAdmin(), privacy.AlwaysDenyRule()},
	}
}

func tagPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowAdmin(),
			privacy.TagQueryRuleFunc(func(ctx context.Context, q *gen.TagQuery) error {
				q.Where(tag.HasRepositoryWith(repository.HasProjectWith(visibleProjects(viewer.FromContext(ctx)))))
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{denyReadOnly(), allowAdmin(), privacy.AlwaysDenyRule()},
	}
}

func memberPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowAdmin(),
			// Member lists are for members from guest up (Harbor's limited
			// guests do not see them), never for outsiders or robots.
			privacy.MemberQueryRuleFunc(func(ctx context.Context, q *gen.MemberQuery) error {
				v := viewer.FromContext(ctx)
				if v.Kind != viewer.User {
					return privacy.Denyf("members are visible to project members only")
				}
				mine := member.UserID(v.UserID)
				if len(v.Groups) > 0 {
					mine = member.Or(mine, member.GroupNameIn(v.Groups...))
				}
				q.Where(member.HasProjectWith(project.HasMembersWith(mine, member.RoleNEQ(member.RoleLIMITED_GUEST))))
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{denyReadOnly(), allowAdmin(), privacy.AlwaysDenyRule()},
	}
}

func userPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowAdmin(),
			// Signed-in users may look each other up (to add members);
			// anonymous callers see nobody.
			privacy.ContextQueryMutationRule(func(ctx context.Context) error {
				if viewer.FromContext(ctx).Kind == viewer.User {
					return privacy.Allow
				}
				return privacy.Denyf("users are visible to signed-in users only")
			}),
		},
		Mutation: privacy.MutationPolicy{denyReadOnly(), allowAdmin(), privacy.AlwaysDenyRule()},
	}
}

func labelPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowAdmin(),
			privacy.LabelQueryRuleFunc(func(ctx context.Context, q *gen.LabelQuery) error {
				q.Where(label.Or(label.ScopeEQ(label.ScopeGLOBAL),
					label.HasProjectWith(visibleProjects(viewer.FromContext(ctx)))))
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{denyReadOnly(), allowAdmin(), privacy.AlwaysDenyRule()},
	}
}

// adminOnlyPolicy guards what only system admins read and write directly
// (settings, robots): services check auth.Can and then use auth.Allow.
func adminOnlyPolicy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{denyReadOnly(), allowAdmin(), privacy.AlwaysDenyRule()},
	}
}

func robotPolicy() ent.Policy { return adminOnlyPolicy() }

func auditPolicy() ent.Policy {
	return privacy.Policy{
		Query:    privacy.QueryPolicy{allowAdmin(), privacy.AlwaysDenyRule()},
		Mutation: privacy.MutationPolicy{denyReadOnly(), allowAdmin(), privacy.AlwaysDenyRule()},
	}
}

// accessTokenPolicy and sessionPolicy let a user see only their own.
func accessTokenPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowAdmin(),
			privacy.AccessTokenQueryRuleFunc(func(ctx context.Context, q *gen.AccessTokenQuery) error {
				q.Where(accesstoken.UserID(viewer.FromContext(ctx).UserID))
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{denyReadOnly(), allowAdmin(), privacy.AlwaysDenyRule()},
	}
}

func sessionPolicy() ent.Policy {
	return privacy.Policy{
		Query: privacy.QueryPolicy{
			allowAdmin(),
			privacy.SessionQueryRuleFunc(func(ctx context.Context, q *gen.SessionQuery) error {
				q.Where(session.UserID(viewer.FromContext(ctx).UserID))
				return privacy.Allow
			}),
		},
		Mutation: privacy.MutationPolicy{denyReadOnly(), allowAdmin(), privacy.AlwaysDenyRule()},
	}
}
