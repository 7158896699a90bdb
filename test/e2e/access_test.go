package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gql sends one GraphQL operation with Basic credentials and decodes data
// into out, failing the test on any error.
func gql(t *testing.T, tg *target, user, pass, query string, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	req, _ := http.NewRequest(http.MethodPost, tg.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(user, pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage
		Errors []map[string]any
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("graphql answered %d with no JSON: %v", resp.StatusCode, err)
	}
	if len(r.Errors) > 0 {
		t.Fatalf("graphql %s: %v", query, r.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(r.Data, out); err != nil {
			t.Fatal(err)
		}
	}
}

// fails runs a client command that must fail and returns its output.
func fails(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("%s %s succeeded, want a refusal:\n%s", filepath.Base(name), strings.Join(args, " "), out)
	}
	return string(out)
}

// TestRobotsWithCraneAndHelm: a pull-only robot pulls but is refused push
// and delete; a push robot pushes a chart with helm; all of it is in the
// audit log; on SQLite and PostgreSQL.
func TestRobotsWithCraneAndHelm(t *testing.T) {
	crane, helm := tool(t, "crane"), tool(t, "helm")
	eachDatabase(t, func(t *testing.T, tg *target) {
		tg.createProject(t, "team-a", false)
		dir := t.TempDir()
		adminEnv := clientHome(t)
		run(t, adminEnv, crane, "auth", "login", tg.Host, "-u", adminUser, "-p", adminPassword)
		repo := tg.Host + "/team-a/app"
		run(t, adminEnv, crane, "append", "--insecure", "-f", layerTar(t, dir, "layer", "robot test"), "-t", repo+":v1")

		type robot struct{ Login, Secret string }
		var pull, push struct{ CreateRobot robot }
		gql(t, tg, adminUser, adminPassword, `mutation { createRobot(input: {name: "puller", project: "team-a", permissions: [{resource: REPOSITORY, action: PULL}], expiresInDays: 30}) { login secret } }`, &pull)
		gql(t, tg, adminUser, adminPassword, `mutation { createRobot(input: {name: "pusher", project: "team-a", permissions: [{resource: REPOSITORY, action: PULL}, {resource: REPOSITORY, action: PUSH}]}) { login secret } }`, &push)
		if pull.CreateRobot.Login != "robot$team-a+puller" {
			t.Fatalf("robot login %q", pull.CreateRobot.Login)
		}

		env := clientHome(t)
		run(t, env, crane, "auth", "login", tg.Host, "-u", pull.CreateRobot.Login, "-p", pull.CreateRobot.Secret)
		run(t, env, crane, "pull", "--insecure", repo+":v1", filepath.Join(dir, "pulled.tar"))
		out := fails(t, env, crane, "append", "--insecure", "-f", layerTar(t, dir, "other", "nope"), "-t", repo+":v2")
		if !strings.Contains(out, "DENIED") && !strings.Contains(out, "UNAUTHORIZED") {
			t.Fatalf("push by a pull-only robot: want an OCI DENIED/UNAUTHORIZED error, got:\n%s", out)
		}
		out = fails(t, env, crane, "delete", "--insecure", repo+":v1")
		if !strings.Contains(out, "DENIED") && !strings.Contains(out, "UNAUTHORIZED") {
			t.Fatalf("delete by a pull-only robot: want an OCI DENIED/UNAUTHORIZED error, got:\n%s", out)
		}

		helmEnv := clientHome(t)
		runIn(t, dir, helmEnv, helm, "create", "robochart")
		runIn(t, dir, helmEnv, helm, "package", "robochart", "-d", dir)
		runIn(t, dir, helmEnv, helm, "registry", "login", tg.Host, "-u", push.CreateRobot.Login, "-p", push.CreateRobot.Secret, "--insecure")
		runIn(t, dir, helmEnv, helm, "push", filepath.Join(dir, "robochart-0.1.0.tgz"), "oci://"+tg.Host+"/team-a", "--plain-http")

		var logs struct {
			AuditLogs struct {
				Edges []struct {
					Node struct{ Actor, Operation, Resource, Result string }
				}
			}
		}
		want := map[string]bool{
			"robot$team-a+puller pull success":   false,
			"robot$team-a+puller push failure":   false,
			"robot$team-a+puller delete failure": false,
			"robot$team-a+pusher push success":   false,
			"robot$team-a+puller token success":  false,
		}
		// Pulls are written in batches about every second.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			gql(t, tg, adminUser, adminPassword, `{ auditLogs(first: 100, where: {project: "team-a"}) { edges { node { actor operation resource result } } } }`, &logs)
			for _, e := range logs.AuditLogs.Edges {
				key := e.Node.Actor + " " + e.Node.Operation + " " + e.Node.Result
				if _, ok := want[key]; ok {
					want[key] = true
				}
			}
			if want["robot$team-a+puller pull success"] || time.Now().After(deadline) {
				break
			}
		}
		for k, seen := range want {
			if !seen {
				t.Errorf("audit log lacks %q; it has %+v", k, logs.AuditLogs.Edges)
			}
		}
	})
}

