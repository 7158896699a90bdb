package graph_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/testtool"
)

// sbomTestImages are the Debian-like and Alpine-like images of the scan
// tests, with the packages their SBOMs must list.
func sbomTestImages(t *testing.T) (debian, alpine v1.Image) {
	t.Helper()
	base := scanLayer(t, [2]string{"etc/os-release", scanDebianOSRelease},
		[2]string{"var/lib/dpkg/status", dpkgParagraph("base-files", "", "12.4+deb12u5") + dpkgParagraph("zlib1g", "zlib", "1:1.2.13.dfsg-1")})
	ssl := scanLayer(t, [2]string{"var/lib/dpkg/status", dpkgParagraph("base-files", "", "12.4+deb12u5") +
		dpkgParagraph("zlib1g", "zlib", "1:1.2.13.dfsg-1") + dpkgParagraph("libssl3", "openssl", "3.0.11-1~deb12u1")})
	alpineLayer := scanLayer(t, [2]string{"etc/os-release", scanAlpineOSRelease},
		[2]string{"lib/apk/db/installed", apkEntry("musl", "1.2.4_git20230717-r4", "musl") + apkEntry("busybox", "1.36.1-r15", "busybox")})
	return scanImage(t, "A=1", base, ssl), scanImage(t, "A=1", alpineLayer)
}

