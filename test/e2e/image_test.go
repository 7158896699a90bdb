package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/testtool"
	"github.com/berth-registry/berth/registry/storage/s3/s3test"
)

// TestImageServesReadOnlyAsNonRootOnPostgresRedisAndS3 builds the image
// with `make image` and runs it the way the Helm chart does (read-only
// root filesystem, uid 65532, a writable /tmp) on the host network against
// PostgreSQL, Redis and versitygw: /readyz answers 200, crane pushes an
// image through the container into the S3 bucket and pulls it back, and
// the image carries its OCI labels and non-root user.
func TestImageServesReadOnlyAsNonRootOnPostgresRedisAndS3(t *testing.T) {
	docker := dockerCLI(t)
	makeBin, crane := tool(t, "make"), tool(t, "crane")
	dbURL := dbtest.URL(t, "postgres")
	redisURL := dbtest.RedisURL(t)
	s3srv := s3test.Start(t)
	bucket := s3srv.Bucket(t)

	// The real target, so that a broken Makefile or Dockerfile fails here.
	suffix := strings.ToLower(rand.Text()[:10])
	image, version := "berth:e2e-"+suffix, "e2e-"+suffix
	cmd := exec.Command(makeBin, "image", "IMAGE="+image, "VERSION="+version)
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", image).Run() })

	var config struct {
		User   string
		Labels map[string]string
	}
	if err := json.Unmarshal([]byte(run(t, nil, docker, "image", "inspect", "--format", "{{json .Config}}", image)), &config); err != nil {
		t.Fatalf("docker image inspect: %v", err)
	}
	if config.User != "65532:65532" {
		t.Errorf("image user %q, want 65532:65532", config.User)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.version": version,
		"org.opencontainers.image.source":  "https://github.com/berth-registry/berth",
	}
	if rev, err := exec.Command("git", "-C", repoRoot(), "rev-parse", "HEAD").Output(); err == nil {
		wantLabels["org.opencontainers.image.revision"] = strings.TrimSpace(string(rev))
	}
	for k, v := range wantLabels {
		if config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, config.Labels[k], v)
		}
	}
	if config.Labels["org.opencontainers.image.licenses"] == "" {
		t.Errorf("label org.opencontainers.image.licenses is missing: %v", config.Labels)
	}

	// Secrets go through the docker client's environment (-e NAME without
	// a value), not its command line.
	key := make([]byte, 32)
	rand.Read(key)
	secrets := []string{
		"BERTH_DATABASE_URL=" + dbURL,
		"BERTH_ADMIN_PASSWORD=" + adminPassword,
		"BERTH_SECRET_KEY=" + base64.StdEncoding.EncodeToString(key),
		"BERTH_S3_ACCESS_KEY=" + bucket.AccessKey,
		"BERTH_S3_SECRET_KEY=" + bucket.SecretKey,
	}
	name := "berth-e2e-" + suffix
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command(docker, "logs", name).CombinedOutput()
			t.Logf("docker logs %s:\n%s", name, out)
		}
		// -v: the anonymous volume of the image's VOLUME /data goes too.
		exec.Command(docker, "rm", "-f", "-v", name).Run()
	})
	addr := testtool.StartAgainWhilePortTaken(t, func() (string, bool) {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		args := []string{"run", "-d", "--name", name, "--network", "host", "--read-only", "--tmpfs", "/tmp", "--user", "65532",
			"-e", "BERTH_ADDR=" + addr, "-e", "BERTH_EXTERNAL_URL=http://" + addr, "-e", "BERTH_LOG_LEVEL=info",
			"-e", "BERTH_REDIS_URL=" + redisURL,
			"-e", "BERTH_STORAGE_DRIVER=s3", "-e", "BERTH_S3_ENDPOINT=" + bucket.Endpoint, "-e", "BERTH_S3_REGION=" + bucket.Region,
			"-e", "BERTH_S3_BUCKET=" + bucket.Bucket, "-e", "BERTH_S3_PATH_STYLE=true"}
		for _, kv := range secrets {
			args = append(args, "-e", kv[:strings.IndexByte(kv, '=')])
		}
		run(t, secrets, docker, append(args, image)...)
		// The port, picked free, may be taken by another test's process
		// before berth binds it: only once berth says it listens is it
		// berth's (another berth's /readyz would answer too). If berth
		// exited because it was taken, it starts again on another.
		exited := make(chan struct{})
		go func() { exec.Command(docker, "wait", name).Run(); close(exited) }()
		logs := func() string { out, _ := exec.Command(docker, "logs", name).CombinedOutput(); return string(out) }
		err := testtool.WaitListening(logs, exited, 60*time.Second)
		if errors.Is(err, testtool.ErrPortTaken) {
			exec.Command(docker, "rm", "-f", "-v", name).Run()
			return "", true
		}
		if err != nil {
			t.Fatalf("the container: %v", err)
		}
		return addr, false
	})

	// /readyz is 200 only when the database, the blob store and Redis (as
	// it is configured) all answer; it names the first that does not.
	url := "http://" + addr
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(url + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if string(body) != "ok\n" {
					t.Fatalf("/readyz answered 200 with %q", body)
				}
				break
			}
			err = fmt.Errorf("/readyz answered %d: %s", resp.StatusCode, body)
		}
		if state := strings.TrimSpace(run(t, nil, docker, "inspect", "--format", "{{.State.Status}}", name)); state != "running" {
			t.Fatalf("the container is %s (last: %v)", state, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 60s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A push and a pull through the container; the layer lands in the bucket.
	tg := &target{URL: url, Host: addr}
	gql(t, tg, adminUser, adminPassword, `mutation { createProject(input: {name: "library", public: false}) { id } }`, nil)
	env := clientHome(t)
	run(t, env, crane, "auth", "login", addr, "-u", adminUser, "-p", adminPassword)
	ref := addr + "/library/hello:v1"
	content := "hello from the image " + suffix
	run(t, env, crane, "append", "--insecure", "-f", layerTar(t, t.TempDir(), "hello.txt", content), "-t", ref)
	if fs := run(t, env, crane, "export", "--insecure", ref, "-"); !strings.Contains(fs, content) {
		t.Fatalf("the pulled image does not hold the pushed file")
	}
	var manifest struct{ Layers []struct{ Digest string } }
	if err := json.Unmarshal([]byte(run(t, env, crane, "manifest", "--insecure", ref)), &manifest); err != nil || len(manifest.Layers) != 1 {
		t.Fatalf("crane manifest: %v %+v", err, manifest)
	}
	layer := strings.TrimPrefix(manifest.Layers[0].Digest, "sha256:")
	object := filepath.Join(s3srv.Root, bucket.Bucket, "blobs", "sha256", layer[:2], layer, "data")
	data, err := os.ReadFile(object)
	if err != nil {
		t.Fatalf("the layer is not in the S3 bucket: %v", err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != layer {
		t.Fatalf("the object %s does not hash to its digest", object)
	}
}
