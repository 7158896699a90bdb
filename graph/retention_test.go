package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/viewer"
)

type retentionCandidate struct {
	Repository, Digest, Reason string
	Tags                       []string
}

type retentionExecution struct {
	ID, Status, TriggeredBy, Log string
	DryRun                       bool
	RetainedCount                int
	Deleted, Retained            []retentionCandidate
	Repositories                 []struct {
		Repository        string
		Deleted, Retained int
	}
}

const retentionExecutionFields = `id status triggeredBy dryRun retainedCount log project
	deleted { repository digest tags reason } retained { repository digest tags reason }
	repositories { repository deleted retained }`

// pushTags pushes n distinct images to repo, tagged v1 (the oldest) to vn.
func pushTags(c registryClient, repo string, n int) {
	c.t.Helper()
	for i := 1; i <= n; i++ {
		cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","created":"image v%d"}`, i))
		pushLayers(c, repo, fmt.Sprintf("v%d", i), cfg, []byte("a layer every version shares"))
	}
}

func tagsOf(cs []retentionCandidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Tags...)
	}
	slices.Sort(out)
	return out
}

func listTags(c registryClient, repo string) []string {
	c.t.Helper()
	st, body := c.do("GET", "/v2/"+repo+"/tags/list", nil)
	if st != 200 {
		c.t.Fatalf("tags of %s: %d %s", repo, st, body)
	}
	var out struct{ Tags []string }
	json.Unmarshal(body, &out)
	slices.Sort(out.Tags)
	return out.Tags
}

func runRetention(t *testing.T, s *servertest.Server, project string, dryRun bool) retentionExecution {
	t.Helper()
	var out struct{ RunRetention retentionExecution }
	s.MustDo(admin, `mutation($p: String!, $d: Boolean!) { runRetention(project: $p, dryRun: $d, wait: true) { `+retentionExecutionFields+` } }`,
		map[string]any{"p": project, "d": dryRun}, &out)
	if out.RunRetention.Status != "SUCCEEDED" {
		t.Fatalf("retention run: %+v", out.RunRetention)
	}
	return out.RunRetention
}

const keepLatest3 = `[{repositories: {pattern: "**"}, tags: {pattern: "**"}, template: LATEST_PUSHED, count: 3}]`

