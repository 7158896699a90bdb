// Package testtool is what tests share to drive other processes: it finds
// the command-line tools they run (crane, helm, oras, skopeo, versitygw,
// CNCF Distribution's registry) in .tools/bin, where
// scripts/install-test-tools.sh installs them, or on PATH; it collects a
// process's output while the test reads it (SyncBuffer); and it tells when
// a `berth serve` a test started owns its port (WaitListening) and starts
// it again when it lost it (StartAgainWhilePortTaken). It imports
// only the standard library, so that any test package can use it.
package testtool

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Root is the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Path returns the path of tool name, skipping the test without it, or
// failing it when services are required (BERTH_TEST_REQUIRE_SERVICES=1).
func Path(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Root(), ".tools", "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	// The switch dbtest.RequireServices reads; read here so that tests of
	// packages without a database (the storage drivers) need none.
	if os.Getenv("BERTH_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is required but not installed: run scripts/install-test-tools.sh", name)
	}
	t.Skipf("%s not installed (scripts/install-test-tools.sh); set BERTH_TEST_REQUIRE_SERVICES=1 to fail instead", name)
	return ""
}
