package graph_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server/servertest"
)

// noGrace makes garbage collection delete unreferenced blobs at once.
func noGrace(c *config.Config) { c.GCGracePeriod = "0s" }

type gcRun struct {
	ID                             string
	Status                         string
	DryRun                         bool
	BlobsDeleted, ArtifactsDeleted int
	BytesFreed                     int64
	Log                            string
	StartedAt                      string
	FinishedAt                     *string
}

const gcFields = `id status dryRun blobsDeleted bytesFreed artifactsDeleted log startedAt finishedAt`

func runGC(t *testing.T, s *servertest.Server, input string) gcRun {
	t.Helper()
	var out struct{ RunGarbageCollection gcRun }
	s.MustDo(admin, `mutation { runGarbageCollection(input: `+input+`) { `+gcFields+` } }`, nil, &out)
	return out.RunGarbageCollection
}

func bytesOnDisk(t *testing.T, s *servertest.Server) int64 {
	t.Helper()
	var info struct {
		SystemInfo struct{ StorageBytesOnDisk int64 }
	}
	s.MustDo(admin, `{ systemInfo { storageBytesOnDisk } }`, nil, &info)
	return info.SystemInfo.StorageBytesOnDisk
}

// image is a pushed image: its manifest digest and its blobs' digests and sizes.
type image struct {
	manifest digest.Digest
	blobs    map[digest.Digest]int
}

// pushLayers pushes an image with config cfg and the given layers.
func pushLayers(c registryClient, repo, tag string, cfg []byte, layers ...[]byte) image {
	c.t.Helper()
	img := image{blobs: map[digest.Digest]int{}}
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{2, "application/vnd.oci.image.manifest.v1+json", desc{"application/vnd.oci.image.config.v1+json", c.blob(repo, cfg).String(), len(cfg)}, nil}
	img.blobs[digest.FromBytes(cfg)] = len(cfg)
	for _, l := range layers {
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar", c.blob(repo, l).String(), len(l)})
		img.blobs[digest.FromBytes(l)] = len(l)
	}
	body, _ := json.Marshal(m)
	if st, b := c.do("PUT", "/v2/"+repo+"/manifests/"+tag, body, "Content-Type", m.MediaType); st != 201 {
		c.t.Fatalf("pushing %s:%s: %d %s", repo, tag, st, b)
	}
	img.manifest = digest.FromBytes(body)
	return img
}