func sbomSubjectDigest(t *testing.T, img interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

type sbomRef struct {
	Digest, ArtifactType, OciArtifactType, MediaType string
}

// scanSBOM scans repo:ref as admin, waiting, and returns its status and SBOM.
func scanSBOM(t *testing.T, s *servertest.Server, repo, ref string) (string, *sbomRef) {
	t.Helper()
	var out struct {
		ScanArtifact struct {
			Status string
			Sbom   *sbomRef
		}
	}
	s.MustDo(admin, `mutation($r: String!, $ref: String!) { scanArtifact(repository: $r, reference: $ref, wait: true) { status sbom { digest artifactType ociArtifactType mediaType } } }`,
		map[string]any{"r": repo, "ref": ref}, &out)
	return out.ScanArtifact.Status, out.ScanArtifact.Sbom
}

// referrers reads GET /v2/<repo>/referrers/<subject> as c, optionally
// filtered by artifactType.
func referrers(t *testing.T, c registryClient, repo, subject, artifactType string) []ocispec.Descriptor {
	t.Helper()
	path := "/v2/" + repo + "/referrers/" + subject
	if artifactType != "" {
		path += "?artifactType=" + url.QueryEscape(artifactType)
	}
	st, b := c.do("GET", path, nil)
	if st != 200 {
		t.Fatalf("referrers of %s@%s: %d %s", repo, subject, st, b)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatalf("referrers of %s@%s: %v: %s", repo, subject, err, b)
	}
	return idx.Manifests
}

// sbomDocument downloads the referrer manifest dgst of repo and its one
// layer over /v2/, and returns the manifest and the layer's bytes.
func sbomDocument(t *testing.T, c registryClient, repo, dgst string) (ocispec.Manifest, []byte) {
	t.Helper()
	st, raw := c.do("GET", "/v2/"+repo+"/manifests/"+dgst, nil, "Accept", ocispec.MediaTypeImageManifest)
	if st != 200 {
		t.Fatalf("SBOM manifest %s: %d %s", dgst, st, raw)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Layers) != 1 {
		t.Fatalf("SBOM manifest %s: %v %s", dgst, err, raw)
	}
	st, doc := c.do("GET", "/v2/"+repo+"/blobs/"+m.Layers[0].Digest.String(), nil)
	if st != 200 || digest.FromBytes(doc) != m.Layers[0].Digest {
		t.Fatalf("SBOM blob %s: %d", m.Layers[0].Digest, st)
	}
	return m, doc
}

// TestScanAttachesAnSPDXSBOMToEachImageAsAReferrer: a successful scan of
// an image stores the SPDX 2.3 document of its packages as an OCI 1.1
// referrer of the image in its repository, made by berth through the
// write path: Scan.sbom names it, the referrers API lists it, and its
// document downloads over /v2/ with the image's
// packages. A re-scan keeps the one SBOM (same digest); an SBOM berth
// attached before is replaced, one a user attached is kept; an index gets
// none, its images one each; a project over its quota gets none while the
// scan still succeeds; and only those who read the image read its SBOM.
func TestScanAttachesAnSPDXSBOMToEachImageAsAReferrer(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team", false)
		importRecords(t, s, scanFixtures())
		debian, alpine := sbomTestImages(t)
		pushRemote(t, s, "team/debian:12", debian)
		pushRemote(t, s, "team/alpine:3.19", alpine)
		adm := registryClient{t: t, base: s.URL, user: "admin", pwd: servertest.AdminPassword}
		debDigest := sbomSubjectDigest(t, debian)

		// An SBOM a user attached, and one berth attached before (an
		// older version's), both before the scan.
		userSBOM := attachSBOM(t, adm, "team/debian", debian, `{"spdxVersion":"SPDX-2.3","name":"mine"}`, nil)
		staleSBOM := attachSBOM(t, adm, "team/debian", debian, `{"spdxVersion":"SPDX-2.3","name":"stale"}`,
			map[string]string{"io.berth.sbom.generator": "berth"})

		for _, tc := range []struct {
			repo, tag, subject string
			packages           []string
		}{
			{"team/debian", "12", debDigest, []string{"base-files", "zlib1g", "libssl3"}},
			{"team/alpine", "3.19", sbomSubjectDigest(t, alpine), []string{"musl", "busybox"}},
		} {
			status, got := scanSBOM(t, s, tc.repo, tc.tag)
			if status != "SUCCESS" || got == nil || got.ArtifactType != "SBOM" || got.OciArtifactType != "application/spdx+json" ||
				got.MediaType != ocispec.MediaTypeImageManifest {
				t.Fatalf("%s: scan %s, sbom %+v", tc.repo, status, got)
			}
			refs := referrers(t, adm, tc.repo, tc.subject, "application/spdx+json")
			i := slices.IndexFunc(refs, func(d ocispec.Descriptor) bool { return d.Digest.String() == got.Digest })
			if i < 0 || refs[i].ArtifactType != "application/spdx+json" || refs[i].Annotations["io.berth.sbom.generator"] != "berth" {
				t.Fatalf("%s: the referrers API does not list the SBOM %s: %+v", tc.repo, got.Digest, refs)
			}
			m, doc := sbomDocument(t, adm, tc.repo, got.Digest)
			if m.Subject == nil || m.Subject.Digest.String() != tc.subject || m.Layers[0].MediaType != "application/spdx+json" ||
				m.Layers[0].Annotations[ocispec.AnnotationTitle] != "sbom.spdx.json" {
				t.Fatalf("%s: SBOM manifest %+v", tc.repo, m)
			}
			var spdx struct {
				SPDXVersion string `json:"spdxVersion"`
				Name        string `json:"name"`
				Packages    []struct {
					Name    string `json:"name"`
					Version string `json:"versionInfo"`
				} `json:"packages"`
			}
			if err := json.Unmarshal(doc, &spdx); err != nil || spdx.SPDXVersion != "SPDX-2.3" ||
				spdx.Name != strings.TrimPrefix(s.URL, "http://")+"/"+tc.repo+"@"+tc.subject {
				t.Fatalf("%s: SPDX document %v: %.300s", tc.repo, err, doc)
			}
			var names []string
			for _, p := range spdx.Packages {
				names = append(names, p.Name)
			}
			for _, want := range tc.packages {
				if !slices.Contains(names, want) {
					t.Errorf("%s: the SBOM lists %v, not %s", tc.repo, names, want)
				}
			}

			// Scanning again changes nothing: the same one SBOM.
			if _, again := scanSBOM(t, s, tc.repo, tc.tag); again == nil || again.Digest != got.Digest {
				t.Fatalf("%s: re-scan's SBOM %+v, want %s", tc.repo, again, got.Digest)
			}
			var mine []string
			for _, d := range referrers(t, adm, tc.repo, tc.subject, "") {
				if d.Annotations["io.berth.sbom.generator"] == "berth" {
					mine = append(mine, d.Digest.String())
				}
			}
			if !slices.Equal(mine, []string{got.Digest}) {
				t.Fatalf("%s: berth's SBOMs after a re-scan: %v, want only %s", tc.repo, mine, got.Digest)
			}
		}
		debRefs := referrers(t, adm, "team/debian", debDigest, "")
		has := func(d string) bool {
			return slices.ContainsFunc(debRefs, func(x ocispec.Descriptor) bool { return x.Digest.String() == d })
		}
		if !has(userSBOM) || has(staleSBOM) {
			t.Fatalf("the user's SBOM should stay and berth's earlier one go: %+v", debRefs)
		}

		// An index gets no SBOM; its images get one each, in its repository.
		index := mutate.IndexMediaType(mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: debian, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
			mutate.IndexAddendum{Add: alpine, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		), types.OCIImageIndex)
		pushRemote(t, s, "team/multi:1", index)
		if status, got := scanSBOM(t, s, "team/multi", "1"); status != "SUCCESS" || got != nil {
			t.Fatalf("index: scan %s, sbom %+v", status, got)
		}
		if refs := referrers(t, adm, "team/multi", sbomSubjectDigest(t, index), ""); len(refs) != 0 {
			t.Fatalf("the index has referrers: %+v", refs)
		}
		for _, img := range []v1.Image{debian, alpine} {
			var out struct {
				Artifact struct{ Scan *struct{ Sbom *sbomRef } }
			}
			s.MustDo(admin, `query($d: String!) { artifact(repository: "team/multi", reference: $d) { scan { sbom { digest } } } }`,
				map[string]any{"d": sbomSubjectDigest(t, img)}, &out)
			if out.Artifact.Scan == nil || out.Artifact.Scan.Sbom == nil ||
				len(referrers(t, adm, "team/multi", sbomSubjectDigest(t, img), "application/spdx+json")) != 1 {
				t.Fatalf("image %s of the index: %+v", sbomSubjectDigest(t, img), out.Artifact.Scan)
			}
		}

		// Who reads the SBOM: whoever reads the image.
		_, sb := scanSBOM(t, s, "team/debian", "12")
		s.CreateUser("reader")
		addMember(t, s, "team", "reader", member.RoleGUEST)
		outsider := s.CreateUser("outsider")
		sbomOf := func(c servertest.Creds) *sbomRef {
			var out struct {
				Artifact *struct{ Scan *struct{ Sbom *sbomRef } }
			}
			r := s.Do(c, `{ artifact(repository: "team/debian", reference: "12") { scan { sbom { digest } } } }`, nil)
			json.Unmarshal(r.Data, &out)
			if out.Artifact == nil || out.Artifact.Scan == nil {
				return nil
			}
			return out.Artifact.Scan.Sbom
		}
		if got := sbomOf(servertest.Basic("reader", "reader-password")); got == nil || got.Digest != sb.Digest {
			t.Fatalf("a project guest reads the SBOM: %+v", got)
		}
		for who, c := range map[string]servertest.Creds{"outsider": outsider, "anonymous": {}} {
			if got := sbomOf(c); got != nil {
				t.Fatalf("%s read the SBOM of a private project: %+v", who, got)
			}
			r := s.Do(c, `query($d: String!) { artifact(repository: "team/debian", reference: $d) { digest } }`, map[string]any{"d": sb.Digest})
			if !strings.Contains(string(r.Data), "null") || strings.Contains(string(r.Data), sb.Digest) {
				t.Fatalf("%s read the SBOM artifact: %s", who, r.Data)
			}
		}
		for who, c := range map[string]registryClient{
			"outsider":  {t: t, base: s.URL, user: "outsider", pwd: "outsider-password"},
			"anonymous": {t: t, base: s.URL},
		} {
			for _, path := range []string{"/v2/team/debian/referrers/" + debDigest, "/v2/team/debian/manifests/" + sb.Digest} {
				if st, _ := c.do("GET", path, nil); st != http.StatusUnauthorized && st != http.StatusNotFound && st != http.StatusForbidden {
					t.Fatalf("%s GET %s: %d", who, path, st)
				}
			}
		}

		// A project at its quota: the scan succeeds, the SBOM is refused.
		s.CreateProject(admin, "tight", false)
		pushRemote(t, s, "tight/debian:12", debian)
		var used struct{ Project struct{ UsedBytes int64 } }
		s.MustDo(admin, `{ project(name: "tight") { usedBytes } }`, nil, &used)
		s.MustDo(admin, `mutation($q: Int64!) { updateProject(name: "tight", input: {quotaBytes: $q}) { name } }`,
			map[string]any{"q": used.Project.UsedBytes}, nil)
		if status, got := scanSBOM(t, s, "tight/debian", "12"); status != "SUCCESS" || got != nil {
			t.Fatalf("over quota: scan %s, sbom %+v", status, got)
		}
		if refs := referrers(t, adm, "tight/debian", debDigest, ""); len(refs) != 0 {
			t.Fatalf("an SBOM past the quota: %+v", refs)
		}
	})
}

