package main_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/testtool"
)

const gcAdminPassword = "gc-admin-pass"

// The garbage a run has to get through. Orphan files (bytes in the store
// with no row) are swept one transaction each, which is what makes the run
// last long enough to be killed in the middle; the pushed blobs without a
// manifest and the images deleted by digest are swept in batches first.
const (
	gcOrphanFiles   = 2000
	gcLooseBlobs    = 100
	gcDeletedImages = 8
)

// TestGCKilledMidRunLosesNoReferencedBlob kills `berth gc` with SIGKILL in
// the middle of a run while `berth serve` goes on, checks that every image
// still pulls completely, runs `berth gc` again at once (the lease of the
// dead process is taken over, not waited out), and checks that the killed
// run is recorded as interrupted and that the store then holds exactly the
// blobs the images reference.
func TestGCKilledMidRunLosesNoReferencedBlob(t *testing.T) {
	bin := buildBerth(t)
	crane := gcCrane(t)
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			began := time.Now()
			last := began
			step := func(what string) {
				t.Logf("%s: %s in %s", kind, what, time.Since(last).Round(time.Millisecond))
				last = time.Now()
			}
			dataDir, dbURL := t.TempDir(), dbtest.URL(t, kind)
			srv := startServeNoGrace(t, bin, dataDir, dbURL)
			addr, base := srv.addr, srv.url
			if out := graphql(t, base, "admin", gcAdminPassword, `mutation { createProject(input: {name: "team-a"}) { id } }`); out["errors"] != nil {
				t.Fatalf("createProject: %v", out)
			}
			reg := &gcRegistry{t: t, base: base}
			step("started berth serve")

			// The images that must survive: one layer each of their own,
			// and one layer all of them share with the garbage below.
			shared := newGCLayer("shared", bytes.Repeat([]byte("layer shared by the kept images and the deleted ones\n"), 40))
			var kept []gcImage
			for i := range 5 {
				own := newGCLayer(fmt.Sprintf("kept-%d", i), bytes.Repeat(fmt.Appendf(nil, "layer of kept image %d\n", i), 200+i))
				kept = append(kept, reg.pushImage(fmt.Sprintf("team-a/app%d", i%2), fmt.Sprintf("v%d", i), own, shared))
			}
			want := map[string]int64{} // digest -> size of every blob the kept images reference
			for _, img := range kept {
				for d, n := range img.blobs {
					want[d] = n
				}
			}
			var wantBytes int64
			for _, n := range want {
				wantBytes += n
			}

			step("pushed the images to keep")

			// Garbage: images deleted by digest (their blobs, but the
			// shared layer, are referenced by nothing)...
			for i := range gcDeletedImages {
				own := newGCLayer(fmt.Sprintf("deleted-%d", i), fmt.Appendf(nil, "layer of deleted image %d", i))
				img := reg.pushImage("team-a/junk", fmt.Sprintf("d%d", i), own, shared)
				if st, _, body := reg.do(http.MethodDelete, "/v2/team-a/junk/manifests/"+img.digest, nil, nil); st != http.StatusAccepted {
					t.Fatalf("deleting %s: %d %s", img.digest, st, body)
				}
			}
			step("pushed and deleted images")
			// ...blobs pushed without a manifest...
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := w; i < gcLooseBlobs; i += 4 {
						reg.pushBlob("team-a/loose", fmt.Appendf(nil, "loose blob %d no manifest references", i))
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}
			step("pushed loose blobs")
			// ...and files in the store that have no row at all.
			blobsDir := filepath.Join(dataDir, "storage", "blobs")
			orphans := make([]string, gcOrphanFiles)
			for w := range 4 {
				wg.Go(func() {
					for i := w; i < len(orphans); i += 4 {
						content := fmt.Appendf(nil, "orphan file %d of the store, no row\n", i)
						hex := fmt.Sprintf("%x", sha256.Sum256(content))
						dir := filepath.Join(blobsDir, "sha256", hex[:2], hex)
						orphans[i] = filepath.Join(dir, "data")
						if err := os.MkdirAll(dir, 0o755); err != nil {
							t.Error(err)
							return
						}
						if err := os.WriteFile(orphans[i], content, 0o644); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}
			if n, _ := gcStoreBytes(t, blobsDir); n <= wantBytes {
				t.Fatalf("the store holds %d bytes before collecting, want more than the %d the images reference", n, wantBytes)
			}
			step("wrote orphan files")

			// A run, killed in the middle: once it is recorded as running
			// and has deleted some of the orphans but not all.
			gcStart := time.Now()
			killed := exec.Command(bin, gcArgs(dataDir, dbURL)...)
			killed.Env = gcEnv()
			killedOut := &testtool.SyncBuffer{}
			killed.Stdout, killed.Stderr = killedOut, killedOut
			if err := killed.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { killed.Process.Kill() }) // a no-op once it has been reaped
			exited := make(chan error, 1)
			go func() { exited <- killed.Wait() }()
			// Kill it once it has swept its first orphan file. The store is
			// walked in lexical order, so that is the lexically first path:
			// watching it alone every millisecond reacts long before the
			// sweep ends, however fast the machine (a check of every file
			// every 20 ms could come too late on a fast one).
			firstOrphan := slices.Min(orphans)
			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Millisecond) {
				select {
				case err := <-exited:
					t.Fatalf("berth gc finished (%v) before it could be killed in the middle of its run; more garbage is needed:\n%s", err, killedOut.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("berth gc did not get going:\n%s", killedOut.String())
				}
				if _, err := os.Stat(firstOrphan); err != nil {
					break
				}
			}
			if err := killed.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			err := <-exited // reaped: the pid names no process any more
			if st, ok := killed.ProcessState.Sys().(syscall.WaitStatus); !ok || !st.Signaled() {
				t.Fatalf("berth gc finished (%v) before it was killed; more garbage is needed:\n%s", err, killedOut.String())
			}
			gone := gcMissing(orphans)
			var runningID string
			for _, r := range gcRuns(t, base) {
				if r.Status == "RUNNING" {
					runningID = r.ID
				}
			}
			if runningID == "" {
				t.Fatalf("no run is recorded as running after the kill: %+v", gcRuns(t, base))
			}
			t.Logf("%s: killed the run %s after %s, %d of %d orphan files deleted", kind,
				runningID, time.Since(gcStart).Round(time.Millisecond), gone, len(orphans))
			if gone == len(orphans) {
				t.Fatalf("the killed run had already deleted every orphan file")
			}
			if r := gcRun(t, base, runningID); r.Status != "RUNNING" {
				t.Fatalf("the killed run is %s, want still RUNNING until the next run: %+v", r.Status, r)
			}

			for _, img := range kept {
				reg.pull(img)
			}
			gcCraneValidate(t, crane, addr, kept)

			// The next run starts at once and finishes.
			again := time.Now()
			cmd := exec.Command(bin, gcArgs(dataDir, dbURL)...)
			cmd.Env = gcEnv()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("berth gc after the killed run: %v\n%s", err, out)
			}
			t.Logf("%s: the next run took %s:\n%s", kind, time.Since(again).Round(time.Millisecond), out)
			if !bytes.Contains(out, []byte("SUCCEEDED")) {
				t.Fatalf("berth gc did not report success:\n%s", out)
			}
			if r := gcRun(t, base, runningID); r.Status != "FAILED" || !strings.Contains(r.Log, "interrupted") {
				t.Fatalf("the killed run is %s with log %q, want FAILED and interrupted", r.Status, r.Log)
			}
			runs := gcRuns(t, base)
			if len(runs) != 2 || runs[0].Status != "SUCCEEDED" || runs[0].DryRun {
				t.Fatalf("runs: %+v", runs)
			}
			if n := gcMissing(orphans); n != len(orphans) {
				t.Fatalf("%d of %d orphan files are left", len(orphans)-n, len(orphans))
			}

			for _, img := range kept {
				reg.pull(img)
			}
			gcCraneValidate(t, crane, addr, kept)
			onDisk, files := gcStoreBytes(t, blobsDir)
			if onDisk != wantBytes || len(files) != len(want) {
				var extra []string
				for d, n := range files {
					if _, ok := want[d]; !ok {
						extra = append(extra, fmt.Sprintf("%s (%d bytes)", d, n))
					}
				}
				t.Fatalf("the store holds %d files, %d bytes; the images reference %d blobs, %d bytes; not referenced: %v",
					len(files), onDisk, len(want), wantBytes, extra)
			}
			info := graphql(t, base, "admin", gcAdminPassword, `{ systemInfo { storedBytes storageBytesOnDisk } }`)
			data, _ := info["data"].(map[string]any)
			sys, _ := data["systemInfo"].(map[string]any)
			if sys == nil || fmt.Sprint(sys["storedBytes"]) != fmt.Sprint(wantBytes) {
				t.Fatalf("systemInfo: %v, want storedBytes %d", info, wantBytes)
			}
			if fmt.Sprint(sys["storageBytesOnDisk"]) != fmt.Sprint(wantBytes) {
				t.Errorf("systemInfo: storageBytesOnDisk %v, want %d", sys["storageBytesOnDisk"], wantBytes)
			}
			t.Logf("%s: %s in all", kind, time.Since(began).Round(time.Millisecond))
		})
	}
}

