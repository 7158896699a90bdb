package registry_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/registry/registrytest"
)

// TestPrivateProjectsAnswerLikeMissingOnes: a caller who may not see a
// private project gets, for each request, the same status, OCI code and
// message (the names swapped) as for a project that does not exist, so
// private project names cannot be found by probing.
func TestPrivateProjectsAnswerLikeMissingOnes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		m, _ := e.image("dev", "team/app", "")
		expect(t, e.putManifest("dev", "team/app", "v1", m, ociManifest), 201, "")
		type answer struct {
			Status int
			Code   string
			Msg    string
		}
		probe := func(user, method, path string) answer {
			resp := e.do(req{method: method, path: path, user: user})
			var body struct {
				Errors []struct{ Code, Message string }
			}
			json.NewDecoder(resp.Body).Decode(&body)
			a := answer{Status: resp.StatusCode}
			if len(body.Errors) > 0 {
				a.Code, a.Msg = body.Errors[0].Code, body.Errors[0].Message
			}
			return a
		}
		for _, user := range []string{"", "stranger"} {
			for _, p := range []struct{ method, path string }{
				{"GET", "/v2/%s/app/manifests/v1"},
				{"HEAD", "/v2/%s/app/manifests/v1"},
				{"GET", "/v2/%s/app/tags/list"},
				{"GET", "/v2/%s/app/referrers/sha256:" + strings.Repeat("a", 64)},
				{"POST", "/v2/%s/app/blobs/uploads/"},
				{"DELETE", "/v2/%s/app/manifests/v1"},
			} {
				private := probe(user, p.method, fmt.Sprintf(p.path, "team"))
				missing := probe(user, p.method, fmt.Sprintf(p.path, "nope"))
				missing.Msg = strings.ReplaceAll(missing.Msg, "nope", "team")
				if private != missing {
					t.Errorf("%q %s %s: private project answers %+v, missing one %+v", user, p.method, p.path, private, missing)
				}
				if private.Status < 400 {
					t.Errorf("%q %s %s: %d", user, p.method, p.path, private.Status)
				}
			}
		}
		// A guest, who may see the project, is still told why not.
		expect(t, e.do(req{method: "POST", path: "/v2/team/app/blobs/uploads/", user: "guest"}), 403, "DENIED")
	})
}

// TestTokenRealmIgnoresAForeignHostHeader: without --external-url the
// realm a client is sent to is this server's own address, never a host
// the request named (which would get the client's password).
func TestTokenRealmIgnoresAForeignHostHeader(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		s := registrytest.StartWithoutExternalURL(t, db)
		for host, want := range map[string]string{
			"evil.example:443": "http://" + s.Host + "/service/token",
			"10.9.8.7":         "http://" + s.Host + "/service/token",
			"localhost:5000":   "http://localhost:5000/service/token",
		} {
			hr, _ := http.NewRequest("GET", s.URL+"/v2/", nil)
			hr.Host = host
			resp, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if c := resp.Header.Get("WWW-Authenticate"); !strings.Contains(c, `realm="`+want+`"`) {
				t.Errorf("Host %s: challenge %q, want realm %s", host, c, want)
			}
		}
	})
}

// TestManifestSizesThatOverflowAreRefused: descriptor sizes that are
// negative or whose sum overflows int64 are invalid, not a wrapped size.
func TestManifestSizesThatOverflowAreRefused(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		cfg, layer := e.pushBlob("dev", "team/app", []byte(`{"os":"linux"}`)), e.pushBlob("dev", "team/app", randomBytes(10))
		for _, sizes := range [][2]int64{{math.MaxInt64, math.MaxInt64}, {10, -20}} {
			m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`,
				ociManifest, cfg, sizes[0], layer, sizes[1])
			expect(t, e.putManifest("dev", "team/app", "big", []byte(m), ociManifest), 400, "MANIFEST_INVALID")
		}
	})
}
