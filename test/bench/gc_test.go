//go:build bench

package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/repositoryblob"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/viewer"
)

// Garbage collection at scale, through the API users meet it by
// (GraphQL runGarbageCollection as a system admin, /v2/ pushes as a
// project developer), on every database berth supports:
//
//  1. sweeping 100,000 unreferenced 1 KiB blobs (and, for comparison,
//     CNCF Distribution's offline `registry garbage-collect` on the same
//     blobs in its own layout);
//  2. a dry and a real run over 1,000,000 references, which must find only
//     the unreferenced blobs among them;
//  3. manifest PUT latency with 1,000 and with 100,000 blobs referenced in
//     the project: it must not grow with the project.
//
// Rows, files and references are seeded in bulk (ent CreateBulk, files
// written straight into the store); only the measured operations go
// through the API. Each figure is verified afterwards.

const (
	gcSweepBlobs   = 100_000 // unreferenced blobs swept in (1)
	gcBlobSize     = 1024
	gcSweepBudget  = 60 * time.Second
	gcMarkArts     = 10_000 // artifacts in (2) ...
	gcMarkRefsEach = 100    // ... each referencing this many blobs ...
	gcMarkShared   = 100_000
	gcMarkLoose    = 10_000 // ... and unreferenced blobs among them
	gcMarkBudget   = 30 * time.Second
	putSmall       = 1_000
	putLarge       = 100_000
	putRounds      = 200
	putWarmup      = 10
	putGrowthLimit = 1.5 // p50 at putLarge over p50 at putSmall
)

// gcFigures is what one database's run measured.
type gcFigures struct {
	sweep     time.Duration
	dry, real time.Duration
	put       [2]latency // putSmall, putLarge
	// putStale is the PUT latency at putLarge before ANALYZE (PostgreSQL).
	putStale latency
	// pushDuring is the manifest PUTs by a developer during the sweep.
	pushDuring pushStats
	sweepSeed  time.Duration
	markSeed   time.Duration
	// sweepSwept is how many blobs the sweep run deleted (it should be
	// all of them) and sweepStatus how the run ended.
	sweepSwept  int
	sweepStatus string
}

type latency struct{ p50, p95 time.Duration }

