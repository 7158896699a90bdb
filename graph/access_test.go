package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/server/servertest"
)

func TestProjectMembers(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		owner := s.CreateUser("owner")
		alice := s.CreateUser("alice")
		s.CreateProject(owner, "team-a", false)

		var added struct{ AddProjectMember struct{ Role string } }
		s.MustDo(owner, `mutation { addProjectMember(input: {project: "team-a", username: "alice", role: DEVELOPER}) { role } }`, nil, &added)
		if added.AddProjectMember.Role != "DEVELOPER" {
			t.Fatalf("added: %+v", added)
		}
		var seen struct{ Project *struct{ ViewerRole string } }
		s.MustDo(alice, `{ project(name: "team-a") { viewerRole } }`, nil, &seen)
		if seen.Project == nil || seen.Project.ViewerRole != "DEVELOPER" {
			t.Fatalf("alice after being added: %+v", seen)
		}
		cases := []struct {
			name  string
			creds servertest.Creds
			op    string
			code  string
		}{
			{"duplicate", owner, `mutation { addProjectMember(input: {project: "team-a", username: "alice", role: GUEST}) { role } }`, "CONFLICT"},
			{"unknown user", owner, `mutation { addProjectMember(input: {project: "team-a", username: "nobody", role: GUEST}) { role } }`, "NOT_FOUND"},
			{"both user and group", owner, `mutation { addProjectMember(input: {project: "team-a", username: "alice", group: "devs", role: GUEST}) { role } }`, "BAD_USER_INPUT"},
			{"developer adds", alice, `mutation { addProjectMember(input: {project: "team-a", group: "devs", role: GUEST}) { role } }`, "FORBIDDEN"},
			{"last admin demoted", owner, `mutation { updateProjectMember(input: {project: "team-a", username: "owner", role: GUEST}) { role } }`, "CONFLICT"},
			{"last admin removed", owner, `mutation { removeProjectMember(input: {project: "team-a", username: "owner"}) }`, "CONFLICT"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if c := s.Do(tc.creds, tc.op, nil).Code(); c != tc.code {
					t.Fatalf("want %s, got %q", tc.code, c)
				}
			})
		}
		s.MustDo(owner, `mutation { addProjectMember(input: {project: "team-a", group: "devs", role: MAINTAINER}) { role } }`, nil, nil)
		var members struct {
			Project struct {
				Members []struct {
					Role      string
					GroupName *string
					User      *struct{ Username string }
				}
			}
		}
		s.MustDo(alice, `{ project(name: "team-a") { members { role groupName user { username } } } }`, nil, &members)
		if len(members.Project.Members) != 3 {
			t.Fatalf("members: %+v", members)
		}
		s.MustDo(owner, `mutation { updateProjectMember(input: {project: "team-a", username: "alice", role: LIMITED_GUEST}) { role } }`, nil, nil)
		s.MustDo(alice, `{ project(name: "team-a") { members { role } } }`, nil, &members)
		if len(members.Project.Members) != 0 {
			t.Fatalf("a limited guest must not see the member list, got %+v", members)
		}
		s.MustDo(owner, `mutation { removeProjectMember(input: {project: "team-a", username: "alice"}) }`, nil, nil)
		seen.Project = nil
		s.MustDo(alice, `{ project(name: "team-a") { viewerRole } }`, nil, &seen)
		if seen.Project != nil {
			t.Fatalf("removed member still sees the private project")
		}
	})
}

