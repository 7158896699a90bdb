package graph_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/server/servertest"
)

// The security overview's fixtures: besides scanFixtures, a critical
// record without a fix (its summary quoted in CSV), a high one on musl
// with a higher CVSS score than DSA-5532-1's, and an unrated one on zlib.
func securityFixtures() map[string]any {
	records := scanFixtures()
	affected := func(ecosystem, pkg string, events ...map[string]string) []any {
		return []any{map[string]any{"package": map[string]string{"ecosystem": ecosystem, "name": pkg},
			"ranges": []any{map[string]any{"type": "ECOSYSTEM", "events": events}}}}
	}
	records["DSA-9999-1"] = map[string]any{"id": "DSA-9999-1", "modified": "2024-03-01T10:00:00Z", "aliases": []string{"CVE-2024-9999"},
		"summary":  `base-files: "quoted", with commas`,
		"severity": []any{map[string]string{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
		"affected": affected("Debian:12", "base-files", map[string]string{"introduced": "0"})}
	records["ALPINE-CVE-2024-1111"] = map[string]any{"id": "ALPINE-CVE-2024-1111", "modified": "2024-03-01T10:00:00Z", "aliases": []string{"CVE-2024-1111"},
		"severity": []any{map[string]string{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}},
		"affected": affected("Alpine:v3.19", "musl", map[string]string{"introduced": "0"}, map[string]string{"fixed": "1.2.4_git20230717-r5"})}
	records["DEBIAN-CVE-2024-0001"] = map[string]any{"id": "DEBIAN-CVE-2024-0001", "modified": "2024-03-01T10:00:00Z",
		"affected": affected("Debian:12", "zlib", map[string]string{"introduced": "0"}, map[string]string{"fixed": "1:1.3.dfsg-3"})}
	return records
}

// securityNode is one finding of Query.vulnerabilities.
type securityNode struct {
	Vulnerability vulnerability
	Artifact      struct {
		Digest     string
		Repository struct{ Name string }
		Tags       []struct{ Name string }
	}
}

type securityPage struct {
	Vulnerabilities struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage bool
			EndCursor   *string
		}
		Edges []struct{ Node securityNode }
	}
}

const securityPageQuery = `query($first: Int, $after: Cursor, $where: ArtifactVulnerabilityWhereInput) {
	vulnerabilities(first: $first, after: $after, where: $where) {
		totalCount pageInfo { hasNextPage endCursor }
		edges { node {
			vulnerability { id aliases package sourcePackage installedVersion fixedVersion severity cvssScore summary }
			artifact { digest repository { name } tags { name } }
		} }
	}
}`

// found names each finding of a page "<vulnerability> <repository>".
func (p *securityPage) found() []string {
	var out []string
	for _, e := range p.Vulnerabilities.Edges {
		out = append(out, e.Node.Vulnerability.ID+" "+e.Node.Artifact.Repository.Name)
	}
	return out
}

type securitySummary struct {
	SeverityCounts                                                                     struct{ Critical, High, Medium, Low, Unknown int }
	TotalCount, FixableCount, ArtifactCount, ScannedCount, FailedCount, UnscannedCount int
	DangerousVulnerabilities                                                           []struct {
		ID            string
		Aliases       []string
		Severity      string
		CvssScore     *float64
		ArtifactCount int
		FixedVersion  *string
		Summary       string
	}
	DangerousArtifacts []struct {
		Artifact struct {
			Digest     string
			Repository struct{ Name string }
		}
		SeverityCounts struct{ Critical, High, Medium, Low, Unknown int }
		FixableCount   int
	}
}

const securitySummaryQuery = `query($project: String) { securitySummary(project: $project) {
	severityCounts { critical high medium low unknown } totalCount fixableCount
	artifactCount scannedCount failedCount unscannedCount
	dangerousVulnerabilities(first: 10) { id aliases severity cvssScore artifactCount fixedVersion summary }
	dangerousArtifacts(first: 10) { artifact { digest repository { name } } severityCounts { critical high medium low unknown } fixableCount }
} }`

