package graph_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/server/servertest"
)

// TestImmutableTagsRefuseEveryChange is the immutability matrix: with a
// rule on tags v1* (and one excluding dev-* in another repository), a push
// that moves an immutable tag, createTag, copyArtifact, deleting the tag,
// the artifact (over GraphQL and /v2/) or its repository are all refused
// naming the rule; creating a new immutable tag, pushing the same content
// again and moving other tags still work; a disabled rule binds nothing.
func TestImmutableTagsRefuseEveryChange(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team-a", false)
		var rule struct{ CreateImmutabilityRule struct{ ID string } }
		s.MustDo(admin, `mutation { createImmutabilityRule(project: "team-a", input: {repositories: {pattern: "app"}, tags: {pattern: "v1*"}}) { id } }`, nil, &rule)
		s.MustDo(admin, `mutation { createImmutabilityRule(project: "team-a", input: {repositories: {pattern: "tools/**"}, tags: {pattern: "dev-*", exclude: true}}) { id } }`, nil, nil)

		host := strings.TrimPrefix(s.URL, "http://")
		v1 := cranePush(t, s, "admin", servertest.AdminPassword, "team-a/app:v1", "first")
		latest := cranePush(t, s, "admin", servertest.AdminPassword, "team-a/app:latest", "second")

		// A push that would move v1 is refused with DENIED naming the rule.
		out := craneFails(t, s, "append", "--insecure", "-f", layerFile(t, "third"), "-t", host+"/team-a/app:v1")
		if !strings.Contains(out, "DENIED") || !strings.Contains(out, "immutability rule "+rule.CreateImmutabilityRule.ID) {
			t.Errorf("pushing over v1: %s", out)
		}
		// The same content again, a new immutable tag and a mutable tag move.
		if again := cranePush(t, s, "admin", servertest.AdminPassword, "team-a/app:v1", "first"); again != v1 {
			t.Errorf("pushing v1's content again gave %s, want %s", again, v1)
		}
		cranePush(t, s, "admin", servertest.AdminPassword, "team-a/app:v1.1", "new immutable tag")
		cranePush(t, s, "admin", servertest.AdminPassword, "team-a/app:latest", "moved latest")

		refused := func(what, query string, vars map[string]any) {
			t.Helper()
			r := s.Do(admin, query, vars)
			if r.Code() != "FORBIDDEN" || !strings.Contains(r.Errors[0].Message, "immutable") {
				t.Errorf("%s: %+v", what, r.Errors)
			}
		}
		refused("createTag moving v1", `mutation($d: String!) { createTag(repository: "team-a/app", reference: $d, name: "v1") { name } }`, map[string]any{"d": latest})
		refused("copyArtifact onto v1", `mutation { copyArtifact(repository: "team-a/app", reference: "latest", targetRepository: "team-a/app", targetTag: "v1") { digest } }`, nil)
		refused("deleteTag v1", `mutation { deleteTag(repository: "team-a/app", name: "v1") }`, nil)
		refused("deleteArtifact carrying v1", `mutation($d: String!) { deleteArtifact(repository: "team-a/app", reference: $d) }`, map[string]any{"d": v1})
		refused("deleteRepository holding v1", `mutation { deleteRepository(name: "team-a/app") }`, nil)
		for _, ref := range []string{v1, "v1"} {
			st, body := registryClient{t, s.URL, "admin", servertest.AdminPassword}.do(http.MethodDelete, "/v2/team-a/app/manifests/"+ref, nil)
			if st != http.StatusForbidden || !strings.Contains(string(body), "DENIED") {
				t.Errorf("DELETE /v2/team-a/app/manifests/%s: %d %s", ref, st, body)
			}
		}

		// Excluding: in tools/**, every tag but dev-* is immutable.
		cranePush(t, s, "admin", servertest.AdminPassword, "team-a/tools/cli:dev-1", "dev")
		cranePush(t, s, "admin", servertest.AdminPassword, "team-a/tools/cli:dev-1", "dev moved")
		cranePush(t, s, "admin", servertest.AdminPassword, "team-a/tools/cli:stable", "stable")
		craneFails(t, s, "append", "--insecure", "-f", layerFile(t, "stable moved"), "-t", host+"/team-a/tools/cli:stable")

		// A disabled rule binds nothing: v1 moves and is deleted.
		s.MustDo(admin, `mutation($id: ID!) { updateImmutabilityRule(id: $id, input: {repositories: {pattern: "app"}, tags: {pattern: "v1*"}, disabled: true}) { disabled } }`,
			map[string]any{"id": rule.CreateImmutabilityRule.ID}, nil)
		s.MustDo(admin, `mutation($d: String!) { createTag(repository: "team-a/app", reference: $d, name: "v1") { name } }`, map[string]any{"d": latest}, nil)
		s.MustDo(admin, `mutation { deleteTag(repository: "team-a/app", name: "v1") }`, nil, nil)
	})
}

func layerFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "layer.tar")
	writeLayerTar(t, p, "file.txt", content)
	return p
}

// craneFails runs crane as admin, expects it to fail and returns its output.
func craneFails(t *testing.T, s *servertest.Server, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	env := append(os.Environ(), "HOME="+dir, "DOCKER_CONFIG="+dir)
	login := exec.Command(craneTool(t), "auth", "login", strings.TrimPrefix(s.URL, "http://"), "-u", "admin", "-p", servertest.AdminPassword)
	login.Env = env
	if out, err := login.CombinedOutput(); err != nil {
		t.Fatalf("crane auth login: %v\n%s", err, out)
	}
	cmd := exec.Command(craneTool(t), args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("crane %s succeeded, want a refusal:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}