func TestRobotAccounts(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team-a", false)
		s.CreateProject(admin, "team-b", false)
		var created struct {
			CreateRobot struct {
				Robot struct {
					ID, Name, Login string
					Permissions     []struct{ Project, Resource, Action string }
				}
				Secret string
			}
		}
		s.MustDo(admin, `mutation { createRobot(input: {name: "ci", project: "team-a", permissions: [{resource: REPOSITORY, action: PULL}], expiresInDays: 30}) { robot { id name login permissions { project resource action } } secret } }`, nil, &created)
		rb := created.CreateRobot
		if rb.Robot.Login != "robot$team-a+ci" || !strings.HasPrefix(rb.Secret, "berth_robot_") || len(rb.Robot.Permissions) != 1 || rb.Robot.Permissions[0].Project != "team-a" {
			t.Fatalf("created: %+v", rb)
		}
		robot := servertest.Creds{Bearer: rb.Secret}
		var seen struct {
			Projects struct {
				Edges []struct {
					Node struct {
						Name              string
						ViewerPermissions []string
					}
				}
			}
			Viewer *struct{ Username string }
		}
		s.MustDo(robot, `{ viewer { username } projects(first: 10) { edges { node { name viewerPermissions } } } }`, nil, &seen)
		if seen.Viewer != nil || len(seen.Projects.Edges) != 1 || seen.Projects.Edges[0].Node.Name != "team-a" ||
			fmt.Sprint(seen.Projects.Edges[0].Node.ViewerPermissions) != "[project:read repository:pull]" {
			t.Fatalf("robot sees %+v", seen)
		}
		s.MustDo(servertest.Basic("robot$team-a+ci", rb.Secret), `{ projects(first: 1) { totalCount } }`, nil, nil)
		if c := s.Do(robot, `mutation { createProject(input: {name: "robot-made"}) { id } }`, nil).Code(); c != "FORBIDDEN" {
			t.Fatalf("robot creating a project: want FORBIDDEN, got %q", c)
		}

		var sys struct{ CreateRobot struct{ Login string } }
		s.MustDo(admin, `mutation { createRobot(input: {name: "mirror", permissions: [{project: "*", resource: REPOSITORY, action: PULL}, {project: "team-b", resource: REPOSITORY, action: PUSH}], expiresInDays: -1}) { login } }`, nil, &sys)
		if sys.CreateRobot.Login != "robot$mirror" {
			t.Fatalf("system robot login %q", sys.CreateRobot.Login)
		}
		alice := s.CreateUser("alice")
		s.MustDo(admin, `mutation { addProjectMember(input: {project: "team-a", username: "alice", role: PROJECT_ADMIN}) { role } }`, nil, nil)
		cases := []struct {
			name  string
			creds servertest.Creds
			op    string
			code  string
		}{
			{"duplicate", admin, `mutation { createRobot(input: {name: "ci", project: "team-a", permissions: [{resource: REPOSITORY, action: PULL}]}) { secret } }`, "CONFLICT"},
			{"bad name", admin, `mutation { createRobot(input: {name: "CI!", project: "team-a", permissions: [{resource: REPOSITORY, action: PULL}]}) { secret } }`, "BAD_USER_INPUT"},
			{"no permissions", admin, `mutation { createRobot(input: {name: "x", project: "team-a", permissions: []}) { secret } }`, "BAD_USER_INPUT"},
			{"invalid pair", admin, `mutation { createRobot(input: {name: "x", project: "team-a", permissions: [{resource: TAG, action: PULL}]}) { secret } }`, "BAD_USER_INPUT"},
			{"system robot by non-admin", alice, `mutation { createRobot(input: {name: "x", permissions: [{project: "team-a", resource: REPOSITORY, action: PULL}]}) { secret } }`, "FORBIDDEN"},
			{"system robot without project", admin, `mutation { createRobot(input: {name: "x", permissions: [{resource: REPOSITORY, action: PULL}]}) { secret } }`, "BAD_USER_INPUT"},
			{"project admin elsewhere", alice, `mutation { createRobot(input: {name: "x", project: "team-b", permissions: [{resource: REPOSITORY, action: PULL}]}) { secret } }`, "NOT_FOUND"},
			{"robot logs into the portal", robot, `{ robots(project: "team-a") { id } }`, "FORBIDDEN"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if c := s.Do(tc.creds, tc.op, nil).Code(); c != tc.code {
					t.Fatalf("want %s, got %q", tc.code, c)
				}
			})
		}
		var list struct {
			Robots []struct {
				Login   string
				Expired bool
			}
		}
		s.MustDo(alice, `{ robots(project: "team-a") { login expired } }`, nil, &list)
		if len(list.Robots) != 1 || list.Robots[0].Expired {
			t.Fatalf("robots of team-a: %+v", list)
		}
		var refreshed struct{ RefreshRobotSecret struct{ Secret string } }
		s.MustDo(alice, `mutation($id: ID!) { refreshRobotSecret(id: $id) { secret } }`, map[string]any{"id": rb.Robot.ID}, &refreshed)
		if r := s.Do(robot, `{ projects(first: 1) { totalCount } }`, nil); r.Status != 401 {
			t.Fatalf("the old secret must stop working, got %d", r.Status)
		}
		fresh := servertest.Creds{Bearer: refreshed.RefreshRobotSecret.Secret}
		s.MustDo(fresh, `{ projects(first: 1) { totalCount } }`, nil, nil)
		s.MustDo(alice, `mutation($id: ID!) { updateRobot(id: $id, input: {disabled: true}) { disabled } }`, map[string]any{"id": rb.Robot.ID}, nil)
		if r := s.Do(fresh, `{ projects(first: 1) { totalCount } }`, nil); r.Status != 401 {
			t.Fatalf("a disabled robot must be refused, got %d", r.Status)
		}
		s.MustDo(alice, `mutation($id: ID!) { deleteRobot(id: $id) }`, map[string]any{"id": rb.Robot.ID}, nil)
		s.MustDo(alice, `{ robots(project: "team-a") { login } }`, nil, &list)
		if len(list.Robots) != 0 {
			t.Fatalf("deleted robot still listed: %+v", list)
		}
		if r := s.Do(servertest.Creds{}, `mutation { createRobot(input: {name: "y", project: "team-a", permissions: [{resource: REPOSITORY, action: PULL}]}) { secret } }`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("anonymous createRobot: %q", r.Code())
		}
	})
}

func TestRobotPrefixIsConfigurable(t *testing.T) {
	s := servertest.Start(t, "sqlite", func(c *config.Config) { c.RobotPrefix, c.RobotExpiryDays = "bot_", "7" })
	s.CreateProject(admin, "team-a", false)
	var info struct {
		SystemInfo struct {
			RobotPrefix            string
			RobotDefaultExpiryDays int
		}
	}
	s.MustDo(admin, `{ systemInfo { robotPrefix robotDefaultExpiryDays } }`, nil, &info)
	if info.SystemInfo.RobotPrefix != "bot_" || info.SystemInfo.RobotDefaultExpiryDays != 7 {
		t.Fatalf("systemInfo: %+v", info)
	}
	var out struct {
		CreateRobot struct{ Login, Secret string }
	}
	s.MustDo(admin, `mutation { createRobot(input: {name: "ci", project: "team-a", permissions: [{resource: REPOSITORY, action: PULL}]}) { login secret } }`, nil, &out)
	if out.CreateRobot.Login != "bot_team-a+ci" {
		t.Fatalf("login %q", out.CreateRobot.Login)
	}
	s.MustDo(servertest.Basic(out.CreateRobot.Login, out.CreateRobot.Secret), `{ projects(first: 1) { totalCount } }`, nil, nil)
}
