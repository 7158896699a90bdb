package registry_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry/storage"
)

// TestPushesOverTheQuotaAreDeniedAndStoreNothing: with a quota on the
// project, a blob (monolithic, chunked or mounted) or a manifest that would
// take it over is refused with DENIED naming the limit, and the push leaves
// no artifact, tag or usage behind; a push that fits goes through.
func TestPushesOverTheQuotaAreDeniedAndStoreNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		sys := viewer.SystemContext(t.Context())
		setQuota := func(q int64) {
			db.Project.Update().Where(project.Name("team")).SetQuotaBytes(q).ExecX(sys)
		}
		used := func() int64 { return db.Project.Query().Where(project.Name("team")).OnlyX(sys).UsedBytes }
		denied := func(resp *http.Response, limit int64) {
			t.Helper()
			b := expect(t, resp, http.StatusForbidden, "DENIED")
			if !strings.Contains(string(b), fmt.Sprint(limit)) || !strings.Contains(string(b), "team") {
				t.Fatalf("refusal does not name the project and its limit %d: %s", limit, b)
			}
		}

		setQuota(5000)
		m, _ := e.image("dev", "team/app", "")
		expect(t, e.putManifest("dev", "team/app", "v1", m, ociManifest), 201, "")
		before := used()
		if before <= 0 || before > 5000 {
			t.Fatalf("usage after a push that fits: %d", before)
		}

		big := randomBytes(6000)
		d := digest.FromBytes(big)
		denied(e.do(req{method: "POST", path: "/v2/team/app/blobs/uploads/?digest=" + d.String(), user: "dev", body: big}), 5000)
		if _, err := e.Blobs.Stat(t.Context(), d); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("a refused upload left its blob in the store: %v", err)
		}
		loc := e.startUpload("dev", "team/app")
		expect(t, e.do(req{method: "PATCH", path: loc, user: "dev", body: big}), 202, "")
		denied(e.do(req{method: "PUT", path: loc + "?digest=" + d.String(), user: "dev"}), 5000)
		// A blob of another project cannot be mounted in over the quota either.
		other := e.pushBlob("admin", "pub/app", big)
		resp := e.do(req{method: "POST", path: "/v2/team/app/blobs/uploads/?mount=" + other.String() + "&from=pub/app", user: "dev"})
		denied(resp, 5000)
		// Nor pushed whole now that the store holds it (hashed, not written).
		denied(e.do(req{method: "POST", path: "/v2/team/app/blobs/uploads/?digest=" + d.String(), user: "dev", body: big}), 5000)
		denied(e.do(req{method: "PUT", path: e.startUpload("dev", "team/app") + "?digest=" + d.String(), user: "dev", body: big}), 5000)

		// Blobs uploaded while there was room, then the quota shrinks: the
		// manifest that would make them count is refused, in one piece.
		setQuota(-1)
		m2, _ := e.image("dev", "team/app", `,"annotations":{"n":"2"}`)
		setQuota(before)
		denied(e.putManifest("dev", "team/app", "v2", m2, ociManifest), before)
		expect(t, e.do(req{method: "GET", path: "/v2/team/app/manifests/v2", user: "dev"}), 404, "MANIFEST_UNKNOWN")
		if got := used(); got != before {
			t.Fatalf("usage after refused pushes: %d, want %d", got, before)
		}
		// Pushing again what the project already holds is never refused.
		expect(t, e.putManifest("dev", "team/app", "v1-again", m, ociManifest), 201, "")
		setQuota(-1)
		expect(t, e.putManifest("dev", "team/app", "v2", m2, ociManifest), 201, "")
	})
}

