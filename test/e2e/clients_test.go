package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// layerTar writes a one-file tar to use as an image layer.
func layerTar(t *testing.T, dir, name, content string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))})
	tw.Write([]byte(content))
	tw.Close()
	p := filepath.Join(dir, name+".tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// clientHome isolates a client's configuration and credentials.
func clientHome(t *testing.T) []string {
	home := t.TempDir()
	return []string{"HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local")}
}

// TestCranePushPullAndMultiArchIndexByPlatform pushes images and a
// two-platform index with crane and pulls one platform of it, on SQLite
// and PostgreSQL.
func TestCranePushPullAndMultiArchIndexByPlatform(t *testing.T) {
	crane := tool(t, "crane")
	eachDatabase(t, func(t *testing.T, tg *target) {
		tg.createProject(t, "team-a", false)
		env := clientHome(t)
		dir := t.TempDir()
		run(t, env, crane, "auth", "login", tg.Host, "-u", adminUser, "-p", adminPassword)
		repo := tg.Host + "/team-a/app"

		for _, arch := range []string{"amd64", "arm64"} {
			layer := layerTar(t, dir, "hello-"+arch, "hello from "+arch)
			run(t, env, crane, "append", "--insecure", "-f", layer, "-t", repo+":"+arch)
			run(t, env, crane, "mutate", "--insecure", repo+":"+arch, "--set-platform", "linux/"+arch, "-t", repo+":"+arch)
		}
		run(t, env, crane, "index", "append", "--insecure", "-m", repo+":amd64", "-m", repo+":arm64", "-t", repo+":multi")

		armDigest := strings.TrimSpace(output(t, env, crane, "digest", "--insecure", repo+":arm64"))
		got := strings.TrimSpace(output(t, env, crane, "digest", "--insecure", "--platform", "linux/arm64", repo+":multi"))
		if got != armDigest {
			t.Fatalf("linux/arm64 of the index resolves to %s, want %s", got, armDigest)
		}
		out := filepath.Join(dir, "pulled.tar")
		run(t, env, crane, "pull", "--insecure", "--platform", "linux/arm64", repo+":multi", out)
		if st, err := os.Stat(out); err != nil || st.Size() == 0 {
			t.Fatalf("crane pull wrote nothing: %v", err)
		}
		fs := run(t, env, crane, "export", "--insecure", repo+":arm64", "-")
		if !strings.Contains(fs, "hello from arm64") {
			t.Fatalf("exported filesystem does not hold the layer content")
		}
		tags := run(t, env, crane, "ls", "--insecure", repo)
		for _, want := range []string{"amd64", "arm64", "multi"} {
			if !strings.Contains(tags, want) {
				t.Fatalf("crane ls = %q, missing %q", tags, want)
			}
		}
	})
}

// TestOrasPushPullFilesAndAttachArtifactWithSubject pushes files with
// oras, pulls them back, attaches an SBOM to them and discovers it
// through the referrers API, on SQLite and PostgreSQL.
func TestOrasPushPullFilesAndAttachArtifactWithSubject(t *testing.T) {
	oras := tool(t, "oras")
	eachDatabase(t, func(t *testing.T, tg *target) {
		tg.createProject(t, "team-a", false)
		env := clientHome(t)
		dir := t.TempDir()
		cfg := filepath.Join(dir, "auth.json")
		run(t, env, oras, "login", "--plain-http", "--registry-config", cfg, "-u", adminUser, "-p", adminPassword, tg.Host)
		ref := tg.Host + "/team-a/files:v1"
		src := filepath.Join(dir, "src")
		os.MkdirAll(src, 0o755)
		os.WriteFile(filepath.Join(src, "readme.txt"), []byte("berth e2e readme\n"), 0o644)
		os.WriteFile(filepath.Join(src, "sbom.json"), []byte(`{"spdxVersion":"SPDX-2.3"}`), 0o644)
		cmd := func(args ...string) string {
			args = append(args[:1], append([]string{"--plain-http", "--registry-config", cfg}, args[1:]...)...)
			return runIn(t, src, env, oras, args...)
		}
		cmd("push", "--artifact-type", "application/vnd.example.files", ref, "readme.txt:text/plain")
		out := filepath.Join(dir, "out")
		cmd("pull", "-o", out, ref)
		if b, err := os.ReadFile(filepath.Join(out, "readme.txt")); err != nil || string(b) != "berth e2e readme\n" {
			t.Fatalf("pulled readme.txt = %q, %v", b, err)
		}
		cmd("attach", "--artifact-type", "application/spdx+json", ref, "sbom.json:application/spdx+json")
		var disc struct {
			Referrers []struct {
				ArtifactType string `json:"artifactType"`
				Digest       string `json:"digest"`
			} `json:"referrers"`
			Manifests []struct {
				ArtifactType string `json:"artifactType"`
			} `json:"manifests"`
		}
		raw := cmd("discover", "--format", "json", ref)
		if err := json.Unmarshal([]byte(raw), &disc); err != nil {
			t.Fatalf("oras discover output: %v\n%s", err, raw)
		}
		found := false
		for _, r := range disc.Referrers {
			found = found || r.ArtifactType == "application/spdx+json"
		}
		for _, r := range disc.Manifests {
			found = found || r.ArtifactType == "application/spdx+json"
		}
		if !found {
			t.Fatalf("oras discover does not list the attached SBOM:\n%s", raw)
		}
	})
}

