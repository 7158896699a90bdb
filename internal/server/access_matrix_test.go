package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server/servertest"
)

// The permission matrix: every principal tries every registry action and
// every project mutation on a private and a public project. The
// expectations below restate Harbor's role model independently of
// internal/auth's table, so the test catches a wrong entry there.

type principal struct {
	name  string
	role  string   // project role in both projects, "" for none
	admin bool     // system admin
	anon  bool     // no credentials
	robot []string // robot permissions (resource, action pairs), nil for people
}

var principals = []principal{
	{name: "projectadmin", role: "PROJECT_ADMIN"},
	{name: "maintainer", role: "MAINTAINER"},
	{name: "developer", role: "DEVELOPER"},
	{name: "guest", role: "GUEST"},
	{name: "limitedguest", role: "LIMITED_GUEST"},
	{name: "outsider"},
	{name: "anonymous", anon: true},
	{name: "sysadmin", admin: true},
	{name: "pullbot", robot: []string{"REPOSITORY PULL"}},
	{name: "pushbot", robot: []string{"REPOSITORY PULL", "REPOSITORY PUSH", "ARTIFACT DELETE", "TAG CREATE"}},
}

// rank orders the roles.
var rank = map[string]int{"": 0, "LIMITED_GUEST": 1, "GUEST": 2, "DEVELOPER": 3, "MAINTAINER": 4, "PROJECT_ADMIN": 5}

// rule says who may do an action: members from minRole up, anyone on a
// public project when public is set, and robots holding robotPerm.
type rule struct {
	minRole   string
	public    bool
	robotPerm string // "" when no robot permission allows it
}

func (r rule) allows(p principal, public bool) bool {
	switch {
	case p.admin:
		return true
	case public && r.public:
		return true
	case p.robot != nil:
		for _, perm := range p.robot {
			if perm == r.robotPerm {
				return true
			}
		}
		return false
	}
	return p.role != "" && rank[p.role] >= rank[r.minRole]
}

type matrixEnv struct {
	t      *testing.T
	s      *servertest.Server
	creds  map[string]servertest.Creds
	seq    int
	labels map[string]string // project -> id of a global label
}

