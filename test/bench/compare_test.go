//go:build bench

package bench

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/database"
)

// defaultRounds is how often every figure is measured on every registry;
// BERTH_BENCH_ROUNDS overrides it (1 or 2 for a quick look while working).
const defaultRounds = 5

const (
	getConns = 16
	getFor   = 3 * time.Second
	// dockerAccept is what docker sends when it pulls a manifest.
	dockerAccept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " +
		"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"
	bigRepo     = benchProject + "/big"
	bigScope    = "repository:" + bigRepo + ":pull"
	zbPullTag10 = "tag10485760"
	zbPullTag   = "tag104857600"
)

// row is one line of the comparison table.
type row struct {
	key, label string
	lower      bool // lower is better (memory, CPU)
}

var rows = []row{
	{key: "push", label: "256 MiB push, crane from an OCI layout (MB/s)"},
	{key: "push-cpu", label: "server CPU per 256 MiB push, PostgreSQL's included (ms)", lower: true},
	{key: "push-client-cpu", label: "crane's CPU per 256 MiB push (ms)", lower: true},
	{key: "push-warm", label: "256 MiB push, crane, right after 1 GiB of touched memory was freed (MB/s)"},
	{key: "push-warm-cpu", label: "server CPU per 256 MiB push after memory was freed (ms)", lower: true},
	{key: "push-warm-client-cpu", label: "crane's CPU per 256 MiB push after memory was freed (ms)", lower: true},
	{key: "pull", label: "256 MiB pull, crane --format oci (MB/s)"},
	{key: "pull-cpu", label: "server CPU per 256 MiB pull, PostgreSQL's included (ms)", lower: true},
	{key: "pull-client-cpu", label: "crane's CPU per 256 MiB pull (ms)", lower: true},
	{key: "get-anon", label: "256 MiB blob GET, Go client, anonymous (MB/s)"},
	{key: "get-bearer", label: "256 MiB blob GET, Go client, Bearer token (MB/s)"},
	{key: "get-cpu", label: "server CPU per GiB sent, anonymous blob GET (ms)", lower: true},
	{key: "man-anon", label: fmt.Sprintf("manifest GET, %d connections, anonymous (req/s)", getConns)},
	{key: "man-bearer", label: fmt.Sprintf("manifest GET, %d connections, Bearer token (req/s)", getConns)},
	{key: "man-cpu", label: "server CPU per manifest GET, Bearer, PostgreSQL's included (µs)", lower: true},
	{key: "zb-mono", label: fmt.Sprintf("zb push 10 MB monolithic, %d clients (req/s)", zbClients)},
	{key: "zb-chunk", label: fmt.Sprintf("zb push 10 MB chunked, %d clients (req/s)", zbClients)},
	{key: "zb-pull10", label: fmt.Sprintf("zb pull 10 MB, %d clients (req/s)", zbClients)},
	{key: "zb-pull", label: fmt.Sprintf("zb pull 100 MB, %d clients (req/s)", zbClients)},
	{key: "rss-start", label: "RSS after start, before any request (MiB, once)", lower: true},
	{key: "rss-idle", label: "RSS idle after the set-up and a GC of nothing (MiB, once)", lower: true},
	{key: "rss-push", label: "RSS peak during the 256 MiB push (MiB)", lower: true},
}

// sendfileRows compare berth copying blobs (its choice for clients on
// its own host) and sending them with sendfile.
var sendfileRows = rowsOf("pull", "pull-cpu", "pull-client-cpu", "get-anon", "get-bearer", "get-cpu", "zb-pull10", "zb-pull")

func rowsOf(keys ...string) []row {
	var out []row
	for _, k := range keys {
		for _, r := range rows {
			if r.key == k {
				out = append(out, r)
			}
		}
	}
	return out
}

// round is what one round measures with: a new image of one random
// 256 MiB layer in an OCI layout, pushed under a new tag, and a second
// such image, pushed after memory was freed (warm).
type round struct {
	i      int
	layout string
	layer  digest.Digest
	tag    string
	warm   string // the second image's layout
}

// step measures one or more figures on one registry in one round.
type step struct {
	name string
	run  func(reg *registry, rd *round, record func(key string, v float64)) error
}

