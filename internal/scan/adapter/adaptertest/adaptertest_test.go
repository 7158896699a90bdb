package adaptertest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/scan/adapter"
	"github.com/berth-registry/berth/internal/scan/adapter/adaptertest"
	"github.com/berth-registry/berth/internal/scan/vulndb"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry/registrytest"
)

const (
	adapterAuth = "Bearer adapter-test-secret"
	password    = "alice-password-1"
	ociManifest = "application/vnd.oci.image.manifest.v1+json"
)

// push uploads an image to berth as alice and returns its manifest's
// digest and its layer's.
func push(t *testing.T, reg *registrytest.Server, repo string) (manifest, layer digest.Digest) {
	t.Helper()
	do := func(method, path, contentType string, body []byte) {
		req, _ := http.NewRequest(method, reg.URL+path, bytes.NewReader(body))
		req.SetBasicAuth("alice", password)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	blob := func(b []byte) digest.Digest {
		d := digest.FromBytes(b)
		do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), "", b)
		return d
	}
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layerBytes := []byte("the layer of the image the adapter scans")
	cd, ld := blob(config), blob(layerBytes)
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`,
		ociManifest, cd, len(config), ld, len(layerBytes)))
	do("PUT", "/v2/"+repo+"/manifests/1.0", ociManifest, m)
	return digest.FromBytes(m), ld
}

func TestTheAdapterPullsTheImageFromBerthWithTheRequestsAuthorizationAndReportsOnIt(t *testing.T) {
	reg := registrytest.Start(t, dbtest.Open(t, database.SQLite), "")
	alice := reg.CreateUser(t, "alice", password, false)
	reg.CreateProject(t, "team", false)
	reg.AddMember(t, "team", alice, member.RoleDEVELOPER)
	image, layer := push(t, reg, "team/app")

	pullToken := func(repo string) string {
		tok, _, err := reg.Tokens.Issue(&viewer.Viewer{Kind: viewer.User, UserID: alice.ID, Username: "alice"},
			[]token.Access{{Type: "repository", Name: repo, Actions: []string{"pull"}}})
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	srv := adaptertest.New(t, adaptertest.Options{Authorization: adapterAuth, Pending: 1})
	client, err := adapter.New(adapter.Options{Name: "adaptertest", URL: srv.URL, Authorization: adapterAuth})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := client.Metadata(context.Background()); err != nil {
		t.Fatal(err)
	} else if rt, ok := m.ReportMIMEType(ociManifest); !ok || rt != adapter.MIMEVulnerabilityReport {
		t.Fatalf("report type %q, %v", rt, ok)
	}

	request := func(authorization string) adapter.ScanRequest {
		return adapter.ScanRequest{
			Registry: adapter.Registry{URL: reg.URL, Authorization: authorization},
			Artifact: adapter.Artifact{Repository: "team/app", Digest: image.String(), Tag: "1.0", MIMEType: ociManifest},
		}
	}
	for _, tc := range []struct {
		name          string
		authorization string
		fails         string // the adapter's message, when the pull fails
	}{
		{"a short-lived pull token", pullToken("team/app"), ""},
		{"a member's password", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+password)), ""},
		{"a token for another repository", pullToken("team/other"), "pulling the manifest: GET " + reg.URL + "/v2/team/app/manifests/" + image.String() + ": HTTP 401"},
		{"no credentials for a private project", "", "HTTP 401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := client.ScanAndWait(context.Background(), request(tc.authorization), 30*time.Second)
			if tc.fails != "" {
				if !errors.Is(err, adapter.ErrFailed) || !strings.Contains(err.Error(), tc.fails) {
					t.Fatalf("error %v; want the adapter's failure %q", err, tc.fails)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			f := adapter.Findings(r)
			v := adaptertest.DefaultVulnerability
			want := adapter.Finding{ID: v.ID, Package: v.Package, InstalledVersion: v.Version, FixedVersion: v.FixVersion,
				Severity: vulndb.High, CVSSScore: v.CVSSScore, CVSSVector: v.CVSSVector, Summary: v.Description,
				Links: v.Links, LayerDigest: layer.String()}
			if len(f) != 1 || fmt.Sprintf("%+v", f[0]) != fmt.Sprintf("%+v", want) {
				t.Errorf("findings %+v\nwant %+v", f, want)
			}
		})
	}
	t.Cleanup(func() {
		// The subtests have ended: every scan the adapter accepted pulled
		// the manifest berth stores, with the request's credentials.
		scans := srv.Scans()
		if len(scans) != 4 {
			t.Fatalf("%d scans, want 4", len(scans))
		}
		for _, s := range scans {
			if s.Err != nil {
				continue
			}
			if digest.FromBytes(s.Manifest) != image || s.ManifestType != ociManifest || len(s.Layers) != 1 || s.Polls < 2 {
				t.Errorf("scan %s pulled %s (%s), layers %v, %d polls", s.ID, digest.FromBytes(s.Manifest), s.ManifestType, s.Layers, s.Polls)
			}
		}
	})
}

func TestTheAdapterRequiresItsAuthorizationAndTheSpecsRequest(t *testing.T) {
	srv := adaptertest.New(t, adaptertest.Options{Authorization: adapterAuth})
	c, err := adapter.New(adapter.Options{URL: srv.URL, Authorization: "Bearer wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Metadata(context.Background()); !errors.Is(err, adapter.ErrUnauthorized) {
		t.Errorf("wrong credentials: %v", err)
	}
	c, _ = adapter.New(adapter.Options{URL: srv.URL, Authorization: adapterAuth})
	req := adapter.ScanRequest{
		Registry: adapter.Registry{URL: "http://127.0.0.1:1"},
		Artifact: adapter.Artifact{Repository: "team/app", Digest: digest.FromString("x").String(), MIMEType: "application/vnd.oci.image.index.v1+json"},
	}
	if _, err := c.Scan(context.Background(), req); !errors.Is(err, adapter.ErrRejected) || !strings.Contains(err.Error(), "HTTP 422") {
		t.Errorf("an index: %v", err)
	}
	if _, _, err := c.Report(context.Background(), "no-such-scan"); !errors.Is(err, adapter.ErrScanNotFound) {
		t.Errorf("an unknown scan: %v", err)
	}
}
