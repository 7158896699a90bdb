package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/test/cluster"
)

// TestThreeReplicasBehindAProxy runs berth as a Kubernetes install does:
// three replicas on one PostgreSQL, Redis and blob store, behind a
// round-robin proxy, once with a directory they share and once with S3
// (versitygw). What one replica does, the others see: an upload goes on
// wherever its next request lands, tokens, lockouts and deletions hold
// everywhere at once, a schedule fires once, and a replica killed with
// SIGKILL in the middle of ten pushes loses none of them.
func TestThreeReplicasBehindAProxy(t *testing.T) {
	crane := tool(t, "crane")
	for _, storage := range []string{cluster.Filesystem, cluster.S3} {
		t.Run(storage, func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{Storage: storage})
			proxy := &target{URL: c.URL, Host: c.Host}
			gql(t, proxy, adminUser, cluster.AdminPassword, `mutation { createProject(input: {name: "scale"}) { id } }`, nil)

			t.Run("ChunkedUploadMovesBetweenReplicas", func(t *testing.T) { chunkedAcrossReplicas(t, c) })
			t.Run("DeletedProjectIsGoneEverywhereWithinOneSecond", func(t *testing.T) { deleteAcrossReplicas(t, c) })
			// What does not touch the blob store runs once.
			if storage == cluster.Filesystem {
				t.Run("TokenFromOneReplicaWorksOnAll", func(t *testing.T) { tokenAcrossReplicas(t, c) })
				t.Run("LockoutHoldsOnEveryReplica", func(t *testing.T) { lockoutAcrossReplicas(t, c) })
				t.Run("RemovedMemberIsRefusedEverywhereAtOnce", func(t *testing.T) { removedMemberAcrossReplicas(t, c) })
				t.Run("ScheduledJobRunsOnce", func(t *testing.T) { scheduleRunsOnce(t, c) })
			} else {
				t.Run("DockerPushPullThroughTheProxy", func(t *testing.T) { dockerThroughProxy(t, c) })
			}
			t.Run("KilledReplicaDuringPushesLosesNothing", func(t *testing.T) { killDuringPushes(t, c, crane) })
		})
	}
}

// call sends one request as admin and returns status, headers and body.
func call(t *testing.T, method, url string, body []byte, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(adminUser, cluster.AdminPassword)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// pushSmallImage pushes a one-layer image to repo through base and
// returns the manifest's path under /v2/.
func pushSmallImage(t *testing.T, base, repo string) string {
	t.Helper()
	layer, config := randomBytes(1000), []byte(`{"architecture":"amd64","os":"linux"}`)
	for _, b := range [][]byte{layer, config} {
		if st, _, body := call(t, "POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+digest.FromBytes(b).String(), b,
			"Content-Type", "application/octet-stream"); st != http.StatusCreated {
			t.Fatalf("blob upload to %s: %d %s", repo, st, body)
		}
	}
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest.FromBytes(config), "size": len(config)},
		"layers": []map[string]any{{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest.FromBytes(layer), "size": len(layer)}},
	})
	path := "/v2/" + repo + "/manifests/v1"
	if st, _, body := call(t, "PUT", base+path, m, "Content-Type", "application/vnd.oci.image.manifest.v1+json"); st != http.StatusCreated {
		t.Fatalf("manifest PUT to %s: %d %s", repo, st, body)
	}
	return path
}

