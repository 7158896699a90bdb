package graph_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"testing"

	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/viewer"
)

// pushImage pushes a one-layer image through /v2/ with Basic credentials
// and returns the sizes of its config and layer.
func pushImage(t *testing.T, s *servertest.Server, repo, tag string, layer []byte) (int, int) {
	t.Helper()
	put := func(method, path string, body []byte, ct string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
		req.SetBasicAuth("admin", servertest.AdminPassword)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d", method, path, resp.StatusCode, want)
		}
	}
	digest := func(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	put(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+digest(config), config, "application/octet-stream", http.StatusCreated)
	put(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+digest(layer), layer, "application/octet-stream", http.StatusCreated)
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		digest(config), len(config), digest(layer), len(layer))
	put(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, []byte(manifest), "application/vnd.oci.image.manifest.v1+json", http.StatusCreated)
	return len(config), len(layer)
}

func TestProjectUsageCountsDistinctBlobs(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team-a", false)
		layer := bytes.Repeat([]byte("x"), 10000)
		cfg, lay := pushImage(t, s, "team-a/one", "v1", layer)
		pushImage(t, s, "team-a/two", "v1", layer) // the same blobs again: counted once
		// Each artifact's size is its manifest plus its config and layer,
		// so the manifest's own size is what is left.
		var art struct {
			Repository struct {
				Artifacts struct {
					Edges []struct{ Node struct{ Size int64 } }
				}
			}
		}
		s.MustDo(admin, `{ repository(name: "team-a/one") { artifacts(first: 1) { edges { node { size } } } } }`, nil, &art)
		manifest := art.Repository.Artifacts.Edges[0].Node.Size - int64(cfg+lay)
		var out struct{ Project struct{ UsedBytes int64 } }
		s.MustDo(admin, `{ project(name: "team-a") { usedBytes } }`, nil, &out)
		if want := int64(cfg+lay) + 2*manifest; out.Project.UsedBytes != want {
			t.Fatalf("usedBytes = %d, want %d (blobs once, each repository's manifest)", out.Project.UsedBytes, want)
		}
		s.MustDo(admin, `mutation { deleteRepository(name: "team-a/one") }`, nil, nil)
		s.MustDo(admin, `{ project(name: "team-a") { usedBytes } }`, nil, &out)
		if want := int64(cfg+lay) + manifest; out.Project.UsedBytes != want {
			t.Fatalf("after deleting one of two repositories sharing the blobs: usedBytes = %d, want %d", out.Project.UsedBytes, want)
		}
		s.MustDo(admin, `mutation { deleteRepository(name: "team-a/two") }`, nil, nil)
		s.MustDo(admin, `{ project(name: "team-a") { usedBytes } }`, nil, &out)
		if out.Project.UsedBytes != 0 {
			t.Fatalf("an empty project uses %d bytes", out.Project.UsedBytes)
		}
	})
}

// TestMembersAndAnonymousReadRepositoryContent reads tags, labels and
// artifacts as a project member and, on a public project, anonymously:
// the privacy rules must filter these queries, never refuse them.
func TestMembersAndAnonymousReadRepositoryContent(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "priv", false)
		s.CreateProject(admin, "pub", true)
		for _, repo := range []string{"priv/app", "pub/app"} {
			pushImage(t, s, repo, "v1", []byte("layer of "+repo))
		}
		var label struct{ CreateLabel struct{ ID string } }
		s.MustDo(admin, `mutation { createLabel(input: {name: "release"}) { id } }`, nil, &label)
		s.MustDo(admin, `mutation($l: ID!) { addArtifactLabel(repository: "priv/app", reference: "v1", labelID: $l) { id } }`, map[string]any{"l": label.CreateLabel.ID}, nil)
		alice := s.CreateUser("alice")
		s.MustDo(admin, `mutation { addProjectMember(input: {project: "priv", username: "alice", role: LIMITED_GUEST}) { role } }`, nil, nil)

		const q = `query($r: String!) {
			repository(name: $r) { tags(first: 5) { totalCount edges { node { name } } }
				artifacts(first: 5) { totalCount edges { node { digest tags { name } labels { name } } } } }
			artifact(repository: $r, reference: "v1") { tags { name } labels { name } referrers { digest } children { digest } repository { name } } }`
		type result struct {
			Repository *struct {
				Tags      struct{ TotalCount int }
				Artifacts struct {
					TotalCount int
					Edges      []struct {
						Node struct{ Tags, Labels []struct{ Name string } }
					}
				}
			}
			Artifact *struct{ Tags []struct{ Name string } }
		}
		cases := []struct {
			who    string
			creds  servertest.Creds
			repo   string
			labels int
		}{
			{"member of a private project", alice, "priv/app", 1},
			{"anonymous on a public project", servertest.Creds{}, "pub/app", 0},
			{"signed-in outsider on a public project", s.CreateUser("bob"), "pub/app", 0},
		}
		for _, tc := range cases {
			var out result
			s.MustDo(tc.creds, q, map[string]any{"r": tc.repo}, &out)
			if out.Repository == nil || out.Repository.Tags.TotalCount != 1 || out.Repository.Artifacts.TotalCount != 1 ||
				len(out.Repository.Artifacts.Edges[0].Node.Tags) != 1 || len(out.Repository.Artifacts.Edges[0].Node.Labels) != tc.labels ||
				out.Artifact == nil || len(out.Artifact.Tags) != 1 {
				t.Fatalf("%s reads %s: %+v", tc.who, tc.repo, out)
			}
		}
		var hidden result
		s.MustDo(servertest.Creds{}, q, map[string]any{"r": "priv/app"}, &hidden)
		if hidden.Repository != nil || hidden.Artifact != nil {
			t.Fatalf("anonymous sees the private repository: %+v", hidden)
		}
	})
}

