package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestHelmPushPullAndTemplateOfBerthsOwnChart packages berth's own Helm chart
// (deploy/helm/berth), pushes it into a running berth, pulls it back and
// renders it from oci://, on SQLite and PostgreSQL: the chart is itself an
// artifact berth serves.
func TestHelmPushPullAndTemplateOfBerthsOwnChart(t *testing.T) {
	helm := tool(t, "helm")
	chart := filepath.Join(repoRoot(), "deploy", "helm", "berth")
	version := chartVersion(t, chart)
	eachDatabase(t, func(t *testing.T, tg *target) {
		tg.createProject(t, "charts", false)
		env := clientHome(t)
		dir := t.TempDir()
		runIn(t, dir, env, helm, "package", chart, "-d", dir)
		pkg := filepath.Join(dir, "berth-"+version+".tgz")
		runIn(t, dir, env, helm, "registry", "login", tg.Host, "-u", adminUser, "-p", adminPassword, "--insecure")
		push := runIn(t, dir, env, helm, "push", pkg, "oci://"+tg.Host+"/charts", "--plain-http")
		if !strings.Contains(push, "Pushed: "+tg.Host+"/charts/berth:"+version) {
			t.Fatalf("helm push did not report the chart:\n%s", push)
		}
		ref := "oci://" + tg.Host + "/charts/berth"

		pulled := filepath.Join(dir, "pulled")
		os.MkdirAll(pulled, 0o755)
		runIn(t, dir, env, helm, "pull", ref, "--version", version, "--plain-http", "-d", pulled)
		tgz := filepath.Join(pulled, "berth-"+version+".tgz")
		want, _ := os.ReadFile(pkg)
		got, err := os.ReadFile(tgz)
		if err != nil {
			t.Fatalf("helm pull did not write the chart: %v", err)
		}
		if string(got) != string(want) {
			t.Fatalf("pulled chart differs from the pushed one (%d bytes, pushed %d)", len(got), len(want))
		}

		// Render the pulled archive with the HA values it carries, and the
		// chart straight from the registry with the defaults.
		unpacked := filepath.Join(dir, "unpacked")
		runIn(t, dir, env, helm, "pull", ref, "--version", version, "--plain-http", "--untar", "-d", unpacked)
		ha := runIn(t, dir, env, helm, "template", "berth", tgz, "-f", filepath.Join(unpacked, "berth", "values-ha.yaml"))
		for _, w := range []string{"kind: HorizontalPodAutoscaler", "minReplicas: 3", `BERTH_STORAGE_DRIVER: "s3"`, "name: berth-secrets"} {
			if !strings.Contains(ha, w) {
				t.Errorf("helm template of the pulled chart with values-ha.yaml lacks %q", w)
			}
		}
		def := runIn(t, dir, env, helm, "template", "berth", ref, "--version", version, "--plain-http",
			"--set", "expose.type=loadBalancer", "--set", "expose.loadBalancer.IP=192.168.10.50", "--set", "externalURL=http://192.168.10.50")
		for _, w := range []string{"kind: Deployment", "image: \"ghcr.io/berth-registry/berth:", "loadBalancerIP: 192.168.10.50", "path: /readyz"} {
			if !strings.Contains(def, w) {
				t.Errorf("helm template %s lacks %q", ref, w)
			}
		}
	})
}

// chartVersion reads version: from the chart's Chart.yaml.
func chartVersion(t *testing.T, chart string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chart, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^version:\s*"?([^"\s]+)"?`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("no version in %s/Chart.yaml", chart)
	}
	return string(m[1])
}
