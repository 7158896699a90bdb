package e2e

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/test/gqlws"

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
	// A CloudEvents webhook and a subscription watch the project.
	hook := watchPushes(t, tg, "library")

	login(adminUser, adminPassword)
	run(t, env, docker, "tag", local, ref)
	pushed := run(t, env, docker, "push", ref)
	pushedAt := time.Now()
	m := regexp.MustCompile(`digest: (sha256:[0-9a-f]{64})`).FindStringSubmatch(pushed)
	if m == nil {
		t.Fatalf("docker push printed no digest:\n%s", pushed)
	}
	hook.expect(t, m[1], "library/hello", pushedAt)
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

// pushWatch is a webhook receiver and a graphql-transport-ws subscription
// on one project's PUSH_ARTIFACT events.
type pushWatch struct {
	secret     string
	deliveries chan delivery
	sub        *gqlws.Subscription
}

type delivery struct {
	body      []byte
	signature string
	at        time.Time
}

// watchPushes creates a CloudEvents webhook policy on project with a
// receiver on loopback, and subscribes to its pushes with an access token
// in the connection_init payload, as a script would.
func watchPushes(t *testing.T, tg *target, project string) *pushWatch {
	t.Helper()
	w := &pushWatch{deliveries: make(chan delivery, 8)}
	recv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.deliveries <- delivery{body: body, signature: r.Header.Get("X-Berth-Signature"), at: time.Now()}
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	var policy struct{ CreateWebhookPolicy struct{ Secret string } }
	gql(t, tg, adminUser, adminPassword, fmt.Sprintf(`mutation { createWebhookPolicy(project: %q, input: {name: "ci", eventTypes: [PUSH_ARTIFACT], targets: [{url: %q, format: CLOUDEVENTS}]}) { secret } }`, project, recv.URL), &policy)
	w.secret = policy.CreateWebhookPolicy.Secret

	var tok struct{ CreateAccessToken struct{ Secret string } }
	gql(t, tg, adminUser, adminPassword, `mutation { createAccessToken(input: {name: "watch"}) { secret } }`, &tok)
	w.sub = gqlws.Subscribe(t, tg.URL, nil, map[string]any{"Authorization": "Bearer " + tok.CreateAccessToken.Secret},
		fmt.Sprintf(`subscription { events(project: %q, types: [PUSH_ARTIFACT]) { type project repository digest tags actor occurredAt } }`, project))
	return w
}

// expect waits for the push of digest to repository to reach the webhook,
// signed and within a second of pushedAt, and the subscription.
func (w *pushWatch) expect(t *testing.T, digest, repository string, pushedAt time.Time) {
	t.Helper()
	select {
	case d := <-w.deliveries:
		if late := d.at.Sub(pushedAt); late > time.Second {
			t.Errorf("the webhook got the push %v after docker push returned; want within a second", late)
		}
		mac := hmac.New(sha256.New, []byte(w.secret))
		mac.Write(d.body)
		if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); d.signature != want {
			t.Errorf("X-Berth-Signature = %q, want the HMAC of the body, %q", d.signature, want)
		}
		var ce struct {
			SpecVersion, Type string
			Data              struct{ Type, Repository, Digest string }
		}
		if err := json.Unmarshal(d.body, &ce); err != nil {
			t.Fatalf("the delivery is not JSON: %v\n%s", err, d.body)
		}
		if ce.SpecVersion != "1.0" || ce.Type != "io.berth.artifact.pushed" || ce.Data.Type != "PUSH_ARTIFACT" || ce.Data.Digest != digest || ce.Data.Repository != repository {
			t.Errorf("the delivery is not the CloudEvent of the push of %s: %s", digest, d.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook delivery within 10 s of docker push")
	}
	if e := w.sub.Next(t, 10*time.Second); e["type"] != "PUSH_ARTIFACT" || e["digest"] != digest || e["repository"] != repository {
		t.Errorf("the subscription got %v, want the push of %s", e, digest)
	}
}
