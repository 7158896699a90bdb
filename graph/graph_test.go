package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/user"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/viewer"
)

// each runs fn against a fresh berth on every database dialect, so the same
// GraphQL calls are checked to give the same answers on both.
func each(t *testing.T, fn func(t *testing.T, s *servertest.Server)) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) { fn(t, servertest.Start(t, kind)) })
	}
}

var admin = servertest.Admin

// addMember gives a user a role in a project directly in the database (the
// member mutations belong to the access work).
func addMember(t *testing.T, s *servertest.Server, projectName, username string, role member.Role) {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	db := s.Berth.DB()
	p := db.Project.Query().Where(project.Name(projectName)).OnlyX(ctx)
	u := db.User.Query().Where(user.Username(username)).OnlyX(ctx)
	db.Member.Create().SetProjectID(p.ID).SetUserID(u.ID).SetRole(role).ExecX(ctx)
}

func TestViewer(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		var out struct {
			Viewer *struct {
				Username string
				Admin    bool
			}
		}
		s.MustDo(admin, `{ viewer { username admin } }`, nil, &out)
		if out.Viewer == nil || out.Viewer.Username != "admin" || !out.Viewer.Admin {
			t.Fatalf("viewer: %+v", out.Viewer)
		}
		s.MustDo(servertest.Creds{}, `{ viewer { username } }`, nil, &out)
		if out.Viewer != nil {
			t.Fatalf("anonymous viewer should be null, got %+v", out.Viewer)
		}
	})
}

func TestWrongPasswordIsUnauthenticated(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		r := s.Do(servertest.Basic("admin", "wrong-password"), `{ viewer { username } }`, nil)
		if r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("got %d %q", r.Status, r.Code())
		}
	})
}

func TestCreateProject(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		var out struct {
			CreateProject struct {
				ID, Name string
				Public   bool
			}
		}
		s.MustDo(admin, `mutation { createProject(input: {name: "team-a", public: false, description: "x"}) { id name public } }`, nil, &out)
		if out.CreateProject.Name != "team-a" || out.CreateProject.Public || out.CreateProject.ID == "" {
			t.Fatalf("created %+v", out.CreateProject)
		}

		alice := s.CreateUser("alice")
		var mine struct{ CreateProject struct{ ViewerRole string } }
		s.MustDo(alice, `mutation { createProject(input: {name: "alice-stuff"}) { viewerRole } }`, nil, &mine)
		if mine.CreateProject.ViewerRole != "PROJECT_ADMIN" {
			t.Fatalf("creator should be project admin, got %q", mine.CreateProject.ViewerRole)
		}
	})
}

func TestCreateProjectRefusals(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "taken", false)
		alice := s.CreateUser("alice")
		cases := []struct {
			name  string
			creds servertest.Creds
			input string
			code  string
		}{
			{"uppercase", admin, `{name: "Team"}`, "BAD_USER_INPUT"},
			{"empty", admin, `{name: ""}`, "BAD_USER_INPUT"},
			{"leading dash", admin, `{name: "-team"}`, "BAD_USER_INPUT"},
			{"double separator", admin, `{name: "a..b"}`, "BAD_USER_INPUT"},
			{"slash", admin, `{name: "a/b"}`, "BAD_USER_INPUT"},
			{"too long", admin, fmt.Sprintf(`{name: %q}`, strings.Repeat("a", 256)), "BAD_USER_INPUT"},
			{"duplicate", admin, `{name: "taken"}`, "CONFLICT"},
			{"anonymous", servertest.Creds{}, `{name: "anon"}`, "UNAUTHENTICATED"},
			{"quota by non-admin", alice, `{name: "q", quotaBytes: 10}`, "FORBIDDEN"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := s.Do(tc.creds, `mutation { createProject(input: `+tc.input+`) { id } }`, nil)
				if r.Code() != tc.code {
					t.Fatalf("want %s, got %q (%+v)", tc.code, r.Code(), r.Errors)
				}
			})
		}
	})
}