// TestRetentionPrunesToTheLatestThreeOnItsScheduleAsItsDryRunSaid: a
// policy keeping the 3 most recently pushed tags of ** prunes a repository
// of 10 tags to 3 on its schedule, and its dry run listed the same 7
// first; with an immutability rule on v1*, the immutable tags survive and
// the dry run says why.
func TestRetentionPrunesToTheLatestThreeOnItsScheduleAsItsDryRunSaid(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team", false)
		c := registryClient{t: t, base: s.URL, user: "admin", pwd: servertest.AdminPassword}
		pushTags(c, "team/app", 10)
		s.MustDo(admin, `mutation { setRetentionPolicy(project: "team", input: {rules: `+keepLatest3+`}) { project } }`, nil, nil)

		dry := runRetention(t, s, "team", true)
		oldest7 := []string{"v1", "v2", "v3", "v4", "v5", "v6", "v7"}
		if got := tagsOf(dry.Deleted); !slices.Equal(got, oldest7) {
			t.Fatalf("the dry run would delete %v, want %v", got, oldest7)
		}
		for _, c := range dry.Retained {
			if c.Reason != `rule 1: latest 3 pushed of tags "**" in repositories "**"` {
				t.Errorf("%v retained because %q", c.Tags, c.Reason)
			}
		}
		if len(dry.Repositories) != 1 || dry.Repositories[0].Deleted != 7 || dry.Repositories[0].Retained != 3 || dry.RetainedCount != 3 {
			t.Fatalf("dry run counts: %+v", dry)
		}
		if got := listTags(c, "team/app"); len(got) != 10 {
			t.Fatalf("the dry run deleted something: %v", got)
		}

		var pol struct {
			SetRetentionPolicy struct {
				Schedule  *string
				NextRunAt *string
				Rules     []struct {
					Template string
					Count    *int
				}
			}
		}
		s.MustDo(admin, `mutation { setRetentionPolicy(project: "team", input: {rules: `+keepLatest3+`, schedule: "@every 1s"}) { schedule nextRunAt rules { template count } } }`, nil, &pol)
		if p := pol.SetRetentionPolicy; p.Schedule == nil || *p.Schedule != "@every 1s" || p.NextRunAt == nil || len(p.Rules) != 1 || *p.Rules[0].Count != 3 {
			t.Fatalf("policy: %+v", p)
		}
		var scheduled *retentionExecution
		deadline := time.Now().Add(30 * time.Second)
		for scheduled == nil && time.Now().Before(deadline) {
			time.Sleep(200 * time.Millisecond)
			var page struct {
				RetentionExecutions struct {
					Edges []struct{ Node retentionExecution }
				}
			}
			s.MustDo(admin, `{ retentionExecutions(project: "team", first: 10) { edges { node { `+retentionExecutionFields+` } } } }`, nil, &page)
			for _, e := range page.RetentionExecutions.Edges {
				if e.Node.TriggeredBy == "schedule" && e.Node.Status == "SUCCEEDED" {
					scheduled = &e.Node
					break
				}
			}
		}
		if scheduled == nil {
			t.Fatal("no scheduled run succeeded within 30 seconds")
		}
		s.MustDo(admin, `mutation { setRetentionPolicy(project: "team", input: {rules: `+keepLatest3+`, schedule: null}) { schedule } }`, nil, nil)
		if got := tagsOf(scheduled.Deleted); !slices.Equal(got, oldest7) {
			t.Fatalf("the scheduled run deleted %v, its dry run said %v\n%s", got, oldest7, scheduled.Log)
		}
		if got := listTags(c, "team/app"); !slices.Equal(got, []string{"v10", "v8", "v9"}) {
			t.Fatalf("after the scheduled run the repository has %v", got)
		}
		var one struct{ RetentionExecution retentionExecution }
		s.MustDo(admin, `query($id: ID!) { retentionExecution(id: $id) { `+retentionExecutionFields+` } }`, map[string]any{"id": scheduled.ID}, &one)
		if one.RetentionExecution.ID != scheduled.ID || len(one.RetentionExecution.Deleted) != 7 {
			t.Fatalf("retentionExecution: %+v", one.RetentionExecution)
		}
		sys := viewer.SystemContext(context.Background())
		if n := s.Berth.DB().Change.Query().Where(change.OperationEQ(change.OperationRETENTION_COMPLETED)).CountX(sys); n < 2 {
			t.Fatalf("%d RETENTION_COMPLETED events, want one per run", n)
		}

		// Immutable tags survive, and the dry run says why.
		s.CreateProject(admin, "frozen", false)
		pushTags(c, "frozen/app", 10)
		s.MustDo(admin, `mutation { createImmutabilityRule(project: "frozen", input: {repositories: {pattern: "**"}, tags: {pattern: "v1*"}}) { id } }`, nil, nil)
		s.MustDo(admin, `mutation { setRetentionPolicy(project: "frozen", input: {rules: `+keepLatest3+`}) { project } }`, nil, nil)
		dry = runRetention(t, s, "frozen", true)
		if got := tagsOf(dry.Deleted); !slices.Equal(got, []string{"v2", "v3", "v4", "v5", "v6", "v7"}) {
			t.Fatalf("the dry run would delete %v", got)
		}
		for _, c := range dry.Retained {
			want := "rule 1: latest 3 pushed"
			if slices.Equal(c.Tags, []string{"v1"}) {
				want = `tag "v1" is immutable by immutability rule`
			}
			if !strings.Contains(c.Reason, want) {
				t.Errorf("%v retained because %q, want it to say %q", c.Tags, c.Reason, want)
			}
		}
		real := runRetention(t, s, "frozen", false)
		if got := tagsOf(real.Deleted); !slices.Equal(got, tagsOf(dry.Deleted)) {
			t.Fatalf("the run deleted %v, its dry run said %v", got, tagsOf(dry.Deleted))
		}
		if got := listTags(c, "frozen/app"); !slices.Equal(got, []string{"v1", "v10", "v8", "v9"}) {
			t.Fatalf("after the run the repository has %v", got)
		}
		var repo struct {
			Repository struct {
				Tags struct {
					Edges []struct {
						Node struct {
							Name      string
							Immutable bool
						}
					}
				}
			}
		}
		s.MustDo(admin, `{ repository(name: "frozen/app") { tags(first: 10) { edges { node { name immutable } } } } }`, nil, &repo)
		for _, e := range repo.Repository.Tags.Edges {
			if want := strings.HasPrefix(e.Node.Name, "v1"); e.Node.Immutable != want {
				t.Errorf("tag %s: immutable %v, want %v", e.Node.Name, e.Node.Immutable, want)
			}
		}
	})
}

