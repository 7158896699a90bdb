package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
)

// TestRolesAreReusedForASecondAndForgottenOnChange: a user's role in a
// project is read once per roleCacheFor. A change made behind ent's back
// (as another replica without Redis would) shows once that second is
// over; a change of a member row through ent shows at once, in or out of
// a transaction (once it commits; a rollback changes nothing), and tells
// the other replicas (OnRolesChanged).
func TestRolesAreReusedForASecondAndForgottenOnChange(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		s, alice := newAuth(t, db)
		told := 0
		s.OnRolesChanged = func() { told++ }
		ctx := context.Background()
		sys := viewer.SystemContext(ctx)
		p := db.Client.Project.Create().SetName("roles").SaveX(sys)
		other := db.Client.Project.Create().SetName("other").SaveX(sys)
		m := db.Client.Member.Create().SetProjectID(p.ID).SetUserID(alice.ID).SetRole(member.RoleDEVELOPER).SaveX(sys)
		if told != 1 {
			t.Fatalf("adding a member told the other replicas %d times, want 1", told)
		}
		want := func(step string, project int, role Role, ok bool) {
			t.Helper()
			got, gotOK, err := s.Role(as(alice), project)
			if err != nil || got != role || gotOK != ok {
				t.Fatalf("%s: role %q %v (%v), want %q %v", step, got, gotOK, err, role, ok)
			}
		}
		want("a member", p.ID, member.RoleDEVELOPER, true)
		want("not a member", other.ID, "", false)

		// Behind ent's back: the cached role holds for the second.
		exec := func(q string, args ...any) {
			t.Helper()
			if db.Kind == database.SQLite {
				q = strings.NewReplacer("$1", "?", "$2", "?", "$3", "?", "$4", "?").Replace(q)
			}
			if _, err := db.SQL().ExecContext(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		exec(`UPDATE members SET role = 'MAINTAINER' WHERE id = $1`, m.ID)
		exec(`INSERT INTO members (created_at, updated_at, project_id, user_id, role) VALUES ($1, $2, $3, $4, 'GUEST')`,
			time.Now(), time.Now(), other.ID, alice.ID)
		changed := time.Now()
		want("within the second", p.ID, member.RoleDEVELOPER, true)
		want("within the second", other.ID, "", false)
		time.Sleep(time.Until(changed.Add(roleCacheFor + 50*time.Millisecond)))
		want("after the second", p.ID, member.RoleMAINTAINER, true)
		want("after the second", other.ID, member.RoleGUEST, true)

		// Through ent: at once.
		db.Client.Member.UpdateOneID(m.ID).SetRole(member.RoleGUEST).ExecX(sys)
		want("right after an update", p.ID, member.RoleGUEST, true)

		// In a transaction: once it commits.
		tx, err := db.Client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx.Member.UpdateOneID(m.ID).SetRole(member.RolePROJECT_ADMIN).ExecX(sys)
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		want("after a rollback", p.ID, member.RoleGUEST, true)
		tx, err = db.Client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx.Member.UpdateOneID(m.ID).SetRole(member.RolePROJECT_ADMIN).ExecX(sys)
		told = 0
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if told != 1 {
			t.Fatalf("a committed change told the other replicas %d times, want 1", told)
		}
		want("right after the commit", p.ID, member.RolePROJECT_ADMIN, true)

		db.Client.Member.DeleteOneID(m.ID).ExecX(sys)
		want("right after the delete", p.ID, "", false)

		// A group's role belongs to the viewers with that group.
		db.Client.Member.Create().SetProjectID(p.ID).SetGroupName("ops").SetRole(member.RoleMAINTAINER).ExecX(sys)
		in := &viewer.Viewer{Kind: viewer.User, UserID: alice.ID, Username: "alice", Groups: []string{"dev", "ops"}}
		if got, ok, err := s.Role(viewer.NewContext(ctx, in), p.ID); err != nil || !ok || got != member.RoleMAINTAINER {
			t.Fatalf("through the group: %q %v %v", got, ok, err)
		}
		want("without the group", p.ID, "", false)
	})
}

// TestARoleReadBeforeAChangeIsNotCached: a lookup that began before the
// cache was cleared does not store what it read.
func TestARoleReadBeforeAChangeIsNotCached(t *testing.T) {
	var c roleCache
	k := roleKey{user: 1, project: 2}
	gen := c.gen.Load()
	c.clear() // a change committed while the query ran
	c.put(k, cachedRole{role: member.RoleDEVELOPER, ok: true, until: time.Now().Add(time.Hour)}, gen)
	if _, ok := c.get(k, time.Now()); ok {
		t.Fatal("a role read before the change was cached")
	}
	c.put(k, cachedRole{role: member.RoleDEVELOPER, ok: true, until: time.Now().Add(time.Hour)}, c.gen.Load())
	if e, ok := c.get(k, time.Now()); !ok || e.role != member.RoleDEVELOPER {
		t.Fatalf("a role read after it: %+v %v", e, ok)
	}
}