// exportCSV downloads a project's findings as c.
func exportCSV(t *testing.T, s *servertest.Server, c servertest.Creds, project, query string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/projects/"+project+"/vulnerabilities.csv"+query, nil)
	switch {
	case c.Bearer != "":
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password)
	}
	for _, ck := range c.Cookies {
		req.AddCookie(ck)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func imageDigest(t *testing.T, img interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// TestSecurityOverviewAcrossArtifacts: the findings of the latest scans
// across artifacts, filtered and paged; the summary's exact counts, its
// worst vulnerabilities (severity, then artifacts, then CVSS) and
// artifacts; a project's CSV export; and who sees what of them: images
// an index lists are counted through their index only, a private
// project's findings reach its members, their read-only tokens and its
// pull robots, never an outsider, an anonymous caller or a push-only
// robot, and a system admin sees everything.
func TestSecurityOverviewAcrossArtifacts(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team", false)
		s.CreateProject(admin, "pub", true)
		s.CreateProject(admin, "other", false)
		importRecords(t, s, securityFixtures())

		base := scanLayer(t, [2]string{"etc/os-release", scanDebianOSRelease},
			[2]string{"var/lib/dpkg/status", dpkgParagraph("base-files", "", "12.4+deb12u5") + dpkgParagraph("zlib1g", "zlib", "1:1.2.13.dfsg-1")})
		ssl := scanLayer(t, [2]string{"var/lib/dpkg/status", dpkgParagraph("base-files", "", "12.4+deb12u5") +
			dpkgParagraph("zlib1g", "zlib", "1:1.2.13.dfsg-1") + dpkgParagraph("libssl3", "openssl", "3.0.11-1~deb12u1")})
		alpineLayer := scanLayer(t, [2]string{"etc/os-release", scanAlpineOSRelease},
			[2]string{"lib/apk/db/installed", apkEntry("musl", "1.2.4_git20230717-r4", "musl") + apkEntry("busybox", "1.36.1-r15", "busybox")})
		debian, alpine := scanImage(t, "A=1", base, ssl), scanImage(t, "A=1", alpineLayer)
		index := mutate.IndexMediaType(mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: scanImage(t, "A=2", base, ssl), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
			mutate.IndexAddendum{Add: scanImage(t, "A=2", alpineLayer), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		), types.OCIImageIndex)
		pushRemote(t, s, "team/debian:12", debian)
		pushRemote(t, s, "team/alpine:3.19", alpine)
		pushRemote(t, s, "team/multi:1", index)
		pushRemote(t, s, "team/unscanned:1", scanImage(t, "A=3", base))
		pushLayers(registryClient{t: t, base: s.URL, user: "admin", pwd: servertest.AdminPassword}, "team/win", "1",
			[]byte(`{"architecture":"amd64","os":"windows","rootfs":{"type":"layers","diff_ids":[]}}`), []byte("not a tar"))
		pushRemote(t, s, "pub/debian:latest", debian)
		pushRemote(t, s, "pub/debian:12", debian)
		pushRemote(t, s, "other/debian:1", debian)
		for _, ref := range [][2]string{{"team/debian", "12"}, {"team/alpine", "3.19"}, {"team/multi", "1"}, {"team/win", "1"}, {"pub/debian", "latest"}, {"other/debian", "1"}} {
			scanNow(t, s, admin, ref[0], ref[1])
		}

		// Every finding of project team, worst first: the index's, not
		// those of the images it lists.
		teamAll := []string{
			"DSA-9999-1 team/debian", "DSA-9999-1 team/multi",
			"ALPINE-CVE-2024-1111 team/alpine", "ALPINE-CVE-2024-1111 team/multi",
			"DSA-5532-1 team/debian", "DSA-5532-1 team/multi",
			"ALPINE-CVE-2023-42366 team/alpine", "ALPINE-CVE-2023-42366 team/multi",
			"DEBIAN-CVE-2024-0001 team/debian", "DEBIAN-CVE-2024-0001 team/multi",
		}
		var all securityPage
		s.MustDo(admin, securityPageQuery, map[string]any{"first": 100, "where": map[string]any{"project": "team"}}, &all)
		if got := all.found(); !slices.Equal(got, teamAll) || all.Vulnerabilities.TotalCount != len(teamAll) || all.Vulnerabilities.PageInfo.HasNextPage {
			t.Fatalf("team's findings:\n%v\nwant\n%v (total %d)", got, teamAll, all.Vulnerabilities.TotalCount)
		}
		n := all.Vulnerabilities.Edges[0].Node
		if n.Artifact.Digest != imageDigest(t, debian) || len(n.Artifact.Tags) != 1 || n.Artifact.Tags[0].Name != "12" ||
			n.Vulnerability.Package != "base-files" || n.Vulnerability.FixedVersion != nil || n.Vulnerability.Severity != "CRITICAL" ||
			n.Vulnerability.CvssScore == nil || *n.Vulnerability.CvssScore != 9.8 || !slices.Equal(n.Vulnerability.Aliases, []string{"CVE-2024-9999"}) {
			t.Fatalf("first finding: %+v", n)
		}
		if n := all.Vulnerabilities.Edges[1].Node; n.Artifact.Digest != imageDigest(t, index) || n.Artifact.Tags[0].Name != "1" {
			t.Fatalf("the index's finding: %+v", n)
		}

		for _, tc := range []struct {
			where map[string]any
			want  []string
		}{
			{map[string]any{"project": "team", "cve": "CVE-2023-5363"}, []string{"DSA-5532-1 team/debian", "DSA-5532-1 team/multi"}},
			{map[string]any{"project": "team", "cve": "DSA-9999-1"}, []string{"DSA-9999-1 team/debian", "DSA-9999-1 team/multi"}},
			{map[string]any{"project": "team", "package": "openssl"}, []string{"DSA-5532-1 team/debian", "DSA-5532-1 team/multi"}},
			{map[string]any{"project": "team", "package": "musl"}, []string{"ALPINE-CVE-2024-1111 team/alpine", "ALPINE-CVE-2024-1111 team/multi"}},
			{map[string]any{"project": "team", "severity": []string{"MEDIUM", "UNKNOWN"}}, teamAll[6:]},
			{map[string]any{"project": "team", "fixable": false}, teamAll[:2]},
			{map[string]any{"project": "team", "fixable": true, "severity": []string{"HIGH"}}, teamAll[2:6]},
			{map[string]any{"project": "pub"}, []string{"DSA-9999-1 pub/debian", "DSA-5532-1 pub/debian", "DEBIAN-CVE-2024-0001 pub/debian"}},
			{map[string]any{"cve": "CVE-2023-5363"}, []string{"DSA-5532-1 team/debian", "DSA-5532-1 team/multi", "DSA-5532-1 pub/debian", "DSA-5532-1 other/debian"}},
			{map[string]any{"cve": "CVE-0000-0000"}, nil},
		} {
			var p securityPage
			s.MustDo(admin, securityPageQuery, map[string]any{"first": 100, "where": tc.where}, &p)
			if got := p.found(); !slices.Equal(got, tc.want) || p.Vulnerabilities.TotalCount != len(tc.want) {
				t.Errorf("where %v: %v (total %d), want %v", tc.where, got, p.Vulnerabilities.TotalCount, tc.want)
			}
		}
		for _, where := range []map[string]any{{"project": "nope"}, {"project": "team", "cve": strings.Repeat("x", 600)}} {
			if r := s.Do(admin, securityPageQuery, map[string]any{"where": where}); r.Code() == "" {
				t.Errorf("where %.40v answered without an error", where)
			}
		}

		// Pages of three follow the same order to the end.
		var paged []string
		var after any
		for range 5 {
			var p securityPage
			s.MustDo(admin, securityPageQuery, map[string]any{"first": 3, "after": after, "where": map[string]any{"project": "team"}}, &p)
			if p.Vulnerabilities.TotalCount != len(teamAll) {
				t.Fatalf("page total %d", p.Vulnerabilities.TotalCount)
			}
			paged = append(paged, p.found()...)
			if !p.Vulnerabilities.PageInfo.HasNextPage {
				break
			}
			after = *p.Vulnerabilities.PageInfo.EndCursor
		}
		if !slices.Equal(paged, teamAll) {
			t.Fatalf("paged:\n%v\nwant\n%v", paged, teamAll)
		}
		if r := s.Do(admin, securityPageQuery, map[string]any{"after": "bm90IGEgY3Vyc29y"}); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("a broken cursor: %q %+v", r.Code(), r.Errors)
		}
		if r := s.Do(admin, securityPageQuery, map[string]any{"first": 101}); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("first: 101: %q", r.Code())
		}

		// The summaries of project team and of everything.
		var team struct{ SecuritySummary securitySummary }
		s.MustDo(admin, securitySummaryQuery, map[string]any{"project": "team"}, &team)
		sum := team.SecuritySummary
		if c := sum.SeverityCounts; c.Critical != 2 || c.High != 4 || c.Medium != 2 || c.Low != 0 || c.Unknown != 2 ||
			sum.TotalCount != 10 || sum.FixableCount != 8 || sum.ArtifactCount != 5 || sum.ScannedCount != 3 || sum.FailedCount != 1 || sum.UnscannedCount != 1 {
			t.Fatalf("team's summary: %+v", sum)
		}
		var worst []string
		for _, v := range sum.DangerousVulnerabilities {
			worst = append(worst, v.ID)
		}
		if want := []string{"DSA-9999-1", "ALPINE-CVE-2024-1111", "DSA-5532-1", "ALPINE-CVE-2023-42366", "DEBIAN-CVE-2024-0001"}; !slices.Equal(worst, want) {
			t.Fatalf("team's worst vulnerabilities %v, want %v", worst, want)
		}
		if v := sum.DangerousVulnerabilities[0]; v.Severity != "CRITICAL" || v.ArtifactCount != 2 || v.CvssScore == nil || *v.CvssScore != 9.8 ||
			v.FixedVersion != nil || !slices.Equal(v.Aliases, []string{"CVE-2024-9999"}) || v.Summary != `base-files: "quoted", with commas` {
			t.Fatalf("worst vulnerability: %+v", v)
		}
		if v := sum.DangerousVulnerabilities[2]; v.Severity != "HIGH" || v.ArtifactCount != 2 || *v.CvssScore != 7.5 || *v.FixedVersion != "3.0.11-1~deb12u2" {
			t.Fatalf("DSA-5532-1: %+v", v)
		}
		if v := sum.DangerousVulnerabilities[4]; v.Severity != "UNKNOWN" || v.CvssScore != nil || len(v.Aliases) != 0 || *v.FixedVersion != "1:1.3.dfsg-3" {
			t.Fatalf("DEBIAN-CVE-2024-0001: %+v", v)
		}
		var arts []string
		for _, a := range sum.DangerousArtifacts {
			arts = append(arts, a.Artifact.Repository.Name)
		}
		if !slices.Equal(arts, []string{"team/multi", "team/debian", "team/alpine"}) {
			t.Fatalf("team's worst artifacts %v", arts)
		}
		if a := sum.DangerousArtifacts[0]; a.Artifact.Digest != imageDigest(t, index) || a.SeverityCounts.Critical != 1 || a.SeverityCounts.High != 2 ||
			a.SeverityCounts.Medium != 1 || a.SeverityCounts.Unknown != 1 || a.FixableCount != 4 {
			t.Fatalf("worst artifact: %+v", a)
		}

		// Everything, for the admin: DSA-5532-1 is in four artifacts, so
		// it comes before ALPINE-CVE-2024-1111's higher score in two.
		var everything struct{ SecuritySummary securitySummary }
		s.MustDo(admin, securitySummaryQuery, nil, &everything)
		sum = everything.SecuritySummary
		if c := sum.SeverityCounts; c.Critical != 4 || c.High != 6 || c.Medium != 2 || c.Unknown != 4 || sum.TotalCount != 16 ||
			sum.FixableCount != 12 || sum.ArtifactCount != 7 || sum.ScannedCount != 5 || sum.FailedCount != 1 || sum.UnscannedCount != 1 {
			t.Fatalf("the summary of everything: %+v", sum)
		}
		worst = nil
		for _, v := range sum.DangerousVulnerabilities {
			worst = append(worst, v.ID)
		}
		if want := []string{"DSA-9999-1", "DSA-5532-1", "ALPINE-CVE-2024-1111", "ALPINE-CVE-2023-42366", "DEBIAN-CVE-2024-0001"}; !slices.Equal(worst, want) ||
			sum.DangerousVulnerabilities[1].ArtifactCount != 4 {
			t.Fatalf("the worst vulnerabilities of everything %v, want %v", worst, want)
		}

		// A small CSV, exactly.
		code, body, h := exportCSV(t, s, admin, "pub", "")
		d := imageDigest(t, debian)
		want := "repository,digest,tags,package,installed_version,fixed_version,vulnerability_id,aliases,severity,cvss_score,summary\n" +
			"pub/debian," + d + ",12 latest,base-files,12.4+deb12u5,,DSA-9999-1,CVE-2024-9999,CRITICAL,9.8,\"base-files: \"\"quoted\"\", with commas\"\n" +
			"pub/debian," + d + ",12 latest,libssl3,3.0.11-1~deb12u1,3.0.11-1~deb12u2,DSA-5532-1,CVE-2023-5363,HIGH,7.5,openssl - security update\n" +
			"pub/debian," + d + ",12 latest,zlib1g,1:1.2.13.dfsg-1,1:1.3.dfsg-3,DEBIAN-CVE-2024-0001,,UNKNOWN,,\n"
		if code != 200 || body != want || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || h.Get("X-Total-Count") != "3" ||
			h.Get("Content-Disposition") != `attachment; filename="pub-vulnerabilities.csv"` {
			t.Fatalf("pub's CSV: %d %v\n%s\nwant\n%s", code, h, body, want)
		}
		if code, body, _ := exportCSV(t, s, admin, "team", "?severity=critical,HIGH&fixable=false"); code != 200 || strings.Count(body, "\n") != 3 || !strings.Contains(body, "team/multi,") {
			t.Fatalf("team's critical findings without a fix: %d\n%s", code, body)
		}
		if code, body, _ := exportCSV(t, s, admin, "team", "?severity=severe"); code != 400 || !strings.Contains(body, "BAD_USER_INPUT") {
			t.Fatalf("an unknown severity: %d %s", code, body)
		}

		// Who sees what.
		s.CreateUser("reader")
		addMember(t, s, "team", "reader", member.RoleGUEST)
		reader := servertest.Basic("reader", "reader-password")
		outsider := s.CreateUser("outsider")
		var tok struct{ CreateAccessToken struct{ Secret string } }
		s.MustDo(reader, `mutation { createAccessToken(input: {name: "ro", readOnly: true}) { secret } }`, nil, &tok)
		var puller, pusher struct {
			CreateRobot struct{ Login, Secret string }
		}
		s.MustDo(admin, `mutation { createRobot(input: {name: "puller", project: "team", permissions: [{resource: REPOSITORY, action: PULL}]}) { login secret } }`, nil, &puller)
		s.MustDo(admin, `mutation { createRobot(input: {name: "pusher", project: "team", permissions: [{resource: REPOSITORY, action: PUSH}]}) { login secret } }`, nil, &pusher)
		for _, tc := range []struct {
			who      string
			creds    servertest.Creds
			findings int // across everything the caller reads
			team     bool
		}{
			{"anonymous", servertest.Creds{}, 3, false},
			{"outsider", outsider, 3, false},
			{"push-only robot", servertest.Basic(pusher.CreateRobot.Login, pusher.CreateRobot.Secret), 3, false},
			{"member", reader, 13, true},
			{"member's read-only token", servertest.Creds{Bearer: tok.CreateAccessToken.Secret}, 13, true},
			{"pull robot", servertest.Basic(puller.CreateRobot.Login, puller.CreateRobot.Secret), 13, true},
			{"system admin", admin, 16, true},
		} {
			t.Run(tc.who, func(t *testing.T) {
				var p securityPage
				s.MustDo(tc.creds, securityPageQuery, map[string]any{"first": 100}, &p)
				var sum struct{ SecuritySummary securitySummary }
				s.MustDo(tc.creds, securitySummaryQuery, nil, &sum)
				if p.Vulnerabilities.TotalCount != tc.findings || len(p.Vulnerabilities.Edges) != tc.findings || sum.SecuritySummary.TotalCount != tc.findings {
					t.Fatalf("%d findings listed, %d summed up, want %d", p.Vulnerabilities.TotalCount, sum.SecuritySummary.TotalCount, tc.findings)
				}
				for _, f := range p.found() {
					if !tc.team && !strings.HasSuffix(f, " pub/debian") {
						t.Fatalf("%s reads %s", tc.who, f)
					}
				}
				teamSum := s.Do(tc.creds, securitySummaryQuery, map[string]any{"project": "team"})
				teamList := s.Do(tc.creds, securityPageQuery, map[string]any{"where": map[string]any{"project": "team"}})
				code, body, _ := exportCSV(t, s, tc.creds, "team", "")
				if tc.team {
					var got struct{ SecuritySummary securitySummary }
					json.Unmarshal(teamSum.Data, &got)
					if teamSum.Code() != "" || got.SecuritySummary.TotalCount != 10 || teamList.Code() != "" || code != 200 || strings.Count(body, "\n") != 11 {
						t.Fatalf("team: summary %q %+v, list %q, CSV %d\n%s", teamSum.Code(), got.SecuritySummary, teamList.Code(), code, body)
					}
				} else if teamSum.Code() != "NOT_FOUND" || teamList.Code() != "NOT_FOUND" || code != 404 || strings.Contains(body, "team/") {
					t.Fatalf("team: summary %q, list %q, CSV %d %s", teamSum.Code(), teamList.Code(), code, body)
				}
				if code, _, _ := exportCSV(t, s, tc.creds, "pub", ""); code != 200 {
					t.Fatalf("pub's CSV: %d", code)
				}
			})
		}
		if code, _, _ := exportCSV(t, s, admin, "nope", ""); code != 404 {
			t.Fatalf("the CSV of a project that does not exist: %d", code)
		}
	})
}