// chunkedAcrossReplicas: POST, two PATCHes and the closing PUT of one
// upload land on different replicas (the proxy takes turns), with chunks
// large enough to be S3 multipart parts; the blob reads back whole from
// every replica.
func chunkedAcrossReplicas(t *testing.T, c *cluster.Cluster) {
	blob := randomBytes(13 << 20)
	d := digest.FromBytes(blob)
	seen := map[string]bool{}
	st, h, body := call(t, "POST", c.URL+"/v2/scale/chunked/blobs/uploads/", nil)
	if st != http.StatusAccepted {
		t.Fatalf("starting the upload: %d %s", st, body)
	}
	seen[h.Get("X-Cluster-Replica")] = true
	loc := h.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = c.URL + loc
	}
	for _, part := range [][2]int{{0, 6 << 20}, {6 << 20, 12 << 20}} {
		st, h, body = call(t, "PATCH", loc, blob[part[0]:part[1]], "Content-Type", "application/octet-stream",
			"Content-Range", fmt.Sprintf("%d-%d", part[0], part[1]-1))
		if st != http.StatusAccepted {
			t.Fatalf("PATCH %d-%d on replica %s: %d %s", part[0], part[1]-1, h.Get("X-Cluster-Replica"), st, body)
		}
		seen[h.Get("X-Cluster-Replica")] = true
		loc = h.Get("Location")
		if !strings.HasPrefix(loc, "http") {
			loc = c.URL + loc
		}
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	st, h, body = call(t, "PUT", loc+sep+"digest="+d.String(), blob[12<<20:], "Content-Type", "application/octet-stream")
	if st != http.StatusCreated {
		t.Fatalf("closing PUT on replica %s: %d %s", h.Get("X-Cluster-Replica"), st, body)
	}
	seen[h.Get("X-Cluster-Replica")] = true
	if len(seen) != 3 {
		t.Fatalf("the upload's requests went to replicas %v; want all three", seen)
	}
	for i, r := range c.Replicas {
		st, _, got := call(t, "GET", r.URL+"/v2/scale/chunked/blobs/"+d.String(), nil)
		if st != http.StatusOK || digest.FromBytes(got) != d {
			t.Fatalf("replica %d serves the blob with %d, %d bytes, digest %s", i, st, len(got), digest.FromBytes(got))
		}
	}
}