// pullsCompletely fetches img's manifest and every blob and checks their digests.
func pullsCompletely(c registryClient, repo string, img image) {
	c.t.Helper()
	st, body := c.do("GET", "/v2/"+repo+"/manifests/"+img.manifest.String(), nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
	if st != 200 || digest.FromBytes(body) != img.manifest {
		c.t.Fatalf("manifest %s: %d", img.manifest, st)
	}
	for d := range img.blobs {
		st, body := c.do("GET", "/v2/"+repo+"/blobs/"+d.String(), nil)
		if st != 200 || digest.FromBytes(body) != d {
			c.t.Fatalf("blob %s: status %d, %d bytes", d, st, len(body))
		}
	}
}

// TestGarbageCollectionFreesExactlyTheBytesNoImageUses: three images share
// a base layer; two are deleted; a dry run reports the bytes of the blobs
// only they used, a real run frees exactly those (the store shrinks by
// that much), and the third image still pulls completely.
func TestGarbageCollectionFreesExactlyTheBytesNoImageUses(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind, noGrace)
			s.CreateProject(admin, "team", false)
			c := registryClient{t: t, base: s.URL, user: "admin", pwd: servertest.AdminPassword}
			base := make([]byte, 40000)
			for i := range base {
				base[i] = byte(i * 7)
			}
			var imgs []image
			for i := range 3 {
				cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","created":"image %d"}`, i))
				own := []byte(fmt.Sprintf("the own layer of image %d %s", i, make([]byte, 1000*(i+1))))
				imgs = append(imgs, pushLayers(c, "team/app", fmt.Sprintf("v%d", i), cfg, base, own))
			}
			var want int64
			for _, img := range imgs[:2] {
				for d, size := range img.blobs {
					if _, shared := imgs[2].blobs[d]; !shared {
						want += int64(size)
					}
				}
				if st, b := c.do("DELETE", "/v2/team/app/manifests/"+img.manifest.String(), nil); st != 202 {
					t.Fatalf("delete: %d %s", st, b)
				}
			}
			before := bytesOnDisk(t, s)

			dry := runGC(t, s, `{dryRun: true, wait: true}`)
			if dry.Status != "SUCCEEDED" || !dry.DryRun || dry.BlobsDeleted != 4 || dry.BytesFreed != want || dry.FinishedAt == nil {
				t.Fatalf("dry run = %+v, want 4 blobs, %d bytes", dry, want)
			}
			if after := bytesOnDisk(t, s); after != before {
				t.Fatalf("a dry run changed the store: %d -> %d bytes", before, after)
			}
			real := runGC(t, s, `{wait: true}`)
			if real.Status != "SUCCEEDED" || real.DryRun || real.BlobsDeleted != 4 || real.BytesFreed != want {
				t.Fatalf("run = %+v, want 4 blobs, %d bytes as the dry run said", real, want)
			}
			if after := bytesOnDisk(t, s); before-after != want {
				t.Fatalf("the store went from %d to %d bytes, freeing %d; want %d", before, after, before-after, want)
			}
			pullsCompletely(c, "team/app", imgs[2])
			again := runGC(t, s, `{wait: true}`)
			if again.BlobsDeleted != 0 || again.BytesFreed != 0 {
				t.Fatalf("a second run freed more: %+v", again)
			}
			pullsCompletely(c, "team/app", imgs[2])

			var list struct {
				GarbageCollections struct {
					TotalCount int
					Edges      []struct{ Node gcRun }
				}
			}
			s.MustDo(admin, `{ garbageCollections(first: 2) { totalCount edges { node { `+gcFields+` } } } }`, nil, &list)
			if g := list.GarbageCollections; g.TotalCount != 3 || len(g.Edges) != 2 || g.Edges[0].Node.ID != again.ID || g.Edges[1].Node.ID != real.ID {
				t.Fatalf("history = %+v, want the 3 runs newest first", g)
			}
		})
	}
}

// TestGarbageCollectionIsForSystemAdmins: nobody else may run it or read
// its history: not a user, not a robot, not an anonymous caller.
func TestGarbageCollectionIsForSystemAdmins(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team", true)
		var robot struct {
			CreateRobot struct{ Login, Secret string }
		}
		s.MustDo(admin, `mutation { createRobot(input: {name: "ci", project: "team", permissions: [{resource: REPOSITORY, action: PULL}, {resource: REPOSITORY, action: PUSH}]}) { login secret } }`, nil, &robot)
		callers := map[string]servertest.Creds{
			"user":      s.CreateUser("dev"),
			"robot":     servertest.Basic(robot.CreateRobot.Login, robot.CreateRobot.Secret),
			"anonymous": {},
		}
		for name, who := range callers {
			for _, q := range []string{
				`mutation { runGarbageCollection(input: {dryRun: true, wait: true}) { id } }`,
				`{ garbageCollections(first: 5) { totalCount } }`,
			} {
				if c := s.Do(who, q, nil).Code(); c != "FORBIDDEN" && c != "UNAUTHENTICATED" {
					t.Errorf("%s ran %s: code %q", name, q, c)
				}
			}
		}
		var list struct{ GarbageCollections struct{ TotalCount int } }
		s.MustDo(admin, `{ garbageCollections(first: 5) { totalCount } }`, nil, &list)
		if list.GarbageCollections.TotalCount != 0 {
			t.Fatalf("refused callers left %d runs", list.GarbageCollections.TotalCount)
		}
	})
}
