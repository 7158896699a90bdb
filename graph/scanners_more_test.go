package graph_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/scan/adapter/adaptertest"
	"github.com/berth-registry/berth/internal/server/servertest"
)

// metadataOnlyAdapter answers only an adapter's metadata, for the scanner
// version given, requiring authorization when it is not empty: enough to
// register or update a registration, not to scan.
func metadataOnlyAdapter(t *testing.T, authorization, version string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if authorization != "" && r.Header.Get("Authorization") != authorization {
			w.Header().Set("Content-Type", "application/vnd.scanner.adapter.error+json; version=1.0")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"message":"missing or wrong Authorization"}}`))
			return
		}
		if r.URL.Path != "/api/v1/metadata" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.scanner.adapter.metadata+json; version=1.0")
		w.Write([]byte(`{"scanner":{"name":"metaonly","vendor":"berth tests 2","version":"` + version + `"},"capabilities":[{` +
			`"consumes_mime_types":["application/vnd.oci.image.manifest.v1+json"],"produces_mime_types":["application/vnd.security.vulnerability.report; version=1.1"]}]}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

type scannerState struct {
	scannerView
	Description string
	Disabled    bool
}

// scannerNamed reads the registration name as admin; nil when there is none.
func scannerNamed(t *testing.T, s *servertest.Server, name string) *scannerState {
	t.Helper()
	var out struct{ Scanners []scannerState }
	s.MustDo(admin, `{ scanners { description disabled `+scannerFields+` } }`, nil, &out)
	for _, r := range out.Scanners {
		if r.Name == name {
			return &r
		}
	}
	return nil
}

func defaultScanners(t *testing.T, s *servertest.Server) []string {
	t.Helper()
	var out struct{ Scanners []scannerView }
	s.MustDo(admin, `{ scanners { `+scannerFields+` } }`, nil, &out)
	var names []string
	for _, r := range out.Scanners {
		if r.Default {
			names = append(names, r.Name)
		}
	}
	return names
}

const updateScanner = `mutation($in: UpdateScannerInput!) { updateScanner(input: $in) { description disabled ` + scannerFields + ` } }`

