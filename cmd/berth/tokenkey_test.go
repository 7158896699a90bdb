package main_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// registryToken fetches a registry token as admin from /service/token.
func registryToken(t *testing.T, base string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/service/token?service=berth&scope=repository:library/app:pull", nil)
	req.SetBasicAuth("admin", gcAdminPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return out.Token
}

// tokenKid is the kid in a token's header.
func tokenKid(t *testing.T, tok string) string {
	t.Helper()
	head, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	json.Unmarshal(raw, &h)
	return h.Kid
}

// v2Status is GET /v2/ with a bearer token.
func v2Status(t *testing.T, base, tok string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v2/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRotateTokenKey rotates the signing key with the CLI while berth
// runs: after a restart tokens carry the new key, and a token signed with
// the old key before the rotation is still accepted.
func TestRotateTokenKey(t *testing.T) {
	bin := buildBerth(t)
	dataDir := t.TempDir()
	dbURL := "sqlite://" + dataDir + "/berth.db"
	first := startServeWith(t, bin, dataDir, dbURL)
	old := registryToken(t, first.url)
	cmd := exec.Command(bin, "admin", "rotate-token-key", "--data-dir", dataDir, "--database-url", dbURL)
	cmd.Env = gcEnv()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "now signed with key") {
		t.Fatalf("rotate-token-key: %v\n%s", err, out)
	}
	first.kill()
	// berth comes back on another port; base follows it.
	base := startServeWith(t, bin, dataDir, dbURL).url
	fresh := registryToken(t, base)
	if tokenKid(t, fresh) == tokenKid(t, old) {
		t.Errorf("after the rotation tokens still carry key %s", tokenKid(t, old))
	}
	for name, tok := range map[string]string{"old": old, "new": fresh} {
		if st := v2Status(t, base, tok); st != http.StatusOK {
			t.Errorf("GET /v2/ with the %s key's token: %d", name, st)
		}
	}
}