func TestPrivateProjectsAreHiddenFromOutsiders(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "secret", false)
		s.CreateProject(admin, "open", true)
		alice := s.CreateUser("alice")
		query := `{ projects(first: 10, orderBy: {field: NAME, direction: ASC}) { totalCount edges { node { name } } } project(name: "secret") { name } }`
		type result struct {
			Projects struct {
				TotalCount int
				Edges      []struct{ Node struct{ Name string } }
			}
			Project *struct{ Name string }
		}
		for who, c := range map[string]servertest.Creds{"anonymous": {}, "alice": alice} {
			var out result
			s.MustDo(c, query, nil, &out)
			if out.Projects.TotalCount != 1 || out.Projects.Edges[0].Node.Name != "open" || out.Project != nil {
				t.Fatalf("%s sees %+v", who, out)
			}
		}
		addMember(t, s, "secret", "alice", member.RoleLIMITED_GUEST)
		var out result
		s.MustDo(alice, query, nil, &out)
		if out.Projects.TotalCount != 2 || out.Project == nil {
			t.Fatalf("a member should see the private project: %+v", out)
		}
	})
}

func TestUpdateAndDeleteProjectNeedProjectAdmin(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team-a", false)
		dev := s.CreateUser("dev")
		outsider := s.CreateUser("outsider")
		addMember(t, s, "team-a", "dev", member.RoleDEVELOPER)

		update := `mutation { updateProject(name: "team-a", input: {public: true, description: "new"}) { public description } }`
		if c := s.Do(dev, update, nil).Code(); c != "FORBIDDEN" {
			t.Fatalf("developer update: want FORBIDDEN, got %q", c)
		}
		if c := s.Do(outsider, update, nil).Code(); c != "NOT_FOUND" {
			t.Fatalf("outsider update: want NOT_FOUND, got %q", c)
		}
		var out struct {
			UpdateProject struct {
				Public      bool
				Description string
			}
		}
		s.MustDo(admin, update, nil, &out)
		if !out.UpdateProject.Public || out.UpdateProject.Description != "new" {
			t.Fatalf("update: %+v", out)
		}
		if c := s.Do(dev, `mutation { deleteProject(name: "team-a") }`, nil).Code(); c != "FORBIDDEN" {
			t.Fatalf("developer delete: want FORBIDDEN, got %q", c)
		}
		s.MustDo(admin, `mutation { deleteProject(name: "team-a") }`, nil, nil)
		if c := s.Do(admin, `mutation { deleteProject(name: "team-a") }`, nil).Code(); c != "NOT_FOUND" {
			t.Fatalf("second delete: want NOT_FOUND, got %q", c)
		}
	})
}

func TestDeleteProjectWithRepositoriesNeedsForce(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team-a", false)
		ctx := viewer.SystemContext(context.Background())
		db := s.Berth.DB()
		p := db.Project.Query().Where(project.Name("team-a")).OnlyX(ctx)
		db.Repository.Create().SetName("team-a/app").SetProjectID(p.ID).ExecX(ctx)

		if c := s.Do(admin, `mutation { deleteProject(name: "team-a") }`, nil).Code(); c != "CONFLICT" {
			t.Fatalf("want CONFLICT, got %q", c)
		}
		s.MustDo(admin, `mutation { deleteProject(name: "team-a", force: true) }`, nil, nil)
		if n := db.Repository.Query().CountX(ctx); n != 0 {
			t.Fatalf("%d repositories left after forced delete", n)
		}
	})
}

