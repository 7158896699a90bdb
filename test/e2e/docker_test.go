package e2e

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/database/dbtest"
)

// dockerCLI returns the docker client when a Docker Engine answers,
// skipping (or failing, when services are required) without one. .ci/run
// starts one.
func dockerCLI(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("docker")
	if err == nil {
		err = exec.Command(bin, "info", "--format", "{{.ServerVersion}}").Run()
	}
	if err != nil {
		if dbtest.RequireServices() {
			t.Fatalf("a Docker Engine is required: %v (start dockerd --bridge=none --iptables=false --ip-masq=false --insecure-registry 127.0.0.0/8)", err)
		}
		t.Skipf("no Docker Engine: %v", err)
	}
	return bin
}

// TestDockerLoginTagPushPullLogout is the flow of berth's seed document,
// with the Docker Engine against the real binary on PostgreSQL: docker
// login, tag, push, pull and logout as a user; an anonymous pull of the
// private project refused; a push with a robot account.
func TestDockerLoginTagPushPullLogout(t *testing.T) {
	docker := dockerCLI(t)
	tg := start(t, "postgres")
	tg.createProject(t, "library", false)
	env := []string{"DOCKER_CONFIG=" + t.TempDir()}

	// An image to push, built without pulling anything.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from the seed's flow "+rand.Text()), 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY hello.txt /hello.txt\n"), 0o644)
	local := "berth-e2e-" + strings.ToLower(rand.Text()[:10]) + ":v1"
	run(t, env, docker, "build", "-q", "-t", local, dir)
	ref := tg.Host + "/library/hello:v1"
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", local, ref, tg.Host+"/library/hello:robot").Run() })

	login := func(user, pass string) {
		t.Helper()
		cmd := exec.Command(docker, "login", tg.Host, "-u", user, "--password-stdin")
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader(pass)
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Login Succeeded") {
			t.Fatalf("docker login as %s: %v\n%s", user, err, out)
		}
	}
	login(adminUser, adminPassword)
	run(t, env, docker, "tag", local, ref)
	pushed := run(t, env, docker, "push", ref)
	if !strings.Contains(pushed, "digest: sha256:") {
		t.Fatalf("docker push printed no digest:\n%s", pushed)
	}
	run(t, env, docker, "rmi", ref)
	run(t, env, docker, "pull", ref)
	var inspect []struct{ RepoDigests []string }
	json.Unmarshal([]byte(run(t, env, docker, "image", "inspect", ref)), &inspect)
	if len(inspect) != 1 || len(inspect[0].RepoDigests) == 0 {
		t.Fatalf("the pulled image has no repo digest: %+v", inspect)
	}
	run(t, env, docker, "logout", tg.Host)

	// Signed out, the private project refuses the pull.
	run(t, env, docker, "rmi", ref)
	out := fails(t, env, docker, "pull", ref)
	if !strings.Contains(out, "unauthorized") && !strings.Contains(out, "denied") && !strings.Contains(out, "authentication required") {
		t.Errorf("an anonymous pull of a private project failed without saying it was refused:\n%s", out)
	}

	// A robot of the project pushes.
	var robot struct {
		CreateRobot struct{ Login, Secret string }
	}
	gql(t, tg, adminUser, adminPassword, `mutation { createRobot(input: {name: "ci", project: "library", permissions: [{resource: REPOSITORY, action: PULL}, {resource: REPOSITORY, action: PUSH}]}) { login secret } }`, &robot)
	login(robot.CreateRobot.Login, robot.CreateRobot.Secret)
	run(t, env, docker, "tag", local, tg.Host+"/library/hello:robot")
	run(t, env, docker, "push", tg.Host+"/library/hello:robot")
	run(t, env, docker, "logout", tg.Host)
}