// TestOrasDiscoversAndPullsTheSBOMOfAScannedImage: the real oras client
// finds berth's SBOM among the image's referrers and pulls the document
// under its title, sbom.spdx.json.
func TestOrasDiscoversAndPullsTheSBOMOfAScannedImage(t *testing.T) {
	oras := testtool.Path(t, "oras")
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team", false)
		debian, _ := sbomTestImages(t)
		pushRemote(t, s, "team/debian:12", debian)
		_, sb := scanSBOM(t, s, "team/debian", "12")
		if sb == nil {
			t.Fatal("no SBOM")
		}
		host := strings.TrimPrefix(s.URL, "http://")
		raw := runOras(t, oras, "discover", "--format", "json", "--artifact-type", "application/spdx+json", host+"/team/debian:12")
		var disc struct {
			Referrers []struct{ Digest, ArtifactType string } `json:"referrers"`
			Manifests []struct{ Digest, ArtifactType string } `json:"manifests"`
		}
		if err := json.Unmarshal([]byte(raw), &disc); err != nil {
			t.Fatalf("oras discover output: %v\n%s", err, raw)
		}
		found := append(disc.Referrers, disc.Manifests...)
		if len(found) != 1 || found[0].Digest != sb.Digest || found[0].ArtifactType != "application/spdx+json" {
			t.Fatalf("oras discover lists %+v, want the SBOM %s:\n%s", found, sb.Digest, raw)
		}
		out := t.TempDir()
		runOras(t, oras, "pull", "-o", out, host+"/team/debian@"+sb.Digest)
		if b, err := os.ReadFile(filepath.Join(out, "sbom.spdx.json")); err != nil || !strings.Contains(string(b), `"libssl3"`) {
			t.Fatalf("oras pull of the SBOM: %v %.200s", err, b)
		}
	})
}

