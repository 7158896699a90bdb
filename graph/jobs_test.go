package graph_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/server/servertest"
)

// TestJobsAndSchedulesAreForSystemAdmins tries every door of the job queue
// as anonymous, an outsider, a robot, a project admin and an admin's
// read-only token (reads only), then uses them as an admin: a job listed,
// filtered, retried and cancelled, and schedules validated.
func TestJobsAndSchedulesAreForSystemAdmins(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team-a", false)
		alice := s.CreateUser("alice")
		s.MustDo(admin, `mutation { addProjectMember(input: {project: "team-a", username: "alice", role: PROJECT_ADMIN}) { role } }`, nil, nil)
		var robot struct {
			CreateRobot struct{ Login, Secret string }
		}
		s.MustDo(admin, `mutation { createRobot(input: {name: "ci", project: "team-a", permissions: [{resource: REPOSITORY, action: PULL}]}) { login secret } }`, nil, &robot)
		var ro struct{ CreateAccessToken struct{ Secret string } }
		s.MustDo(admin, `mutation { createAccessToken(input: {name: "ro", readOnly: true}) { secret } }`, nil, &ro)

		var run struct{ RunGarbageCollection struct{ ID string } }
		s.MustDo(admin, `mutation { runGarbageCollection(input: {dryRun: true, wait: true}) { id } }`, nil, &run)

		reads := []string{
			`{ jobs(first: 5) { edges { node { id } } } }`,
			`{ job(id: 1) { id } }`,
			`{ schedules { kind } }`,
		}
		writes := []string{
			`mutation { cancelJob(id: 1) { id } }`,
			`mutation { retryJob(id: 1) { id } }`,
			`mutation { updateSchedule(input: {kind: GARBAGE_COLLECTION, cron: "@daily", enabled: true}) { cron } }`,
		}
		principals := []struct {
			name string
			c    servertest.Creds
			want string
		}{
			{"anonymous", servertest.Creds{}, "UNAUTHENTICATED"},
			{"outsider", s.CreateUser("bob"), "FORBIDDEN"},
			{"project admin", alice, "FORBIDDEN"},
			{"robot", servertest.Basic(robot.CreateRobot.Login, robot.CreateRobot.Secret), "FORBIDDEN"},
		}
		for _, p := range principals {
			for _, q := range append(reads, writes...) {
				if r := s.Do(p.c, q, nil); r.Code() != p.want {
					t.Errorf("%s: %s answered %q (%+v), want %s", p.name, q, r.Code(), r.Errors, p.want)
				}
			}
		}
		readOnly := servertest.Creds{Bearer: ro.CreateAccessToken.Secret}
		for _, q := range reads {
			if r := s.Do(readOnly, q, nil); len(r.Errors) > 0 {
				t.Errorf("read-only admin token: %s: %+v", q, r.Errors)
			}
		}
		for _, q := range writes {
			if r := s.Do(readOnly, q, nil); r.Code() != "FORBIDDEN" {
				t.Errorf("read-only admin token: %s answered %q, want FORBIDDEN", q, r.Code())
			}
		}

		// The garbage collection ran as a job: listed, filtered, retried.
		var list struct {
			Jobs struct {
				Edges []struct {
					Node struct {
						ID, Kind, State string
						Attempt         int
						Args            map[string]any
					}
				}
				HasNextPage bool
			}
		}
		s.MustDo(admin, `{ jobs(first: 10, where: {kind: "garbage_collection", state: COMPLETED}) { edges { node { id kind state attempt args } } hasNextPage } }`, nil, &list)
		if len(list.Jobs.Edges) != 1 || list.Jobs.Edges[0].Node.Args["dryRun"] != true {
			t.Fatalf("completed garbage collection jobs: %+v", list.Jobs)
		}
		id := list.Jobs.Edges[0].Node.ID
		var retried struct{ RetryJob struct{ State string } }
		s.MustDo(admin, `mutation($id: ID!) { retryJob(id: $id) { state } }`, map[string]any{"id": id}, &retried)
		if retried.RetryJob.State != "AVAILABLE" && retried.RetryJob.State != "RUNNING" && retried.RetryJob.State != "COMPLETED" {
			t.Errorf("retried job is %s", retried.RetryJob.State)
		}
		if r := s.Do(admin, `mutation { cancelJob(id: 999999) { id } }`, nil); r.Code() != "NOT_FOUND" {
			t.Errorf("cancelling a missing job: %q", r.Code())
		}
		if r := s.Do(admin, `{ jobs(first: 5, after: "not-a-cursor") { hasNextPage } }`, nil); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("a bad cursor: %q", r.Code())
		}
		if r := s.Do(admin, `{ jobs(first: 5, where: {kind: "`+strings.Repeat("k", 65)+`"}) { hasNextPage } }`, nil); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("an overlong kind: %q", r.Code())
		}

		// Schedules: cron is checked; a retention schedule needs its project.
		for q, want := range map[string]string{
			`mutation { updateSchedule(input: {kind: GARBAGE_COLLECTION, cron: "every day", enabled: true}) { cron } }`:                 "BAD_USER_INPUT",
			`mutation { updateSchedule(input: {kind: GARBAGE_COLLECTION, cron: "", enabled: true}) { cron } }`:                          "BAD_USER_INPUT",
			`mutation { updateSchedule(input: {kind: RETENTION, cron: "@daily", enabled: true}) { cron } }`:                             "BAD_USER_INPUT",
			`mutation { updateSchedule(input: {kind: RETENTION, project: "nope", cron: "@daily", enabled: true}) { cron } }`:            "NOT_FOUND",
			`mutation { updateSchedule(input: {kind: GARBAGE_COLLECTION, project: "team-a", cron: "@daily", enabled: true}) { cron } }`: "BAD_USER_INPUT",
		} {
			if r := s.Do(admin, q, nil); r.Code() != want {
				t.Errorf("%s answered %q (%+v), want %s", q, r.Code(), r.Errors, want)
			}
		}
		var sch struct {
			UpdateSchedule struct {
				Cron      string
				Enabled   bool
				NextRunAt *string
				UpdatedBy string
			}
		}
		s.MustDo(admin, `mutation { updateSchedule(input: {kind: GARBAGE_COLLECTION, cron: "0 3 * * *", enabled: true}) { cron enabled nextRunAt updatedBy } }`, nil, &sch)
		if !sch.UpdateSchedule.Enabled || sch.UpdateSchedule.NextRunAt == nil || sch.UpdateSchedule.UpdatedBy != "admin" {
			t.Errorf("updateSchedule: %+v", sch.UpdateSchedule)
		}
		var all struct{ Schedules []struct{ Kind, Cron string } }
		s.MustDo(admin, `{ schedules { kind cron } }`, nil, &all)
		if len(all.Schedules) != 1 || all.Schedules[0].Cron != "0 3 * * *" {
			t.Errorf("schedules: %+v", all.Schedules)
		}
	})
}

// basicHeader is an Authorization header with Basic credentials.
func basicHeader(user, pass string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}}
}

// TestHousekeepingRunsAsJobs: the hourly cleanups (stale uploads, audit
// entries past retention, published outbox rows) run as jobs, once when
// a process becomes the leader, and complete.
func TestHousekeepingRunsAsJobs(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		var out struct {
			Jobs struct {
				Edges []struct{ Node struct{ State string } }
			}
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			s.MustDo(admin, `{ jobs(first: 10, where: {kind: "housekeeping", state: COMPLETED}) { edges { node { state } } } }`, nil, &out)
			if len(out.Jobs.Edges) == 3 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d housekeeping jobs completed in 30 s, want 3", len(out.Jobs.Edges))
			}
		}
	})
}