// TestBenchmarkAgainstDistribution compares berth on SQLite and on
// PostgreSQL with CNCF Distribution on the hot paths of a registry, as
// users meet them: crane pushing and pulling a 256 MiB image, blobs and
// manifests fetched anonymously from a public project and with a Bearer
// token as docker fetches them, zot's zb mix, and the servers' memory.
// Every registry runs as its own process on loopback. Rounds are
// interleaved: in each round every figure is measured on every registry
// before the next figure (the registries take turns going first), and the
// table shows medians, each with its ratio to Distribution from the same
// run.
func TestBenchmarkAgainstDistribution(t *testing.T) {
	n := benchRounds(t)
	crane := filepath.Join(repoRoot(), ".tools", "bin", "crane")
	if _, err := os.Stat(crane); err != nil {
		t.Skipf("crane not installed at %s (make tools)", crane)
	}
	started := time.Now()
	bin := releaseBinary(t)
	regs := []*registry{startDistribution(t), startBerth(t, bin, database.SQLite), startBerth(t, bin, database.Postgres)}
	// berth copies blobs to clients on its own host, as every client is
	// here, and uses sendfile for the others (--storage-sendfile=auto).
	// A fourth registry with sendfile for every client
	// (--storage-sendfile=true) pulls too, to show what sendfile does to
	// pulls on loopback (it is pushed to as well, for something to pull,
	// but only pulls are reported).
	sending := startBerth(t, bin, database.SQLite, "BERTH_STORAGE_SENDFILE=true")
	sending.name, sending.only = "berth SQLite, sendfile", map[string]bool{"crane push": true, "crane pull": true, "blob GET": true, "zb pull 10 MB": true, "zb pull 100 MB": true}
	regs = append(regs, sending)
	res := results{}
	time.Sleep(2 * time.Second) // let the set-up's work settle before calling the servers idle
	for _, reg := range regs {
		res.add("rss-start", reg, reg.startRSS)
		v, err := reg.proc.statusMiB("VmRSS")
		if err != nil {
			t.Fatal(err)
		}
		res.add("rss-idle", reg, v)
		anon, _ := reg.proc.statusMiB("RssAnon")
		file, _ := reg.proc.statusMiB("RssFile")
		t.Logf("%s idle: VmRSS %.1f MiB = RssAnon %.1f + RssFile %.1f (+ shmem)", reg.name, v, anon, file)
	}

	craneEnv := "DOCKER_CONFIG=" + dockerConfig(t, regs)
	zb10, zb100 := newZBBlob(t, 10<<20), newZBBlob(t, 100<<20)
	content10, err := os.ReadFile(zb10.path)
	if err != nil {
		t.Fatal(err)
	}
	content100, err := os.ReadFile(zb100.path)
	if err != nil {
		t.Fatal(err)
	}
	// zb pulls images each of its clients pushed before it starts the clock.
	for _, reg := range regs {
		if reg.only != nil && !reg.only["zb pull 10 MB"] {
			continue
		}
		for c := range zbClients {
			zc := newZBClient(reg)
			if err := zc.pushMonolith(fmt.Sprintf("%s/zb/pull-%d", benchProject, c), zbPullTag10, zb10, content10); err != nil {
				t.Fatalf("%s: %v", reg.name, err)
			}
			if err := zc.pushMonolith(fmt.Sprintf("%s/zb/pull-%d", benchProject, c), zbPullTag, zb100, content100); err != nil {
				t.Fatalf("%s: %v", reg.name, err)
			}
			zc.close()
		}
	}

	steps := []step{
		{"crane push", func(reg *registry, rd *round, record func(string, float64)) error {
			push := func(layout, tag, key string) error {
				return measureCrane(reg, record, key, crane, craneEnv, "push", "--insecure", layout, reg.host+"/"+bigRepo+":"+tag)
			}
			// Memory freed by what ran just before (the last registry's
			// warm push, crane exiting) goes back to the host first.
			time.Sleep(reclaimDelay)
			peak, err := reg.proc.peakDuring(func() error { return push(rd.layout, rd.tag, "push") })
			if err != nil {
				return err
			}
			record("rss-push", peak)

			settleDisk()
			if err := freeTouchedMemory(warmBytes); err != nil {
				return err
			}
			return push(rd.warm, rd.tag+"-warm", "push-warm")
		}},
		{"crane pull", func(reg *registry, rd *round, record func(string, float64)) error {
			dir, err := os.MkdirTemp(scratchDir(), "pull")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			// Every pull writes into memory freed just before, as all but
			// a round's first did anyway (the pull before them removed its
			// image); otherwise whichever registry goes first in a round
			// pulls into memory the host took back, and pulls slower.
			if err := freeTouchedMemory(warmBytes); err != nil {
				return err
			}
			return measureCrane(reg, record, "pull", crane, craneEnv, "pull", "--insecure", "--format", "oci", reg.host+"/"+bigRepo+":"+rd.tag, filepath.Join(dir, "layout"))
		}},
		{"blob GET", func(reg *registry, rd *round, record func(string, float64)) error {
			u := reg.base + "/v2/" + bigRepo + "/blobs/" + rd.layer.String()
			tok, err := reg.token(bigScope)
			if err != nil {
				return err
			}
			anonymous := func() error {
				cpu, err := reg.cpuSample()
				if err != nil {
					return err
				}
				v, err := blobGet(u, "")
				if err != nil {
					return err
				}
				used, err := reg.cpuSince(cpu)
				if err != nil {
					return err
				}
				record("get-anon", v)
				record("get-cpu", float64(used.Microseconds())/1000/(layerSize/float64(1<<30)))
				return nil
			}
			bearer := func() error {
				v, err := blobGet(u, tok)
				if err != nil {
					return err
				}
				record("get-bearer", v)
				return nil
			}
			// The two take turns going first: on every registry the
			// second GET of a pair ran faster (Distribution's, both
			// anonymous, by a fifth), which would otherwise favour the
			// Bearer row.
			first, second := anonymous, bearer
			if rd.i%2 == 1 {
				first, second = bearer, anonymous
			}
			if err := first(); err != nil {
				return err
			}
			return second()
		}},
		{"manifest GET", func(reg *registry, rd *round, record func(string, float64)) error {
			u := reg.base + "/v2/" + bigRepo + "/manifests/" + rd.tag
			v, _, err := manifestLoad(u, "")
			if err != nil {
				return err
			}
			record("man-anon", v)
			tok, err := reg.token(bigScope)
			if err != nil {
				return err
			}
			cpu, err := reg.cpuSample()
			if err != nil {
				return err
			}
			v, count, err := manifestLoad(u, tok)
			if err != nil {
				return err
			}
			used, err := reg.cpuSince(cpu)
			if err != nil {
				return err
			}
			record("man-bearer", v)
			record("man-cpu", float64(used.Microseconds())/float64(count))
			return nil
		}},
		{"zb push monolithic", func(reg *registry, rd *round, record func(string, float64)) error {
			v, err := zbRun(reg, zbPushes, func(c *zbClient, client, i int) error {
				return c.pushMonolith(fmt.Sprintf("%s/zb/mono-%d-%d-%d", benchProject, rd.i, client, i), "tag"+strconv.Itoa(i), zb10, content10)
			})
			if err != nil {
				return err
			}
			record("zb-mono", v)
			return nil
		}},
		{"zb push chunked", func(reg *registry, rd *round, record func(string, float64)) error {
			v, err := zbRun(reg, zbPushes, func(c *zbClient, client, i int) error {
				return c.pushChunked(fmt.Sprintf("%s/zb/chunk-%d-%d-%d", benchProject, rd.i, client, i), "tag"+strconv.Itoa(i), zb10, content10)
			})
			if err != nil {
				return err
			}
			record("zb-chunk", v)
			return nil
		}},
		{"zb pull 10 MB", func(reg *registry, rd *round, record func(string, float64)) error {
			v, err := zbRun(reg, zbPulls10, func(c *zbClient, client, _ int) error {
				return c.pull(fmt.Sprintf("%s/zb/pull-%d", benchProject, client), zbPullTag10, zb10)
			})
			if err != nil {
				return err
			}
			record("zb-pull10", v)
			return nil
		}},
		{"zb pull 100 MB", func(reg *registry, rd *round, record func(string, float64)) error {
			v, err := zbRun(reg, zbPulls, func(c *zbClient, client, _ int) error {
				return c.pull(fmt.Sprintf("%s/zb/pull-%d", benchProject, client), zbPullTag, zb100)
			})
			if err != nil {
				return err
			}
			record("zb-pull", v)
			return nil
		}},
	}

	only := benchSteps(t)
	for i := range n {
		rd := newRound(t, i)
		for _, s := range steps {
			// The round's push is what the pulls and GETs fetch: it runs
			// whether chosen or not, and is recorded only when chosen.
			chosen := only.MatchString(s.name)
			if !chosen && s.name != "crane push" {
				continue
			}
			for k := range regs {
				reg := regs[(k+i)%len(regs)]
				if reg.only != nil && !reg.only[s.name] {
					continue
				}
				record := func(key string, v float64) {
					if chosen {
						res.add(key, reg, v)
					}
				}
				// What the steps before wrote and left for the kernel to
				// write back (Distribution does not sync what it stores;
				// berth syncs as it commits) is written now, not during
				// this registry's measurement.
				settleDisk()
				if err := s.run(reg, rd, record); err != nil {
					t.Errorf("round %d, %s on %s: %v", i+1, s.name, reg.name, err)
				}
			}
		}
		os.RemoveAll(rd.layout)
		os.RemoveAll(rd.warm)
		t.Logf("round %d of %d done after %v", i+1, n, time.Since(started).Round(time.Second))
	}
	for _, row := range rows {
		for _, reg := range regs {
			t.Logf("%-10s %-16s %.1f", row.key, reg.name, res[row.key][reg])
		}
	}
	for _, reg := range regs {
		if reg.user != "" { // berth: where its requests spent their time
			t.Logf("%s, mean time per request over the run:\n%s", reg.name, requestTimes(reg))
		}
	}
	table := res.table(regs[:3], rows, n) + "\nPulls copied (berth's choice on loopback) and with sendfile:\n" + res.table([]*registry{regs[0], regs[1], sending}, sendfileRows, n) +
		"\nWhat a 256 MiB push can reach here, measured after the registries:\n" + machineCeilings(t, t.TempDir())
	t.Log(table)
	fmt.Print(table)
}

