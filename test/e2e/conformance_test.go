package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/database/dbtest"
)

// conformance runs the OCI distribution-spec conformance program against
// a fresh berth and returns its summary line and whether it passed.
func conformance(t *testing.T, kind, version string) (string, bool) {
	bin := tool(t, "oci-conformance")
	tg := start(t, kind)
	tg.createProject(t, "conformance", false)
	results := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = results
	cmd.Env = append(os.Environ(),
		"OCI_REGISTRY="+tg.Host, "OCI_TLS=disabled",
		"OCI_REPO1=conformance/repo1", "OCI_REPO2=conformance/repo2",
		"OCI_USERNAME="+adminUser, "OCI_PASSWORD="+adminPassword,
		"OCI_RESULTS_DIR="+results, "OCI_VERSION="+version, "OCI_LOG=error",
	)
	out, err := cmd.CombinedOutput()
	if keep := os.Getenv("BERTH_CONFORMANCE_KEEP"); keep != "" {
		os.MkdirAll(keep, 0o755)
		os.WriteFile(filepath.Join(keep, kind+"-"+version+".txt"), out, 0o644)
		if b, err := os.ReadFile(filepath.Join(results, "report.html")); err == nil {
			os.WriteFile(filepath.Join(keep, kind+"-"+version+".html"), b, 0o644)
		}
	}
	var counts []string
	for _, m := range regexp.MustCompile(`(?m)^\s*(Pass|FAIL|Error|Skip|Disabled|Total)\.*:\s*(\d+)`).FindAllStringSubmatch(string(out), -1) {
		counts = append(counts, m[1]+"="+m[2])
	}
	summary := strings.Join(counts, " ")
	if err != nil {
		t.Logf("conformance output:\n%s", out)
	}
	return summary, err == nil
}

// TestConformanceDefaultProfilePasses runs the default (OCI_VERSION=1.1)
// profile on SQLite and PostgreSQL and requires zero failures.
func TestConformanceDefaultProfilePasses(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			summary, ok := conformance(t, kind, "1.1")
			t.Logf("OCI conformance 1.1 on %s: %s", kind, summary)
			if !ok {
				t.Fatalf("conformance failures on %s: %s", kind, summary)
			}
		})
	}
}

// TestConformanceDevProfileReport runs the OCI_VERSION=dev profile and
// reports its result without failing on it.
func TestConformanceDevProfileReport(t *testing.T) {
	summary, _ := conformance(t, "sqlite", "dev")
	t.Logf("OCI conformance dev on sqlite: %s", summary)
}