// TestHelmLoginPushPullChart packages a chart and round-trips it over
// oci://, on SQLite and PostgreSQL.
func TestHelmLoginPushPullChart(t *testing.T) {
	helm := tool(t, "helm")
	eachDatabase(t, func(t *testing.T, tg *target) {
		tg.createProject(t, "charts", false)
		env := clientHome(t)
		dir := t.TempDir()
		runIn(t, dir, env, helm, "create", "mychart")
		runIn(t, dir, env, helm, "package", "mychart", "-d", dir)
		pkg := filepath.Join(dir, "mychart-0.1.0.tgz")
		runIn(t, dir, env, helm, "registry", "login", tg.Host, "-u", adminUser, "-p", adminPassword, "--insecure")
		runIn(t, dir, env, helm, "push", pkg, "oci://"+tg.Host+"/charts", "--plain-http")
		out := filepath.Join(dir, "pulled")
		os.MkdirAll(out, 0o755)
		runIn(t, dir, env, helm, "pull", "oci://"+tg.Host+"/charts/mychart", "--version", "0.1.0", "--plain-http", "-d", out)
		if _, err := os.Stat(filepath.Join(out, "mychart-0.1.0.tgz")); err != nil {
			t.Fatalf("helm pull did not write the chart: %v", err)
		}
	})
}

// TestSkopeoCopyBetweenRepositoriesAndFromOCILayout copies an image from
// one repository to another (another project too) and from an OCI layout,
// on SQLite and PostgreSQL.
func TestSkopeoCopyBetweenRepositoriesAndFromOCILayout(t *testing.T) {
	skopeo := tool(t, "skopeo")
	crane := tool(t, "crane")
	eachDatabase(t, func(t *testing.T, tg *target) {
		tg.createProject(t, "team-a", false)
		tg.createProject(t, "team-b", false)
		env := clientHome(t)
		dir := t.TempDir()
		run(t, env, crane, "auth", "login", tg.Host, "-u", adminUser, "-p", adminPassword)
		src := tg.Host + "/team-a/app:v1"
		run(t, env, crane, "append", "--insecure", "-f", layerTar(t, dir, "skopeo", "copied"), "-t", src)
		creds := adminUser + ":" + adminPassword
		run(t, env, skopeo, "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
			"--src-creds", creds, "--dest-creds", creds,
			"docker://"+src, "docker://"+tg.Host+"/team-b/copy:v1")
		layout := filepath.Join(dir, "layout")
		run(t, env, skopeo, "copy", "--src-tls-verify=false", "--src-creds", creds, "docker://"+src, "oci:"+layout+":v1")
		run(t, env, skopeo, "copy", "--dest-tls-verify=false", "--dest-creds", creds,
			"oci:"+layout+":v1", "docker://"+tg.Host+"/team-a/from-layout:v1")
		want := strings.TrimSpace(output(t, env, crane, "digest", "--insecure", src))
		for _, ref := range []string{tg.Host + "/team-b/copy:v1", tg.Host + "/team-a/from-layout:v1"} {
			raw := run(t, env, skopeo, "inspect", "--tls-verify=false", "--creds", creds, "--raw", "docker://"+ref)
			if len(raw) == 0 {
				t.Fatalf("%s has no manifest", ref)
			}
			if got := strings.TrimSpace(output(t, env, crane, "digest", "--insecure", ref)); got == "" {
				t.Fatalf("%s has no digest", ref)
			}
		}
		if got := strings.TrimSpace(output(t, env, crane, "digest", "--insecure", tg.Host+"/team-b/copy:v1")); got != want {
			t.Fatalf("copy digest %s, want %s (skopeo keeps the manifest between registries)", got, want)
		}
	})
}

func runIn(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	return runDir(t, dir, env, name, args...)
}