// benchRounds reads BERTH_BENCH_ROUNDS.
func benchRounds(t *testing.T) int {
	s := os.Getenv("BERTH_BENCH_ROUNDS")
	if s == "" {
		return defaultRounds
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("BERTH_BENCH_ROUNDS=%q: want a number of rounds, 1 or more", s)
	}
	return n
}

// benchSteps reads BERTH_BENCH_STEPS, a regular expression choosing the
// steps to measure by name ("blob GET|zb pull"); all of them by default.
// Every round pushes its image all the same, for the pulls to fetch.
func benchSteps(t *testing.T) *regexp.Regexp {
	re, err := regexp.Compile(os.Getenv("BERTH_BENCH_STEPS"))
	if err != nil {
		t.Fatalf("BERTH_BENCH_STEPS: %v", err)
	}
	return re
}

// newRound writes round i's image: an OCI layout holding one image of a
// random 256 MiB layer, as `crane push <dir>` takes it. Every round's
// layer is new, so no registry finds it already stored.
func newRound(t *testing.T, i int) *round {
	rd := &round{i: i, layout: t.TempDir(), warm: t.TempDir(), tag: fmt.Sprintf("r%d", i)}
	rd.layer = writeLayout(t, rd.layout, i)
	writeLayout(t, rd.warm, i)
	return rd
}

