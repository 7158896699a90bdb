package registry_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/registry/registrytest"
)

const password = "Test-password-1"

// env is a registry with an admin, a developer and a guest of project
// "team" (private) and a public project "pub".
type env struct {
	*registrytest.Server
	t *testing.T
}

func newEnv(t *testing.T, db *database.DB) *env {
	s := registrytest.Start(t, db, "")
	setupUsers(t, s)
	return &env{Server: s, t: t}
}

func setupUsers(t *testing.T, s *registrytest.Server) {
	s.CreateUser(t, "admin", password, true)
	dev := s.CreateUser(t, "dev", password, false)
	guest := s.CreateUser(t, "guest", password, false)
	s.CreateUser(t, "stranger", password, false)
	s.CreateProject(t, "team", false)
	s.CreateProject(t, "pub", true)
	s.AddMember(t, "team", dev, member.RoleDEVELOPER)
	s.AddMember(t, "team", guest, member.RoleGUEST)
	s.AddMember(t, "pub", dev, member.RoleDEVELOPER)
}

type req struct {
	method, path string
	user         string // "" for anonymous; password is the shared one
	body         []byte
	header       map[string]string
	bearer       string
}

func (e *env) do(r req) *http.Response {
	e.t.Helper()
	return doURL(e.t, e.URL, r)
}

func doURL(t *testing.T, base string, r req) *http.Response {
	t.Helper()
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, base+r.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if r.user != "" {
		hr.SetBasicAuth(r.user, password)
	}
	if r.bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// expect checks status and, when code is set, the OCI error code.
func expect(t *testing.T, resp *http.Response, status int, code string) []byte {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, b)
	}
	if code != "" {
		var e struct {
			Errors []struct{ Code, Message string }
		}
		if err := json.Unmarshal(b, &e); err != nil || len(e.Errors) == 0 {
			t.Fatalf("%s %s: body is not an OCI error: %s", resp.Request.Method, resp.Request.URL.Path, b)
		}
		if e.Errors[0].Code != code {
			t.Fatalf("%s %s: code %s, want %s (%s)", resp.Request.Method, resp.Request.URL.Path, e.Errors[0].Code, code, e.Errors[0].Message)
		}
	}
	return b
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// pushBlob uploads content monolithically to repo as user.
func (e *env) pushBlob(user, repo string, content []byte) digest.Digest {
	e.t.Helper()
	d := digest.FromBytes(content)
	expect(e.t, e.do(req{method: "POST", path: "/v2/" + repo + "/blobs/uploads/?digest=" + d.String(), user: user, body: content}), http.StatusCreated, "")
	return d
}

// image pushes a config and one layer and returns an OCI manifest for them.
func (e *env) image(user, repo string, extra string) ([]byte, digest.Digest) {
	e.t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["A=1"],"Cmd":["/app"],"Labels":{"l":"v"}},"rootfs":{"type":"layers","diff_ids":[]},"history":[{"created_by":"test"}]}`)
	layer := randomBytes(1000)
	cd, ld := e.pushBlob(user, repo, cfg), e.pushBlob(user, repo, layer)
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]%s}`,
		cd, len(cfg), ld, len(layer), extra)
	return []byte(m), digest.FromString(m)
}

func (e *env) putManifest(user, repo, ref string, m []byte, mediaType string) *http.Response {
	e.t.Helper()
	return e.do(req{method: "PUT", path: "/v2/" + repo + "/manifests/" + ref, user: user, body: m,
		header: map[string]string{"Content-Type": mediaType}})
}

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

func contains(s, sub string) bool { return strings.Contains(s, sub) }
