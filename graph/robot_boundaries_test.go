package graph_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/server/servertest"
)

// registryClient talks /v2/ with Basic credentials.
type registryClient struct {
	t         *testing.T
	base      string
	user, pwd string
}

func (c registryClient) do(method, path string, body []byte, header ...string) (int, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	req.SetBasicAuth(c.user, c.pwd)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c registryClient) blob(repo string, content []byte) digest.Digest {
	c.t.Helper()
	d := digest.FromBytes(content)
	if st, b := c.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), content); st != 201 {
		c.t.Fatalf("%s pushing a blob to %s: %d %s", c.user, repo, st, b)
	}
	return d
}

func imageManifest(cfg, layer digest.Digest, cfgSize, layerSize int) []byte {
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`,
		cfg, cfgSize, layer, layerSize))
}

// TestRobotsAndUsersReadOnlyWhatTheyMayPull: a push-only robot reads
// nothing through GraphQL, not even what it pushed; and nobody (robot or
// user) gets a private layer of another project into a repository they
// can push to, by a mount with or without from, or by a manifest that
// references it.
func TestRobotsAndUsersReadOnlyWhatTheyMayPull(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "secret", false)
		s.CreateProject(admin, "ci", false)
		adm := registryClient{t, s.URL, "admin", servertest.AdminPassword}
		cfg := []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["TOKEN=hunter2"]},"rootfs":{"type":"layers","diff_ids":[]}}`)
		layer := []byte("a private layer of project secret")
		cd, ld := adm.blob("secret/base", cfg), adm.blob("secret/base", layer)
		if st, b := adm.do("PUT", "/v2/secret/base/manifests/v1", imageManifest(cd, ld, len(cfg), len(layer)), "Content-Type", "application/vnd.oci.image.manifest.v1+json"); st != 201 {
			t.Fatalf("admin push: %d %s", st, b)
		}

		var pushOnly, pullPush struct {
			CreateRobot struct{ Login, Secret string }
		}
		s.MustDo(admin, `mutation { createRobot(input: {name: "pusher", project: "ci", permissions: [{resource: REPOSITORY, action: PUSH}]}) { login secret } }`, nil, &pushOnly)
		s.MustDo(admin, `mutation { createRobot(input: {name: "builder", project: "ci", permissions: [{resource: REPOSITORY, action: PULL}, {resource: REPOSITORY, action: PUSH}]}) { login secret } }`, nil, &pullPush)
		dev := s.CreateUser("dev")
		s.MustDo(admin, `mutation { addProjectMember(input: {project: "ci", username: "dev", role: DEVELOPER}) { role } }`, nil, nil)

		// The push-only robot publishes its own image...
		robot := registryClient{t, s.URL, pushOnly.CreateRobot.Login, pushOnly.CreateRobot.Secret}
		ownCfg, ownLayer := []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["DB_PASSWORD=s3cr3t"]}}`), []byte("ci layer")
		ocd, old := robot.blob("ci/app", ownCfg), robot.blob("ci/app", ownLayer)
		if st, b := robot.do("PUT", "/v2/ci/app/manifests/v1", imageManifest(ocd, old, len(ownCfg), len(ownLayer)), "Content-Type", "application/vnd.oci.image.manifest.v1+json"); st != 201 {
			t.Fatalf("push-only robot push: %d %s", st, b)
		}
		// ...but reads none of it through GraphQL or /v2/.
		robotCreds := servertest.Basic(pushOnly.CreateRobot.Login, pushOnly.CreateRobot.Secret)
		r := s.Do(robotCreds, `{ artifact(repository: "ci/app", reference: "v1") { digest config { env } } }`, nil)
		if bytes.Contains(r.Data, []byte("s3cr3t")) || (r.Code() == "" && !bytes.Contains(r.Data, []byte(`"artifact":null`))) {
			t.Fatalf("push-only robot read the artifact it pushed: %s %+v", r.Data, r.Errors)
		}
		var ps struct{ Projects struct{ TotalCount int } }
		s.MustDo(robotCreds, `{ projects { totalCount } }`, nil, &ps)
		if ps.Projects.TotalCount != 0 {
			t.Fatalf("push-only robot sees %d projects", ps.Projects.TotalCount)
		}
		if st, _ := robot.do("GET", "/v2/ci/app/manifests/v1", nil); st < 400 {
			t.Fatalf("push-only robot pulled a manifest: %d", st)
		}

		// Nobody without pull on secret gets its layer into ci.
		for _, c := range []registryClient{
			robot,
			{t, s.URL, pullPush.CreateRobot.Login, pullPush.CreateRobot.Secret},
			{t, s.URL, "dev", dev.Password},
		} {
			for _, q := range []string{"?mount=" + ld.String() + "&from=secret/base", "?mount=" + ld.String()} {
				if st, b := c.do("POST", "/v2/ci/app/blobs/uploads/"+q, nil); st == 201 {
					t.Fatalf("%s mounted a private layer of another project with %s: %s", c.user, q, b)
				}
			}
			st, b := c.do("PUT", "/v2/ci/app/manifests/stolen", imageManifest(ocd, ld, len(ownCfg), len(layer)), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
			if st != 400 || !bytes.Contains(b, []byte("MANIFEST_BLOB_UNKNOWN")) {
				t.Fatalf("%s pushed a manifest referencing a private layer of another project: %d %s", c.user, st, b)
			}
			if st, _ := c.do("GET", "/v2/ci/app/blobs/"+ld.String(), nil); st == 200 {
				t.Fatalf("%s can read the private layer through ci/app", c.user)
			}
		}
		// Someone who may pull from secret may mount from it.
		if st, b := adm.do("POST", "/v2/ci/app/blobs/uploads/?mount="+ld.String()+"&from=secret/base", nil); st != 201 {
			t.Fatalf("admin mount: %d %s", st, b)
		}
	})
}
