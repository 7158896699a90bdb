package graph_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/scan/vulndb"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/viewer"
)

// The images of the scan tests: a Debian 12 image whose second layer
// installs a vulnerable libssl3 (source openssl), and an Alpine 3.19
// image with a vulnerable busybox.

const scanDebianOSRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n"

const scanAlpineOSRelease = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n"

func dpkgParagraph(pkg, source, version string) string {
	p := "Package: " + pkg + "\nStatus: install ok installed\nArchitecture: amd64\n"
	if source != "" {
		p += "Source: " + source + "\n"
	}
	return p + "Version: " + version + "\nDescription: " + pkg + "\n\n"
}

func apkEntry(pkg, version, origin string) string {
	return "P:" + pkg + "\nV:" + version + "\nA:x86_64\no:" + origin + "\n\n"
}

// scanLayer is a gzipped OCI layer of the given files.
func scanLayer(t *testing.T, files ...[2]string) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, f[1])
	}
	tw.Close()
	raw := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// scanImage is an OCI image of layers for linux/amd64; env makes images
// of the same layers differ.
func scanImage(t *testing.T, env string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers...)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: "amd64", Config: v1.Config{Env: []string{env}}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func layerDigest(t *testing.T, l v1.Layer) string {
	t.Helper()
	d, err := l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// scanFixtures are the OSV records of the tests: one Debian 12 record
// that matches libssl3, one Debian 11 record and one already fixed in
// the installed version that must not match, and one Alpine record.
func scanFixtures() map[string]any {
	eco := func(ecosystem, pkg, fixed string) []any {
		return []any{map[string]any{"package": map[string]string{"ecosystem": ecosystem, "name": pkg},
			"ranges": []any{map[string]any{"type": "ECOSYSTEM", "events": []map[string]string{{"introduced": "0"}, {"fixed": fixed}}}}}}
	}
	return map[string]any{
		"DSA-5532-1": map[string]any{"id": "DSA-5532-1", "modified": "2024-03-01T10:00:00Z", "aliases": []string{"CVE-2023-5363"},
			"summary":    "openssl - security update",
			"severity":   []any{map[string]string{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}},
			"affected":   eco("Debian:12", "openssl", "3.0.11-1~deb12u2"),
			"references": []any{map[string]string{"type": "ADVISORY", "url": "https://www.debian.org/security/2023/dsa-5532"}}},
		"DSA-5417-1": map[string]any{"id": "DSA-5417-1", "modified": "2024-03-01T10:00:00Z",
			"affected": eco("Debian:11", "openssl", "1.1.1v-0~deb11u1")},
		"DEBIAN-CVE-2022-37434": map[string]any{"id": "DEBIAN-CVE-2022-37434", "modified": "2024-03-01T10:00:00Z",
			"affected": eco("Debian:12", "zlib", "1:1.2.13.dfsg-0")},
		"ALPINE-CVE-2023-42366": map[string]any{"id": "ALPINE-CVE-2023-42366", "modified": "2024-03-01T10:00:00Z", "aliases": []string{"CVE-2023-42366"},
			"severity": []any{map[string]string{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"}},
			"affected": eco("Alpine:v3.19", "busybox", "1.36.1-r16")},
	}
}

func importRecords(t *testing.T, s *servertest.Server, records map[string]any) {
	t.Helper()
	dir := t.TempDir()
	for id, r := range records {
		b, _ := json.Marshal(r)
		if err := os.WriteFile(filepath.Join(dir, id+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := vulndb.Import(viewer.SystemContext(context.Background()), s.Berth.DB().Client, dir); err != nil {
		t.Fatal(err)
	}
}

// pushRemote pushes an image, or an index and its images, through /v2/
// as admin.
func pushRemote(t *testing.T, s *servertest.Server, repoTag string, img any) {
	t.Helper()
	repo, tag, _ := strings.Cut(repoTag, ":")
	c := registryClient{t: t, base: s.URL, user: "admin", pwd: servertest.AdminPassword}
	put := func(ref string, m interface {
		RawManifest() ([]byte, error)
		MediaType() (types.MediaType, error)
	}) {
		raw, err := m.RawManifest()
		if err != nil {
			t.Fatal(err)
		}
		mt, _ := m.MediaType()
		if st, b := c.do("PUT", "/v2/"+repo+"/manifests/"+ref, raw, "Content-Type", string(mt)); st != 201 {
			t.Fatalf("pushing %s:%s: %d %s", repo, ref, st, b)
		}
	}
	pushImage := func(img v1.Image, ref string) {
		cfg, err := img.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c.blob(repo, cfg)
		layers, _ := img.Layers()
		for _, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			c.blob(repo, b)
		}
		put(ref, img)
	}
	switch v := img.(type) {
	case v1.Image:
		pushImage(v, tag)
	case v1.ImageIndex:
		m, err := v.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range m.Manifests {
			child, err := v.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			pushImage(child, d.Digest.String())
		}
		put(tag, v)
	}
}

type vulnerability struct {
	ID               string
	Aliases          []string
	Package          string
	SourcePackage    *string
	InstalledVersion string
	FixedVersion     *string
	Severity         string
	CvssScore        *float64
	Summary          string
	LayerDigest      *string
}

type scanResult struct {
	Status          string
	Error           *string
	FinishedAt      *string
	Os              *string
	PackageCount    int
	FixableCount    int
	SeverityCounts  struct{ Critical, High, Medium, Low, Unknown int }
	Vulnerabilities struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage bool
			EndCursor   *string
		}
		Edges []struct{ Node vulnerability }
	}
	Sbom *struct{ Digest string }
}

const scanFields = `status error finishedAt os packageCount fixableCount severityCounts { critical high medium low unknown }
	vulnerabilities(first: 20) { totalCount pageInfo { hasNextPage endCursor } edges { node { id aliases package sourcePackage installedVersion fixedVersion severity cvssScore summary layerDigest } } }
	sbom { digest }`

func scanNow(t *testing.T, s *servertest.Server, c servertest.Creds, repo, ref string) scanResult {
	t.Helper()
	var out struct{ ScanArtifact scanResult }
	s.MustDo(c, `mutation($r: String!, $ref: String!) { scanArtifact(repository: $r, reference: $ref, wait: true) { `+scanFields+` } }`,
		map[string]any{"r": repo, "ref": ref}, &out)
	return out.ScanArtifact
}

// artifactScan reads an artifact's scan as c; nil when the artifact or its
// scan is not there for c.
func artifactScan(t *testing.T, s *servertest.Server, c servertest.Creds, repo, ref string) (*scanResult, string) {
	t.Helper()
	r := s.Do(c, `query($r: String!, $ref: String!) { artifact(repository: $r, reference: $ref) { scan { `+scanFields+` } } }`,
		map[string]any{"r": repo, "ref": ref})
	var out struct{ Artifact *struct{ Scan *scanResult } }
	json.Unmarshal(r.Data, &out)
	if out.Artifact == nil {
		return nil, r.Code()
	}
	return out.Artifact.Scan, r.Code()
}

func eventually(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func ids(r *scanResult) []string {
	var out []string
	for _, e := range r.Vulnerabilities.Edges {
		out = append(out, e.Node.ID)
	}
	return out
}

// TestScanFindsTheVulnerablePackagesOfImagesAndIndexes: real images pushed
// through /v2/ are scanned against an imported OSV set; the report names
// exactly the vulnerable packages (a Debian 12 record by source package,
// never a Debian 11 one or one fixed in the installed version), their
// fixed versions, severities and the layers that installed them; an
// index sums up its images. Scan on push, who may scan and read, and a
// re-scan by scan-all after the vulnerability database changes follow.
func TestScanFindsTheVulnerablePackagesOfImagesAndIndexes(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team", false)
		importRecords(t, s, scanFixtures())

		base := scanLayer(t, [2]string{"etc/os-release", scanDebianOSRelease},
			[2]string{"var/lib/dpkg/status", dpkgParagraph("base-files", "", "12.4+deb12u5") + dpkgParagraph("zlib1g", "zlib", "1:1.2.13.dfsg-1")})
		ssl := scanLayer(t, [2]string{"var/lib/dpkg/status", dpkgParagraph("base-files", "", "12.4+deb12u5") +
			dpkgParagraph("zlib1g", "zlib", "1:1.2.13.dfsg-1") + dpkgParagraph("libssl3", "openssl", "3.0.11-1~deb12u1")})
		debian := scanImage(t, "A=1", base, ssl)
		alpineLayer := scanLayer(t, [2]string{"etc/os-release", scanAlpineOSRelease},
			[2]string{"lib/apk/db/installed", apkEntry("musl", "1.2.4_git20230717-r4", "musl") + apkEntry("busybox", "1.36.1-r15", "busybox")})
		alpine := scanImage(t, "A=1", alpineLayer)
		pushRemote(t, s, "team/debian:12", debian)
		pushRemote(t, s, "team/alpine:3.19", alpine)
		index := mutate.IndexMediaType(mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: debian, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
			mutate.IndexAddendum{Add: alpine, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		), types.OCIImageIndex)
		pushRemote(t, s, "team/multi:1", index)

		deb := scanNow(t, s, admin, "team/debian", "12")
		if deb.Status != "SUCCESS" || deb.Error != nil || deb.FinishedAt == nil || deb.Os == nil || *deb.Os != "debian 12" || deb.PackageCount != 3 {
			t.Fatalf("debian scan: %+v", deb)
		}
		if c := deb.SeverityCounts; c.High != 1 || c.Critical+c.Medium+c.Low+c.Unknown != 0 || deb.FixableCount != 1 || deb.Sbom == nil {
			t.Fatalf("debian counts: %+v", deb)
		}
		if got := ids(&deb); !slices.Equal(got, []string{"DSA-5532-1"}) {
			t.Fatalf("debian findings %v, want only DSA-5532-1", got)
		}
		v := deb.Vulnerabilities.Edges[0].Node
		if v.Package != "libssl3" || v.SourcePackage == nil || *v.SourcePackage != "openssl" || v.InstalledVersion != "3.0.11-1~deb12u1" ||
			v.FixedVersion == nil || *v.FixedVersion != "3.0.11-1~deb12u2" || v.Severity != "HIGH" || v.CvssScore == nil || *v.CvssScore != 7.5 ||
			!slices.Equal(v.Aliases, []string{"CVE-2023-5363"}) || v.Summary != "openssl - security update" ||
			v.LayerDigest == nil || *v.LayerDigest != layerDigest(t, ssl) {
			t.Fatalf("debian finding: %+v", v)
		}

		alp := scanNow(t, s, admin, "team/alpine", "3.19")
		if alp.Status != "SUCCESS" || alp.SeverityCounts.Medium != 1 || alp.Vulnerabilities.TotalCount != 1 {
			t.Fatalf("alpine scan: %+v", alp)
		}
		if v := alp.Vulnerabilities.Edges[0].Node; v.ID != "ALPINE-CVE-2023-42366" || v.Package != "busybox" || v.SourcePackage != nil ||
			*v.FixedVersion != "1.36.1-r16" || v.Severity != "MEDIUM" || *v.LayerDigest != layerDigest(t, alpineLayer) {
			t.Fatalf("alpine finding: %+v", v)
		}

		multi := scanNow(t, s, admin, "team/multi", "1")
		if multi.Status != "SUCCESS" || multi.SeverityCounts.High != 1 || multi.SeverityCounts.Medium != 1 ||
			!slices.Equal(ids(&multi), []string{"DSA-5532-1", "ALPINE-CVE-2023-42366"}) {
			t.Fatalf("index scan: %+v", multi)
		}

		// Filters and pages.
		for where, want := range map[string][]string{
			`{severity: HIGH}`:              {"DSA-5532-1"},
			`{severity: [MEDIUM, LOW]}`:     {"ALPINE-CVE-2023-42366"},
			`{fixable: false}`:              nil,
			`{package: "openssl"}`:          {"DSA-5532-1"},
			`{package: "busybox"}`:          {"ALPINE-CVE-2023-42366"},
			`{id: "CVE-2023-5363"}`:         {"DSA-5532-1"},
			`{id: "ALPINE-CVE-2023-42366"}`: {"ALPINE-CVE-2023-42366"},
			`{id: "CVE-0000-0000"}`:         nil,
		} {
			var out struct{ Artifact struct{ Scan scanResult } }
			s.MustDo(admin, `{ artifact(repository: "team/multi", reference: "1") { scan { vulnerabilities(first: 10, where: `+where+`) { totalCount edges { node { id } } } } } }`, nil, &out)
			if got := ids(&out.Artifact.Scan); !slices.Equal(got, want) || out.Artifact.Scan.Vulnerabilities.TotalCount != len(want) {
				t.Errorf("where %s: %v, want %v", where, got, want)
			}
		}
		var page struct{ Artifact struct{ Scan scanResult } }
		pageQuery := `query($after: Cursor) { artifact(repository: "team/multi", reference: "1") { scan { vulnerabilities(first: 1, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } } } }`
		s.MustDo(admin, pageQuery, nil, &page)
		first := page.Artifact.Scan.Vulnerabilities
		if !first.PageInfo.HasNextPage || first.PageInfo.EndCursor == nil || !slices.Equal(ids(&page.Artifact.Scan), []string{"DSA-5532-1"}) {
			t.Fatalf("first page: %+v", first)
		}
		s.MustDo(admin, pageQuery, map[string]any{"after": *first.PageInfo.EndCursor}, &page)
		if page.Artifact.Scan.Vulnerabilities.PageInfo.HasNextPage || !slices.Equal(ids(&page.Artifact.Scan), []string{"ALPINE-CVE-2023-42366"}) {
			t.Fatalf("second page: %+v", page.Artifact.Scan.Vulnerabilities)
		}

		// Every finished scan is an event.
		if n := s.Berth.DB().Change.Query().Where(change.OperationEQ(change.OperationSCAN_COMPLETED), change.Repository("team/debian")).
			CountX(viewer.SystemContext(context.Background())); n < 1 {
			t.Fatalf("%d SCAN_COMPLETED events for team/debian", n)
		}

		// Who reads scans and who may scan.
		s.CreateUser("reader")
		addMember(t, s, "team", "reader", member.RoleGUEST)
		reader := servertest.Basic("reader", "reader-password")
		outsider := s.CreateUser("outsider")
		if got, code := artifactScan(t, s, reader, "team/debian", "12"); got == nil || got.Status != "SUCCESS" || got.Vulnerabilities.TotalCount != 1 {
			t.Fatalf("a project reader should read the scan: %+v %s", got, code)
		}
		for who, c := range map[string]servertest.Creds{"outsider": outsider, "anonymous": {}} {
			if got, _ := artifactScan(t, s, c, "team/debian", "12"); got != nil {
				t.Fatalf("%s read the scan of a private project: %+v", who, got)
			}
		}
		var tok struct{ CreateAccessToken struct{ Secret string } }
		s.MustDo(admin, `mutation { createAccessToken(input: {name: "ro", readOnly: true}) { secret } }`, nil, &tok)
		var puller struct {
			CreateRobot struct{ Login, Secret string }
		}
		s.MustDo(admin, `mutation { createRobot(input: {name: "puller", project: "team", permissions: [{resource: REPOSITORY, action: PULL}]}) { login secret } }`, nil, &puller)
		for _, tc := range []struct {
			who   string
			creds servertest.Creds
			code  string
		}{
			{"anonymous", servertest.Creds{}, "UNAUTHENTICATED"},
			{"read-only token", servertest.Creds{Bearer: tok.CreateAccessToken.Secret}, "FORBIDDEN"},
			{"robot without push", servertest.Basic(puller.CreateRobot.Login, puller.CreateRobot.Secret), "FORBIDDEN"},
			{"outsider", outsider, "NOT_FOUND"},
			{"guest", reader, "FORBIDDEN"},
		} {
			r := s.Do(tc.creds, `mutation { scanArtifact(repository: "team/debian", reference: "12") { status } }`, nil)
			if r.Code() != tc.code {
				t.Errorf("%s scanning: %q (%+v), want %s", tc.who, r.Code(), r.Errors, tc.code)
			}
		}
		s.CreateUser("dev")
		addMember(t, s, "team", "dev", member.RoleDEVELOPER)
		var dev struct{ ScanArtifact struct{ Status string } }
		s.MustDo(servertest.Basic("dev", "dev-password"), `mutation { scanArtifact(repository: "team/alpine", reference: "3.19") { status } }`, nil, &dev)

		// Scan on push.
		var proj struct{ UpdateProject struct{ ScanOnPush bool } }
		s.MustDo(admin, `mutation { updateProject(name: "team", input: {scanOnPush: true}) { scanOnPush } }`, nil, &proj)
		if !proj.UpdateProject.ScanOnPush {
			t.Fatal("scanOnPush not set")
		}
		pushRemote(t, s, "team/pushed:1", scanImage(t, "A=2", base, ssl))
		eventually(t, "the scan of a pushed image", time.Minute, func() bool {
			got, _ := artifactScan(t, s, admin, "team/pushed", "1")
			return got != nil && got.Status == "SUCCESS" && slices.Equal(ids(got), []string{"DSA-5532-1"})
		})

		// The database changes: a new record reaches the next scan-all.
		var before struct {
			SystemInfo struct {
				VulnerabilityDatabase []struct {
					Ecosystem string
					Records   int
					UpdatedAt string
				}
			}
		}
		s.MustDo(servertest.Creds{}, `{ systemInfo { vulnerabilityDatabase { ecosystem records lastModified updatedAt } } }`, nil, &before)
		if db := before.SystemInfo.VulnerabilityDatabase; len(db) != 2 || db[0].Ecosystem != "Alpine" || db[0].Records != 1 || db[1].Ecosystem != "Debian" || db[1].Records != 3 {
			t.Fatalf("vulnerability database: %+v", db)
		}
		importRecords(t, s, map[string]any{"DEBIAN-CVE-2024-0001": map[string]any{
			"id": "DEBIAN-CVE-2024-0001", "modified": "2024-04-01T10:00:00Z",
			"affected": []any{map[string]any{"package": map[string]string{"ecosystem": "Debian:12", "name": "zlib"},
				"ranges": []any{map[string]any{"type": "ECOSYSTEM", "events": []map[string]string{{"introduced": "0"}, {"fixed": "1:1.3.dfsg-3"}}}}}},
		}})
		s.MustDo(admin, `mutation { updateSchedule(input: {kind: SCAN_ALL, cron: "@every 1s", enabled: true}) { kind } }`, nil, nil)
		eventually(t, "scan-all to find the new record", time.Minute, func() bool {
			got, _ := artifactScan(t, s, admin, "team/debian", "12")
			return got != nil && got.Status == "SUCCESS" && slices.Equal(ids(got), []string{"DSA-5532-1", "DEBIAN-CVE-2024-0001"})
		})
		got, _ := artifactScan(t, s, admin, "team/debian", "12")
		if v := got.Vulnerabilities.Edges[1].Node; v.Package != "zlib1g" || v.Severity != "UNKNOWN" || *v.LayerDigest != layerDigest(t, base) {
			t.Fatalf("new finding: %+v", v)
		}
		s.MustDo(admin, `mutation { updateSchedule(input: {kind: SCAN_ALL, cron: "@every 1s", enabled: false}) { kind } }`, nil, nil)
	})
}

// TestScanRefusesWhatIsNotAnImageAndReportsWhatItCannotRead: an artifact
// that is not an image is refused; a Windows image ends in ERROR with the
// reason; a page of artifacts reads each one's scan (null when never
// scanned); deleting an artifact deletes its scan.
func TestScanRefusesWhatIsNotAnImageAndReportsWhatItCannotRead(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team", true)
		c := registryClient{t: t, base: s.URL, user: "admin", pwd: servertest.AdminPassword}
		cfg := []byte(`{"kind":"example"}`)
		d := c.blob("team/other", cfg)
		other := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.thing",` +
			`"config":{"mediaType":"application/vnd.example.config+json","digest":"` + d.String() + `","size":` + strconv.Itoa(len(cfg)) + `},"layers":[]}`)
		if st, b := c.do("PUT", "/v2/team/other/manifests/v1", other, "Content-Type", "application/vnd.oci.image.manifest.v1+json"); st != 201 {
			t.Fatalf("pushing an artifact: %d %s", st, b)
		}
		if r := s.Do(admin, `mutation { scanArtifact(repository: "team/other", reference: "v1") { status } }`, nil); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("scanning a non-image: %q %+v", r.Code(), r.Errors)
		}

		win := []byte(`{"architecture":"amd64","os":"windows","rootfs":{"type":"layers","diff_ids":[]}}`)
		pushLayers(c, "team/win", "1", win, []byte("not a tar"))
		got := scanNow(t, s, admin, "team/win", "1")
		if got.Status != "ERROR" || got.Error == nil || !strings.Contains(*got.Error, "windows") || got.Vulnerabilities.TotalCount != 0 {
			t.Fatalf("windows image: %+v", got)
		}

		pushLayers(c, "team/win", "2", win, []byte("another layer"))
		var list struct {
			Repository struct {
				Artifacts struct {
					Edges []struct {
						Node struct {
							Digest string
							Scan   *struct{ Status string }
						}
					}
				}
			}
		}
		s.MustDo(servertest.Creds{}, `{ repository(name: "team/win") { artifacts(first: 10, orderBy: {field: PUSHED_AT, direction: ASC}) { edges { node { digest scan { status } } } } } }`, nil, &list)
		edges := list.Repository.Artifacts.Edges
		if len(edges) != 2 || edges[0].Node.Scan == nil || edges[0].Node.Scan.Status != "ERROR" || edges[1].Node.Scan != nil {
			t.Fatalf("artifacts with their scans: %+v", edges)
		}

		s.MustDo(admin, `mutation { deleteArtifact(repository: "team/win", reference: "1") }`, nil, nil)
		if n := s.Berth.DB().ScanReport.Query().CountX(viewer.SystemContext(context.Background())); n != 0 {
			t.Fatalf("%d scan reports left after deleting the artifact", n)
		}
	})
}
