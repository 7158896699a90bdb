package graph_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/scan/adapter/adaptertest"
	"github.com/berth-registry/berth/internal/server/servertest"
)

const adapterAuthorization = "Bearer adapter-test-secret"

type scannerView struct {
	Name, Vendor, Version, ScannerName string
	Default                            bool
	URL, ReportMimeType                *string
	HasAuthorization                   *bool
}

const scannerFields = `name vendor version scannerName default url reportMimeType hasAuthorization`

const registerScanner = `mutation($n: String!, $u: String!, $a: String) {
	registerScanner(input: {name: $n, url: $u, authorization: $a, description: "a test adapter"}) { ` + scannerFields + ` } }`

type adapterScan struct {
	Status, Scanner string
	Error           *string
	Vulnerabilities struct {
		Edges []struct {
			Node struct {
				ID, Package, Severity string
				LayerDigest           *string
			}
		}
	}
}

func scanWith(t *testing.T, s *servertest.Server, repo, ref string) adapterScan {
	t.Helper()
	var out struct{ ScanArtifact adapterScan }
	s.MustDo(admin, `mutation($r: String!, $ref: String!) { scanArtifact(repository: $r, reference: $ref, wait: true) {
		status scanner error vulnerabilities(first: 10) { edges { node { id package severity layerDigest } } } } }`,
		map[string]any{"r": repo, "ref": ref}, &out)
	return out.ScanArtifact
}

// failingTransport refuses every request: an adapter pulling with it
// fails, as one that cannot reach berth does.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("the test adapter has no network")
}