// TestRecalculateUsageRepairsTheStoredFigure: recalculateUsage recounts
// from references, repairs a stored figure that drifted and says so; the
// next run finds nothing to repair. Only system admins may run it or see
// the store's size on disk.
func TestRecalculateUsageRepairsTheStoredFigure(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team-a", false)
		s.CreateProject(admin, "team-b", false)
		pushImage(t, s, "team-a/one", "v1", bytes.Repeat([]byte("y"), 5000))
		ctx := viewer.SystemContext(context.Background())
		db := s.Berth.DB()
		want := db.Project.Query().Where(project.Name("team-a")).OnlyX(ctx).UsedBytes
		db.Project.Update().Where(project.Name("team-a")).SetUsedBytes(7).ExecX(ctx)

		type usage struct {
			Project                      string
			StoredBytes, RecomputedBytes int64
			Differed                     bool
		}
		var out struct{ RecalculateUsage []usage }
		s.MustDo(admin, `mutation { recalculateUsage { project storedBytes recomputedBytes differed } }`, nil, &out)
		if len(out.RecalculateUsage) != 2 || out.RecalculateUsage[0] != (usage{"team-a", 7, want, true}) ||
			out.RecalculateUsage[1] != (usage{"team-b", 0, 0, false}) {
			t.Fatalf("recalculateUsage = %+v, want team-a 7 -> %d", out.RecalculateUsage, want)
		}
		s.MustDo(admin, `mutation { recalculateUsage(project: "team-a") { project storedBytes recomputedBytes differed } }`, nil, &out)
		if len(out.RecalculateUsage) != 1 || out.RecalculateUsage[0] != (usage{"team-a", want, want, false}) {
			t.Fatalf("second recalculateUsage = %+v", out.RecalculateUsage)
		}
		if c := s.Do(admin, `mutation { recalculateUsage(project: "nope") { project } }`, nil).Code(); c != "NOT_FOUND" {
			t.Fatalf("unknown project: %q", c)
		}
		dev := s.CreateUser("dev")
		if c := s.Do(dev, `mutation { recalculateUsage { project } }`, nil).Code(); c != "FORBIDDEN" {
			t.Fatalf("non-admin recalculateUsage: %q", c)
		}

		var info struct {
			SystemInfo struct{ StoredBytes, StorageBytesOnDisk int64 }
		}
		s.MustDo(admin, `{ systemInfo { storedBytes storageBytesOnDisk } }`, nil, &info)
		if info.SystemInfo.StoredBytes < 5000 || info.SystemInfo.StorageBytesOnDisk < info.SystemInfo.StoredBytes {
			t.Fatalf("admin systemInfo: %+v", info.SystemInfo)
		}
		s.MustDo(dev, `{ systemInfo { storedBytes storageBytesOnDisk } }`, nil, &info)
		if info.SystemInfo.StoredBytes != 0 || info.SystemInfo.StorageBytesOnDisk != 0 {
			t.Fatalf("non-admin sees storage figures: %+v", info.SystemInfo)
		}
	})
}

// TestDeletedRepositoryIsNotServedFromTheNameCache: right after a
// repository is deleted (its name was just cached by pulls), a pull finds
// nothing and a push creates it afresh.
func TestDeletedRepositoryIsNotServedFromTheNameCache(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team-a", false)
		c := registryClient{t: t, base: s.URL, user: "admin", pwd: servertest.AdminPassword}
		layer := bytes.Repeat([]byte("z"), 3000)
		pushImage(t, s, "team-a/app", "v1", layer)
		for range 3 {
			if st, b := c.do("GET", "/v2/team-a/app/manifests/v1", nil); st != 200 {
				t.Fatalf("pull before delete: %d %s", st, b)
			}
		}
		s.MustDo(admin, `mutation { deleteRepository(name: "team-a/app") }`, nil, nil)
		if st, b := c.do("GET", "/v2/team-a/app/manifests/v1", nil); st != 404 || !bytes.Contains(b, []byte("NAME_UNKNOWN")) {
			t.Fatalf("pull right after delete: %d %s", st, b)
		}
		pushImage(t, s, "team-a/app", "v2", layer)
		if st, b := c.do("GET", "/v2/team-a/app/manifests/v2", nil); st != 200 {
			t.Fatalf("pull after pushing again: %d %s", st, b)
		}
		if st, _ := c.do("GET", "/v2/team-a/app/manifests/v1", nil); st != 404 {
			t.Fatalf("the deleted tag came back: %d", st)
		}
	})
}