func TestProjectPaginationFilterAndOrder(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		for i := 0; i < 25; i++ {
			s.CreateProject(admin, fmt.Sprintf("team-%02d", i), i%2 == 0)
		}
		s.CreateProject(admin, "other", false)
		type page struct {
			Projects struct {
				TotalCount int
				Edges      []struct{ Node struct{ Name string } }
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
			}
		}
		q := `query($after: Cursor) { projects(first: 10, after: $after, where: {nameContains: "team"}, orderBy: {field: NAME, direction: ASC}) { totalCount edges { node { name } } pageInfo { hasNextPage endCursor } } }`
		var names []string
		var after any
		for pages := 0; ; pages++ {
			var out page
			s.MustDo(admin, q, map[string]any{"after": after}, &out)
			if out.Projects.TotalCount != 25 {
				t.Fatalf("totalCount %d, want 25", out.Projects.TotalCount)
			}
			for _, e := range out.Projects.Edges {
				names = append(names, e.Node.Name)
			}
			if !out.Projects.PageInfo.HasNextPage {
				break
			}
			after = out.Projects.PageInfo.EndCursor
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
		}
		if len(names) != 25 || names[0] != "team-00" || names[24] != "team-24" {
			t.Fatalf("paged names: %v", names)
		}
		var desc page
		s.MustDo(admin, `{ projects(first: 3, where: {public: true}, orderBy: {field: NAME, direction: DESC}) { totalCount edges { node { name } } pageInfo { hasNextPage endCursor } } }`, nil, &desc)
		if desc.Projects.TotalCount != 13 || desc.Projects.Edges[0].Node.Name != "team-24" || desc.Projects.Edges[1].Node.Name != "team-22" {
			t.Fatalf("filtered descending: %+v", desc)
		}
		if c := s.Do(admin, `{ projects(first: 1000) { totalCount } }`, nil).Code(); c != "BAD_USER_INPUT" {
			t.Fatalf("oversized page: want BAD_USER_INPUT, got %q", c)
		}
	})
}

func TestLabels(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team-a", false)
		maint := s.CreateUser("maint")
		dev := s.CreateUser("dev")
		addMember(t, s, "team-a", "maint", member.RoleMAINTAINER)
		addMember(t, s, "team-a", "dev", member.RoleDEVELOPER)

		var g struct {
			CreateLabel struct{ ID, Name, Scope string }
		}
		s.MustDo(admin, `mutation { createLabel(input: {name: "prod", color: "#ff0000"}) { id name scope } }`, nil, &g)
		if g.CreateLabel.Scope != "GLOBAL" {
			t.Fatalf("global label: %+v", g)
		}
		if c := s.Do(maint, `mutation { createLabel(input: {name: "x"}) { id } }`, nil).Code(); c != "FORBIDDEN" {
			t.Fatalf("non-admin global label: want FORBIDDEN, got %q", c)
		}
		var p struct{ CreateLabel struct{ ID, Scope string } }
		s.MustDo(maint, `mutation { createLabel(input: {name: "qa", project: "team-a"}) { id scope } }`, nil, &p)
		if p.CreateLabel.Scope != "PROJECT" {
			t.Fatalf("project label: %+v", p)
		}
		if c := s.Do(dev, `mutation { createLabel(input: {name: "dev-label", project: "team-a"}) { id } }`, nil).Code(); c != "FORBIDDEN" {
			t.Fatalf("developer project label: want FORBIDDEN, got %q", c)
		}
		if c := s.Do(maint, `mutation { createLabel(input: {name: "qa", project: "team-a"}) { id } }`, nil).Code(); c != "CONFLICT" {
			t.Fatalf("duplicate: want CONFLICT, got %q", c)
		}
		if c := s.Do(admin, `mutation { createLabel(input: {name: "c", color: "red"}) { id } }`, nil).Code(); c != "BAD_USER_INPUT" {
			t.Fatalf("bad color: want BAD_USER_INPUT, got %q", c)
		}
		var u struct{ UpdateLabel struct{ Name, Color string } }
		s.MustDo(maint, `mutation($id: ID!) { updateLabel(id: $id, input: {name: "qa-passed", color: "#00ff00"}) { name color } }`,
			map[string]any{"id": p.CreateLabel.ID}, &u)
		if u.UpdateLabel.Name != "qa-passed" || u.UpdateLabel.Color != "#00ff00" {
			t.Fatalf("update: %+v", u)
		}
		var list struct{ Labels struct{ TotalCount int } }
		s.MustDo(dev, `{ labels(first: 10, orderBy: {field: NAME, direction: ASC}) { totalCount } }`, nil, &list)
		if list.Labels.TotalCount != 2 {
			t.Fatalf("a member sees %d labels, want 2", list.Labels.TotalCount)
		}
		s.MustDo(servertest.Creds{}, `{ labels(first: 10) { totalCount } }`, nil, &list)
		if list.Labels.TotalCount != 1 {
			t.Fatalf("anonymous sees %d labels, want only the global one", list.Labels.TotalCount)
		}
		s.MustDo(maint, `mutation($id: ID!) { deleteLabel(id: $id) }`, map[string]any{"id": p.CreateLabel.ID}, nil)
		if c := s.Do(maint, `mutation($id: ID!) { deleteLabel(id: $id) }`, map[string]any{"id": g.CreateLabel.ID}).Code(); c != "FORBIDDEN" {
			t.Fatalf("maintainer deleting global label: want FORBIDDEN, got %q", c)
		}
	})
}