func TestBenchmarkGC(t *testing.T) {
	figures := map[string]*gcFigures{}
	markStore := t.TempDir()
	t.Cleanup(func() { removeStore(markStore) })
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			f := &gcFigures{}
			t.Run("sweep", func(t *testing.T) { benchSweep(t, kind, f) })
			t.Run("mark", func(t *testing.T) { benchMark(t, kind, markStore, f) })
			t.Run("put", func(t *testing.T) { benchPut(t, kind, f) })
			if f.sweepSeed > 0 || f.markSeed > 0 || f.put[0].p50 > 0 {
				figures[kind] = f
			}
		})
	}
	var dist time.Duration
	t.Run("distribution", func(t *testing.T) { dist = benchDistributionGC(t) })

	var b strings.Builder
	cols := []string{}
	for _, kind := range dbtest.Dialects {
		if figures[kind] != nil {
			cols = append(cols, kind)
		}
	}
	workers := "default"
	if w := os.Getenv("BENCH_GC_WORKERS"); w != "" {
		workers = w
	}
	fmt.Fprintf(&b, "\ngarbage collection, %d cores, --gc-workers %s, --gc-grace-period 0s\n", runtime.NumCPU(), workers)
	fmt.Fprintf(&b, "| %-58s |", "measure")
	for _, c := range cols {
		fmt.Fprintf(&b, " %16s |", c)
	}
	fmt.Fprintf(&b, " %-12s |\n|%s|", "target", strings.Repeat("-", 60))
	for range cols {
		fmt.Fprintf(&b, "%s|", strings.Repeat("-", 18))
	}
	fmt.Fprintf(&b, "%s|\n", strings.Repeat("-", 14))
	row := func(name, target string, cell func(f *gcFigures) string) {
		fmt.Fprintf(&b, "| %-58s |", name)
		for _, c := range cols {
			fmt.Fprintf(&b, " %16s |", cell(figures[c]))
		}
		fmt.Fprintf(&b, " %-12s |\n", target)
	}
	secs := func(d time.Duration) string {
		if d == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	ms := func(d time.Duration) string {
		if d == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
	}
	row(fmt.Sprintf("seed %dk unreferenced 1 KiB blobs (rows+files)", gcSweepBlobs/1000), "", func(f *gcFigures) string { return secs(f.sweepSeed) })
	row(fmt.Sprintf("GC sweep, %dk unreferenced 1 KiB blobs (pushes alongside)", gcSweepBlobs/1000), "< 60 s", func(f *gcFigures) string { return secs(f.sweep) })
	row("  sweep rate", "", func(f *gcFigures) string {
		if f.sweep == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f blobs/s", float64(f.sweepSwept)/f.sweep.Seconds())
	})
	row("  run status, blobs deleted", "all, OK", func(f *gcFigures) string {
		if f.sweepStatus == "" {
			return "-"
		}
		if f.sweepStatus == "SUCCEEDED" {
			return fmt.Sprintf("ok, %d", f.sweepSwept)
		}
		return fmt.Sprintf("%s, %d", f.sweepStatus, f.sweepSwept)
	})
	row(fmt.Sprintf("  manifest PUTs by a developer meanwhile (1/%v), failed", pushEvery), "0 failed", func(f *gcFigures) string {
		if f.sweepStatus == "" {
			return "-"
		}
		return fmt.Sprintf("%d, %d", f.pushDuring.n, len(f.pushDuring.errors))
	})
	row("  their p50 / p95", "", func(f *gcFigures) string {
		if f.pushDuring.n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0f / %.0f ms", float64(f.pushDuring.p50.Microseconds())/1000, float64(f.pushDuring.p95.Microseconds())/1000)
	})
	row("  their max", "", func(f *gcFigures) string { return ms(f.pushDuring.max) })
	if dist > 0 {
		row(fmt.Sprintf("distribution garbage-collect, same %dk blobs (offline)", gcSweepBlobs/1000), "", func(*gcFigures) string { return secs(dist) })
		row("  berth sweep time / distribution time", "", func(f *gcFigures) string {
			if f.sweep == 0 {
				return "-"
			}
			return fmt.Sprintf("%.2fx", f.sweep.Seconds()/dist.Seconds())
		})
	} else {
		row("distribution garbage-collect", "", func(*gcFigures) string { return "skipped" })
	}
	refs := gcMarkArts * gcMarkRefsEach
	row(fmt.Sprintf("seed %dk refs (%dk arts x %d), %dk+%dk blobs", refs/1000, gcMarkArts/1000, gcMarkRefsEach, gcMarkShared/1000, gcMarkLoose/1000), "", func(f *gcFigures) string { return secs(f.markSeed) })
	row(fmt.Sprintf("GC dry run, %dk refs, finds %dk unreferenced", refs/1000, gcMarkLoose/1000), "< 30 s", func(f *gcFigures) string { return secs(f.dry) })
	row(fmt.Sprintf("GC run, %dk refs, deletes %dk unreferenced", refs/1000, gcMarkLoose/1000), "< 30 s", func(f *gcFigures) string { return secs(f.real) })
	for i, n := range []int{putSmall, putLarge} {
		row(fmt.Sprintf("manifest PUT (developer) p50, %dk blobs in project", n/1000), "", func(f *gcFigures) string { return ms(f.put[i].p50) })
		row(fmt.Sprintf("manifest PUT (developer) p95, %dk blobs in project", n/1000), "", func(f *gcFigures) string { return ms(f.put[i].p95) })
	}
	row(fmt.Sprintf("  p50 at %dk / p50 at %dk", putLarge/1000, putSmall/1000), fmt.Sprintf("<= %.1fx", putGrowthLimit), func(f *gcFigures) string {
		if f.put[0].p50 == 0 || f.put[1].p50 == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", f.put[1].p50.Seconds()/f.put[0].p50.Seconds())
	})
	row(fmt.Sprintf("manifest PUT p50, %dk blobs, tables never ANALYZEd", putLarge/1000), "", func(f *gcFigures) string { return ms(f.putStale.p50) })
	row(fmt.Sprintf("manifest PUT p95, %dk blobs, tables never ANALYZEd", putLarge/1000), "", func(f *gcFigures) string { return ms(f.putStale.p95) })
	t.Log(b.String())
	fmt.Print(b.String())
}