// TestPushedContentShowsUpInGraphQL pushes an image, a multi-arch index, a
// Helm chart and an SBOM referrer with the real clients and reads them back
// through GraphQL, on SQLite and PostgreSQL.
func TestPushedContentShowsUpInGraphQL(t *testing.T) {
	crane, helm, oras := tool(t, "crane"), tool(t, "helm"), tool(t, "oras")
	eachDatabase(t, func(t *testing.T, tg *target) {
		tg.createProject(t, "team-a", false)
		env := clientHome(t)
		dir := t.TempDir()
		run(t, env, crane, "auth", "login", tg.Host, "-u", adminUser, "-p", adminPassword)
		repo := tg.Host + "/team-a/app"
		for _, arch := range []string{"amd64", "arm64"} {
			run(t, env, crane, "append", "--insecure", "-f", layerTar(t, dir, "l-"+arch, arch), "-t", repo+":"+arch)
			run(t, env, crane, "mutate", "--insecure", repo+":"+arch, "--set-platform", "linux/"+arch, "-t", repo+":"+arch)
		}
		run(t, env, crane, "index", "append", "--insecure", "-m", repo+":amd64", "-m", repo+":arm64", "-t", repo+":multi")
		runIn(t, dir, env, helm, "create", "demo")
		runIn(t, dir, env, helm, "package", "demo", "-d", dir)
		runIn(t, dir, env, helm, "registry", "login", tg.Host, "-u", adminUser, "-p", adminPassword, "--insecure")
		runIn(t, dir, env, helm, "push", filepath.Join(dir, "demo-0.1.0.tgz"), "oci://"+tg.Host+"/team-a", "--plain-http")
		cfg := filepath.Join(dir, "oras.json")
		run(t, env, oras, "login", "--plain-http", "--registry-config", cfg, "-u", adminUser, "-p", adminPassword, tg.Host)
		os.WriteFile(filepath.Join(dir, "sbom.json"), []byte(`{"spdxVersion":"SPDX-2.3"}`), 0o644)
		runIn(t, dir, env, oras, "attach", "--plain-http", "--registry-config", cfg, "--artifact-type", "application/spdx+json", repo+":amd64", "sbom.json:application/spdx+json")

		var img struct {
			Artifact struct {
				ArtifactType string
				Layers       []struct {
					Digest string
					Size   int64
				}
				Config      struct{ Os, Architecture string }
				Referrers   []struct{ ArtifactType string }
				PullCommand string
			}
		}
		gql(t, tg, adminUser, adminPassword, `{ artifact(repository: "team-a/app", reference: "amd64") { artifactType layers { digest size } config { os architecture } referrers { artifactType } pullCommand } }`, &img)
		a := img.Artifact
		if a.ArtifactType != "IMAGE" || len(a.Layers) != 1 || a.Config.Architecture != "amd64" || len(a.Referrers) != 1 || a.Referrers[0].ArtifactType != "SBOM" ||
			a.PullCommand != "docker pull "+tg.Host+"/team-a/app:amd64" {
			t.Fatalf("image in GraphQL: %+v", a)
		}
		var idx struct {
			Artifact struct {
				ArtifactType string
				Children     []struct {
					Platform struct{ Os, Architecture string }
				}
			}
		}
		gql(t, tg, adminUser, adminPassword, `{ artifact(repository: "team-a/app", reference: "multi") { artifactType children { platform { os architecture } } } }`, &idx)
		if idx.Artifact.ArtifactType != "IMAGE_INDEX" || len(idx.Artifact.Children) != 2 || idx.Artifact.Children[1].Platform.Architecture != "arm64" {
			t.Fatalf("index in GraphQL: %+v", idx)
		}
		var chart struct {
			Artifact struct {
				ArtifactType string
				Chart        struct {
					Name, Version string
					AppVersion    *string
				}
			}
		}
		gql(t, tg, adminUser, adminPassword, `{ artifact(repository: "team-a/demo", reference: "0.1.0") { artifactType chart { name version appVersion } } }`, &chart)
		if chart.Artifact.ArtifactType != "CHART" || chart.Artifact.Chart.Name != "demo" || chart.Artifact.Chart.Version != "0.1.0" || chart.Artifact.Chart.AppVersion == nil {
			t.Fatalf("chart in GraphQL: %+v", chart)
		}
		var listing struct {
			Repository struct {
				Artifacts struct {
					TotalCount int
					Edges      []struct{ Node struct{ ArtifactType string } }
				}
			}
		}
		gql(t, tg, adminUser, adminPassword, `{ repository(name: "team-a/app") { artifacts(first: 20) { totalCount edges { node { artifactType } } } } }`, &listing)
		types := map[string]int{}
		for _, e := range listing.Repository.Artifacts.Edges {
			types[e.Node.ArtifactType]++
		}
		// crane mutate writes a new manifest; the appended ones stay untagged.
		if types["IMAGE"] != 4 || types["IMAGE_INDEX"] != 1 || types["SBOM"] != 1 {
			t.Fatalf("team-a/app holds %v, want 4 images, 1 index, 1 SBOM", types)
		}
	})
}
