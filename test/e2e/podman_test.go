package e2e

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/database/dbtest"
)

// podmanCLI returns podman and the global flags that keep its state
// (images, run and temporary files) in a temporary directory of the
// test's own, with the vfs storage driver and no systemd, as it runs as
// root in a container; it skips (or fails, when services are required)
// when podman cannot run. .ci/run installs it.
func podmanCLI(t *testing.T) (string, []string) {
	t.Helper()
	// Not t.TempDir(): podman refuses a runroot longer than 50 characters.
	state, err := os.MkdirTemp("", "berth-podman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(state) })
	global := []string{"--root", filepath.Join(state, "root"), "--runroot", filepath.Join(state, "run"),
		"--tmpdir", filepath.Join(state, "tmp"), "--storage-driver", "vfs",
		"--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	bin, err := exec.LookPath("podman")
	if err == nil {
		if out, ierr := exec.Command(bin, append(global, "info")...).CombinedOutput(); ierr != nil {
			err = fmt.Errorf("podman info: %v\n%s", ierr, out)
		}
	}
	if err != nil {
		if dbtest.RequireServices() {
			t.Fatalf("podman is required: %v (apt-get install podman)", err)
		}
		t.Skipf("podman cannot run: %v", err)
	}
	return bin, global
}

// TestPodmanLoginTagPushPullLogout is the docker flow with podman against
// the real binary on PostgreSQL: login, tag, push, pull and logout as a
// user; an anonymous pull of the private project refused; a push with a
// robot account.
func TestPodmanLoginTagPushPullLogout(t *testing.T) {
	bin, global := podmanCLI(t)
	tg := start(t, "postgres")
	tg.createProject(t, "library", false)
	env := append(clientHome(t), "REGISTRY_AUTH_FILE="+filepath.Join(t.TempDir(), "auth.json"))
	podman := func(args ...string) string {
		t.Helper()
		return run(t, env, bin, append(global, args...)...)
	}

	// An image to push, built without pulling anything.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from podman "+rand.Text()), 0o644)
	os.WriteFile(filepath.Join(dir, "Containerfile"), []byte("FROM scratch\nCOPY hello.txt /hello.txt\n"), 0o644)
	local := "localhost/berth-e2e:v1"
	podman("build", "-q", "-t", local, dir)
	ref := tg.Host + "/library/hello:v1"

	login := func(user, pass string) {
		t.Helper()
		cmd := exec.Command(bin, append(global, "login", "--tls-verify=false", tg.Host, "-u", user, "--password-stdin")...)
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader(pass)
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Login Succeeded") {
			t.Fatalf("podman login as %s: %v\n%s", user, err, out)
		}
	}
	login(adminUser, adminPassword)
	podman("tag", local, ref)
	digestFile := filepath.Join(t.TempDir(), "digest")
	podman("push", "--tls-verify=false", "--digestfile", digestFile, ref)
	digest, _ := os.ReadFile(digestFile)
	if !strings.HasPrefix(string(digest), "sha256:") {
		t.Fatalf("podman push wrote no digest: %q", digest)
	}
	podman("rmi", ref)
	podman("pull", "-q", "--tls-verify=false", ref)
	if got := podman("image", "inspect", "--format", "{{json .RepoDigests}}", ref); !strings.Contains(got, "@"+string(digest)) {
		t.Fatalf("the pulled image's repo digests %s lack the pushed %s", got, digest)
	}
	podman("logout", tg.Host)

	// Signed out, the private project refuses the pull.
	podman("rmi", ref)
	out := fails(t, env, bin, append(global, "pull", "--tls-verify=false", ref)...)
	if !strings.Contains(out, "unauthorized") && !strings.Contains(out, "denied") && !strings.Contains(out, "authentication required") {
		t.Errorf("an anonymous pull of a private project failed without saying it was refused:\n%s", out)
	}

	// A robot of the project pushes.
	var robot struct {
		CreateRobot struct{ Login, Secret string }
	}
	gql(t, tg, adminUser, adminPassword, `mutation { createRobot(input: {name: "ci", project: "library", permissions: [{resource: REPOSITORY, action: PULL}, {resource: REPOSITORY, action: PUSH}]}) { login secret } }`, &robot)
	login(robot.CreateRobot.Login, robot.CreateRobot.Secret)
	podman("tag", local, tg.Host+"/library/hello:robot")
	podman("push", "--tls-verify=false", tg.Host+"/library/hello:robot")
	podman("logout", tg.Host)
}
