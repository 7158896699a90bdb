//go:build bench

package bench

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/viewer"
)

// pageBudget is the API time a portal page may take (issue: every page
// under 300 ms of API time with 10,000 artifacts in a repository).
const pageBudget = 300 * time.Millisecond

const seededArtifacts = 10000

// seed writes n artifacts with one tag each into repository name.
func seed(t *testing.T, s *servertest.Server, name string, n int) string {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	db := s.Berth.DB()
	p := db.Project.Query().Where(project.Name("big")).OnlyX(ctx)
	repo := db.Repository.Create().SetName(name).SetProjectID(p.ID).SaveX(ctx)
	start := time.Now().Add(-time.Duration(n) * time.Second)
	var last string
	for i := 0; i < n; i += 500 {
		var arts []*ent.ArtifactCreate
		for j := i; j < i+500 && j < n; j++ {
			manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%064x","size":100},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%064x","size":%d}]}`, j, j+1, 1000+j)
			last = fmt.Sprintf("sha256:%064x", 1_000_000+j)
			arts = append(arts, db.Artifact.Create().SetRepositoryID(repo.ID).SetDigest(last).
				SetMediaType("application/vnd.oci.image.manifest.v1+json").SetArtifactType(artifact.ArtifactTypeIMAGE).
				SetSize(int64(1100+j)).SetManifest([]byte(manifest)).SetPushedAt(start.Add(time.Duration(j)*time.Second)))
		}
		created := db.Artifact.CreateBulk(arts...).SaveX(ctx)
		var tags []*ent.TagCreate
		for k, a := range created {
			tags = append(tags, db.Tag.Create().SetName(fmt.Sprintf("v%d", i+k)).SetRepositoryID(repo.ID).SetArtifactID(a.ID))
		}
		db.Tag.CreateBulk(tags...).ExecX(ctx)
	}
	return last
}

type pageQuery struct {
	name, query string
	vars        map[string]any
}

func TestPortalPagesWith10000Artifacts(t *testing.T) {
	fmt.Printf("\nportal page API time, %d artifacts in one repository (median of 15)\n", seededArtifacts)
	fmt.Printf("%-10s %-34s %10s\n", "database", "page", "median")
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind)
			s.CreateProject(servertest.Admin, "big", false)
			digest := seed(t, s, "big/app", seededArtifacts)
			recount(t, s) // the rows bypassed the write path
			var first struct {
				Repository struct {
					Artifacts struct{ PageInfo struct{ EndCursor string } }
				}
			}
			s.MustDo(servertest.Admin, `{ repository(name: "big/app") { artifacts(first: 25, orderBy: {field: PUSHED_AT, direction: DESC}) { edges { cursor } pageInfo { endCursor } } } }`, nil, &first)
			repoPage := `query($after: Cursor, $where: ArtifactWhereInput) { repository(name: "big/app") { id name pullCount pushedAt project { name public viewerPermissions }
				artifacts(first: 25, after: $after, where: $where, orderBy: {field: PUSHED_AT, direction: DESC}) { totalCount pageInfo { hasNextPage endCursor }
				edges { node { id digest artifactType size pushedAt pulledAt tags { id name } labels { id name color } } } } } }`
			pages := []pageQuery{
				{"projects list", `{ projects(first: 25, orderBy: {field: NAME, direction: ASC}) { totalCount edges { node { id name public repositoryCount usedBytes viewerRole } } } systemInfo { projectCount repositoryCount artifactCount storedBytes } }`, nil},
				{"repository page 1", repoPage, nil},
				{"repository page 2", repoPage, map[string]any{"after": first.Repository.Artifacts.PageInfo.EndCursor}},
				{"repository filtered by tag", repoPage, map[string]any{"where": map[string]any{"hasTagsWith": []map[string]any{{"nameContains": "v9999"}}}}},
				{"artifact page", `query($ref: String!) { artifact(repository: "big/app", reference: $ref) { id digest mediaType artifactType size pushedAt tags { name } labels { name }
					repository { name project { name viewerPermissions } } layers { digest size mediaType } children { digest } referrers { digest artifactType } pullCommand manifest } }`, map[string]any{"ref": digest}},
			}
			for _, p := range pages {
				var times []time.Duration
				for i := 0; i < 15; i++ {
					start := time.Now()
					r := s.Do(servertest.Admin, p.query, p.vars)
					times = append(times, time.Since(start))
					if r.Status != http.StatusOK || len(r.Errors) > 0 {
						t.Fatalf("%s: %d %+v", p.name, r.Status, r.Errors)
					}
				}
				sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
				median := times[len(times)/2]
				fmt.Printf("%-10s %-34s %8.1fms\n", kind, p.name, float64(median.Microseconds())/1000)
				if median > pageBudget {
					t.Errorf("%s on %s: median %v exceeds %v", p.name, kind, median, pageBudget)
				}
			}
		})
	}
}