// repositorySummaryQuery reads a repository's security summary.
const repositorySummaryQuery = `query($name: String!) { repository(name: $name) { securitySummary {
	severityCounts { critical high medium low unknown } totalCount fixableCount
	artifactCount scannedCount failedCount unscannedCount
	dangerousVulnerabilities(first: 10) { id aliases severity cvssScore artifactCount fixedVersion summary }
	dangerousArtifacts(first: 10) { artifact { digest repository { name } } severityCounts { critical high medium low unknown } fixableCount }
} } }`

// TestSecurityRepositorySummaryCountsOneRepository: Repository.securitySummary
// counts one repository's artifacts exactly as securitySummary counts a
// project's (an index's images through the index only), the
// vulnerabilities filter and the CSV export take a repository, whoever
// reads the repository (a pull robot, a member's read-only token) reads
// its summary and nobody else does, and a package name that is a
// spreadsheet formula reaches the CSV as text.
func TestSecurityRepositorySummaryCountsOneRepository(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team", false)
		s.CreateProject(admin, "other", false)
		records := securityFixtures()
		const evil = `=HYPERLINK("http://evil.example","x")`
		records["DSA-6666-1"] = map[string]any{"id": "DSA-6666-1", "modified": "2024-03-01T10:00:00Z", "summary": "@SUM(1+1)",
			"affected": []any{map[string]any{"package": map[string]string{"ecosystem": "Debian:12", "name": evil},
				"ranges": []any{map[string]any{"type": "ECOSYSTEM", "events": []map[string]string{{"introduced": "0"}}}}}}}
		importRecords(t, s, records)

		base := scanLayer(t, [2]string{"etc/os-release", scanDebianOSRelease},
			[2]string{"var/lib/dpkg/status", dpkgParagraph("base-files", "", "12.4+deb12u5") + dpkgParagraph("zlib1g", "zlib", "1:1.2.13.dfsg-1")})
		ssl := scanLayer(t, [2]string{"var/lib/dpkg/status", dpkgParagraph("base-files", "", "12.4+deb12u5") +
			dpkgParagraph("zlib1g", "zlib", "1:1.2.13.dfsg-1") + dpkgParagraph("libssl3", "openssl", "3.0.11-1~deb12u1")})
		alpineLayer := scanLayer(t, [2]string{"etc/os-release", scanAlpineOSRelease},
			[2]string{"lib/apk/db/installed", apkEntry("musl", "1.2.4_git20230717-r4", "musl") + apkEntry("busybox", "1.36.1-r15", "busybox")})
		debian := scanImage(t, "A=1", base, ssl)
		index := mutate.IndexMediaType(mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: scanImage(t, "A=2", base, ssl), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
			mutate.IndexAddendum{Add: scanImage(t, "A=2", alpineLayer), Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
		), types.OCIImageIndex)
		pushRemote(t, s, "team/debian:12", debian)
		pushRemote(t, s, "team/debian:old", scanImage(t, "A=3", base)) // never scanned
		pushRemote(t, s, "team/multi:1", index)
		evilImage := scanImage(t, "A=4", scanLayer(t, [2]string{"etc/os-release", scanDebianOSRelease},
			[2]string{"var/lib/dpkg/status", dpkgParagraph(evil, "", "1.0")}))
		pushRemote(t, s, "team/evil:1", evilImage)
		pushRemote(t, s, "other/debian:1", debian)
		for _, ref := range [][2]string{{"team/debian", "12"}, {"team/multi", "1"}, {"team/evil", "1"}, {"other/debian", "1"}} {
			scanNow(t, s, admin, ref[0], ref[1])
		}

		summaryOf := func(c servertest.Creds, name string) (*securitySummary, *servertest.Response) {
			t.Helper()
			r := s.Do(c, repositorySummaryQuery, map[string]any{"name": name})
			var out struct {
				Repository *struct{ SecuritySummary securitySummary }
			}
			if err := json.Unmarshal(r.Data, &out); err != nil || out.Repository == nil {
				return nil, r
			}
			return &out.Repository.SecuritySummary, r
		}
		type counts struct{ Critical, High, Medium, Low, Unknown int }
		for _, tc := range []struct {
			repo                                          string
			counts                                        counts
			total, fixable, artifacts, scanned, unscanned int
			worst                                         []string
			dangerous                                     string
		}{
			{"team/debian", counts{1, 1, 0, 0, 1}, 3, 2, 2, 1, 1, []string{"DSA-9999-1", "DSA-5532-1", "DEBIAN-CVE-2024-0001"}, imageDigest(t, debian)},
			// The index only: its two images' findings are its report's.
			{"team/multi", counts{1, 2, 1, 0, 1}, 5, 4, 1, 1, 0,
				[]string{"DSA-9999-1", "ALPINE-CVE-2024-1111", "DSA-5532-1", "ALPINE-CVE-2023-42366", "DEBIAN-CVE-2024-0001"}, imageDigest(t, index)},
		} {
			sum, r := summaryOf(admin, tc.repo)
			if sum == nil {
				t.Fatalf("%s: %s %+v", tc.repo, r.Data, r.Errors)
			}
			if counts(sum.SeverityCounts) != tc.counts || sum.TotalCount != tc.total || sum.FixableCount != tc.fixable ||
				sum.ArtifactCount != tc.artifacts || sum.ScannedCount != tc.scanned || sum.FailedCount != 0 || sum.UnscannedCount != tc.unscanned {
				t.Errorf("%s's summary: %+v", tc.repo, sum)
			}
			var worst []string
			for _, v := range sum.DangerousVulnerabilities {
				worst = append(worst, v.ID)
				if v.ArtifactCount != 1 {
					t.Errorf("%s: %s in %d artifacts, want 1", tc.repo, v.ID, v.ArtifactCount)
				}
			}
			if !slices.Equal(worst, tc.worst) {
				t.Errorf("%s's worst vulnerabilities %v, want %v", tc.repo, worst, tc.worst)
			}
			if len(sum.DangerousArtifacts) != 1 || sum.DangerousArtifacts[0].Artifact.Digest != tc.dangerous || sum.DangerousArtifacts[0].Artifact.Repository.Name != tc.repo {
				t.Errorf("%s's worst artifacts: %+v", tc.repo, sum.DangerousArtifacts)
			}
		}

		// The vulnerabilities filter.
		for _, tc := range []struct {
			where map[string]any
			want  []string
		}{
			{map[string]any{"repository": "team/debian"}, []string{"DSA-9999-1 team/debian", "DSA-5532-1 team/debian", "DEBIAN-CVE-2024-0001 team/debian"}},
			{map[string]any{"repository": "team/debian", "project": "team", "fixable": true}, []string{"DSA-5532-1 team/debian", "DEBIAN-CVE-2024-0001 team/debian"}},
			{map[string]any{"repository": "other/debian", "severity": []string{"CRITICAL"}}, []string{"DSA-9999-1 other/debian"}},
			// Fields given must all match: a repository of another project.
			{map[string]any{"repository": "other/debian", "project": "team"}, nil},
		} {
			var p securityPage
			s.MustDo(admin, securityPageQuery, map[string]any{"first": 100, "where": tc.where}, &p)
			if got := p.found(); !slices.Equal(got, tc.want) || p.Vulnerabilities.TotalCount != len(tc.want) {
				t.Errorf("where %v: %v (total %d), want %v", tc.where, got, p.Vulnerabilities.TotalCount, tc.want)
			}
		}
		for _, name := range []string{"team/nope", "nope/debian", "team"} {
			if r := s.Do(admin, securityPageQuery, map[string]any{"where": map[string]any{"repository": name}}); r.Code() != "NOT_FOUND" {
				t.Errorf("repository %q: %q %+v", name, r.Code(), r.Errors)
			}
		}

		// The CSV export by repository, and a formula as a package name.
		if code, body, h := exportCSV(t, s, admin, "team", "?repository=team/debian"); code != 200 || h.Get("X-Total-Count") != "3" ||
			strings.Count(body, "\n") != 4 || strings.Count(body, "team/debian,") != 3 {
			t.Fatalf("team/debian's CSV: %d %v\n%s", code, h, body)
		}
		if code, _, _ := exportCSV(t, s, admin, "team", "?repository=team/nope"); code != 404 {
			t.Fatalf("the CSV of a repository that does not exist: %d", code)
		}
		code, body, _ := exportCSV(t, s, admin, "team", "?repository=team/evil")
		wantRow := `team/evil,` + imageDigest(t, evilImage) + `,1,"'=HYPERLINK(""http://evil.example"",""x"")",1.0,,DSA-6666-1,,UNKNOWN,,'@SUM(1+1)` + "\n"
		if code != 200 || !strings.HasSuffix(body, wantRow) || strings.Count(body, "\n") != 2 {
			t.Fatalf("team/evil's CSV: %d\n%s\nwant the row\n%s", code, body, wantRow)
		}

		// Who reads the repository reads its summary; nobody else.
		s.CreateUser("reader")
		addMember(t, s, "team", "reader", member.RoleGUEST)
		outsider := s.CreateUser("outsider")
		var tok struct{ CreateAccessToken struct{ Secret string } }
		s.MustDo(servertest.Basic("reader", "reader-password"), `mutation { createAccessToken(input: {name: "ro", readOnly: true}) { secret } }`, nil, &tok)
		var puller, pusher struct {
			CreateRobot struct{ Login, Secret string }
		}
		s.MustDo(admin, `mutation { createRobot(input: {name: "puller", project: "team", permissions: [{resource: REPOSITORY, action: PULL}]}) { login secret } }`, nil, &puller)
		s.MustDo(admin, `mutation { createRobot(input: {name: "pusher", project: "team", permissions: [{resource: REPOSITORY, action: PUSH}]}) { login secret } }`, nil, &pusher)
		for _, tc := range []struct {
			who   string
			creds servertest.Creds
			reads bool
		}{
			{"anonymous", servertest.Creds{}, false},
			{"outsider", outsider, false},
			{"push-only robot", servertest.Basic(pusher.CreateRobot.Login, pusher.CreateRobot.Secret), false},
			{"member's read-only token", servertest.Creds{Bearer: tok.CreateAccessToken.Secret}, true},
			{"pull robot", servertest.Basic(puller.CreateRobot.Login, puller.CreateRobot.Secret), true},
		} {
			t.Run(tc.who, func(t *testing.T) {
				sum, r := summaryOf(tc.creds, "team/debian")
				list := s.Do(tc.creds, securityPageQuery, map[string]any{"where": map[string]any{"repository": "team/debian"}})
				code, body, _ := exportCSV(t, s, tc.creds, "team", "?repository=team/debian")
				if tc.reads {
					var p securityPage
					json.Unmarshal(list.Data, &p)
					if sum == nil || sum.TotalCount != 3 || sum.ArtifactCount != 2 || list.Code() != "" || p.Vulnerabilities.TotalCount != 3 || code != 200 || strings.Count(body, "\n") != 4 {
						t.Fatalf("summary %+v %+v, list %q %d, CSV %d", sum, r.Errors, list.Code(), p.Vulnerabilities.TotalCount, code)
					}
					return
				}
				// As Query.repository today: null, without an error.
				if sum != nil || r.Code() != "" || string(r.Data) != `{"repository":null}` || list.Code() != "NOT_FOUND" || code != 404 || strings.Contains(body, "DSA-") {
					t.Fatalf("summary %+v %s %q, list %q, CSV %d %s", sum, r.Data, r.Code(), list.Code(), code, body)
				}
			})
		}

		// In a list, each summary is one aggregate query: priced so that a
		// page of 100 repositories may ask for their counts, not more.
		const inList = `{ repositories(first: 100) { edges { node { name securitySummary { severityCounts { critical high medium low unknown } scannedCount artifactCount %s } } } } }`
		var repos struct {
			Repositories struct {
				Edges []struct {
					Node struct {
						Name            string
						SecuritySummary securitySummary
					}
				}
			}
		}
		s.MustDo(admin, fmt.Sprintf(inList, ""), nil, &repos)
		listed := map[string]securitySummary{}
		for _, e := range repos.Repositories.Edges {
			listed[e.Node.Name] = e.Node.SecuritySummary
		}
		if m := listed["team/multi"]; len(listed) != 4 || m.SeverityCounts.High != 2 || m.ArtifactCount != 1 || listed["team/debian"].ArtifactCount != 2 {
			t.Fatalf("in the list: %+v", listed)
		}
		if r := s.Do(admin, fmt.Sprintf(inList, "dangerousVulnerabilities(first: 10) { id severity }"), nil); r.Code() == "" {
			t.Fatalf("100 repositories with their worst vulnerabilities answered: %s", r.Data)
		}
	})
}