// TestRetentionAndImmutabilityAccess: project members from guest up read a
// project's retention policy, runs and immutability rules (so does a
// read-only token); only project admins change or run them; anonymous
// callers, outsiders and robots do neither.
func TestRetentionAndImmutabilityAccess(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team", false)
		guest, dev, padmin, outsider := s.CreateUser("guest"), s.CreateUser("dev"), s.CreateUser("padmin"), s.CreateUser("outsider")
		addMember(t, s, "team", "guest", member.RoleGUEST)
		addMember(t, s, "team", "dev", member.RoleDEVELOPER)
		addMember(t, s, "team", "padmin", member.RolePROJECT_ADMIN)
		var tok struct{ CreateAccessToken struct{ Secret string } }
		s.MustDo(padmin, `mutation { createAccessToken(input: {name: "ro", readOnly: true}) { secret } }`, nil, &tok)
		readOnly := servertest.Creds{Bearer: tok.CreateAccessToken.Secret}
		var rob struct {
			CreateRobot struct{ Login, Secret string }
		}
		s.MustDo(admin, `mutation { createRobot(input: {name: "ci", project: "team", permissions: [{resource: REPOSITORY, action: PULL}, {resource: REPOSITORY, action: PUSH}, {resource: ARTIFACT, action: DELETE}]}) { login secret } }`, nil, &rob)
		robot := servertest.Basic(rob.CreateRobot.Login, rob.CreateRobot.Secret)

		s.MustDo(admin, `mutation { setRetentionPolicy(project: "team", input: {rules: `+keepLatest3+`}) { project } }`, nil, nil)
		exec := runRetention(t, s, "team", true)
		var rule struct{ CreateImmutabilityRule struct{ ID string } }
		s.MustDo(admin, `mutation { createImmutabilityRule(project: "team", input: {repositories: {pattern: "**"}, tags: {pattern: "v1*"}}) { id } }`, nil, &rule)
		vars := map[string]any{"exec": exec.ID, "rule": rule.CreateImmutabilityRule.ID}

		reads := map[string]string{
			"retentionPolicy":     `query { retentionPolicy(project: "team") { project rules { template } schedule nextRunAt updatedBy } }`,
			"retentionExecutions": `query { retentionExecutions(project: "team") { totalCount edges { node { id project } } } }`,
			"retentionExecution":  `query($exec: ID!) { retentionExecution(id: $exec) { id project deleted { digest } } }`,
			"immutabilityRules":   `query { immutabilityRules(project: "team") { id project tags { pattern exclude } } }`,
		}
		writes := map[string]string{
			"setRetentionPolicy":     `mutation { setRetentionPolicy(project: "team", input: {rules: ` + keepLatest3 + `, schedule: "@daily"}) { project } }`,
			"runRetention":           `mutation { runRetention(project: "team", dryRun: true, wait: true) { status } }`,
			"createImmutabilityRule": `mutation { createImmutabilityRule(project: "team", input: {repositories: {pattern: "**"}, tags: {pattern: "rc-*"}}) { id } }`,
			"updateImmutabilityRule": `mutation($rule: ID!) { updateImmutabilityRule(id: $rule, input: {repositories: {pattern: "**"}, tags: {pattern: "v2*"}}) { id } }`,
			"deleteImmutabilityRule": `mutation($rule: ID!) { deleteImmutabilityRule(id: $rule) }`,
			"deleteRetentionPolicy":  `mutation { deleteRetentionPolicy(project: "team") }`,
		}
		// The order the project admin writes in, the deletions last.
		writeOrder := []string{"setRetentionPolicy", "runRetention", "createImmutabilityRule", "updateImmutabilityRule", "deleteImmutabilityRule", "deleteRetentionPolicy"}
		denied := func(r *servertest.Response) bool {
			return len(r.Errors) > 0 && slices.Contains([]string{"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"}, r.Code())
		}
		for _, who := range []struct {
			name        string
			creds       servertest.Creds
			read, write bool
		}{
			{"anonymous", servertest.Creds{}, false, false},
			{"outsider", outsider, false, false},
			{"robot", robot, false, false},
			{"read-only token of a project admin", readOnly, true, false},
			{"guest", guest, true, false},
			{"developer", dev, true, false},
		} {
			for name, q := range reads {
				r := s.Do(who.creds, q, vars)
				if who.read && len(r.Errors) > 0 {
					t.Errorf("%s reading %s: %+v", who.name, name, r.Errors)
				}
				if !who.read && !denied(r) {
					t.Errorf("%s reading %s: code %q, data %s; want it refused", who.name, name, r.Code(), r.Data)
				}
			}
			for _, name := range writeOrder {
				if r := s.Do(who.creds, writes[name], vars); !denied(r) {
					t.Errorf("%s doing %s: code %q, data %s; want it refused", who.name, name, r.Code(), r.Data)
				}
			}
		}
		// Nothing changed.
		var state struct {
			RetentionPolicy     *struct{ Schedule *string }
			ImmutabilityRules   []struct{ Tags struct{ Pattern string } }
			RetentionExecutions struct{ TotalCount int }
		}
		s.MustDo(admin, `{ retentionPolicy(project: "team") { schedule } immutabilityRules(project: "team") { tags { pattern } } retentionExecutions(project: "team") { totalCount } }`, nil, &state)
		if state.RetentionPolicy == nil || state.RetentionPolicy.Schedule != nil || len(state.ImmutabilityRules) != 1 ||
			state.ImmutabilityRules[0].Tags.Pattern != "v1*" || state.RetentionExecutions.TotalCount != 1 {
			t.Fatalf("refused callers changed something: %+v", state)
		}
		// The project admin may do it all.
		for name, q := range reads {
			if r := s.Do(padmin, q, vars); len(r.Errors) > 0 {
				t.Errorf("project admin reading %s: %+v", name, r.Errors)
			}
		}
		for _, name := range writeOrder {
			if r := s.Do(padmin, writes[name], vars); len(r.Errors) > 0 {
				t.Errorf("project admin doing %s: %+v", name, r.Errors)
			}
		}
		s.MustDo(admin, `{ retentionPolicy(project: "team") { schedule } immutabilityRules(project: "team") { tags { pattern } } retentionExecutions(project: "team") { totalCount } }`, nil, &state)
		if state.RetentionPolicy != nil || len(state.ImmutabilityRules) != 1 || state.ImmutabilityRules[0].Tags.Pattern != "rc-*" || state.RetentionExecutions.TotalCount != 2 {
			t.Fatalf("after the project admin's changes: %+v", state)
		}
	})
}