func (e *matrixEnv) registry(c servertest.Creds, method, path string, body []byte, contentType string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.s.URL+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Username != "" {
		req.SetBasicAuth(c.Username, c.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// push uploads a small image with a unique config and tags it, returning
// the manifest digest and the status of the manifest PUT.
func (e *matrixEnv) push(c servertest.Creds, repo, tag string) (string, int) {
	e.t.Helper()
	e.seq++
	config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Labels":{"seq":"%d"}}}`, e.seq))
	if code, body := e.registry(c, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+digestOf(config), config, "application/octet-stream"); code != http.StatusCreated {
		return "", code
	} else {
		_ = body
	}
	manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[]}`, digestOf(config), len(config)))
	code, _ := e.registry(c, http.MethodPut, "/v2/"+repo+"/manifests/"+tag, manifest, "application/vnd.oci.image.manifest.v1+json")
	return digestOf(manifest), code
}

func (e *matrixEnv) gql(c servertest.Creds, query string) string {
	e.t.Helper()
	r := e.s.Do(c, query, nil)
	if r.Status >= 500 {
		e.t.Fatalf("server error %d for %s", r.Status, query)
	}
	if r.Code() == "" && r.Status == http.StatusOK {
		return "ok"
	}
	return r.Code()
}

// deniedRegistry accepts the ways a registry refuses: 401 or 403, or 404
// NAME_UNKNOWN where even the repository's existence is hidden, always
// with an OCI error body.
func deniedRegistry(code int, body []byte) bool {
	if code != http.StatusUnauthorized && code != http.StatusForbidden && code != http.StatusNotFound {
		return false
	}
	var oci struct{ Errors []struct{ Code string } }
	if json.Unmarshal(body, &oci) != nil || len(oci.Errors) == 0 {
		return false
	}
	switch oci.Errors[0].Code {
	case "UNAUTHORIZED", "DENIED", "NAME_UNKNOWN":
		return code != http.StatusNotFound || oci.Errors[0].Code == "NAME_UNKNOWN"
	}
	return false
}

func deniedGraphQL(code string) bool {
	return code == "FORBIDDEN" || code == "UNAUTHENTICATED" || code == "NOT_FOUND"
}

type check struct {
	name string
	rule rule
	// run performs the action as c in project proj and reports whether it
	// succeeded; refused tells whether a failure was a proper refusal.
	run func(e *matrixEnv, c servertest.Creds, proj string) (ok, refused bool, detail string)
}

func registryCheck(name string, r rule, fn func(e *matrixEnv, c servertest.Creds, repo string) (int, []byte, int)) check {
	return check{name: name, rule: r, run: func(e *matrixEnv, c servertest.Creds, proj string) (bool, bool, string) {
		code, body, success := fn(e, c, proj+"/app")
		return code == success, deniedRegistry(code, body), fmt.Sprintf("%d %s", code, body)
	}}
}

func graphQLCheck(name string, r rule, op func(e *matrixEnv, proj string) string) check {
	return check{name: name, rule: r, run: func(e *matrixEnv, c servertest.Creds, proj string) (bool, bool, string) {
		code := e.gql(c, op(e, proj))
		return code == "ok", deniedGraphQL(code), code
	}}
}

var checks = []check{
	registryCheck("registry pull", rule{"LIMITED_GUEST", true, "REPOSITORY PULL"}, func(e *matrixEnv, c servertest.Creds, repo string) (int, []byte, int) {
		code, body := e.registry(c, http.MethodGet, "/v2/"+repo+"/manifests/v1", nil, "")
		return code, body, http.StatusOK
	}),
	registryCheck("registry tags list", rule{"LIMITED_GUEST", true, "REPOSITORY PULL"}, func(e *matrixEnv, c servertest.Creds, repo string) (int, []byte, int) {
		code, body := e.registry(c, http.MethodGet, "/v2/"+repo+"/tags/list", nil, "")
		return code, body, http.StatusOK
	}),
	registryCheck("registry referrers", rule{"LIMITED_GUEST", true, "REPOSITORY PULL"}, func(e *matrixEnv, c servertest.Creds, repo string) (int, []byte, int) {
		d, _ := e.push(e.creds["sysadmin"], repo, "ref-subject")
		code, body := e.registry(c, http.MethodGet, "/v2/"+repo+"/referrers/"+d, nil, "")
		return code, body, http.StatusOK
	}),
	registryCheck("registry push", rule{"DEVELOPER", false, "REPOSITORY PUSH"}, func(e *matrixEnv, c servertest.Creds, repo string) (int, []byte, int) {
		_, code := e.push(c, repo, "pushed")
		if code == http.StatusCreated {
			return code, nil, http.StatusCreated
		}
		// Repeat the refused step to read its error body.
		code, body := e.registry(c, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, "")
		return code, body, http.StatusCreated
	}),
	registryCheck("registry delete manifest", rule{"MAINTAINER", false, "ARTIFACT DELETE"}, func(e *matrixEnv, c servertest.Creds, repo string) (int, []byte, int) {
		d, _ := e.push(e.creds["sysadmin"], repo, fmt.Sprintf("del-%d", e.seq))
		code, body := e.registry(c, http.MethodDelete, "/v2/"+repo+"/manifests/"+d, nil, "")
		return code, body, http.StatusAccepted
	}),
	{name: "registry catalog shows the repository", rule: rule{"LIMITED_GUEST", true, "REPOSITORY PULL"}, run: func(e *matrixEnv, c servertest.Creds, proj string) (bool, bool, string) {
		code, body := e.registry(c, http.MethodGet, "/v2/_catalog?n=1000", nil, "")
		listed := code == http.StatusOK && strings.Contains(string(body), `"`+proj+`/app"`)
		refused := code == http.StatusOK && !listed || deniedRegistry(code, body)
		return listed, refused, fmt.Sprintf("%d %s", code, body)
	}},
	graphQLCheck("updateProject", rule{"PROJECT_ADMIN", false, ""}, func(e *matrixEnv, proj string) string {
		return fmt.Sprintf(`mutation { updateProject(name: %q, input: {description: "changed"}) { id } }`, proj)
	}),
	graphQLCheck("addProjectMember", rule{"PROJECT_ADMIN", false, ""}, func(e *matrixEnv, proj string) string {
		e.seq++
		return fmt.Sprintf(`mutation { addProjectMember(input: {project: %q, group: "g%d", role: GUEST}) { role } }`, proj, e.seq)
	}),
	graphQLCheck("createRobot", rule{"PROJECT_ADMIN", false, ""}, func(e *matrixEnv, proj string) string {
		e.seq++
		return fmt.Sprintf(`mutation { createRobot(input: {name: "r%d", project: %q, permissions: [{resource: REPOSITORY, action: PULL}]}) { secret } }`, e.seq, proj)
	}),
	graphQLCheck("createLabel in project", rule{"MAINTAINER", false, ""}, func(e *matrixEnv, proj string) string {
		e.seq++
		return fmt.Sprintf(`mutation { createLabel(input: {name: "l%d", project: %q}) { id } }`, e.seq, proj)
	}),
	graphQLCheck("addArtifactLabel", rule{"DEVELOPER", false, ""}, func(e *matrixEnv, proj string) string {
		return fmt.Sprintf(`mutation { addArtifactLabel(repository: "%s/app", reference: "v1", labelID: %q) { id } }`, proj, e.labels["global"])
	}),
	graphQLCheck("createTag", rule{"DEVELOPER", false, "TAG CREATE"}, func(e *matrixEnv, proj string) string {
		e.seq++
		return fmt.Sprintf(`mutation { createTag(repository: "%s/app", reference: "v1", name: "t%d") { name } }`, proj, e.seq)
	}),
	graphQLCheck("deleteTag", rule{"MAINTAINER", false, ""}, func(e *matrixEnv, proj string) string {
		e.seq++
		e.s.MustDo(servertest.Admin, fmt.Sprintf(`mutation { createTag(repository: "%s/app", reference: "v1", name: "d%d") { name } }`, proj, e.seq), nil, nil)
		return fmt.Sprintf(`mutation { deleteTag(repository: "%s/app", name: "d%d") }`, proj, e.seq)
	}),
	graphQLCheck("deleteArtifact", rule{"MAINTAINER", false, "ARTIFACT DELETE"}, func(e *matrixEnv, proj string) string {
		d, _ := e.push(e.creds["sysadmin"], proj+"/app", fmt.Sprintf("gone-%d", e.seq))
		return fmt.Sprintf(`mutation { deleteArtifact(repository: "%s/app", reference: %q) }`, proj, d)
	}),
	graphQLCheck("copyArtifact", rule{"DEVELOPER", false, "REPOSITORY PUSH"}, func(e *matrixEnv, proj string) string {
		e.seq++
		return fmt.Sprintf(`mutation { copyArtifact(repository: "%s/app", reference: "v1", targetRepository: "%s/copy%d", targetTag: "v1") { id } }`, proj, proj, e.seq)
	}),
	graphQLCheck("deleteRepository", rule{"MAINTAINER", false, ""}, func(e *matrixEnv, proj string) string {
		e.seq++
		repo := fmt.Sprintf("%s/doomed%d", proj, e.seq)
		e.push(e.creds["sysadmin"], repo, "v1")
		return fmt.Sprintf(`mutation { deleteRepository(name: %q) }`, repo)
	}),
	{name: "read members", rule: rule{"GUEST", false, ""}, run: func(e *matrixEnv, c servertest.Creds, proj string) (bool, bool, string) {
		r := e.s.Do(c, fmt.Sprintf(`{ project(name: %q) { members { role } } }`, proj), nil)
		var out struct {
			Project *struct{ Members []struct{ Role string } }
		}
		json.Unmarshal(r.Data, &out)
		seen := out.Project != nil && len(out.Project.Members) > 0
		return seen, !seen, fmt.Sprintf("%s %s", r.Data, r.Code())
	}},
	graphQLCheck("read project audit log", rule{"GUEST", false, ""}, func(e *matrixEnv, proj string) string {
		return fmt.Sprintf(`{ auditLogs(first: 1, where: {project: %q}) { totalCount } }`, proj)
	}),
}

func TestPermissionMatrix(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind)
			e := &matrixEnv{t: t, s: s, creds: map[string]servertest.Creds{"sysadmin": servertest.Admin}, labels: map[string]string{}}
			projects := map[string]bool{"private": false, "public": true}
			for name, public := range projects {
				s.CreateProject(servertest.Admin, name, public)
				if _, code := e.push(servertest.Admin, name+"/app", "v1"); code != http.StatusCreated {
					t.Fatalf("seeding %s/app: %d", name, code)
				}
			}
			var label struct{ CreateLabel struct{ ID string } }
			s.MustDo(servertest.Admin, `mutation { createLabel(input: {name: "matrix"}) { id } }`, nil, &label)
			e.labels["global"] = label.CreateLabel.ID
			for _, p := range principals {
				switch {
				case p.admin:
				case p.anon:
					e.creds[p.name] = servertest.Creds{}
				case p.robot != nil:
					var perms []string
					for name := range projects {
						for _, perm := range p.robot {
							res, act, _ := strings.Cut(perm, " ")
							perms = append(perms, fmt.Sprintf(`{project: %q, resource: %s, action: %s}`, name, res, act))
						}
					}
					var out struct {
						CreateRobot struct{ Login, Secret string }
					}
					s.MustDo(servertest.Admin, fmt.Sprintf(`mutation { createRobot(input: {name: %q, permissions: [%s]}) { login secret } }`, p.name, strings.Join(perms, ", ")), nil, &out)
					e.creds[p.name] = servertest.Basic(out.CreateRobot.Login, out.CreateRobot.Secret)
				default:
					e.creds[p.name] = s.CreateUser(p.name)
					if p.role != "" {
						for name := range projects {
							s.MustDo(servertest.Admin, fmt.Sprintf(`mutation { addProjectMember(input: {project: %q, username: %q, role: %s}) { role } }`, name, p.name, p.role), nil, nil)
						}
					}
				}
			}
			for _, visibility := range []string{"private", "public"} {
				for _, c := range checks {
					for _, p := range principals {
						want := c.rule.allows(p, projects[visibility])
						ok, refused, detail := c.run(e, e.creds[p.name], visibility)
						switch {
						case want && !ok:
							t.Errorf("%s project, %s, %s: want allowed, got %s", visibility, c.name, p.name, detail)
						case !want && ok:
							t.Errorf("%s project, %s, %s: want denied, but it succeeded", visibility, c.name, p.name)
						case !want && !refused:
							t.Errorf("%s project, %s, %s: want a proper refusal, got %s", visibility, c.name, p.name, detail)
						}
					}
				}
			}
		})
	}
}