// TestScannerAdapterMoreUpdatesReadTheAdapterAgainAndOnlyAdminsMakeThem:
// updateScanner changes a description without asking the adapter; a new
// URL or authorization is checked against the adapter's metadata first,
// and refused (BAD_USER_INPUT) with the registration left as it was when
// the adapter refuses it; a new URL alone keeps the stored authorization;
// "" removes it. updateScanner, setDefaultScanner and deleteScanner are
// the system admin's; setProjectScanner the project admin's.
func TestScannerAdapterMoreUpdatesReadTheAdapterAgainAndOnlyAdminsMakeThem(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		srv := adaptertest.New(t, adaptertest.Options{Authorization: adapterAuthorization})
		s.CreateProject(admin, "team", false)
		owner := s.CreateUser("owner")
		addMember(t, s, "team", "owner", member.RolePROJECT_ADMIN)
		dev := s.CreateUser("dev")
		addMember(t, s, "team", "dev", member.RoleDEVELOPER)
		outsider := s.CreateUser("outsider")
		var tok struct{ CreateAccessToken struct{ Secret string } }
		s.MustDo(admin, `mutation { createAccessToken(input: {name: "ro", readOnly: true}) { secret } }`, nil, &tok)
		readOnly := servertest.Creds{Bearer: tok.CreateAccessToken.Secret}
		s.MustDo(admin, registerScanner, map[string]any{"n": "trivy", "u": srv.URL, "a": adapterAuthorization}, nil)
		s.MustDo(admin, `mutation { setProjectScanner(project: "team", scanner: "trivy") { name } }`, nil, nil)
		pushRemote(t, s, "team/app:1", scanImage(t, "A=1", scanLayer(t, [2]string{"app", "1"})))

		// The doors, before anything changes.
		setProject := `mutation($s: String) { setProjectScanner(project: "team", scanner: $s) { scanner } }`
		for _, tc := range []struct {
			who   string
			c     servertest.Creds
			codes []string // system-wide mutations, setProjectScanner
		}{
			// A private project does not exist for whoever may not read it.
			{"anonymous", servertest.Creds{}, []string{"UNAUTHENTICATED", "NOT_FOUND"}},
			{"an admin's read-only token", readOnly, []string{"FORBIDDEN", "FORBIDDEN"}},
			{"a project admin", owner, []string{"FORBIDDEN", ""}},
			{"a developer", dev, []string{"FORBIDDEN", "FORBIDDEN"}},
			{"an outsider", outsider, []string{"FORBIDDEN", "NOT_FOUND|FORBIDDEN"}},
		} {
			for _, op := range []struct {
				what, query string
				vars        map[string]any
			}{
				{"updateScanner", updateScanner, map[string]any{"in": map[string]any{"name": "trivy", "description": "changed", "disabled": true}}},
				{"setDefaultScanner", `mutation { setDefaultScanner(name: "trivy") }`, nil},
				{"setDefaultScanner(null)", `mutation { setDefaultScanner(name: null) }`, nil},
				{"deleteScanner", `mutation { deleteScanner(name: "trivy") }`, nil},
			} {
				if r := s.Do(tc.c, op.query, op.vars); r.Code() != tc.codes[0] {
					t.Errorf("%s calling %s: %q %+v, want %s", tc.who, op.what, r.Code(), r.Errors, tc.codes[0])
				}
			}
			if tc.codes[1] == "" {
				continue
			}
			if r := s.Do(tc.c, setProject, map[string]any{"s": "berth"}); !slices.Contains(strings.Split(tc.codes[1], "|"), r.Code()) {
				t.Errorf("%s choosing the project's scanner: %q %+v, want %s", tc.who, r.Code(), r.Errors, tc.codes[1])
			}
		}
		s.CreateProject(admin, "open", true)
		if r := s.Do(servertest.Creds{}, `mutation { setProjectScanner(project: "open", scanner: "berth") { name } }`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous choosing a public project's scanner: %q %+v", r.Code(), r.Errors)
		}
		if r := s.Do(servertest.Creds{}, `{ scanners { name } }`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous listing the scanners: %q %+v", r.Code(), r.Errors)
		}
		// None of it changed anything.
		if g := scannerNamed(t, s, "trivy"); g == nil || g.Description != "a test adapter" || g.Disabled || g.Default {
			t.Fatalf("the registration after refused changes: %+v", g)
		}
		var p struct{ Project struct{ Scanner string } }
		s.MustDo(owner, `{ project(name: "team") { scanner } }`, nil, &p)
		if p.Project.Scanner != "trivy" {
			t.Fatalf("the project's scanner after refused changes: %q", p.Project.Scanner)
		}
		// The project admin may choose the project's scanner, and back.
		s.MustDo(owner, setProject, map[string]any{"s": "berth"}, nil)
		s.MustDo(owner, setProject, map[string]any{"s": "trivy"}, nil)

		// A description alone: the adapter is not asked again.
		var upd struct{ UpdateScanner scannerState }
		s.MustDo(admin, updateScanner, map[string]any{"in": map[string]any{"name": "trivy", "description": "Trivy next to berth"}}, &upd)
		if g := upd.UpdateScanner; g.Description != "Trivy next to berth" || g.URL == nil || *g.URL != srv.URL || g.Version != "1.0.0" ||
			g.HasAuthorization == nil || !*g.HasAuthorization {
			t.Fatalf("after changing the description: %+v", g)
		}
		if r := s.Do(admin, updateScanner, map[string]any{"in": map[string]any{"name": "nope", "description": "x"}}); r.Code() != "NOT_FOUND" {
			t.Errorf("updating an unregistered scanner: %q %+v", r.Code(), r.Errors)
		}

		// A wrong authorization, or a URL the stored authorization does
		// not open, is refused and changes nothing.
		other := metadataOnlyAdapter(t, "Bearer other-secret", "2.0.0")
		for what, in := range map[string]map[string]any{
			"a wrong authorization":                          {"name": "trivy", "authorization": "Bearer wrong", "description": "lost"},
			"a URL that wants another authorization":         {"name": "trivy", "url": other, "description": "lost"},
			"no authorization for an adapter that wants one": {"name": "trivy", "authorization": "", "description": "lost"},
		} {
			if r := s.Do(admin, updateScanner, map[string]any{"in": in}); r.Code() != "BAD_USER_INPUT" ||
				!strings.Contains(r.Errors[0].Message, "missing or wrong Authorization") {
				t.Errorf("updating with %s: %q %+v", what, r.Code(), r.Errors)
			}
		}
		if g := scannerNamed(t, s, "trivy"); g == nil || g.Description != "Trivy next to berth" || *g.URL != srv.URL || g.Version != "1.0.0" ||
			g.Vendor != "berth tests" || !*g.HasAuthorization {
			t.Fatalf("the registration after refused updates: %+v", g)
		}
		if got := scanWith(t, s, "team/app", "1"); got.Status != "SUCCESS" || got.Scanner != "trivy" {
			t.Fatalf("a scan after refused updates (the authorization must be the old one): %+v", got)
		}

		// A new URL and authorization: berth reads the metadata there.
		s.MustDo(admin, updateScanner, map[string]any{"in": map[string]any{"name": "trivy", "url": other, "authorization": "Bearer other-secret"}}, &upd)
		if g := upd.UpdateScanner; *g.URL != other || g.Version != "2.0.0" || g.Vendor != "berth tests 2" || g.ScannerName != "metaonly" ||
			!*g.HasAuthorization || g.Description != "Trivy next to berth" {
			t.Fatalf("after moving the adapter: %+v", g)
		}
		// A new URL alone keeps the stored authorization.
		sameSecret := metadataOnlyAdapter(t, "Bearer other-secret", "3.0.0")
		s.MustDo(admin, updateScanner, map[string]any{"in": map[string]any{"name": "trivy", "url": sameSecret}}, &upd)
		if g := upd.UpdateScanner; *g.URL != sameSecret || g.Version != "3.0.0" || !*g.HasAuthorization {
			t.Fatalf("after a new URL alone: %+v", g)
		}
		// "" removes the authorization, for an adapter that wants none.
		open := metadataOnlyAdapter(t, "", "4.0.0")
		s.MustDo(admin, updateScanner, map[string]any{"in": map[string]any{"name": "trivy", "url": open, "authorization": ""}}, &upd)
		if g := upd.UpdateScanner; *g.URL != open || g.Version != "4.0.0" || *g.HasAuthorization {
			t.Fatalf("after removing the authorization: %+v", g)
		}
		// And back to the real adapter, which scans again.
		s.MustDo(admin, updateScanner, map[string]any{"in": map[string]any{"name": "trivy", "url": srv.URL, "authorization": adapterAuthorization}}, &upd)
		if g := upd.UpdateScanner; g.Version != "1.0.0" || g.ScannerName != "adaptertest" {
			t.Fatalf("after moving back: %+v", g)
		}
		if got := scanWith(t, s, "team/app", "1"); got.Status != "SUCCESS" || got.Scanner != "trivy" || len(srv.Scans()) != 2 {
			t.Fatalf("a scan after moving back: %+v, %d adapter scans", got, len(srv.Scans()))
		}
	})
}