// writeLayout writes an OCI layout of one image with a new random 256 MiB
// layer into dir and returns the layer's digest.
func writeLayout(t *testing.T, dir string, i int) digest.Digest {
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "layer")
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(time.Now().UnixNano()))
	binary.LittleEndian.PutUint64(seed[8:], uint64(i))
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.NewChaCha8(seed), layerSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	layer := digest.NewDigest(digest.SHA256, h)
	if err := os.Rename(tmp, filepath.Join(blobs, layer.Encoded())); err != nil {
		t.Fatal(err)
	}
	write := func(b []byte) (digest.Digest, int) {
		d := digest.FromBytes(b)
		if err := os.WriteFile(filepath.Join(blobs, d.Encoded()), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return d, len(b)
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []digest.Digest{layer}}})
	cd, cn := write(cfg)
	m, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": layerSize}}})
	md, mn := write(m)
	index, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
		"manifests": []any{map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": mn}}})
	if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return layer
}

// measureCrane runs crane on the 256 MiB image with args and records its
// rate under key, and the registry's CPU time and crane's under key-cpu
// and key-client-cpu.
func measureCrane(reg *registry, record func(string, float64), key, bin, env string, args ...string) error {
	server, err := reg.cpuSample()
	if err != nil {
		return err
	}
	took, client, err := runCrane(bin, env, args...)
	if err != nil {
		return err
	}
	used, err := reg.cpuSince(server)
	if err != nil {
		return err
	}
	record(key, layerSize/1e6/took.Seconds())
	record(key+"-cpu", float64(used.Milliseconds()))
	record(key+"-client-cpu", float64(client.Milliseconds()))
	return nil
}

