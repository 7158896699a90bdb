package graph_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/server/servertest"
)

const searchQuery = `query($tag: String, $digestPrefix: String, $repository: String, $first: Int) {
	searchArtifacts(tag: $tag, digestPrefix: $digestPrefix, repository: $repository, first: $first) {
		artifact { digest tags { name } } repository { name } tag { name }
	}
}`

type searchHit struct {
	Artifact struct {
		Digest string
		Tags   []struct{ Name string }
	}
	Repository struct{ Name string }
	Tag        *struct{ Name string }
}

// search returns the hits of searchArtifacts as "<repository>:<tag>" or
// "<repository>@<digest>".
func search(t *testing.T, s *servertest.Server, c servertest.Creds, vars map[string]any) []string {
	t.Helper()
	var out struct{ SearchArtifacts []searchHit }
	s.MustDo(c, searchQuery, vars, &out)
	got := []string{}
	for _, h := range out.SearchArtifacts {
		if h.Tag != nil {
			if !slices.ContainsFunc(h.Artifact.Tags, func(x struct{ Name string }) bool { return x.Name == h.Tag.Name }) {
				t.Fatalf("hit %s:%s: the artifact's tags %v do not hold it", h.Repository.Name, h.Tag.Name, h.Artifact.Tags)
			}
			got = append(got, h.Repository.Name+":"+h.Tag.Name)
		} else {
			got = append(got, h.Repository.Name+"@"+h.Artifact.Digest)
		}
	}
	return got
}