// TestUsageStaysExactUnderConcurrentPushesAndDeletes: concurrent pushes and
// deletes into one project leave its stored usage equal to a recount (on
// PostgreSQL pushes share the project's row and deletes lock it; SQLite
// serialises writers).
func TestUsageStaysExactUnderConcurrentPushesAndDeletes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		shared := randomBytes(3000)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				repo := fmt.Sprintf("team/app%d", i%4)
				e.pushBlob("dev", repo, shared)
				m, _ := e.image("dev", repo, fmt.Sprintf(`,"annotations":{"i":"%d"}`, i))
				tag := fmt.Sprintf("t%d", i)
				if resp := e.putManifest("dev", repo, tag, m, ociManifest); resp.StatusCode != 201 {
					t.Errorf("push %d: %d", i, resp.StatusCode)
					return
				}
				if i%3 == 0 {
					if resp := e.do(req{method: "DELETE", path: "/v2/" + repo + "/manifests/" + digest.FromBytes(m).String(), user: "admin"}); resp.StatusCode != 202 {
						t.Errorf("delete %d: %d", i, resp.StatusCode)
					}
				}
			})
		}
		wg.Wait()
		usage, err := e.Artifacts.RecalculateUsage(viewer.SystemContext(t.Context()), "team")
		if err != nil {
			t.Fatal(err)
		}
		if u := usage[0]; u.Stored != u.Recounted || u.Recounted == 0 {
			t.Fatalf("stored usage %d, recounted %d", u.Stored, u.Recounted)
		}
	})
}

// TestConcurrentPushesOfOneTagLeaveOneWinner: ten clients push different
// manifests under one tag at once; every push is accepted, and afterwards
// the tag exists once and names one of them, and usage needs no repair.
func TestConcurrentPushesOfOneTagLeaveOneWinner(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		const n = 10
		ms := make([][]byte, n)
		for i := range n {
			ms[i], _ = e.image("dev", "team/app", fmt.Sprintf(`,"annotations":{"i":"%d"}`, i))
		}
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if resp := e.putManifest("dev", "team/app", "latest", ms[i], ociManifest); resp.StatusCode != 201 {
					t.Errorf("push %d: %d", i, resp.StatusCode)
				}
			})
		}
		wg.Wait()
		b := expect(t, e.do(req{method: "GET", path: "/v2/team/app/tags/list", user: "dev"}), 200, "")
		if strings.Count(string(b), `"latest"`) != 1 {
			t.Fatalf("tags/list after racing pushes: %s", b)
		}
		got := expect(t, e.do(req{method: "GET", path: "/v2/team/app/manifests/latest", user: "dev",
			header: map[string]string{"Accept": ociManifest}}), 200, "")
		winners := 0
		for _, m := range ms {
			if string(m) == string(got) {
				winners++
			}
		}
		if winners != 1 {
			t.Fatalf("latest names none of the pushed manifests")
		}
		usage, err := e.Artifacts.RecalculateUsage(viewer.SystemContext(t.Context()), "team")
		if err != nil || usage[0].Stored != usage[0].Recounted {
			t.Fatalf("usage drifted: %+v %v", usage, err)
		}
	})
}

// TestConcurrentPushesOfOneNewManifestAllSucceed: eight clients push the
// same new manifest into one repository at once, each under its own tag:
// every push is accepted, the repository holds one artifact with eight
// tags, and usage counts its blobs once.
func TestConcurrentPushesOfOneNewManifestAllSucceed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		// Five rounds, for the timings that a single round can miss.
		for round := range 5 {
			repo := fmt.Sprintf("team/app%d", round)
			m, _ := e.image("dev", repo, `,"annotations":{"same":"yes"}`)
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					if resp := e.putManifest("dev", repo, fmt.Sprintf("t%d", i), m, ociManifest); resp.StatusCode != 201 {
						b, _ := io.ReadAll(resp.Body)
						t.Errorf("push %d into %s: %d %s", i, repo, resp.StatusCode, b)
					}
				})
			}
			wg.Wait()
			b := expect(t, e.do(req{method: "GET", path: "/v2/" + repo + "/tags/list", user: "dev"}), 200, "")
			var list struct{ Tags []string }
			if err := json.Unmarshal(b, &list); err != nil || len(list.Tags) != 8 {
				t.Fatalf("tags of %s after the racing pushes: %s", repo, b)
			}
			for _, tag := range list.Tags {
				resp := e.do(req{method: "HEAD", path: "/v2/" + repo + "/manifests/" + tag, user: "dev", header: map[string]string{"Accept": ociManifest}})
				if resp.Header.Get("Docker-Content-Digest") != digest.FromBytes(m).String() {
					t.Fatalf("%s:%s names %s", repo, tag, resp.Header.Get("Docker-Content-Digest"))
				}
			}
		}
		usage, err := e.Artifacts.RecalculateUsage(viewer.SystemContext(t.Context()), "team")
		if err != nil || usage[0].Stored != usage[0].Recounted || usage[0].Stored == 0 {
			t.Fatalf("usage: %+v %v", usage, err)
		}
	})
}