// runCrane runs crane and returns how long it took and the CPU time it
// used.
func runCrane(bin, env string, args ...string) (took, cpu time.Duration, err error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	took = time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("crane %s: %v\n%s", strings.Join(args, " "), err, out.Bytes())
	}
	return took, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// settleDisk writes back what earlier measurements left in the page
// cache, so that a push does not pay for the one before it: berth syncs
// each blob it stores, and would otherwise wait behind the writeback of
// whatever a registry that does not sync left dirty.
func settleDisk() { syscall.Sync() }

// scratchDir is where pulled images go: memory if the machine has
// /dev/shm, so that writing them back to disk does not disturb the next
// measurement.
func scratchDir() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

// drain reads r to its end through a 128 KiB buffer, keeping nothing.
func drain(r io.Reader) (int64, error) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	var n int64
	for {
		k, err := r.Read(*bp)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// plainTransport asks for no compression, as curl and wrk do not.
func plainTransport() *http.Transport {
	return &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 1}
}

// blobGet GETs one 256 MiB blob, with a Bearer token unless tok is "",
// and returns MB/s.
func blobGet(u, tok string) (float64, error) {
	tr := plainTransport()
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", u, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	start := time.Now()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("GET %s: %d: %s", u, resp.StatusCode, b)
	}
	n, err := drain(resp.Body)
	took := time.Since(start)
	if err != nil || n != layerSize {
		return 0, fmt.Errorf("GET %s: %d bytes: %v", u, n, err)
	}
	return float64(n) / 1e6 / took.Seconds(), nil
}