// TestScanAttachesACycloneDXSBOMWhenConfigured: with --sbom-cyclonedx a
// scan attaches the CycloneDX 1.5 document beside the SPDX one.
func TestScanAttachesACycloneDXSBOMWhenConfigured(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind, func(c *config.Config) { c.SBOMCycloneDX = "true" })
			s.CreateProject(admin, "team", true)
			_, alpine := sbomTestImages(t)
			pushRemote(t, s, "team/alpine:3.19", alpine)
			if status, got := scanSBOM(t, s, "team/alpine", "3.19"); status != "SUCCESS" || got == nil {
				t.Fatalf("scan %s, sbom %+v", status, got)
			}
			adm := registryClient{t: t, base: s.URL, user: "admin", pwd: servertest.AdminPassword}
			refs := referrers(t, adm, "team/alpine", sbomSubjectDigest(t, alpine), "application/vnd.cyclonedx+json")
			if len(refs) != 1 {
				t.Fatalf("CycloneDX referrers: %+v", refs)
			}
			_, doc := sbomDocument(t, adm, "team/alpine", refs[0].Digest.String())
			var cdx struct {
				BOMFormat   string `json:"bomFormat"`
				SpecVersion string `json:"specVersion"`
				Components  []struct {
					Name string `json:"name"`
				} `json:"components"`
			}
			if err := json.Unmarshal(doc, &cdx); err != nil || cdx.BOMFormat != "CycloneDX" || cdx.SpecVersion != "1.5" ||
				!slices.ContainsFunc(cdx.Components, func(c struct {
					Name string `json:"name"`
				}) bool {
					return c.Name == "busybox"
				}) {
				t.Fatalf("CycloneDX document %v: %.300s", err, doc)
			}
		})
	}
}

// attachSBOM pushes, as c, an SPDX referrer of img with the given manifest
// annotations, and returns its digest.
func attachSBOM(t *testing.T, c registryClient, repo string, img v1.Image, doc string, annotations map[string]string) string {
	t.Helper()
	cfg := c.blob(repo, []byte("{}"))
	layer := c.blob(repo, []byte(doc))
	raw, _ := img.RawManifest()
	m := ocispec.Manifest{
		MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/spdx+json",
		Config:      ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: cfg, Size: 2},
		Layers:      []ocispec.Descriptor{{MediaType: "application/spdx+json", Digest: layer, Size: int64(len(doc))}},
		Subject:     &ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(raw), Size: int64(len(raw))},
		Annotations: annotations,
	}
	m.SchemaVersion = 2
	body, _ := json.Marshal(m)
	d := digest.FromBytes(body)
	if st, b := c.do("PUT", "/v2/"+repo+"/manifests/"+d.String(), body, "Content-Type", ocispec.MediaTypeImageManifest); st != 201 {
		t.Fatalf("attaching an SBOM: %d %s", st, b)
	}
	return d.String()
}

// runOras runs oras as admin over plain HTTP and returns its output.
func runOras(t *testing.T, oras string, args ...string) string {
	t.Helper()
	args = append(args, "--plain-http", "-u", "admin", "-p", servertest.AdminPassword)
	cmd := exec.Command(oras, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "DOCKER_CONFIG="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oras %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}
