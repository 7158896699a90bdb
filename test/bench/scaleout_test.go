//go:build bench

package bench

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/test/cluster"
)

// clusterTarget sets up a cluster as a team uses it: a project, a
// developer of it (not an admin), and a registry token of that developer
// for the benchmark's repositories, all through the proxy.
func clusterTarget(t *testing.T, c *cluster.Cluster, name string) *target {
	admin := func(query string) {
		body, _ := json.Marshal(map[string]string{"query": query})
		req, _ := http.NewRequest("POST", c.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("admin", cluster.AdminPassword)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || bytes.Contains(out, []byte(`"errors"`)) {
			t.Fatalf("%s: %d %s", query, resp.StatusCode, out)
		}
	}
	admin(`mutation { createProject(input: {name: "` + benchProject + `"}) { id } }`)
	admin(`mutation { createUser(input: {username: "dev", password: "Dev-password-1"}) { id } }`)
	admin(`mutation { addProjectMember(input: {project: "` + benchProject + `", username: "dev", role: DEVELOPER}) { id } }`)
	q := url.Values{"service": {"berth"}}
	for i := range rounds {
		q.Add("scope", fmt.Sprintf("repository:%s/layer%d:pull,push", benchProject, i))
	}
	req, _ := http.NewRequest("GET", c.URL+"/service/token?"+q.Encode(), nil)
	req.SetBasicAuth("dev", "Dev-password-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		Token string `json:"token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	if tok.Token == "" {
		t.Fatalf("no token for the developer: %d", resp.StatusCode)
	}
	return &target{name: name, base: c.URL, auth: "Bearer " + tok.Token}
}

// TestBenchmarkScaleOut prints push and pull of a 256 MiB layer and
// manifest GETs per second through the round-robin proxy, with one and
// three replicas, on a shared directory and on S3 (versitygw), all on
// PostgreSQL and Redis. Every figure is compared with one replica on the
// filesystem driver.
func TestBenchmarkScaleOut(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "layer")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, layerSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d := digest.NewDigest(digest.SHA256, h)

	type setup struct {
		storage  string
		replicas int
	}
	setups := []setup{{cluster.Filesystem, 1}, {cluster.Filesystem, 3}, {cluster.S3, 1}, {cluster.S3, 3}}
	results := make([]result, len(setups))
	for i, s := range setups {
		name := fmt.Sprintf("%s, %d replica(s)", s.storage, s.replicas)
		t.Run(fmt.Sprintf("%s-%d", s.storage, s.replicas), func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{Storage: s.storage, Replicas: s.replicas, Env: []string{"BERTH_LOG_LEVEL=error"}})
			results[i] = measure(t, clusterTarget(t, c, name), file, d)
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| %-26s | %14s | %14s | %18s |\n", "through the proxy", "push 256 MiB", "pull 256 MiB", "manifest GET")
	fmt.Fprintf(&b, "|%s|%s|%s|%s|\n", strings.Repeat("-", 28), strings.Repeat("-", 16), strings.Repeat("-", 16), strings.Repeat("-", 20))
	base := results[0]
	for i, s := range setups {
		r := results[i]
		fmt.Fprintf(&b, "| %-26s | %6.1f MB/s %4.2fx | %6.1f MB/s %4.2fx | %7.0f r/s %5.2fx |\n",
			fmt.Sprintf("%s, %d replica(s)", s.storage, s.replicas),
			r.pushMBs, r.pushMBs/base.pushMBs, r.pullMBs, r.pullMBs/base.pullMBs, r.getsPerSec, r.getsPerSec/base.getsPerSec)
	}
	fmt.Fprintf(&b, "(%d clients GET one manifest for %v; ratios against filesystem with 1 replica)\n", getWorkers, getDuration)
	t.Log(b.String())
	fmt.Print(b.String())
}