// manifestLoad GETs u as docker does (its Accept header, a Bearer token
// unless tok is "") from getConns clients for getFor, and returns
// requests per second and how many were answered. Like wrk, each client
// writes a prepared request on its own keep-alive connection and skips
// the body by its Content-Length: on two cores the client must cost far
// less than the servers it measures.
func manifestLoad(u, tok string) (float64, int64, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return 0, 0, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: berth-bench\r\nAccept: %s\r\n", pu.RequestURI(), pu.Host, dockerAccept)
	if tok != "" {
		fmt.Fprintf(&b, "Authorization: Bearer %s\r\n", tok)
	}
	b.WriteString("\r\n")
	req := b.Bytes()

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, err)
	}
	deadline := time.Now().Add(getFor)
	start := time.Now()
	var wg sync.WaitGroup
	for range getConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conn net.Conn
			var br *bufio.Reader
			defer func() {
				if conn != nil {
					conn.Close()
				}
			}()
			for time.Now().Before(deadline) {
				if conn == nil {
					c, err := net.Dial("tcp", pu.Host)
					if err != nil {
						fail(err)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					conn, br = c, bufio.NewReaderSize(c, 64<<10)
				}
				status, err := roundTrip(conn, br, req)
				if err != nil {
					fail(err)
					conn.Close()
					conn = nil
					continue
				}
				if status != http.StatusOK {
					fail(fmt.Errorf("GET %s: %d", u, status))
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if n := failed.Load(); n > 0 {
		return 0, 0, fmt.Errorf("%d manifest GETs failed, first: %v", n, firstErr.Load())
	}
	return float64(ok.Load()) / took.Seconds(), ok.Load(), nil
}

// roundTrip writes req and reads one response with a Content-Length body,
// returning its status.
func roundTrip(conn net.Conn, br *bufio.Reader, req []byte) (int, error) {
	if _, err := conn.Write(req); err != nil {
		return 0, err
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("not an HTTP status line: %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("status line %q: %v", line, err)
	}
	length := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		k, v, _ := bytes.Cut(line, []byte(":"))
		if bytes.EqualFold(k, []byte("Content-Length")) {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
				return 0, fmt.Errorf("Content-Length %q: %v", v, err)
			}
		}
	}
	if length < 0 {
		return 0, errors.New("response without Content-Length")
	}
	_, err = br.Discard(length)
	return status, err
}

// results holds every measurement of every figure on every registry.
type results map[string]map[*registry][]float64

func (r results) add(key string, reg *registry, v float64) {
	if r[key] == nil {
		r[key] = map[*registry][]float64{}
	}
	r[key][reg] = append(r[key][reg], v)
}

// measured reports whether any of regs has a value under key; a figure
// measured on some registries and not on another failed there.
func (r results) measured(key string, regs []*registry) bool {
	for _, reg := range regs {
		if len(r[key][reg]) > 0 {
			return true
		}
	}
	return false
}

// median is NaN where nothing was measured.
func (r results) median(key string, reg *registry) float64 {
	v := append([]float64(nil), r[key][reg]...)
	if len(v) == 0 {
		return math.NaN()
	}
	return median(v)
}

// table prints medians as a Markdown table, regs[0] (Distribution) first
// and every other registry with its ratio to it.
func (r results) table(regs []*registry, rows []row, rounds int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n| figure (median of %d rounds) | %s |", rounds, regs[0].name)
	sep := "\n|---|---:|"
	for _, reg := range regs[1:] {
		fmt.Fprintf(&b, " %s | ratio |", reg.name)
		sep += "---:|---:|"
	}
	b.WriteString(sep + "\n")
	num := func(v float64) string {
		switch {
		case math.IsNaN(v):
			return "failed"
		case v >= 100:
			return fmt.Sprintf("%.0f", v)
		default:
			return fmt.Sprintf("%.1f", v)
		}
	}
	for _, row := range rows {
		if !r.measured(row.key, regs) {
			continue // a step BERTH_BENCH_STEPS left out
		}
		base := r.median(row.key, regs[0])
		label := row.label
		if row.lower {
			label += ", lower is better"
		}
		fmt.Fprintf(&b, "| %s | %s |", label, num(base))
		for _, reg := range regs[1:] {
			v := r.median(row.key, reg)
			ratio := "-"
			if !math.IsNaN(v) && !math.IsNaN(base) && base > 0 {
				ratio = fmt.Sprintf("%.2fx", v/base)
			}
			fmt.Fprintf(&b, " %s | %s |", num(v), ratio)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// requestTimes reads berth's /metrics and lists the mean time of its
// requests by area and method, and of its upload requests by method.
func requestTimes(reg *registry) string {
	resp, err := http.Get(reg.base + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	sums, counts := map[string]float64{}, map[string]float64{}
	var keys []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		for _, family := range []string{"berth_http_request_duration_seconds", "berth_registry_upload_request_duration_seconds"} {
			rest, ok := strings.CutPrefix(line, family)
			if !ok {
				continue
			}
			series, value, _ := strings.Cut(rest, " ")
			v, _ := strconv.ParseFloat(value, 64)
			if key, ok := strings.CutPrefix(series, "_sum"); ok {
				key = strings.TrimPrefix(family, "berth_") + key
				sums[key] = v
				keys = append(keys, key)
			} else if key, ok := strings.CutPrefix(series, "_count"); ok {
				counts[strings.TrimPrefix(family, "berth_")+key] = v
			}
		}
	}
	var b strings.Builder
	for _, k := range keys {
		if counts[k] > 0 {
			fmt.Fprintf(&b, "  %-90s %8.0f requests, %7.2f ms\n", k, counts[k], sums[k]/counts[k]*1000)
		}
	}
	return b.String()
}