// TestScannerAdaptersAreRegisteredByAdminsAndScanTheirProjectsImages: only
// a system admin registers an adapter, after berth read its metadata; a
// project admin points the project at it; a scan then goes to the adapter,
// which pulls the image from berth with a pull token berth minted, and
// its report is the scan's. A failing adapter makes an ERROR scan with
// its message; deleting the registration brings back the built-in scanner.
func TestScannerAdaptersAreRegisteredByAdminsAndScanTheirProjectsImages(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		srv := adaptertest.New(t, adaptertest.Options{Authorization: adapterAuthorization, Pending: 1})
		s.CreateProject(admin, "team", false)
		owner := s.CreateUser("owner")
		addMember(t, s, "team", "owner", member.RolePROJECT_ADMIN)
		outsider := s.CreateUser("outsider")
		var tok struct{ CreateAccessToken struct{ Secret string } }
		s.MustDo(admin, `mutation { createAccessToken(input: {name: "ro", readOnly: true}) { secret } }`, nil, &tok)
		readOnly := servertest.Creds{Bearer: tok.CreateAccessToken.Secret}

		base := scanLayer(t, [2]string{"etc/os-release", scanDebianOSRelease},
			[2]string{"var/lib/dpkg/status", dpkgParagraph("base-files", "", "12.4+deb12u5")})
		pushRemote(t, s, "team/app:1", scanImage(t, "A=1", base))
		pushRemote(t, s, "team/app:2", scanImage(t, "A=2", base))

		vars := map[string]any{"n": "trivy", "u": srv.URL, "a": adapterAuthorization}
		for _, tc := range []struct {
			who  string
			c    servertest.Creds
			code string
		}{
			{"anonymous", servertest.Creds{}, "UNAUTHENTICATED"},
			{"an admin's read-only token", readOnly, "FORBIDDEN"},
			{"a project admin", owner, "FORBIDDEN"},
			{"an outsider", outsider, "FORBIDDEN"},
		} {
			if r := s.Do(tc.c, registerScanner, vars); r.Code() != tc.code {
				t.Errorf("%s registering: %q %+v, want %s", tc.who, r.Code(), r.Errors, tc.code)
			}
		}
		if r := s.Do(admin, registerScanner, map[string]any{"n": "trivy", "u": srv.URL, "a": "Bearer wrong"}); r.Code() != "BAD_USER_INPUT" ||
			!strings.Contains(r.Errors[0].Message, "missing or wrong Authorization") {
			t.Errorf("registering with the wrong authorization: %q %+v", r.Code(), r.Errors)
		}
		sbomOnly := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.scanner.adapter.metadata+json; version=1.0")
			w.Write([]byte(`{"scanner":{"name":"sbomer","vendor":"x","version":"1"},"capabilities":[{"type":"sbom",` +
				`"consumes_mime_types":["application/vnd.oci.image.manifest.v1+json"],"produces_mime_types":["application/vnd.security.sbom.report+json; version=1.0"]}]}`))
		}))
		defer sbomOnly.Close()
		if r := s.Do(admin, registerScanner, map[string]any{"n": "sbomer", "u": sbomOnly.URL}); r.Code() != "BAD_USER_INPUT" ||
			!strings.Contains(r.Errors[0].Message, "no vulnerability report") {
			t.Errorf("registering an adapter without vulnerability reports: %q %+v", r.Code(), r.Errors)
		}

		var reg struct{ RegisterScanner scannerView }
		s.MustDo(admin, registerScanner, vars, &reg)
		if g := reg.RegisterScanner; g.Name != "trivy" || g.Vendor != "berth tests" || g.Version != "1.0.0" || g.ScannerName != "adaptertest" ||
			g.Default || g.URL == nil || *g.URL != srv.URL || g.HasAuthorization == nil || !*g.HasAuthorization ||
			g.ReportMimeType == nil || !strings.Contains(*g.ReportMimeType, "vulnerability.report") {
			t.Fatalf("registered: %+v", g)
		}
		var list struct{ Scanners []scannerView }
		s.MustDo(owner, `{ scanners { `+scannerFields+` } }`, nil, &list)
		if len(list.Scanners) != 1 || list.Scanners[0].Vendor != "berth tests" || list.Scanners[0].URL != nil || list.Scanners[0].HasAuthorization != nil {
			t.Fatalf("scanners as a project admin: %+v", list.Scanners)
		}

		setProject := `mutation($p: String!, $s: String) { setProjectScanner(project: $p, scanner: $s) { name scanner } }`
		if r := s.Do(outsider, setProject, map[string]any{"p": "team", "s": "trivy"}); r.Code() != "NOT_FOUND" && r.Code() != "FORBIDDEN" {
			t.Errorf("an outsider setting the project's scanner: %q %+v", r.Code(), r.Errors)
		}
		if r := s.Do(owner, setProject, map[string]any{"p": "team", "s": "nope"}); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("choosing an unregistered scanner: %q %+v", r.Code(), r.Errors)
		}
		s.MustDo(owner, setProject, map[string]any{"p": "team", "s": "trivy"}, nil)
		// The project refuses pulls of unscanned images: not the adapter's
		// pull of the image it scans.
		s.MustDo(admin, `mutation { updateProject(name: "team", input: {preventVulnerable: {enabled: true, severity: CRITICAL, allowUnscanned: false}}) { name } }`, nil, nil)

		got := scanWith(t, s, "team/app", "1")
		v := adaptertest.DefaultVulnerability
		if got.Status != "SUCCESS" || got.Scanner != "trivy" || len(got.Vulnerabilities.Edges) != 1 {
			t.Fatalf("scan through the adapter: %+v", got)
		}
		if n := got.Vulnerabilities.Edges[0].Node; n.ID != v.ID || n.Package != v.Package || n.Severity != "HIGH" ||
			n.LayerDigest == nil || *n.LayerDigest != layerDigest(t, base) {
			t.Errorf("the adapter's finding: %+v", n)
		}
		scans := srv.Scans()
		if len(scans) != 1 || scans[0].Err != nil || scans[0].RegistryURL != s.URL || scans[0].Repository != "team/app" ||
			!strings.HasPrefix(scans[0].Authorization, "Bearer ") || scans[0].Authorization == adapterAuthorization {
			t.Fatalf("what the adapter was asked: %+v", scans)
		}

		broken := adaptertest.New(t, adaptertest.Options{Client: &http.Client{Transport: failingTransport{}}})
		s.MustDo(admin, registerScanner, map[string]any{"n": "broken", "u": broken.URL}, nil)
		s.MustDo(owner, setProject, map[string]any{"p": "team", "s": "broken"}, nil)
		got = scanWith(t, s, "team/app", "2")
		if got.Status != "ERROR" || got.Scanner != "broken" || got.Error == nil || !strings.Contains(*got.Error, "the test adapter has no network") {
			t.Fatalf("scan through a failing adapter: %+v", got)
		}

		s.MustDo(admin, `mutation { deleteScanner(name: "broken") }`, nil, nil)
		var p struct{ Project struct{ Scanner string } }
		s.MustDo(owner, `{ project(name: "team") { scanner } }`, nil, &p)
		if p.Project.Scanner != "" {
			t.Fatalf("the project's scanner after its deletion: %q", p.Project.Scanner)
		}
		got = scanWith(t, s, "team/app", "2")
		if got.Status != "SUCCESS" || got.Scanner != "berth" {
			t.Fatalf("scan after deleting the adapter: %+v", got)
		}
	})
}