// startServeNoGrace runs `berth serve` with no garbage collection grace
// period, as startServeWith does.
func startServeNoGrace(t *testing.T, bin, dataDir, dbURL string) *berthServe {
	t.Helper()
	return startServeWith(t, bin, dataDir, dbURL, "--gc-grace-period", "0s")
}

// startServeWith runs `berth serve` with extra flags, as the admin with
// gcAdminPassword, and waits until it answers /healthz (startBerth). The
// test may kill it sooner; cleanup kills it anyway.
func startServeWith(t *testing.T, bin, dataDir, dbURL string, extra ...string) *berthServe {
	t.Helper()
	env := append(gcEnv(), "BERTH_ADMIN_PASSWORD="+gcAdminPassword)
	if strings.HasPrefix(dbURL, "postgres") {
		// Required there; on SQLite berth generates one into the data dir.
		env = append(env, "BERTH_SECRET_KEY="+dbtest.SecretKey)
	}
	return startBerth(t, bin, env, append([]string{"--data-dir", dataDir, "--database-url", dbURL, "--log-level", "warn"}, extra...)...)
}

func gcArgs(dataDir, dbURL string) []string {
	return []string{"gc", "--data-dir", dataDir, "--database-url", dbURL, "--gc-grace-period", "0s"}
}