// tokenAcrossReplicas: a registry token issued by one replica is accepted
// by the two others, which never saw it issued.
func tokenAcrossReplicas(t *testing.T, c *cluster.Cluster) {
	manifest := pushSmallImage(t, c.URL, "scale/token")
	resp, err := http.Get(c.Replicas[0].URL + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	challenge := resp.Header.Get("WWW-Authenticate")
	service := ""
	for _, kv := range strings.Split(strings.TrimPrefix(challenge, "Bearer "), ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == "service" {
			service = strings.Trim(v, `"`)
		}
	}
	st, _, body := call(t, "GET", c.Replicas[0].URL+"/service/token?service="+service+"&scope=repository:scale/token:pull", nil)
	if st != http.StatusOK {
		t.Fatalf("token from replica 0: %d %s", st, body)
	}
	var tok struct{ Token string }
	json.Unmarshal(body, &tok)
	for i, r := range c.Replicas {
		req, _ := http.NewRequest("GET", r.URL+manifest, nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("replica %d answers replica 0's token with %d", i, resp.StatusCode)
		}
	}
}

// lockoutAcrossReplicas: five wrong passwords through the proxy (spread
// over the replicas by it) lock the account on every replica.
func lockoutAcrossReplicas(t *testing.T, c *cluster.Cluster) {
	proxy := &target{URL: c.URL, Host: c.Host}
	gql(t, proxy, adminUser, cluster.AdminPassword, `mutation { createUser(input: {username: "alice", password: "alice-Pass-123"}) { id } }`, nil)
	login := func(base, password string) (int, string) {
		body, _ := json.Marshal(map[string]string{"username": "alice", "password": password})
		resp, err := http.Post(base+"/auth/login", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for i := 0; i < 5; i++ {
		if st, body := login(c.URL, "wrong-password"); st != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d %s", i+1, st, body)
		}
	}
	// The first lockout lasts a second: ask all three at once.
	var wg sync.WaitGroup
	answers := make([]string, len(c.Replicas))
	for i, r := range c.Replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, body := login(r.URL, "alice-Pass-123")
			answers[i] = fmt.Sprintf("%d %s", st, body)
		}()
	}
	wg.Wait()
	for i, a := range answers {
		if !strings.HasPrefix(a, "429") || !strings.Contains(a, "too many failed sign-ins") {
			t.Errorf("replica %d let the right password through a lockout: %s", i, a)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	if st, body := login(c.Replicas[2].URL, "alice-Pass-123"); st != http.StatusOK {
		t.Fatalf("after the lockout the right password: %d %s", st, body)
	}
}

// deleteAcrossReplicas: every replica has served (and cached) a project;
// once one replica deletes it, within a second no replica serves it or
// takes a push into it.
func deleteAcrossReplicas(t *testing.T, c *cluster.Cluster) {
	proxy := &target{URL: c.URL, Host: c.Host}
	gql(t, proxy, adminUser, cluster.AdminPassword, `mutation { createProject(input: {name: "doomed"}) { id } }`, nil)
	manifest := pushSmallImage(t, c.URL, "doomed/app")
	for i, r := range c.Replicas {
		if st, _, _ := call(t, "GET", r.URL+manifest, nil, "Accept", "application/vnd.oci.image.manifest.v1+json"); st != http.StatusOK {
			t.Fatalf("replica %d before the delete: %d", i, st)
		}
	}
	gql(t, &target{URL: c.Replicas[0].URL}, adminUser, cluster.AdminPassword, `mutation { deleteProject(name: "doomed", force: true) }`, nil)
	deleted := time.Now()
	for i, r := range c.Replicas {
		for {
			st, _, _ := call(t, "GET", r.URL+manifest, nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
			if st == http.StatusNotFound {
				break
			}
			if time.Since(deleted) > time.Second {
				t.Fatalf("replica %d still serves the deleted project's manifest (%d) after %v", i, st, time.Since(deleted))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if d := time.Since(deleted); d > time.Second {
		t.Fatalf("the deleted project was gone everywhere only after %v", d)
	}
	blob := randomBytes(100)
	for i, r := range c.Replicas {
		st, _, body := call(t, "POST", r.URL+"/v2/doomed/again/blobs/uploads/?digest="+digest.FromBytes(blob).String(), blob,
			"Content-Type", "application/octet-stream")
		if st != http.StatusNotFound {
			t.Errorf("replica %d took a push into the deleted project: %d %s", i, st, body)
		}
	}
}

// removedMemberAcrossReplicas: a developer pushes through every replica,
// each of which then holds their role for a second without asking the
// database again; once one replica takes them out of the project, every
// replica refuses their next push within half that second (the change
// reaches the others through Redis). The project is private, so to an
// outsider it does not exist.
func removedMemberAcrossReplicas(t *testing.T, c *cluster.Cluster) {
	proxy := &target{URL: c.URL, Host: c.Host}
	gql(t, proxy, adminUser, cluster.AdminPassword, `mutation { createUser(input: {username: "bob", password: "bob-Pass-1234"}) { id } }`, nil)
	gql(t, proxy, adminUser, cluster.AdminPassword, `mutation { addProjectMember(input: {project: "scale", username: "bob", role: DEVELOPER}) { id } }`, nil)
	push := func(base string) (int, string) {
		blob := randomBytes(100)
		req, _ := http.NewRequest("POST", base+"/v2/scale/bob/blobs/uploads/?digest="+digest.FromBytes(blob).String(), bytes.NewReader(blob))
		req.Header.Set("Content-Type", "application/octet-stream")
		req.SetBasicAuth("bob", "bob-Pass-1234")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for i, r := range c.Replicas {
		if st, body := push(r.URL); st != http.StatusCreated {
			t.Fatalf("replica %d before the removal: %d %s", i, st, body)
		}
	}
	gql(t, &target{URL: c.Replicas[0].URL}, adminUser, cluster.AdminPassword,
		`mutation { removeProjectMember(input: {project: "scale", username: "bob"}) }`, nil)
	removed := time.Now()
	for i, r := range c.Replicas {
		for {
			st, body := push(r.URL)
			if st == http.StatusForbidden || st == http.StatusNotFound { // the project is private
				break
			}
			if st != http.StatusCreated {
				t.Fatalf("replica %d after the removal: %d %s", i, st, body)
			}
			if time.Since(removed) > 500*time.Millisecond {
				t.Fatalf("replica %d still takes the removed member's push after %v", i, time.Since(removed))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// scheduleRunsOnce: a garbage collection scheduled every two seconds runs
// once per tick with three replicas, not three times.
func scheduleRunsOnce(t *testing.T, c *cluster.Cluster) {
	proxy := &target{URL: c.URL, Host: c.Host}
	set := func(enabled bool) {
		gql(t, proxy, adminUser, cluster.AdminPassword, fmt.Sprintf(
			`mutation { updateSchedule(input: {kind: GARBAGE_COLLECTION, cron: "@every 2s", enabled: %v}) { cron } }`, enabled), nil)
	}
	set(true)
	// Every replica takes up a schedule within 10 s; watch for 12 s more.
	time.Sleep(22 * time.Second)
	set(false)
	time.Sleep(3 * time.Second)
	var out struct {
		Jobs struct {
			Edges []struct {
				Node struct{ ScheduledAt time.Time }
			}
		}
	}
	gql(t, proxy, adminUser, cluster.AdminPassword, `{ jobs(first: 100, where: {kind: "garbage_collection"}) { edges { node { scheduledAt } } } }`, &out)
	var at []time.Time
	for _, e := range out.Jobs.Edges {
		at = append(at, e.Node.ScheduledAt)
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	if len(at) < 5 || len(at) > 13 {
		t.Fatalf("%d scheduled collections in about 22 s at one every 2 s: %v", len(at), at)
	}
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < 1500*time.Millisecond {
			t.Fatalf("two collections scheduled %v apart: a tick fired more than once (%v)", gap, at)
		}
	}
}

// dockerThroughProxy: the seed's flow, docker login/tag/push/pull, through
// the proxy in front of the replicas.
func dockerThroughProxy(t *testing.T, c *cluster.Cluster) {
	docker := dockerCLI(t)
	env := []string{"DOCKER_CONFIG=" + t.TempDir()}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from three replicas "+rand.Text()), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY hello.txt /hello.txt\n"), 0o644)
	local := "berth-scale-" + strings.ToLower(rand.Text()[:10]) + ":v1"
	run(t, env, docker, "build", "-q", "-t", local, dir)
	ref := c.Host + "/scale/hello:v1"
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", local, ref).Run() })
	cmd := exec.Command(docker, "login", c.Host, "-u", adminUser, "--password-stdin")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(cluster.AdminPassword)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker login through the proxy: %v\n%s", err, out)
	}
	run(t, env, docker, "tag", local, ref)
	if out := run(t, env, docker, "push", ref); !strings.Contains(out, "digest: sha256:") {
		t.Fatalf("docker push printed no digest:\n%s", out)
	}
	run(t, env, docker, "rmi", ref)
	run(t, env, docker, "pull", ref)
	run(t, env, docker, "logout", c.Host)
}

// killDuringPushes: ten crane pushes of images sharing a base layer run at
// once while replica 1 is killed with SIGKILL. A push that fails is run
// again through the proxy (which no longer sends to the dead replica), as
// a CI job would; all complete, and every image pulls whole, every layer's
// digest verified.
func killDuringPushes(t *testing.T, c *cluster.Cluster, crane string) {
	env := clientHome(t)
	dir := t.TempDir()
	run(t, env, crane, "auth", "login", c.Host, "-u", adminUser, "-p", cluster.AdminPassword)
	base := layerTar(t, dir, "base", string(randomBytes(3<<20)))
	const n = 10
	var wg sync.WaitGroup
	digests := make([]string, n)
	failures := make([]string, n)
	attempts := make([]int, n)
	for i := 0; i < n; i++ {
		own := layerTar(t, dir, fmt.Sprintf("own-%d", i), string(randomBytes(2<<20)))
		ref := fmt.Sprintf("%s/scale/app-%d:v1", c.Host, i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempts[i] = 1; attempts[i] <= 4; attempts[i]++ {
				cmd := exec.Command(crane, "append", "--insecure", "-f", base, "-f", own, "-t", ref)
				cmd.Env = append(os.Environ(), env...)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				if err := cmd.Run(); err == nil {
					digests[i] = strings.TrimSpace(stdout.String())
					failures[i] = ""
					return
				} else {
					failures[i] = fmt.Sprintf("%v: %s", err, stderr.String())
				}
				time.Sleep(500 * time.Millisecond)
			}
		}()
	}
	// Kill once the pushes are under way.
	start := c.Replicas[1].Hits()
	deadline := time.Now().Add(30 * time.Second)
	for c.Replicas[1].Hits() < start+15 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	c.Kill(1)
	killedAt := c.Replicas[1].Hits() - start
	wg.Wait()
	retried := 0
	for i := 0; i < n; i++ {
		if failures[i] != "" {
			t.Errorf("push %d failed %d times; last: %s", i, attempts[i]-1, failures[i])
		}
		if attempts[i] > 1 {
			retried++
		}
	}
	t.Logf("replica 1 killed after serving %d requests of the pushes; %d of %d pushes needed another run", killedAt, retried, n)
	for i := 0; i < n; i++ {
		ref := fmt.Sprintf("%s/scale/app-%d:v1", c.Host, i)
		got := strings.TrimSpace(output(t, env, crane, "digest", "--insecure", ref))
		if !strings.HasSuffix(digests[i], got) {
			t.Errorf("%s is %s, but its push reported %s", ref, got, digests[i])
		}
		run(t, env, crane, "validate", "--insecure", "--remote", ref)
	}
}
