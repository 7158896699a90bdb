package gc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/testtool"
	"github.com/berth-registry/berth/internal/viewer"
)

// client speaks /v2/ as admin.
type client struct {
	t    *testing.T
	base string
}

func (c client) do(method, path string, body []byte, header ...string) (int, http.Header, []byte) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Error(err)
		return 0, nil, nil
	}
	req.SetBasicAuth("admin", servertest.AdminPassword)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Error(err)
		return 0, nil, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// upload pushes content to repo, one of three ways: a mount from another
// repository (falling back to an upload if refused), a monolithic POST, or
// a session finished by PUT.
func (c client) upload(repo string, content []byte, from string, how int) bool {
	d := digest.FromBytes(content)
	switch how % 3 {
	case 0:
		if from != "" {
			if st, _, _ := c.do("POST", "/v2/"+repo+"/blobs/uploads/?mount="+d.String()+"&from="+from, nil); st == 201 {
				return true
			}
		}
		fallthrough
	case 1:
		st, _, b := c.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), content, "Content-Type", "application/octet-stream")
		if st != 201 {
			c.t.Errorf("monolithic upload to %s: %d %s", repo, st, b)
		}
		return st == 201
	default:
		st, h, b := c.do("POST", "/v2/"+repo+"/blobs/uploads/", nil)
		if st != 202 {
			c.t.Errorf("starting an upload to %s: %d %s", repo, st, b)
			return false
		}
		loc := h.Get("Location")
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		loc = strings.TrimPrefix(loc, c.base)
		st, _, b = c.do("PUT", loc+sep+"digest="+d.String(), content, "Content-Type", "application/octet-stream")
		if st != 201 {
			c.t.Errorf("finishing an upload to %s: %d %s", repo, st, b)
		}
		return st == 201
	}
}