// TestSideBySidePushesKeepExactCounters: pushes into a project without a
// quota run side by side on PostgreSQL (sharing the project's lock, their
// counters written as deltas and folded after). Sixteen clients at once,
// each with a layer of its own and a new layer all of them share, into
// two repositories: when the last push has answered, the project's used
// bytes as stored (not recounted) count the shared layer once, each
// repository's artifact count and push time are right, and no delta is
// left unfolded. A push then over a quota set meanwhile is refused.
func TestSideBySidePushesKeepExactCounters(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		sys := viewer.SystemContext(t.Context())
		cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
		pushes := 0
		for round := range 3 {
			shared := randomBytes(4000)
			const n = 16
			ms := make([][]byte, n)
			for i := range n {
				repo := fmt.Sprintf("team/side%d", i%2)
				own := randomBytes(1000 + i)
				cd, sd, od := e.pushBlob("dev", repo, cfg), e.pushBlob("dev", repo, shared), e.pushBlob("dev", repo, own)
				ms[i] = fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
					ociManifest, cd, len(cfg), sd, len(shared), od, len(own))
			}
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					<-start
					repo := fmt.Sprintf("team/side%d", i%2)
					if resp := e.putManifest("dev", repo, fmt.Sprintf("r%d-%d", round, i), ms[i], ociManifest); resp.StatusCode != 201 {
						b, _ := io.ReadAll(resp.Body)
						t.Errorf("push %d into %s: %d %s", i, repo, resp.StatusCode, b)
					}
				})
			}
			close(start)
			wg.Wait()
			pushes += n
		}

		stored := db.Project.Query().Where(project.Name("team")).OnlyX(sys).UsedBytes
		if left := db.UsageDelta.Query().CountX(sys); left != 0 {
			t.Fatalf("%d usage deltas left unfolded after the pushes answered", left)
		}
		for _, r := range db.Repository.Query().Where(repository.NameHasPrefix("team/side")).AllX(sys) {
			if r.ArtifactCount != int64(pushes/2) || r.PushedAt == nil {
				t.Fatalf("%s: artifact count %d (want %d), pushed at %v", r.Name, r.ArtifactCount, pushes/2, r.PushedAt)
			}
		}
		usage, err := e.Artifacts.RecalculateUsage(sys, "team")
		if err != nil {
			t.Fatal(err)
		}
		if stored != usage[0].Recounted || stored == 0 {
			t.Fatalf("stored usage %d, recounted %d", stored, usage[0].Recounted)
		}

		// A quota set now, after the blobs are in (the registry may still
		// hold the project as it was), is checked against the exact figure.
		m, _ := e.image("dev", "team/side0", `,"annotations":{"over":"yes"}`)
		db.Project.Update().Where(project.Name("team")).SetQuotaBytes(stored).ExecX(sys)
		expect(t, e.putManifest("dev", "team/side0", "over", m, ociManifest), http.StatusForbidden, "DENIED")
	})
}