// startGCBerth starts berth with no grace period and returns it with its
// data directory: dataDir when not "" (a store shared by runs), a new one
// otherwise, whose files are removed in parallel at the end (one by one,
// t.TempDir takes minutes for 100,000 blobs on a slow disk).
// BENCH_GC_WORKERS overrides --gc-workers.
func startGCBerth(t *testing.T, kind, dataDir string) (*servertest.Server, string) {
	s := servertest.Start(t, kind, func(c *config.Config) {
		c.GCGracePeriod = "0s"
		if w := os.Getenv("BENCH_GC_WORKERS"); w != "" {
			c.GCWorkers = w
		}
		if dataDir != "" {
			c.DataDir = dataDir
		} else {
			dataDir = c.DataDir
			t.Cleanup(func() { removeStore(dataDir) })
		}
	})
	return s, dataDir
}

// removeStore removes the blob files of a store, 256 directories at a
// time over 8 goroutines.
func removeStore(dataDir string) {
	root := filepath.Join(dataDir, "storage", "blobs", "sha256")
	entries, _ := os.ReadDir(root)
	ch := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for dir := range ch {
				subs, _ := os.ReadDir(dir)
				for _, sub := range subs {
					os.RemoveAll(filepath.Join(dir, sub.Name()))
				}
			}
		})
	}
	for _, e := range entries {
		ch <- filepath.Join(root, e.Name())
	}
	close(ch)
	wg.Wait()
}

type gcRun struct {
	Status       string
	BlobsDeleted int
	BytesFreed   int
	Log          string
}

// runGC runs a garbage collection through GraphQL as the admin and waits
// for it.
func runGC(t *testing.T, s *servertest.Server, dryRun bool) (gcRun, time.Duration) {
	t.Helper()
	var out struct{ RunGarbageCollection gcRun }
	start := time.Now()
	s.MustDo(servertest.Admin, `mutation($d: Boolean) { runGarbageCollection(input: {dryRun: $d, wait: true}) { status blobsDeleted bytesFreed log } }`,
		map[string]any{"d": dryRun}, &out)
	took := time.Since(start)
	r := out.RunGarbageCollection
	if r.Status != "SUCCEEDED" {
		t.Errorf("gc run (dry run %v) %s after %v:\n%s", dryRun, r.Status, took, r.Log)
	} else {
		t.Logf("gc (dry run %v) took %v:\n%s", dryRun, took, r.Log)
	}
	return r, took
}