type image struct {
	repo, tag string
	manifest  digest.Digest
	blobs     map[digest.Digest]int64
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// crane returns the path of crane, skipping (or failing, when services
// are required) without it.
func crane(t *testing.T) string {
	t.Helper()
	return testtool.Path(t, "crane")
}

// TestGCRacingPushesLosesNothing: eight clients push images that share
// base layers (by mount, monolithic upload and upload session) and delete
// older ones while garbage collection runs in a loop with a one-second
// grace period. Every manifest that was accepted and not deleted then
// pulls completely with crane, digests verified; after a last collection
// with no grace the store holds exactly the blobs live manifests
// reference, and the usage figures need no repair.
func TestGCRacingPushesLosesNothing(t *testing.T) {
	craneBin := crane(t)
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind, func(c *config.Config) { c.GCGracePeriod = "1s" })
			s.CreateProject(servertest.Admin, "race", false)
			c := client{t: t, base: s.URL}
			bases := [][]byte{random(30000), random(20000), random(10000)}
			for _, b := range bases {
				c.upload("race/seed", b, "", 1)
			}
			sys := viewer.SystemContext(context.Background())
			newCollector := func(grace time.Duration) *gc.Collector {
				return gc.New(gc.Options{Client: s.Berth.DB().Client, Blobs: s.Berth.Blobs(),
					Content: s.Berth.Artifacts(), Grace: grace, Workers: 4, Logger: slog.New(slog.DiscardHandler)})
			}

			var (
				mu      sync.Mutex
				live    = map[string]image{}
				refused atomic.Int64
				runs    atomic.Int64
				done    = make(chan struct{})
				loop    sync.WaitGroup
			)
			loop.Go(func() {
				collector := newCollector(time.Second)
				for {
					select {
					case <-done:
						return
					default:
					}
					run, err := collector.Run(sys, gc.Request{})
					if err != nil {
						t.Errorf("gc: %v", err)
						return
					}
					if run.Status != "SUCCEEDED" {
						t.Errorf("gc run %d: %s\n%s", run.ID, run.Status, run.Log)
					}
					runs.Add(1)
					time.Sleep(50 * time.Millisecond)
				}
			})

			const workers, rounds = 8, 10
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					repo := fmt.Sprintf("race/app%d", w%4)
					var mine []image
					for r := range rounds {
						base := bases[mrand.IntN(len(bases))]
						cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","worker":%d,"round":%d}`, w, r))
						own := random(1000 + mrand.IntN(4000))
						img := image{repo: repo, tag: fmt.Sprintf("w%d-r%d", w, r), blobs: map[digest.Digest]int64{}}
						ok := c.upload(repo, base, "race/seed", w+r) && c.upload(repo, own, "", w+r+1) && c.upload(repo, cfg, "", 1)
						if !ok {
							return
						}
						if mrand.IntN(3) == 0 {
							time.Sleep(time.Duration(mrand.IntN(1500)) * time.Millisecond) // a slow client: the grace period lapses
						}
						m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
							digest.FromBytes(cfg), len(cfg), digest.FromBytes(base), len(base), digest.FromBytes(own), len(own))
						st, _, body := c.do("PUT", "/v2/"+repo+"/manifests/"+img.tag, []byte(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
						switch {
						case st == 201:
							img.manifest = digest.FromBytes([]byte(m))
							for _, b := range [][]byte{cfg, base, own} {
								img.blobs[digest.FromBytes(b)] = int64(len(b))
							}
							mine = append(mine, img)
							mu.Lock()
							live[img.repo+":"+img.tag] = img
							mu.Unlock()
						case st == 400 && bytes.Contains(body, []byte("MANIFEST_BLOB_UNKNOWN")):
							refused.Add(1) // a blob the client uploaded too long ago was collected: allowed
						default:
							t.Errorf("manifest put %s: %d %s", img.tag, st, body)
							return
						}
						if len(mine) > 2 && mrand.IntN(2) == 0 {
							old := mine[0]
							mine = mine[1:]
							if st, _, b := c.do("DELETE", "/v2/"+old.repo+"/manifests/"+old.manifest.String(), nil); st != 202 {
								t.Errorf("delete %s: %d %s", old.tag, st, b)
								return
							}
							mu.Lock()
							delete(live, old.repo+":"+old.tag)
							mu.Unlock()
						}
					}
				})
			}
			wg.Wait()
			close(done)
			loop.Wait()
			if t.Failed() {
				return
			}
			t.Logf("%d images live, %d manifests refused for a collected blob, %d collections ran meanwhile", len(live), refused.Load(), runs.Load())
			if runs.Load() < 2 || len(live) == 0 {
				t.Fatalf("the race did not happen: %d collections, %d live images", runs.Load(), len(live))
			}

			home := t.TempDir()
			env := append(os.Environ(), "DOCKER_CONFIG="+home, "HOME="+home)
			host := strings.TrimPrefix(s.URL, "http://")
			login := exec.Command(craneBin, "auth", "login", host, "-u", "admin", "-p", servertest.AdminPassword)
			login.Env = env
			if out, err := login.CombinedOutput(); err != nil {
				t.Fatalf("crane auth login: %v\n%s", err, out)
			}
			verify := func() {
				for _, img := range live {
					ref := host + "/" + img.repo + "@" + img.manifest.String()
					// crane checks every blob's digest as it writes the layout.
					dir := filepath.Join(t.TempDir(), "layout")
					cmd := exec.Command(craneBin, "pull", "--insecure", "--format", "oci", ref, dir)
					cmd.Env = env
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("crane pull %s (%s): %v\n%s", ref, img.tag, err, out)
					}
					for d, size := range img.blobs {
						fi, err := os.Stat(filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded()))
						if err != nil || fi.Size() != size {
							t.Fatalf("crane pull %s: blob %s missing or of the wrong size (%v)", ref, d, err)
						}
					}
				}
			}
			verify()

			last, err := newCollector(0).Run(sys, gc.Request{})
			if err != nil || last.Status != "SUCCEEDED" {
				t.Fatalf("last gc: %v %+v", err, last)
			}
			verify()
			want := map[digest.Digest]int64{}
			for _, img := range live {
				for d, size := range img.blobs {
					want[d] = size
				}
			}
			var wantBytes, haveBytes int64
			for _, size := range want {
				wantBytes += size
			}
			have := map[digest.Digest]int64{}
			err = s.Berth.Blobs().WalkBlobs(sys, func(d digest.Digest, size int64, _ time.Time) error {
				have[d] = size
				haveBytes += size
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(have) != len(want) || haveBytes != wantBytes {
				t.Fatalf("the store holds %d blobs, %d bytes; live manifests reference %d blobs, %d bytes", len(have), haveBytes, len(want), wantBytes)
			}
			onDisk, err := s.Berth.Blobs().BytesOnDisk(sys)
			if err != nil || onDisk != wantBytes {
				t.Fatalf("the store holds %d bytes in all (%v); want only the %d bytes of live blobs", onDisk, err, wantBytes)
			}
			usage, err := s.Berth.Artifacts().RecalculateUsage(sys, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range usage {
				if u.Stored != u.Recounted {
					t.Fatalf("usage of %s drifted: stored %d, recounted %d", u.Project, u.Stored, u.Recounted)
				}
			}
		})
	}
}