// gcEnv is the environment without any BERTH_ setting of the caller's
// shell: the flags say everything.
func gcEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BERTH_") {
			env = append(env, kv)
		}
	}
	return env
}

type gcRunNode struct {
	ID           string
	Status       string
	DryRun       bool
	BlobsDeleted int
	BytesFreed   int64
	Log          string
}

// gcRuns lists the garbage collection runs, newest first.
func gcRuns(t *testing.T, base string) []gcRunNode {
	t.Helper()
	out := graphql(t, base, "admin", gcAdminPassword,
		`{ garbageCollections(first: 10) { edges { node { id status dryRun blobsDeleted bytesFreed log } } } }`)
	raw, _ := json.Marshal(out)
	var res struct {
		Data struct {
			GarbageCollections struct {
				Edges []struct{ Node gcRunNode }
			}
		}
		Errors any
	}
	if err := json.Unmarshal(raw, &res); err != nil || res.Errors != nil {
		t.Fatalf("garbageCollections: %v %s", err, raw)
	}
	var runs []gcRunNode
	for _, e := range res.Data.GarbageCollections.Edges {
		runs = append(runs, e.Node)
	}
	return runs
}

func gcRun(t *testing.T, base, id string) gcRunNode {
	t.Helper()
	for _, r := range gcRuns(t, base) {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no garbage collection run %s", id)
	return gcRunNode{}
}

// gcMissing counts the files of paths that no longer exist.
func gcMissing(paths []string) int {
	n := 0
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			n++
		}
	}
	return n
}

// gcStoreBytes sums the sizes of the files under the store's blobs
// directory, and returns them by digest.
func gcStoreBytes(t *testing.T, blobsDir string) (int64, map[string]int64) {
	t.Helper()
	var total int64
	files := map[string]int64{}
	err := filepath.WalkDir(blobsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		rel, _ := filepath.Rel(blobsDir, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) == 4 && parts[3] == "data" {
			files[parts[0]+":"+parts[2]] = info.Size()
		} else {
			files[rel] = info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total, files
}

// gcRegistry talks to /v2/ as the admin.
type gcRegistry struct {
	t    *testing.T
	base string
}

func (c *gcRegistry) do(method, path string, body []byte, header map[string]string) (int, http.Header, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Errorf("%s %s: %v", method, path, err)
		return 0, nil, nil
	}
	req.SetBasicAuth("admin", gcAdminPassword)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Errorf("%s %s: %v", method, path, err) // not Fatal: pushBlob runs on several goroutines
		return 0, nil, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Errorf("%s %s: reading the body: %v", method, path, err)
		return 0, nil, nil
	}
	return resp.StatusCode, resp.Header, b
}

func gcDigest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// pushBlob uploads b to repo in one request and returns its digest.
func (c *gcRegistry) pushBlob(repo string, b []byte) string {
	c.t.Helper()
	d := gcDigest(b)
	st, _, body := c.do(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+d, b,
		map[string]string{"Content-Type": "application/octet-stream"})
	if st != http.StatusCreated {
		c.t.Errorf("pushing blob %s to %s: %d %s", d, repo, st, body)
	}
	return d
}