// TestImmutabilityRulesAndPoliciesAreValidated: at most 15 immutability
// rules a project, patterns and schedules checked, all as BAD_USER_INPUT.
func TestImmutabilityRulesAndPoliciesAreValidated(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team", false)
		create := `mutation($t: String!) { createImmutabilityRule(project: "team", input: {repositories: {pattern: "**"}, tags: {pattern: $t}}) { id project tags { pattern exclude } disabled } }`
		var first struct {
			CreateImmutabilityRule struct {
				ID, Project string
				Disabled    bool
			}
		}
		s.MustDo(admin, create, map[string]any{"t": "v0.*"}, &first)
		if r := first.CreateImmutabilityRule; r.Project != "team" || r.Disabled {
			t.Fatalf("created %+v", r)
		}
		for i := 1; i < 15; i++ {
			s.MustDo(admin, create, map[string]any{"t": fmt.Sprintf("v%d.*", i)}, nil)
		}
		if r := s.Do(admin, create, map[string]any{"t": "v15.*"}); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("a 16th rule: %q %+v", r.Code(), r.Errors)
		}
		update := `mutation($id: ID!, $t: String!) { updateImmutabilityRule(id: $id, input: {repositories: {pattern: "app"}, tags: {pattern: $t, exclude: true}, disabled: true}) { tags { pattern exclude } disabled } }`
		if r := s.Do(admin, update, map[string]any{"id": first.CreateImmutabilityRule.ID, "t": "v[0"}); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("a malformed pattern: %q %+v", r.Code(), r.Errors)
		}
		var upd struct {
			UpdateImmutabilityRule struct {
				Tags struct {
					Pattern string
					Exclude bool
				}
				Disabled bool
			}
		}
		s.MustDo(admin, update, map[string]any{"id": first.CreateImmutabilityRule.ID, "t": "rc-*"}, &upd)
		if u := upd.UpdateImmutabilityRule; u.Tags.Pattern != "rc-*" || !u.Tags.Exclude || !u.Disabled {
			t.Fatalf("updated %+v", u)
		}
		for _, q := range []string{
			`mutation { setRetentionPolicy(project: "team", input: {rules: ` + keepLatest3 + `, schedule: "every day"}) { project } }`,
			`mutation { setRetentionPolicy(project: "team", input: {rules: [{repositories: {pattern: "**"}, tags: {pattern: "**"}, template: LATEST_PUSHED}]}) { project } }`,
			`mutation { setRetentionPolicy(project: "team", input: {rules: [{repositories: {pattern: "**"}, tags: {pattern: "**"}, template: PULLED_WITHIN_DAYS, days: 0}]}) { project } }`,
			`mutation { runRetention(project: "team", dryRun: true) { id } }`, // no policy yet
		} {
			if r := s.Do(admin, q, nil); r.Code() != "BAD_USER_INPUT" {
				t.Errorf("%s: %q %+v", q, r.Code(), r.Errors)
			}
		}
		if r := s.Do(admin, `mutation { setRetentionPolicy(project: "nope", input: {rules: []}) { project } }`, nil); r.Code() != "NOT_FOUND" {
			t.Errorf("a policy of a missing project: %q", r.Code())
		}
	})
}