// genBlobs makes n blobs of gcBlobSize pseudo-random bytes from seed,
// writes each as a file at path(hex) with `workers` writers, and returns
// their digests in order.
func genBlobs(t *testing.T, seed uint64, n int, path func(hex string) string) []string {
	t.Helper()
	digests := make([]string, n)
	type job struct {
		i    int
		data []byte
	}
	jobs := make(chan job, 256)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 4 {
		wg.Go(func() {
			for j := range jobs {
				sum := sha256.Sum256(j.data)
				h := hex.EncodeToString(sum[:])
				digests[j.i] = "sha256:" + h
				if path == nil {
					continue
				}
				p := path(h)
				err := os.MkdirAll(filepath.Dir(p), 0o755)
				if err == nil {
					err = os.WriteFile(p, j.data, 0o644)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	rng := mrand.NewChaCha8(key)
	for i := range n {
		data := make([]byte, gcBlobSize)
		rng.Read(data)
		jobs <- job{i, data}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("writing blob files: %v", firstErr)
	}
	return digests
}

// berthBlobPath is where berth's filesystem store keeps a blob.
func berthBlobPath(dataDir string) func(string) string {
	return func(h string) string {
		return filepath.Join(dataDir, "storage", "blobs", "sha256", h[:2], h, "data")
	}
}

// insertBlobs writes blob rows last used at `at`, in big transactions of
// bulk INSERTs, links them into repository linkRepo unless it is 0, and
// returns their ids in order.
func insertBlobs(t *testing.T, client *ent.Client, digests []string, at time.Time, linkRepo int) []int {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	ids := make([]int, 0, len(digests))
	for txChunk := range slices.Chunk(digests, 25_000) {
		tx, err := client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for chunk := range slices.Chunk(txChunk, 1000) {
			creates := make([]*ent.BlobCreate, len(chunk))
			for i, d := range chunk {
				creates[i] = tx.Blob.Create().SetDigest(d).SetSize(gcBlobSize).SetCreatedAt(at).SetLastUsedAt(at)
			}
			created, err := tx.Blob.CreateBulk(creates...).Save(ctx)
			if err != nil {
				tx.Rollback()
				t.Fatalf("inserting blobs: %v", err)
			}
			var links []*ent.RepositoryBlobCreate
			for _, b := range created {
				ids = append(ids, b.ID)
				if linkRepo != 0 {
					links = append(links, tx.RepositoryBlob.Create().SetRepositoryID(linkRepo).SetBlobID(b.ID).SetCreatedAt(at))
				}
			}
			if len(links) > 0 {
				if err := tx.RepositoryBlob.CreateBulk(links...).Exec(ctx); err != nil {
					tx.Rollback()
					t.Fatalf("linking blobs: %v", err)
				}
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// insertArtifacts creates count artifacts in repository repoID, numbered
// from first, artifact k referencing the blobs refs(k).
func insertArtifacts(t *testing.T, client *ent.Client, repoID, first, count int, refs func(k int) []int) {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	pushed := time.Now().Add(-48 * time.Hour)
	const perTx = 1000
	for lo := first; lo < first+count; lo += perTx {
		hi := min(lo+perTx, first+count)
		tx, err := client.Tx(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for blo := lo; blo < hi; blo += 250 {
			bhi := min(blo+250, hi)
			var arts []*ent.ArtifactCreate
			for k := blo; k < bhi; k++ {
				m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%064x","size":%d},"layers":[]}`, k, gcBlobSize)
				arts = append(arts, tx.Artifact.Create().SetRepositoryID(repoID).SetDigest(fmt.Sprintf("sha256:%064x", 1<<40+k)).
					SetMediaType("application/vnd.oci.image.manifest.v1+json").SetArtifactType(artifact.ArtifactTypeIMAGE).
					SetSize(int64(len(m)+gcBlobSize*len(refs(k)))).SetManifest([]byte(m)).SetPushedAt(pushed))
			}
			created, err := tx.Artifact.CreateBulk(arts...).Save(ctx)
			if err != nil {
				tx.Rollback()
				t.Fatalf("inserting artifacts: %v", err)
			}
			var batch []*ent.ArtifactBlobCreate
			flush := func() {
				if len(batch) == 0 {
					return
				}
				if err := tx.ArtifactBlob.CreateBulk(batch...).Exec(ctx); err != nil {
					tx.Rollback()
					t.Fatalf("inserting references: %v", err)
				}
				batch = batch[:0]
			}
			for i, a := range created {
				for _, b := range refs(blo + i) {
					batch = append(batch, tx.ArtifactBlob.Create().SetArtifactID(a.ID).SetBlobID(b))
					if len(batch) == 5000 {
						flush()
					}
				}
			}
			flush()
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

func countBlobFiles(t *testing.T, s *servertest.Server) (n int, present map[string]bool) {
	t.Helper()
	present = map[string]bool{}
	err := s.Berth.Blobs().WalkBlobs(context.Background(), func(d digest.Digest, _ int64, _ time.Time) error {
		present[d.String()] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(present), present
}

// benchSweep: 100,000 blobs no manifest references (uploaded, linked into
// a repository, never referenced), last used a day ago, swept by one run
// while a project developer pushes a small image every pushEvery: the
// collection is online, so none of those pushes may fail or lose a blob.
func benchSweep(t *testing.T, kind string, f *gcFigures) {
	s, dataDir := startGCBerth(t, kind, "")
	s.CreateProject(servertest.Admin, "gc", false)
	dev := s.CreateUser("dev")
	s.MustDo(servertest.Admin, `mutation { addProjectMember(input: {project: "gc", username: "dev", role: DEVELOPER}) { id } }`, nil, nil)
	ctx := viewer.SystemContext(context.Background())
	client := s.Berth.DB().Client
	p := client.Project.Query().Where(project.Name("gc")).OnlyX(ctx)
	repo := client.Repository.Create().SetName("gc/uploads").SetProjectID(p.ID).SaveX(ctx)

	start := time.Now()
	digests := genBlobs(t, 1, gcSweepBlobs, berthBlobPath(dataDir))
	insertBlobs(t, client, digests, time.Now().Add(-24*time.Hour), repo.ID)
	analyze(t, s, kind)
	f.sweepSeed = time.Since(start)
	if n, _ := countBlobFiles(t, s); n != gcSweepBlobs {
		t.Fatalf("seeded %d files, want %d", n, gcSweepBlobs)
	}

	stop := make(chan struct{})
	pushed := make(chan pushStats, 1)
	go func() { pushed <- pushWhile(s.URL, dev.Username, dev.Password, stop) }()
	r, took := runGC(t, s, false)
	close(stop)
	ps := <-pushed
	f.sweep, f.sweepSwept, f.sweepStatus = took, r.BlobsDeleted, r.Status
	f.pushDuring = ps
	if r.BlobsDeleted != gcSweepBlobs || r.BytesFreed != gcSweepBlobs*gcBlobSize {
		t.Errorf("gc deleted %d blobs, %d bytes; want %d, %d", r.BlobsDeleted, r.BytesFreed, gcSweepBlobs, gcSweepBlobs*gcBlobSize)
	}
	if n := client.RepositoryBlob.Query().Where(repositoryblob.RepositoryID(repo.ID)).CountX(ctx); n != 0 {
		t.Errorf("%d links of swept blobs left after gc, want 0", n)
	}
	_, present := countBlobFiles(t, s)
	left := 0
	for _, d := range digests {
		if present[d] {
			left++
		}
	}
	if left > 0 {
		t.Errorf("%d of the %d unreferenced blob files left after gc, want 0", left, gcSweepBlobs)
	}
	if n := client.Blob.Query().CountX(ctx); n != len(present) {
		t.Errorf("%d blob rows after gc, but %d files", n, len(present))
	}
	if took > gcSweepBudget {
		t.Errorf("sweeping %d blobs on %s took %v, budget %v", gcSweepBlobs, kind, took, gcSweepBudget)
	}
	// Every push that succeeded during the run still pulls whole.
	c := &v2{t: t, base: s.URL, user: dev.Username, pass: dev.Password, client: http.DefaultClient}
	for _, d := range ps.blobs {
		if st, _ := c.do("HEAD", "/v2/gc/app/blobs/"+d, nil, ""); st != http.StatusOK {
			t.Errorf("blob %s of an image pushed during gc: HEAD %d", d, st)
		}
	}
	for _, e := range ps.errors {
		t.Errorf("push during gc on %s failed: %s", kind, e)
	}
}

// pushEvery is how often the developer pushes during benchSweep's run.
const pushEvery = 100 * time.Millisecond

// pushStats is what pushWhile saw.
type pushStats struct {
	latency
	max    time.Duration
	n      int
	errors []string
	blobs  []string // of the images pushed
}

// pushWhile pushes a small image (a config and a 1 KiB layer, uploaded
// monolithically, then the manifest) as user every pushEvery until stop
// is closed, and returns the latencies of the manifest PUTs.
func pushWhile(base, user, pass string, stop <-chan struct{}) pushStats {
	var out pushStats
	var times []time.Duration
	do := func(method, path string, body []byte, ctype string) (int, string) {
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(body))
		req.SetBasicAuth(user, pass)
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tick := time.NewTicker(pushEvery)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-stop:
			if len(times) > 0 {
				sort.Slice(times, func(a, b int) bool { return times[a] < times[b] })
				out.p50, out.p95, out.max = times[len(times)/2], times[len(times)*95/100], times[len(times)-1]
			}
			out.n = len(times)
			return out
		case <-tick.C:
		}
		cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"during":%d}`, i))
		layer := bytes.Repeat([]byte(fmt.Sprintf("layer %08d ", i)), gcBlobSize/15+1)[:gcBlobSize]
		ok := true
		for _, b := range [][]byte{cfg, layer} {
			if st, body := do("POST", "/v2/gc/app/blobs/uploads/?digest="+digest.FromBytes(b).String(), b, "application/octet-stream"); st != http.StatusCreated {
				out.errors = append(out.errors, fmt.Sprintf("blob upload: %d %.200s", st, body))
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`,
			digest.FromBytes(cfg), len(cfg), digest.FromBytes(layer), len(layer))
		start := time.Now()
		st, body := do("PUT", fmt.Sprintf("/v2/gc/app/manifests/d%d", i), []byte(m), "application/vnd.oci.image.manifest.v1+json")
		times = append(times, time.Since(start))
		if st != http.StatusCreated {
			out.errors = append(out.errors, fmt.Sprintf("manifest PUT: %d %.200s", st, body))
			continue
		}
		out.blobs = append(out.blobs, digest.FromBytes(cfg).String(), digest.FromBytes(layer).String())
	}
}

// benchMark: 10,000 artifacts each referencing 100 of 100,000 blobs (each
// blob by 10 artifacts: 1,000,000 references), with 10,000 unreferenced
// blobs interleaved among them (every 11th id); every blob last used a
// day ago. A dry run and then a real run must find exactly the 10,000.
// The files of the 100,000 referenced blobs are written once into store
// and shared by the runs on every database.
func benchMark(t *testing.T, kind, store string, f *gcFigures) {
	s, dataDir := startGCBerth(t, kind, store)
	s.CreateProject(servertest.Admin, "mark", false)
	ctx := viewer.SystemContext(context.Background())
	client := s.Berth.DB().Client
	p := client.Project.Query().Where(project.Name("mark")).OnlyX(ctx)
	repo := client.Repository.Create().SetName("mark/app").SetProjectID(p.ID).SaveX(ctx)

	start := time.Now()
	var write func(string) string
	if n, _ := countBlobFiles(t, s); n == 0 {
		write = berthBlobPath(dataDir)
	} else if n != gcMarkShared {
		t.Fatalf("the shared store holds %d blobs, want %d", n, gcMarkShared)
	}
	shared := genBlobs(t, 2, gcMarkShared, write)
	loose := genBlobs(t, uint64(3+len(kind)), gcMarkLoose, berthBlobPath(dataDir))
	total := gcMarkShared + gcMarkLoose
	digests := make([]string, 0, total)
	isLoose := map[string]bool{}
	for i, j := 0, 0; len(digests) < total; {
		if len(digests)%11 == 10 {
			digests = append(digests, loose[j])
			isLoose[loose[j]] = true
			j++
		} else {
			digests = append(digests, shared[i])
			i++
		}
	}
	ids := insertBlobs(t, client, digests, time.Now().Add(-24*time.Hour), repo.ID)
	var sharedIDs []int
	for i, id := range ids {
		if !isLoose[digests[i]] {
			sharedIDs = append(sharedIDs, id)
		}
	}
	insertArtifacts(t, client, repo.ID, 0, gcMarkArts, func(k int) []int {
		out := make([]int, gcMarkRefsEach)
		for i := range out {
			out[i] = sharedIDs[(k*gcMarkRefsEach+i)%gcMarkShared]
		}
		return out
	})
	recount(t, s)
	analyze(t, s, kind)
	f.markSeed = time.Since(start)
	refs := client.ArtifactBlob.Query().CountX(ctx)
	if refs != gcMarkArts*gcMarkRefsEach {
		t.Fatalf("seeded %d references, want %d", refs, gcMarkArts*gcMarkRefsEach)
	}

	dry, took := runGC(t, s, true)
	f.dry = took
	if dry.BlobsDeleted != gcMarkLoose || dry.BytesFreed != gcMarkLoose*gcBlobSize {
		t.Errorf("dry run would delete %d blobs, %d bytes; want %d, %d", dry.BlobsDeleted, dry.BytesFreed, gcMarkLoose, gcMarkLoose*gcBlobSize)
	}
	if n := client.Blob.Query().CountX(ctx); n != total {
		t.Errorf("dry run left %d blob rows, want all %d", n, total)
	}
	if took > gcMarkBudget {
		t.Errorf("dry run over %d references on %s took %v, budget %v", refs, kind, took, gcMarkBudget)
	}

	swept, took := runGC(t, s, false)
	f.real = took
	if swept.BlobsDeleted != gcMarkLoose || swept.BytesFreed != gcMarkLoose*gcBlobSize {
		t.Errorf("gc deleted %d blobs, %d bytes; want %d, %d", swept.BlobsDeleted, swept.BytesFreed, gcMarkLoose, gcMarkLoose*gcBlobSize)
	}
	if n := client.Blob.Query().CountX(ctx); n != gcMarkShared {
		t.Errorf("%d blob rows left, want the %d referenced", n, gcMarkShared)
	}
	if n := client.ArtifactBlob.Query().CountX(ctx); n != refs {
		t.Errorf("%d references left, want %d", n, refs)
	}
	n, present := countBlobFiles(t, s)
	if n != gcMarkShared {
		t.Errorf("%d blob files left, want the %d referenced", n, gcMarkShared)
	}
	for d := range isLoose {
		if present[d] {
			t.Errorf("unreferenced blob %s survived", d)
			break
		}
	}
	if took > gcMarkBudget {
		t.Errorf("gc over %d references on %s took %v, budget %v", refs, kind, took, gcMarkBudget)
	}
}

// v2 speaks /v2/ with Basic auth.
type v2 struct {
	t          *testing.T
	base       string
	user, pass string
	client     *http.Client
}

func (c *v2) do(method, path string, body []byte, ctype string) (int, []byte) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth(c.user, c.pass)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (c *v2) upload(repo string, content []byte) {
	d := digest.FromBytes(content)
	if st, b := c.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), content, "application/octet-stream"); st != http.StatusCreated {
		c.t.Fatalf("uploading %s to %s: %d %s", d, repo, st, b)
	}
}

// benchPut times manifest PUTs by a project developer with 1,000 and then
// 100,000 blobs referenced in the project (100 per seeded artifact). On
// PostgreSQL it times them at 100,000 twice: before the tables were ever
// analysed, then after ANALYZE; the target applies to the latter.
func benchPut(t *testing.T, kind string, f *gcFigures) {
	s, _ := startGCBerth(t, kind, "")
	s.CreateProject(servertest.Admin, "put", false)
	dev := s.CreateUser("dev")
	s.MustDo(servertest.Admin, `mutation { addProjectMember(input: {project: "put", username: "dev", role: DEVELOPER}) { id } }`, nil, nil)
	ctx := viewer.SystemContext(context.Background())
	client := s.Berth.DB().Client
	p := client.Project.Query().Where(project.Name("put")).OnlyX(ctx)
	repo := client.Repository.Create().SetName("put/seed").SetProjectID(p.ID).SaveX(ctx)
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer tr.CloseIdleConnections()
	c := &v2{t: t, base: s.URL, user: dev.Username, pass: dev.Password, client: &http.Client{Transport: tr}}

	if kind == database.Postgres {
		// Statistics are gathered only by the ANALYZE below, so the
		// figure before it does not depend on when autovacuum wakes up.
		for _, table := range []string{"blobs", "repository_blobs", "artifacts", "artifact_blobs", "repositories"} {
			if _, err := s.Berth.DB().SQL().Exec("ALTER TABLE " + table + " SET (autovacuum_enabled = false)"); err != nil {
				t.Fatal(err)
			}
		}
	}
	digests := genBlobs(t, 3, putLarge, nil)
	var ids []int
	seeded := 0
	rng := mrand.New(mrand.NewPCG(3, 3))
	base := make([]byte, 4096)
	for i := range base {
		base[i] = byte(rng.Uint32())
	}
	c.upload("put/app", base)
	round := 0
	measure := func() latency {
		var times []time.Duration
		for r := range putWarmup + putRounds {
			round++
			cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"round":%d}`, round))
			own := make([]byte, gcBlobSize)
			for j := range own {
				own[j] = byte(rng.Uint32())
			}
			c.upload("put/app", cfg)
			c.upload("put/app", own)
			m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`,
				digest.FromBytes(cfg), len(cfg), digest.FromBytes(base), len(base), digest.FromBytes(own), len(own))
			start := time.Now()
			st, b := c.do("PUT", fmt.Sprintf("/v2/put/app/manifests/r%d", round), []byte(m), "application/vnd.oci.image.manifest.v1+json")
			took := time.Since(start)
			if st != http.StatusCreated {
				t.Fatalf("manifest PUT as developer: %d %s", st, b)
			}
			if r >= putWarmup {
				times = append(times, took)
			}
		}
		sort.Slice(times, func(a, b int) bool { return times[a] < times[b] })
		return latency{p50: times[len(times)/2], p95: times[len(times)*95/100]}
	}
	for i, n := range []int{putSmall, putLarge} {
		// Grow the project to n referenced blobs.
		more := insertBlobs(t, client, digests[len(ids):n], time.Now().Add(-24*time.Hour), repo.ID)
		ids = append(ids, more...)
		arts := (n - seeded) / 100
		insertArtifacts(t, client, repo.ID, seeded/100, arts, func(k int) []int { return ids[k*100 : k*100+100] })
		seeded = n
		recount(t, s)
		if got := client.ArtifactBlob.Query().CountX(ctx); got < n {
			t.Fatalf("%d references in the project, want at least %d", got, n)
		}
		if i == 1 && kind == database.Postgres {
			// Right after the bulk growth, before the tables were ever
			// analysed (a new database that just imported a big
			// project): what pushes meet until autovacuum runs.
			f.putStale = measure()
			analyze(t, s, kind)
		}
		f.put[i] = measure()
	}
	if ratio := f.put[1].p50.Seconds() / f.put[0].p50.Seconds(); ratio > putGrowthLimit {
		t.Errorf("manifest PUT p50 on %s grew %.2fx from %d to %d blobs in the project (%v -> %v)",
			kind, ratio, putSmall, putLarge, f.put[0].p50, f.put[1].p50)
	}
	if f.putStale.p50 > 0 {
		t.Logf("manifest PUT p50 on %s before ANALYZE with %d blobs: %v (%.2fx the p50 at %d)", kind, putLarge,
			f.putStale.p50, f.putStale.p50.Seconds()/f.put[0].p50.Seconds(), putSmall)
	}
}

// recount sets the projects' usage after seeding, which bypasses the
// write path, as an operator would after an import (recalculateUsage).
func recount(t *testing.T, s *servertest.Server) {
	t.Helper()
	if _, err := s.Berth.Artifacts().RecalculateUsage(viewer.SystemContext(context.Background()), ""); err != nil {
		t.Fatal(err)
	}
}

// analyze refreshes PostgreSQL's planner statistics after bulk seeding,
// as autovacuum would on a live database within minutes. (berth never
// runs ANALYZE on SQLite, so neither does the benchmark.)
func analyze(t *testing.T, s *servertest.Server, kind string) {
	t.Helper()
	if kind != database.Postgres {
		return
	}
	if _, err := s.Berth.DB().SQL().Exec("ANALYZE"); err != nil {
		t.Fatalf("ANALYZE: %v", err)
	}
}

// benchDistributionGC times CNCF Distribution's offline garbage-collect on
// the same 100,000 blobs (none linked from any repository's manifests).
func benchDistributionGC(t *testing.T) time.Duration {
	bin := filepath.Join(repoRoot(), ".tools", "bin", "registry")
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("CNCF Distribution not installed at %s (scripts/install-test-tools.sh)", bin)
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "data")
	v2root := filepath.Join(root, "docker", "registry", "v2")
	if err := os.MkdirAll(filepath.Join(v2root, "repositories"), 0o755); err != nil {
		t.Fatal(err)
	}
	genBlobs(t, 1, gcSweepBlobs, func(h string) string {
		return filepath.Join(v2root, "blobs", "sha256", h[:2], h, "data")
	})
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n", root)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, err := exec.Command(bin, "garbage-collect", "--quiet", cfgPath).CombinedOutput()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("registry garbage-collect: %v\n%s", err, out)
	}
	t.Logf("registry garbage-collect of %d blobs took %v", gcSweepBlobs, took)
	left := 0
	filepath.WalkDir(filepath.Join(v2root, "blobs"), func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "data" {
			left++
		}
		return nil
	})
	if left != 0 {
		t.Errorf("distribution left %d of %d blobs", left, gcSweepBlobs)
	}
	return took
}