func TestUserManagement(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		var out struct{ CreateUser struct{ ID, Username string } }
		s.MustDo(admin, `mutation { createUser(input: {username: "alice", password: "alice-pass-1", email: "alice@example.com", admin: false}) { id username } }`, nil, &out)
		alice := servertest.Basic("alice", "alice-pass-1")
		cases := []struct {
			name  string
			creds servertest.Creds
			op    string
			code  string
		}{
			{"duplicate", admin, `mutation { createUser(input: {username: "alice", password: "another-1"}) { id } }`, "CONFLICT"},
			{"short password", admin, `mutation { createUser(input: {username: "bob", password: "short"}) { id } }`, "BAD_USER_INPUT"},
			{"bad username", admin, `mutation { createUser(input: {username: "bad name", password: "long-enough"}) { id } }`, "BAD_USER_INPUT"},
			{"non-admin creates", alice, `mutation { createUser(input: {username: "carol", password: "long-enough"}) { id } }`, "FORBIDDEN"},
			{"non-admin makes self admin", alice, fmt.Sprintf(`mutation { updateUser(id: %q, input: {admin: true}) { id } }`, out.CreateUser.ID), "FORBIDDEN"},
			{"non-admin deletes", alice, fmt.Sprintf(`mutation { deleteUser(id: %q) }`, out.CreateUser.ID), "FORBIDDEN"},
			{"wrong old password", alice, `mutation { changePassword(oldPassword: "nope-nope", newPassword: "alice-pass-2") }`, "BAD_USER_INPUT"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if c := s.Do(tc.creds, tc.op, nil).Code(); c != tc.code {
					t.Fatalf("want %s, got %q", tc.code, c)
				}
			})
		}
		var upd struct{ UpdateUser struct{ Email string } }
		s.MustDo(alice, fmt.Sprintf(`mutation { updateUser(id: %q, input: {email: "a@b.example"}) { email } }`, out.CreateUser.ID), nil, &upd)
		if upd.UpdateUser.Email != "a@b.example" {
			t.Fatalf("self update: %+v", upd)
		}
		s.MustDo(alice, `mutation { changePassword(oldPassword: "alice-pass-1", newPassword: "alice-pass-2") }`, nil, nil)
		if r := s.Do(alice, `{ viewer { username } }`, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("old password still works: %d", r.Status)
		}
		s.MustDo(servertest.Basic("alice", "alice-pass-2"), `{ viewer { username } }`, nil, nil)

		var users struct{ Users struct{ TotalCount int } }
		s.MustDo(admin, `{ users(first: 10, where: {usernameContains: "ali"}, orderBy: {field: USERNAME, direction: ASC}) { totalCount } }`, nil, &users)
		if users.Users.TotalCount != 1 {
			t.Fatalf("users filter: %+v", users)
		}
		s.MustDo(admin, fmt.Sprintf(`mutation { deleteUser(id: %q) }`, out.CreateUser.ID), nil, nil)
		if r := s.Do(servertest.Basic("alice", "alice-pass-2"), `{ viewer { username } }`, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("deleted user still signs in: %d", r.Status)
		}
	})
}