// manifestFor is an image manifest for config cfg and layers, with an
// optional subject (a referrer).
func manifestFor(cfg []byte, subject digest.Digest, subjectSize int, layers ...[]byte) []byte {
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[`,
		digest.FromBytes(cfg), len(cfg))
	for i, l := range layers {
		if i > 0 {
			m += ","
		}
		m += fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}`, digest.FromBytes(l), len(l))
	}
	m += "]"
	if subject != "" {
		m += fmt.Sprintf(`,"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d}`, subject, subjectSize)
	}
	return []byte(m + "}")
}

// TestGCDeletesUntaggedArtifactsOrphanFilesAndStaleUploads: with
// deleteUntagged, an untagged artifact goes with its referrer while a
// tagged image, its signature and an index's untagged child stay; files
// without a row and upload directories without a session go; an upload
// with a session stays. The dry run reports what the run then does.
func TestGCDeletesUntaggedArtifactsOrphanFilesAndStaleUploads(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind, func(c *config.Config) { c.GCGracePeriod = "0s" })
			s.CreateProject(servertest.Admin, "team", false)
			c := client{t: t, base: s.URL}
			sys := viewer.SystemContext(context.Background())
			put := func(ref string, m []byte, mediaType string) digest.Digest {
				t.Helper()
				if st, _, b := c.do("PUT", "/v2/team/app/manifests/"+ref, m, "Content-Type", mediaType); st != 201 {
					t.Fatalf("put %s: %d %s", ref, st, b)
				}
				return digest.FromBytes(m)
			}
			push := func(ref string, subject digest.Digest, subjectSize int, blobs ...[]byte) (digest.Digest, int) {
				t.Helper()
				for _, b := range blobs {
					c.upload("team/app", b, "", 1)
				}
				m := manifestFor(blobs[0], subject, subjectSize, blobs[1:]...)
				return put(ref, m, "application/vnd.oci.image.manifest.v1+json"), len(m)
			}
			shared := random(5000)
			tagged, taggedSize := push("v1", "", 0, []byte(`{"n":"tagged"}`), shared)
			signature, _ := push("sig", tagged, taggedSize, []byte(`{"n":"signature"}`), random(300))
			c.do("DELETE", "/v2/team/app/manifests/sig", nil) // untag: a referrer of an existing artifact stays
			childCfg, childLayer := []byte(`{"n":"child"}`), random(700)
			child, childSize := push("child", "", 0, childCfg, childLayer, shared)
			c.do("DELETE", "/v2/team/app/manifests/child", nil)
			put("multi", []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%d}]}`, child, childSize)), "application/vnd.oci.image.index.v1+json")
			lostCfg, lostLayer := []byte(`{"n":"untagged"}`), random(2000)
			untagged, untaggedSize := push(digest.FromBytes(manifestFor(lostCfg, "", 0, lostLayer, shared)).String(), "", 0, lostCfg, lostLayer, shared)
			refCfg, refLayer := []byte(`{"n":"sbom of untagged"}`), random(400)
			push(digest.FromBytes(manifestFor(refCfg, untagged, untaggedSize, refLayer)).String(), untagged, untaggedSize, refCfg, refLayer)
			wantBytes := int64(len(lostCfg) + len(lostLayer) + len(refCfg) + len(refLayer))

			blobs := s.Berth.Blobs()
			orphan := random(1234)
			if _, err := blobs.Put(sys, digest.FromBytes(orphan), bytes.NewReader(orphan)); err != nil {
				t.Fatal(err)
			}
			w, err := blobs.UploadWriter(sys, "abandoned-upload", 0)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(random(100))
			w.Close()
			st, h, _ := c.do("POST", "/v2/team/app/blobs/uploads/", nil)
			if st != 202 {
				t.Fatalf("starting an upload: %d", st)
			}
			if st, _, b := c.do("PATCH", strings.TrimPrefix(h.Get("Location"), s.URL), random(100), "Content-Type", "application/octet-stream"); st != 202 {
				t.Fatalf("uploading a chunk: %d %s", st, b)
			}
			time.Sleep(20 * time.Millisecond) // modification times strictly before the run

			collector := gc.New(gc.Options{Client: s.Berth.DB().Client, Blobs: blobs, Content: s.Berth.Artifacts(), Logger: slog.New(slog.DiscardHandler)})
			dry, err := collector.Run(sys, gc.Request{DryRun: true, DeleteUntagged: true})
			if err != nil {
				t.Fatal(err)
			}
			real, err := collector.Run(sys, gc.Request{DeleteUntagged: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, run := range []*ent.GarbageCollection{dry, real} {
				if run.Status != "SUCCEEDED" || run.ArtifactsDeleted != 2 || run.BlobsDeleted != 5 || run.BytesFreed != wantBytes+int64(len(orphan)) {
					t.Fatalf("run (dry %v) = %d artifacts, %d blobs, %d bytes; want 2, 5, %d\n%s", run.DryRun,
						run.ArtifactsDeleted, run.BlobsDeleted, run.BytesFreed, wantBytes+int64(len(orphan)), run.Log)
				}
			}
			if !strings.Contains(real.Log, "upload directories without a session: deleted 1") {
				t.Fatalf("the abandoned upload was not swept alone:\n%s", real.Log)
			}
			for _, d := range []digest.Digest{tagged, signature, child} {
				if st, _, _ := c.do("GET", "/v2/team/app/manifests/"+d.String(), nil, "Accept", "application/vnd.oci.image.manifest.v1+json"); st != 200 {
					t.Fatalf("%s was deleted: %d", d, st)
				}
			}
			for _, b := range [][]byte{shared, childLayer} {
				if st, _, _ := c.do("GET", "/v2/team/app/blobs/"+digest.FromBytes(b).String(), nil); st != 200 {
					t.Fatalf("a blob still referenced was collected: %d", st)
				}
			}
			if st, _, _ := c.do("GET", "/v2/team/app/manifests/"+untagged.String(), nil); st != 404 {
				t.Fatalf("the untagged image survived: %d", st)
			}
			if _, err := blobs.Stat(sys, digest.FromBytes(orphan)); err == nil {
				t.Fatal("the orphan file survived")
			}
			uploads := 0
			blobs.WalkUploads(sys, func(string, time.Time) error { uploads++; return nil })
			if uploads != 1 {
				t.Fatalf("%d upload directories left, want the one with a session", uploads)
			}
		})
	}
}
