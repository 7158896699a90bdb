package graph_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/berth-registry/berth/internal/server/servertest"
)

// TestRepositoryArtifactCountIsSeenOnlyByThoseWhoReadTheRepository: the
// artifact count the write path keeps per repository reaches a member, a
// member's read-only token and a robot with pull, follows pushes and
// deletes, and reaches nobody else: an outsider, anonymous callers and a
// push-only robot get no repository, and systemInfo's artifactCount counts
// only what the caller may read.
func TestRepositoryArtifactCountIsSeenOnlyByThoseWhoReadTheRepository(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "priv", false)
		s.CreateProject(admin, "pub", true)
		pushImage(t, s, "priv/app", "v1", bytes.Repeat([]byte("a"), 100))
		pushImage(t, s, "priv/app", "v2", bytes.Repeat([]byte("b"), 100))
		pushImage(t, s, "pub/app", "v1", bytes.Repeat([]byte("c"), 100))

		dev := s.CreateUser("dev")
		s.MustDo(admin, `mutation { addProjectMember(input: {project: "priv", username: "dev", role: DEVELOPER}) { role } }`, nil, nil)
		var tok struct{ CreateAccessToken struct{ Secret string } }
		s.MustDo(dev, `mutation { createAccessToken(input: {name: "ro", readOnly: true}) { secret } }`, nil, &tok)
		var puller, pusher struct {
			CreateRobot struct{ Login, Secret string }
		}
		s.MustDo(admin, `mutation { createRobot(input: {name: "puller", project: "priv", permissions: [{resource: REPOSITORY, action: PULL}]}) { login secret } }`, nil, &puller)
		s.MustDo(admin, `mutation { createRobot(input: {name: "pusher", project: "priv", permissions: [{resource: REPOSITORY, action: PUSH}]}) { login secret } }`, nil, &pusher)
		outsider := s.CreateUser("outsider")

		const q = `{ repository(name: "priv/app") { artifactCount }
			project(name: "priv") { repositories(first: 5) { edges { node { name artifactCount } } } }
			systemInfo { artifactCount } }`
		type view struct {
			Repository *struct{ ArtifactCount int }
			Project    *struct {
				Repositories struct {
					Edges []struct{ Node struct{ ArtifactCount int } }
				}
			}
			SystemInfo struct{ ArtifactCount int }
		}
		ask := func(who string, c servertest.Creds) view {
			t.Helper()
			r := s.Do(c, q, nil)
			var v view
			if len(r.Data) > 0 {
				if err := json.Unmarshal(r.Data, &v); err != nil {
					t.Fatalf("%s: %v in %s", who, err, r.Data)
				}
			}
			return v
		}
		readers := []struct {
			who string
			c   servertest.Creds
		}{
			{"a developer member", dev},
			{"the member's read-only token", servertest.Creds{Bearer: tok.CreateAccessToken.Secret}},
			{"a robot with pull", servertest.Basic(puller.CreateRobot.Login, puller.CreateRobot.Secret)},
		}
		expect := func(n int) {
			t.Helper()
			for _, r := range readers {
				v := ask(r.who, r.c)
				if v.Repository == nil || v.Repository.ArtifactCount != n {
					t.Errorf("%s: repository %+v, want artifactCount %d", r.who, v.Repository, n)
				}
				if v.Project == nil || len(v.Project.Repositories.Edges) != 1 || v.Project.Repositories.Edges[0].Node.ArtifactCount != n {
					t.Errorf("%s: project's repositories %+v, want one with artifactCount %d", r.who, v.Project, n)
				}
			}
		}
		expect(2)

		for _, o := range []struct {
			who    string
			c      servertest.Creds
			system int // artifacts in systemInfo: the public project's, which anyone reads
		}{
			{"an outsider", outsider, 1},
			{"anonymous", servertest.Creds{}, 1},
			{"a push-only robot", servertest.Basic(pusher.CreateRobot.Login, pusher.CreateRobot.Secret), 1},
		} {
			v := ask(o.who, o.c)
			if v.Repository != nil || (v.Project != nil && len(v.Project.Repositories.Edges) > 0) {
				t.Errorf("%s read the private repository's count: %+v %+v", o.who, v.Repository, v.Project)
			}
			if v.SystemInfo.ArtifactCount != o.system {
				t.Errorf("%s: systemInfo.artifactCount %d, want %d (the public project's)", o.who, v.SystemInfo.ArtifactCount, o.system)
			}
		}
		if v := ask("a developer member", dev); v.SystemInfo.ArtifactCount != 3 {
			t.Errorf("member: systemInfo.artifactCount %d, want 3 (two private, one public)", v.SystemInfo.ArtifactCount)
		}

		// The count follows a push and a delete.
		pushImage(t, s, "priv/app", "v3", bytes.Repeat([]byte("d"), 100))
		expect(3)
		s.MustDo(admin, `mutation { deleteArtifact(repository: "priv/app", reference: "v1") }`, nil, nil)
		expect(2)
	})
}