// gcImage is a pushed image.
type gcImage struct {
	repo, tag, digest string
	blobs             map[string]int64 // config and layers
}

type gcDescriptor struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
}

type gcManifest struct {
	SchemaVersion int            `json:"schemaVersion"`
	MediaType     string         `json:"mediaType"`
	Config        gcDescriptor   `json:"config"`
	Layers        []gcDescriptor `json:"layers"`
}

const gcManifestType = "application/vnd.oci.image.manifest.v1+json"

// gcLayer is a gzipped layer holding one file, and its diff ID.
type gcLayer struct {
	gz     []byte
	diffID string
}

func newGCLayer(name string, content []byte) gcLayer {
	var tb, gb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(1700000000, 0)})
	tw.Write(content)
	tw.Close()
	zw := gzip.NewWriter(&gb)
	zw.Write(tb.Bytes())
	zw.Close()
	return gcLayer{gb.Bytes(), gcDigest(tb.Bytes())}
}

// pushImage pushes an image of layers as repo:tag, with a config that
// lists their diff IDs.
func (c *gcRegistry) pushImage(repo, tag string, layers ...gcLayer) gcImage {
	c.t.Helper()
	img := gcImage{repo: repo, tag: tag, blobs: map[string]int64{}}
	diffIDs := make([]string, len(layers))
	for i, l := range layers {
		diffIDs[i] = l.diffID
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Labels": map[string]string{"image": repo + ":" + tag}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	m := gcManifest{SchemaVersion: 2, MediaType: gcManifestType,
		Config: gcDescriptor{"application/vnd.oci.image.config.v1+json", c.pushBlob(repo, cfg), int64(len(cfg))}}
	img.blobs[m.Config.Digest] = m.Config.Size
	for _, l := range layers {
		d := gcDescriptor{"application/vnd.oci.image.layer.v1.tar+gzip", c.pushBlob(repo, l.gz), int64(len(l.gz))}
		m.Layers = append(m.Layers, d)
		img.blobs[d.Digest] = d.Size
	}
	raw, _ := json.Marshal(m)
	st, _, body := c.do(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, raw, map[string]string{"Content-Type": gcManifestType})
	if st != http.StatusCreated {
		c.t.Fatalf("pushing %s:%s: %d %s", repo, tag, st, body)
	}
	img.digest = gcDigest(raw)
	return img
}

// pull pulls img completely, by tag and by digest, and checks every digest.
func (c *gcRegistry) pull(img gcImage) {
	c.t.Helper()
	for _, ref := range []string{img.tag, img.digest} {
		st, h, raw := c.do(http.MethodGet, "/v2/"+img.repo+"/manifests/"+ref, nil, map[string]string{"Accept": gcManifestType})
		if st != http.StatusOK {
			c.t.Fatalf("pulling the manifest %s:%s: %d %s", img.repo, ref, st, raw)
		}
		if got := gcDigest(raw); got != img.digest || h.Get("Docker-Content-Digest") != img.digest {
			c.t.Fatalf("manifest %s:%s has digest %s (header %s), want %s", img.repo, ref, got, h.Get("Docker-Content-Digest"), img.digest)
		}
		var m gcManifest
		if err := json.Unmarshal(raw, &m); err != nil {
			c.t.Fatal(err)
		}
		for _, d := range append([]gcDescriptor{m.Config}, m.Layers...) {
			st, _, b := c.do(http.MethodGet, "/v2/"+img.repo+"/blobs/"+d.Digest, nil, nil)
			if st != http.StatusOK {
				c.t.Fatalf("pulling blob %s of %s:%s: %d %s", d.Digest, img.repo, img.tag, st, b)
			}
			if got := gcDigest(b); got != d.Digest || int64(len(b)) != d.Size {
				c.t.Fatalf("blob %s of %s:%s reads back as %d bytes with digest %s", d.Digest, img.repo, img.tag, len(b), got)
			}
		}
	}
}

// gcCrane returns crane from .tools/bin or PATH, or "" when it is not
// installed (a failure when BERTH_TEST_REQUIRE_SERVICES=1).
func gcCrane(t *testing.T) string {
	t.Helper()
	return testtool.Path(t, "crane")
}