type scanOfArtifact struct {
	Status, Scanner string
	Error           *string
	PackageCount    int
	Vulnerabilities struct {
		TotalCount int
		Edges      []struct {
			Node struct {
				ID          string
				LayerDigest *string
			}
		}
	}
}

func scanOf(t *testing.T, s *servertest.Server, repo, ref string) *scanOfArtifact {
	t.Helper()
	var out struct {
		Artifact *struct{ Scan *scanOfArtifact }
	}
	s.MustDo(admin, `query($r: String!, $ref: String!) { artifact(repository: $r, reference: $ref) { scan {
		status scanner error packageCount vulnerabilities(first: 10) { totalCount edges { node { id layerDigest } } } } } }`,
		map[string]any{"r": repo, "ref": ref}, &out)
	if out.Artifact == nil {
		t.Fatalf("no artifact %s@%s", repo, ref)
	}
	return out.Artifact.Scan
}

// TestScannerAdapterMoreDefaultDisabledAndIndexes: a project without a
// scanner of its own scans through the system default registration;
// there is at most one default; setDefaultScanner(null) (or "berth")
// brings back the built-in scanner; a project's explicit "berth" wins
// over the default; a disabled registration, default or the project's
// own, means the built-in scanner until it is enabled again. An image
// index scanned through an adapter sends each of its images to the
// adapter; each image gets its own report and the index's report is
// the union of theirs.
func TestScannerAdapterMoreDefaultDisabledAndIndexes(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		srv := adaptertest.New(t, adaptertest.Options{Authorization: adapterAuthorization})
		s.CreateProject(admin, "team", false)
		s.CreateProject(admin, "builtin", false)
		s.MustDo(admin, registerScanner, map[string]any{"n": "trivy", "u": srv.URL, "a": adapterAuthorization}, nil)
		s.MustDo(admin, registerScanner, map[string]any{"n": "second", "u": metadataOnlyAdapter(t, "", "1")}, nil)
		img := scanImage(t, "A=1", scanLayer(t, [2]string{"app", "1"}))
		pushRemote(t, s, "team/app:1", img)
		pushRemote(t, s, "builtin/app:1", img)
		s.MustDo(admin, `mutation { setProjectScanner(project: "builtin", scanner: "berth") { name } }`, nil, nil)

		if got := scanWith(t, s, "team/app", "1"); got.Scanner != "berth" {
			t.Fatalf("no default: %+v", got)
		}
		if r := s.Do(admin, `mutation { setDefaultScanner(name: "nope") }`, nil); r.Code() != "NOT_FOUND" {
			t.Errorf("an unregistered default: %q %+v", r.Code(), r.Errors)
		}
		s.MustDo(admin, `mutation { setDefaultScanner(name: "second") }`, nil, nil)
		s.MustDo(admin, `mutation { setDefaultScanner(name: "trivy") }`, nil, nil)
		if d := defaultScanners(t, s); !slices.Equal(d, []string{"trivy"}) {
			t.Fatalf("defaults: %v", d)
		}
		if got := scanWith(t, s, "team/app", "1"); got.Status != "SUCCESS" || got.Scanner != "trivy" || len(got.Vulnerabilities.Edges) != 1 {
			t.Fatalf("through the default: %+v", got)
		}
		if got := scanWith(t, s, "builtin/app", "1"); got.Scanner != "berth" {
			t.Fatalf("a project that chose berth, with a default: %+v", got)
		}

		// Disabled: the built-in scanner, for the default and for a
		// project's own choice.
		s.MustDo(admin, updateScanner, map[string]any{"in": map[string]any{"name": "trivy", "disabled": true}}, nil)
		if got := scanWith(t, s, "team/app", "1"); got.Status != "SUCCESS" || got.Scanner != "berth" {
			t.Fatalf("the default disabled: %+v", got)
		}
		s.MustDo(admin, `mutation { setProjectScanner(project: "builtin", scanner: "trivy") { name } }`, nil, nil)
		if got := scanWith(t, s, "builtin/app", "1"); got.Scanner != "berth" {
			t.Fatalf("the project's own scanner disabled: %+v", got)
		}
		if n := len(srv.Scans()); n != 1 {
			t.Fatalf("a disabled adapter was asked to scan: %d scans", n)
		}
		s.MustDo(admin, updateScanner, map[string]any{"in": map[string]any{"name": "trivy", "disabled": false}}, nil)

		// setDefaultScanner(null) and ("berth"): no default.
		for _, q := range []string{`mutation { setDefaultScanner(name: null) }`, `mutation { setDefaultScanner(name: "berth") }`} {
			s.MustDo(admin, `mutation { setDefaultScanner(name: "trivy") }`, nil, nil)
			s.MustDo(admin, q, nil, nil)
			if d := defaultScanners(t, s); len(d) != 0 {
				t.Fatalf("defaults after %s: %v", q, d)
			}
		}
		if got := scanWith(t, s, "team/app", "1"); got.Scanner != "berth" {
			t.Fatalf("default back to built-in: %+v", got)
		}

		// An index through the project's adapter.
		amd := scanImage(t, "A=amd64", scanLayer(t, [2]string{"app", "amd64"}))
		arm := scanImage(t, "A=arm64", scanLayer(t, [2]string{"app", "arm64"}))
		index := mutate.IndexMediaType(mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
			mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}}), types.OCIImageIndex)
		pushRemote(t, s, "team/multi:1", index)
		s.MustDo(admin, `mutation { setProjectScanner(project: "team", scanner: "trivy") { name } }`, nil, nil)
		before := len(srv.Scans())
		got := scanWith(t, s, "team/multi", "1")
		if got.Status != "SUCCESS" || got.Scanner != "trivy" || len(got.Vulnerabilities.Edges) != 1 ||
			got.Vulnerabilities.Edges[0].Node.ID != adaptertest.DefaultVulnerability.ID {
			t.Fatalf("the index's scan: %+v", got)
		}
		scans := srv.Scans()[before:]
		var asked []string
		for _, sc := range scans {
			if sc.Err != nil || sc.Repository != "team/multi" || sc.MIMEType != string(types.OCIManifestSchema1) {
				t.Errorf("an index image's adapter scan: %+v", sc)
			}
			asked = append(asked, sc.Digest)
		}
		slices.Sort(asked)
		for _, child := range []v1.Image{amd, arm} {
			d, _ := child.Digest()
			if !slices.Contains(asked, d.String()) {
				t.Errorf("the adapter was not asked for %s: %v", d, asked)
			}
			layers, _ := child.Layers()
			sc := scanOf(t, s, "team/multi", d.String())
			if sc == nil || sc.Status != "SUCCESS" || sc.Scanner != "trivy" || sc.Vulnerabilities.TotalCount != 1 ||
				sc.Vulnerabilities.Edges[0].Node.LayerDigest == nil || *sc.Vulnerabilities.Edges[0].Node.LayerDigest != layerDigest(t, layers[0]) {
				t.Errorf("the report of index image %s: %+v", d, sc)
			}
		}
		if len(asked) != 2 {
			t.Fatalf("the adapter was asked for %d images, want 2: %v", len(asked), asked)
		}
		if idx := scanOf(t, s, "team/multi", "1"); idx == nil || idx.Scanner != "trivy" || idx.Vulnerabilities.TotalCount != 1 {
			t.Fatalf("the index's report: %+v", idx)
		}
	})
}