// TestSearchArtifactsFindsWhatTheCallerMayRead: the search box's artifact
// search by part of a tag (case-insensitive, newest tag first, through the
// FTS5 trigram table on SQLite and the trigram index on PostgreSQL) and by
// a digest's prefix, kept to what each kind of caller may read, following
// tag deletes and moves, and refusing bad input with BAD_USER_INPUT.
func TestSearchArtifactsFindsWhatTheCallerMayRead(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team", false)
		s.CreateProject(admin, "pub", true)
		s.CreateProject(admin, "other", false)
		adm := registryClient{t, s.URL, "admin", servertest.AdminPassword}
		digests, manifests := map[string]string{}, map[string][]byte{}
		push := func(repo, tag string) {
			cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Labels":{"ref":%q}},"rootfs":{"type":"layers","diff_ids":[]}}`, repo+":"+tag))
			layer := []byte("layer of " + repo + ":" + tag)
			cd, ld := adm.blob(repo, cfg), adm.blob(repo, layer)
			m := imageManifest(cd, ld, len(cfg), len(layer))
			st, b := adm.do("PUT", "/v2/"+repo+"/manifests/"+tag, m, "Content-Type", "application/vnd.oci.image.manifest.v1+json")
			if st != 201 {
				t.Fatalf("push %s:%s: %d %s", repo, tag, st, b)
			}
			digests[repo+":"+tag], manifests[repo+":"+tag] = digest.FromBytes(m).String(), m
		}
		push("team/app", "v1.2.3")
		push("team/app", "Release-2024")
		push("team/web", "v1.2.3-rc")
		push("pub/tool", "v1.2.3")
		push("other/secret", "v1.2.3")

		dev := s.CreateUser("dev")
		s.MustDo(admin, `mutation { addProjectMember(input: {project: "team", username: "dev", role: DEVELOPER}) { role } }`, nil, nil)
		outsider := s.CreateUser("outsider")
		var ro struct{ CreateAccessToken struct{ Secret string } }
		s.MustDo(dev, `mutation { createAccessToken(input: {name: "ro", readOnly: true}) { secret } }`, nil, &ro)
		var puller, pusher struct {
			CreateRobot struct{ Login, Secret string }
		}
		s.MustDo(admin, `mutation { createRobot(input: {name: "puller", project: "team", permissions: [{resource: REPOSITORY, action: PULL}]}) { login secret } }`, nil, &puller)
		s.MustDo(admin, `mutation { createRobot(input: {name: "pusher", project: "team", permissions: [{resource: REPOSITORY, action: PUSH}]}) { login secret } }`, nil, &pusher)

		all := []string{"other/secret:v1.2.3", "pub/tool:v1.2.3", "team/web:v1.2.3-rc", "team/app:v1.2.3"}
		for _, tc := range []struct {
			who  string
			c    servertest.Creds
			want []string
		}{
			{"admin", admin, all},
			{"a developer of team", dev, []string{"pub/tool:v1.2.3", "team/web:v1.2.3-rc", "team/app:v1.2.3"}},
			{"the developer's read-only token", servertest.Creds{Bearer: ro.CreateAccessToken.Secret}, []string{"pub/tool:v1.2.3", "team/web:v1.2.3-rc", "team/app:v1.2.3"}},
			{"a robot that pulls from team", servertest.Basic(puller.CreateRobot.Login, puller.CreateRobot.Secret), []string{"pub/tool:v1.2.3", "team/web:v1.2.3-rc", "team/app:v1.2.3"}},
			{"a push-only robot", servertest.Basic(pusher.CreateRobot.Login, pusher.CreateRobot.Secret), []string{"pub/tool:v1.2.3"}},
			{"an outsider", outsider, []string{"pub/tool:v1.2.3"}},
			{"anonymous", servertest.Creds{}, []string{"pub/tool:v1.2.3"}},
		} {
			if got := search(t, s, tc.c, map[string]any{"tag": "1.2.3"}); !slices.Equal(got, tc.want) {
				t.Errorf("%s searching 1.2.3 found %v, want %v", tc.who, got, tc.want)
			}
		}

		for _, tc := range []struct {
			vars map[string]any
			want []string
		}{
			{map[string]any{"tag": "RELEASE"}, []string{"team/app:Release-2024"}},
			{map[string]any{"tag": "v1"}, []string{"pub/tool:v1.2.3", "team/web:v1.2.3-rc", "team/app:v1.2.3"}},
			{map[string]any{"tag": "2.3-r"}, []string{"team/web:v1.2.3-rc"}},
			{map[string]any{"tag": "1.2.3", "repository": "TEAM/"}, []string{"team/web:v1.2.3-rc", "team/app:v1.2.3"}},
			{map[string]any{"tag": "1.2.3", "first": 1}, []string{"pub/tool:v1.2.3"}},
			// Neither wildcards nor FTS5 syntax mean anything but themselves.
			{map[string]any{"tag": "v1%3"}, []string{}},
			{map[string]any{"tag": "v_.2"}, []string{}},
			{map[string]any{"tag": `1.2" OR "app`}, []string{}},
			{map[string]any{"tag": "1.2 OR v"}, []string{}},
			{map[string]any{"tag": "nothing-like-it"}, []string{}},
			{map[string]any{"digestPrefix": digests["team/web:v1.2.3-rc"][:7+12]}, []string{"team/web@" + digests["team/web:v1.2.3-rc"]}},
			{map[string]any{"digestPrefix": strings.ToUpper(digests["team/app:v1.2.3"][:7+8])}, []string{"team/app@" + digests["team/app:v1.2.3"]}},
			{map[string]any{"digestPrefix": digests["other/secret:v1.2.3"][:7+12]}, []string{}},
		} {
			if got := search(t, s, dev, tc.vars); !slices.Equal(got, tc.want) {
				t.Errorf("the developer searching %v found %v, want %v", tc.vars, got, tc.want)
			}
		}

		// A deleted tag is not found; a moved tag is found on its new artifact.
		if st, b := adm.do("DELETE", "/v2/team/web/manifests/v1.2.3-rc", nil); st != 202 {
			t.Fatalf("delete team/web:v1.2.3-rc: %d %s", st, b)
		}
		push("team/app", "v1.2.4")
		moved := digests["team/app:v1.2.4"]
		if st, b := adm.do("PUT", "/v2/team/app/manifests/v1.2.3", manifests["team/app:v1.2.4"], "Content-Type", "application/vnd.oci.image.manifest.v1+json"); st != 201 {
			t.Fatalf("move team/app:v1.2.3: %d %s", st, b)
		}
		var moves struct{ SearchArtifacts []searchHit }
		s.MustDo(dev, searchQuery, map[string]any{"tag": "v1.2.3", "repository": "team"}, &moves)
		if len(moves.SearchArtifacts) != 1 || moves.SearchArtifacts[0].Artifact.Digest != moved || moves.SearchArtifacts[0].Tag.Name != "v1.2.3" {
			t.Fatalf("after the delete and the move, v1.2.3 in team: %+v (want the artifact %s)", moves.SearchArtifacts, moved)
		}

		for _, vars := range []map[string]any{
			{},
			{"tag": "v1", "digestPrefix": "sha256:abcdef"},
			{"tag": "v"},
			{"tag": strings.Repeat("v", 129)},
			{"digestPrefix": "sha256:abc"},
			{"digestPrefix": "md5:abcdef12"},
			{"digestPrefix": "sha256:" + strings.Repeat("a", 65)},
			{"tag": "v1", "first": 0},
			{"tag": "v1", "first": 51},
			{"tag": "v1", "repository": strings.Repeat("r", 256)},
		} {
			if r := s.Do(dev, searchQuery, vars); r.Code() != "BAD_USER_INPUT" {
				t.Errorf("searchArtifacts(%v): %s %+v, want BAD_USER_INPUT", vars, r.Data, r.Errors)
			}
		}
	})
}
