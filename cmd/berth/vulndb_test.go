package main

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/database/dbtest"
)

// TestVulndbCommandImportsAndReportsStatus runs berth vulndb import on a
// zip export and a JSON file, then berth vulndb status, in process, on
// both databases.
func TestVulndbCommandImportsAndReportsStatus(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "all.zip")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, rec := range map[string]string{
		"GO-2024-2687.json": `{"id": "GO-2024-2687", "modified": "2024-03-01T10:00:00Z", "affected": [{"package": {"ecosystem": "Go", "name": "golang.org/x/net"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.23.0"}]}]}]}`,
		"GO-2024-2600.json": `{"id": "GO-2024-2600", "modified": "2024-02-01T10:00:00Z", "affected": [{"package": {"ecosystem": "Go", "name": "golang.org/x/crypto"}, "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.17.0"}]}]}]}`,
	} {
		w, _ := zw.Create(name)
		w.Write([]byte(rec))
	}
	zw.Close()
	f.Close()
	single := filepath.Join(dir, "DSA-5532-1.json")
	os.WriteFile(single, []byte(`{"id": "DSA-5532-1", "modified": "2023-10-23T00:00:00Z", "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}]}]}`), 0o644)

	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			flags := []string{"--data-dir", t.TempDir(), "--database-url", dbtest.URL(t, kind)}
			run := func(args ...string) (string, error) {
				var out bytes.Buffer
				root := newRootCommand()
				root.SetArgs(append(args, flags...))
				root.SetOut(&out)
				root.SetErr(&out)
				err := root.Execute()
				return out.String(), err
			}
			out, err := run("vulndb", "status")
			if err != nil || !strings.Contains(out, "empty") {
				t.Fatalf("status of an empty database: %v\n%s", err, out)
			}
			out, err = run("vulndb", "import", archive, single)
			if err != nil || !strings.Contains(out, "read 3 records") || !strings.Contains(out, "3 added") {
				t.Fatalf("import: %v\n%s", err, out)
			}
			out, err = run("vulndb", "import", archive)
			if err != nil || !strings.Contains(out, "2 unchanged") {
				t.Fatalf("second import: %v\n%s", err, out)
			}
			out, err = run("vulndb", "status")
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[0], "ECOSYSTEM") ||
				strings.Join(strings.Fields(lines[1])[:3], " ") != "Debian 1 2023-10-23T00:00:00Z" ||
				strings.Join(strings.Fields(lines[2])[:3], " ") != "Go 2 2024-03-01T10:00:00Z" {
				t.Fatalf("status:\n%s", out)
			}
			out, err = run("vulndb", "import", filepath.Join(dir, "missing.json"))
			if err == nil || !strings.Contains(err.Error(), "missing.json") {
				t.Fatalf("import of a missing file: %v\n%s", err, out)
			}
		})
	}
}
