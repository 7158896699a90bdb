package auth

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/viewer"
)

// roleCacheFor is how long a user's role in a project is reused without a
// query. Clients that send Basic credentials on every request (zb,
// curl -u, CI scripts; docker's registry tokens carry their grants and
// skip the check) would otherwise pay a membership query on each one.
// Every change of a member row forgets all cached roles once it commits,
// on this replica at once and on the others through OnRolesChanged;
// without that channel another replica honours a change within this
// time, as it does a disabled account (signInCacheFor).
const roleCacheFor = time.Second

// roleCacheMax bounds the cache; a full cache starts over.
const roleCacheMax = 10000

type roleKey struct {
	user, project int
	// groups is a hash of the viewer's groups (zero without groups): a
	// role can come from a group membership.
	groups [32]byte
}

type cachedRole struct {
	role  Role
	ok    bool
	until time.Time
}

// roleCache maps (user, groups, project) to the user's role there. gen
// changes on every clear, so that a lookup that began before a change
// committed does not store what it read.
type roleCache struct {
	gen     atomic.Uint64
	mu      sync.Mutex
	entries map[roleKey]cachedRole
}

func (c *roleCache) get(k roleKey, now time.Time) (cachedRole, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	return e, ok && now.Before(e.until)
}

func (c *roleCache) put(k roleKey, e cachedRole, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return // cleared while the query ran: what it read may be stale
	}
	if c.entries == nil || len(c.entries) >= roleCacheMax {
		c.entries = map[roleKey]cachedRole{}
	}
	c.entries[k] = e
}

func (c *roleCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	clear(c.entries)
}

func roleKeyOf(v *viewer.Viewer, projectID int) roleKey {
	k := roleKey{user: v.UserID, project: projectID}
	if len(v.Groups) > 0 {
		k.groups = sha256.Sum256([]byte(strings.Join(v.Groups, "\x00")))
	}
	return k
}

// Role returns the viewer's role in a project, if they are a member
// directly or through one of their groups; the highest role wins.
func (s *Service) Role(ctx context.Context, projectID int) (Role, bool, error) {
	v := viewer.FromContext(ctx)
	if v.Kind != viewer.User {
		return "", false, nil
	}
	k, now := roleKeyOf(v, projectID), time.Now()
	if e, ok := s.roles.get(k, now); ok {
		return e.role, e.ok, nil
	}
	gen := s.roles.gen.Load()
	who := member.UserID(v.UserID)
	if len(v.Groups) > 0 {
		who = member.Or(who, member.GroupNameIn(v.Groups...))
	}
	ms, err := s.client.Member.Query().Where(member.ProjectID(projectID), who).All(viewer.SystemContext(ctx))
	if err != nil {
		return "", false, err
	}
	var best Role
	for _, m := range ms {
		if best == "" || rank[m.Role] > rank[best] {
			best = m.Role
		}
	}
	s.roles.put(k, cachedRole{role: best, ok: len(ms) > 0, until: now.Add(roleCacheFor)}, gen)
	return best, len(ms) > 0, nil
}

// ForgetRoles drops every cached role, here and (OnRolesChanged) on the
// other replicas. Member rows call it themselves when they change (see
// forgetRolesOnChange).
func (s *Service) ForgetRoles() {
	s.roles.clear()
	if s.OnRolesChanged != nil {
		s.OnRolesChanged()
	}
}

// RolesDropped drops every cached role on this replica only: for another
// replica's ForgetRoles.
func (s *Service) RolesDropped() { s.roles.clear() }

// forgetRolesOnChange is a hook on member mutations: once one is
// committed (at once outside a transaction), the cached roles are
// forgotten. Clearing after the commit, with the generation check in put,
// leaves no window in which a role read before the change stays cached.
func (s *Service) forgetRolesOnChange(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		v, err := next.Mutate(ctx, m)
		if err != nil {
			return v, err
		}
		// The hook is on Member only; outside a transaction the change
		// has committed already.
		tx, terr := m.(*ent.MemberMutation).Tx()
		if terr != nil {
			s.ForgetRoles()
			return v, nil
		}
		tx.OnCommit(func(next ent.Committer) ent.Committer {
			return ent.CommitFunc(func(ctx context.Context, tx *ent.Tx) error {
				err := next.Commit(ctx, tx)
				if err == nil {
					s.ForgetRoles()
				}
				return err
			})
		})
		return v, nil
	})
}
