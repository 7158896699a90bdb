package graph_test

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/internal/server/servertest"
)

type auditPage struct {
	AuditLogs struct {
		TotalCount int
		Edges      []struct {
			Node struct{ Actor, Operation, Resource, Project, Result string }
		}
	}
}

func TestMutationsAndLoginsAreAudited(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		alice := s.CreateUser("alice")
		s.CreateProject(alice, "team-a", false)
		s.Do(alice, `mutation { createProject(input: {name: "team-a"}) { id } }`, nil) // fails: duplicate
		s.MustDo(alice, `mutation { createRobot(input: {name: "ci", project: "team-a", permissions: [{resource: REPOSITORY, action: PULL}]}) { secret } }`, nil, nil)
		if c := s.Login("alice", "wrong-password"); c == 200 {
			t.Fatal("login with a wrong password succeeded")
		}
		s.Berth.Audit().Flush(context.Background())

		var all auditPage
		s.MustDo(admin, `{ auditLogs(first: 50, where: {project: "team-a"}) { totalCount edges { node { actor operation resource project result } } } }`, nil, &all)
		want := map[string]string{"createProject/success": "alice", "createProject/failure": "alice", "createRobot/success": "alice"}
		for _, e := range all.AuditLogs.Edges {
			key := e.Node.Operation + "/" + e.Node.Result
			if actor, ok := want[key]; ok && actor == e.Node.Actor && e.Node.Project == "team-a" {
				delete(want, key)
			}
		}
		if len(want) > 0 {
			t.Fatalf("missing audit entries %v in %+v", want, all)
		}
		var logins auditPage
		s.MustDo(admin, `{ auditLogs(first: 5, where: {operation: "login"}) { totalCount edges { node { actor result } } } }`, nil, &logins)
		if logins.AuditLogs.TotalCount != 1 || logins.AuditLogs.Edges[0].Node.Result != "failure" || logins.AuditLogs.Edges[0].Node.Actor != "alice" {
			t.Fatalf("login entries: %+v", logins)
		}

		var mine auditPage
		s.MustDo(alice, `{ auditLogs(first: 50, where: {project: "team-a"}) { totalCount } }`, nil, &mine)
		if mine.AuditLogs.TotalCount != all.AuditLogs.TotalCount {
			t.Fatalf("a project admin sees %d of the project's %d entries", mine.AuditLogs.TotalCount, all.AuditLogs.TotalCount)
		}
		if c := s.Do(alice, `{ auditLogs(first: 5) { totalCount } }`, nil).Code(); c != "FORBIDDEN" {
			t.Fatalf("non-admin reading the whole log: want FORBIDDEN, got %q", c)
		}
		bob := s.CreateUser("bob")
		if c := s.Do(bob, `{ auditLogs(first: 5, where: {project: "team-a"}) { totalCount } }`, nil).Code(); c != "NOT_FOUND" {
			t.Fatalf("outsider reading a private project's log: want NOT_FOUND, got %q", c)
		}
	})
}