// gcCraneValidate has crane validate every image, layers included.
func gcCraneValidate(t *testing.T, crane, host string, imgs []gcImage) {
	t.Helper()
	if crane == "" {
		return
	}
	home := t.TempDir()
	env := append(gcEnv(), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"))
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(crane, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("crane %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("auth", "login", host, "-u", "admin", "-p", gcAdminPassword)
	for _, img := range imgs {
		run("validate", "--insecure", "--remote", host+"/"+img.repo+":"+img.tag)
		run("validate", "--insecure", "--remote", host+"/"+img.repo+"@"+img.digest)
	}
}

// TestGCKilledWhileDeletingBlobsServesNoMissingBlob kills `berth gc` right
// after it removed the first bytes of unreferenced blobs, before it could
// commit: no blob whose bytes are gone may still be served (HEAD 200 would
// let a client skip its upload and push a manifest nothing can pull), a
// manifest referencing one is refused, and pushing the blob again repairs
// it.
func TestGCKilledWhileDeletingBlobsServesNoMissingBlob(t *testing.T) {
	bin := buildBerth(t)
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			dataDir, dbURL := t.TempDir(), dbtest.URL(t, kind)
			base := startServeNoGrace(t, bin, dataDir, dbURL).url
			graphql(t, base, "admin", gcAdminPassword, `mutation { createProject(input: {name: "team-a"}) { id } }`)
			reg := &gcRegistry{t: t, base: base}
			const n = 600
			loose := make([][]byte, n)
			paths := make([]string, n)
			for i := range loose {
				loose[i] = fmt.Appendf(nil, "loose blob %d no manifest references", i)
				hex := fmt.Sprintf("%x", sha256.Sum256(loose[i]))
				paths[i] = filepath.Join(dataDir, "storage", "blobs", "sha256", hex[:2], hex, "data")
			}
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := w; i < n; i += 4 {
						reg.pushBlob("team-a/loose", loose[i])
					}
				})
			}
			wg.Wait()

			cmd := exec.Command(bin, append(gcArgs(dataDir, dbURL), "--gc-workers", "1")...)
			cmd.Env = gcEnv()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(60 * time.Second); gcMissing(paths) == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatal("gc removed no blob within a minute")
				}
			}
			cmd.Process.Kill()
			cmd.Wait()

			missing := -1
			for i, b := range loose {
				st, _, _ := reg.do(http.MethodHead, "/v2/team-a/loose/blobs/"+gcDigest(b), nil, nil)
				_, err := os.Stat(paths[i])
				if st == http.StatusOK && err != nil {
					t.Fatalf("blob %d answers HEAD 200 but its bytes are gone", i)
				}
				if err != nil && missing < 0 {
					missing = i
				}
			}
			t.Logf("killed with %d of %d blobs' bytes removed", gcMissing(paths), n)
			layer := loose[missing]
			cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
			reg.pushBlob("team-a/loose", cfg)
			raw, _ := json.Marshal(gcManifest{SchemaVersion: 2, MediaType: gcManifestType,
				Config: gcDescriptor{"application/vnd.oci.image.config.v1+json", gcDigest(cfg), int64(len(cfg))},
				Layers: []gcDescriptor{{"application/vnd.oci.image.layer.v1.tar", gcDigest(layer), int64(len(layer))}}})
			if st, _, body := reg.do(http.MethodPut, "/v2/team-a/loose/manifests/v1", raw, map[string]string{"Content-Type": gcManifestType}); st != http.StatusBadRequest || !strings.Contains(string(body), "MANIFEST_BLOB_UNKNOWN") {
				t.Fatalf("a manifest referencing a collected blob: %d %s", st, body)
			}
			reg.pushBlob("team-a/loose", layer)
			if st, _, body := reg.do(http.MethodPut, "/v2/team-a/loose/manifests/v1", raw, map[string]string{"Content-Type": gcManifestType}); st != http.StatusCreated {
				t.Fatalf("the manifest after pushing its blob again: %d %s", st, body)
			}
			if out, err := exec.Command(bin, gcArgs(dataDir, dbURL)...).CombinedOutput(); err != nil {
				t.Fatalf("gc again: %v\n%s", err, out)
			}
			for _, b := range [][]byte{layer, cfg} {
				st, _, body := reg.do(http.MethodGet, "/v2/team-a/loose/blobs/"+gcDigest(b), nil, nil)
				if st != http.StatusOK || !bytes.Equal(body, b) {
					t.Fatalf("a blob of the pushed image after the next run: %d", st)
				}
			}
			if left := n - gcMissing(paths); left != 1 {
				t.Fatalf("%d loose blobs left after a full run, want only the one pushed again", left)
			}
		})
	}
}