func TestAccessTokens(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		alice := s.CreateUser("alice")
		var out struct {
			CreateAccessToken struct {
				Token  struct{ ID, Name string }
				Secret string
			}
		}
		s.MustDo(alice, `mutation { createAccessToken(input: {name: "laptop", expiresInDays: 90}) { token { id name } secret } }`, nil, &out)
		secret := out.CreateAccessToken.Secret
		if !strings.HasPrefix(secret, "berth_") || out.CreateAccessToken.Token.Name != "laptop" {
			t.Fatalf("token: %+v", out)
		}
		var v struct{ Viewer struct{ Username string } }
		s.MustDo(servertest.Creds{Bearer: secret}, `{ viewer { username } }`, nil, &v)
		if v.Viewer.Username != "alice" {
			t.Fatalf("bearer viewer: %+v", v)
		}
		s.MustDo(servertest.Basic("alice", secret), `{ viewer { username } }`, nil, &v)
		if r := s.Do(servertest.Basic("admin", secret), `{ viewer { username } }`, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("a token must only work for its owner, got %d", r.Status)
		}

		var ro struct{ CreateAccessToken struct{ Secret string } }
		s.MustDo(alice, `mutation { createAccessToken(input: {name: "ci", readOnly: true}) { secret } }`, nil, &ro)
		if c := s.Do(servertest.Creds{Bearer: ro.CreateAccessToken.Secret}, `mutation { createProject(input: {name: "x"}) { id } }`, nil).Code(); c != "FORBIDDEN" {
			t.Fatalf("read-only token creating a project: want FORBIDDEN, got %q", c)
		}

		var list struct{ AccessTokens struct{ TotalCount int } }
		s.MustDo(alice, `{ accessTokens { totalCount } }`, nil, &list)
		if list.AccessTokens.TotalCount != 2 {
			t.Fatalf("alice has %d tokens, want 2", list.AccessTokens.TotalCount)
		}
		s.MustDo(admin, `{ accessTokens { totalCount } }`, nil, &list)
		if list.AccessTokens.TotalCount != 0 {
			t.Fatalf("accessTokens lists only the caller's own, admin got %d", list.AccessTokens.TotalCount)
		}
		bob := s.CreateUser("bob")
		id := out.CreateAccessToken.Token.ID
		if c := s.Do(bob, fmt.Sprintf(`mutation { revokeAccessToken(id: %q) }`, id), nil).Code(); c != "NOT_FOUND" {
			t.Fatalf("revoking someone else's token: want NOT_FOUND, got %q", c)
		}
		s.MustDo(alice, fmt.Sprintf(`mutation { revokeAccessToken(id: %q) }`, id), nil, nil)
		if r := s.Do(servertest.Creds{Bearer: secret}, `{ viewer { username } }`, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("revoked token still works: %d", r.Status)
		}
	})
}

func TestQueryLimits(t *testing.T) {
	s := servertest.Start(t, "sqlite")
	deep := `{ projects { edges { node { repositories { edges { node { artifacts { edges { node { repository { project { repositories { edges { node { name } } } } } } } } } } } } } } }`
	if c := s.Do(admin, deep, nil).Code(); c != "QUERY_TOO_DEEP" {
		t.Fatalf("deep query: want QUERY_TOO_DEEP, got %q", c)
	}
	if c := s.Do(admin, `{ nosuchfield }`, nil).Code(); c != "GRAPHQL_VALIDATION_FAILED" {
		t.Fatalf("unknown field: want GRAPHQL_VALIDATION_FAILED, got %q", c)
	}
}

func TestNodeResolvesGlobalIDs(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		var created struct{ CreateProject struct{ ID string } }
		s.MustDo(admin, `mutation { createProject(input: {name: "team-a"}) { id } }`, nil, &created)
		var out struct{ Node struct{ Name string } }
		s.MustDo(admin, `query($id: ID!) { node(id: $id) { ... on Project { name } } }`, map[string]any{"id": created.CreateProject.ID}, &out)
		if out.Node.Name != "team-a" {
			t.Fatalf("node: %+v", out)
		}
		r := s.Do(servertest.Creds{}, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": created.CreateProject.ID})
		if string(r.Data) != `{"node":null}` && r.Code() != "NOT_FOUND" {
			t.Fatalf("anonymous must not reach a private project by id: %s %+v", r.Data, r.Errors)
		}
	})
}

func TestBadCursorIsBadUserInput(t *testing.T) {
	s := servertest.Start(t, "sqlite")
	r := s.Do(admin, `{ projects(first: 5, after: "not-a-cursor") { totalCount } }`, nil)
	if r.Code() != "BAD_USER_INPUT" {
		t.Fatalf("want BAD_USER_INPUT, got %q (%+v)", r.Code(), r.Errors)
	}
}
