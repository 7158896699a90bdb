package graph_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/server/servertest"
)

// pull GETs (or HEADs) a manifest as c and returns the status and, for a
// refusal, the OCI error's code and message.
func pull(t *testing.T, s *servertest.Server, c servertest.Creds, method, repo, ref string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+"/v2/"+repo+"/manifests/"+ref, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json")
	switch {
	case c.Bearer != "":
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 400 || method == http.MethodHead {
		return resp.StatusCode, "", ""
	}
	var body struct {
		Errors []struct{ Code, Message string }
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if len(body.Errors) == 0 {
		return resp.StatusCode, "", ""
	}
	return resp.StatusCode, body.Errors[0].Code, body.Errors[0].Message
}

// registryToken is a docker-style registry token for c's pulls of repo.
func registryToken(t *testing.T, s *servertest.Server, user, secret, repo string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/service/token?service=berth&scope=repository:"+repo+":pull", nil)
	req.SetBasicAuth(user, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("registry token for %s: %d %v", user, resp.StatusCode, err)
	}
	return tok.Token
}

// TestPullPolicyRefusesVulnerableImagesUntilAllowlisted: with "prevent
// vulnerable" at HIGH, an unscanned image and an image with a HIGH
// finding are refused with DENIED naming the policy, the artifact and the
// finding, for every principal that may pull; a MEDIUM image, HEAD
// requests and charts are served; a CVE allowlist entry (project or
// system) releases the image until it expires; only project admins set
// the policy and the project's list, only system admins the system's.
func TestPullPolicyRefusesVulnerableImagesUntilAllowlisted(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "sec", false)
		importRecords(t, s, scanFixtures())
		base := scanLayer(t, [2]string{"etc/os-release", scanDebianOSRelease},
			[2]string{"var/lib/dpkg/status", dpkgParagraph("base-files", "", "12.4+deb12u5") + dpkgParagraph("libssl3", "openssl", "3.0.11-1~deb12u1")})
		debian := scanImage(t, "A=1", base)
		alpine := scanImage(t, "A=1", scanLayer(t, [2]string{"etc/os-release", scanAlpineOSRelease},
			[2]string{"lib/apk/db/installed", apkEntry("busybox", "1.36.1-r15", "busybox")}))
		pushRemote(t, s, "sec/debian:12", debian)
		pushRemote(t, s, "sec/alpine:3.19", alpine)
		pushRemote(t, s, "sec/fresh:1", scanImage(t, "A=2", base))
		index := mutate.IndexMediaType(mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: debian, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		), types.OCIImageIndex)
		pushRemote(t, s, "sec/multi:1", index)
		debDigest, _ := debian.Digest()

		// Principals that may pull from the project.
		s.CreateUser("dev")
		addMember(t, s, "sec", "dev", member.RoleDEVELOPER)
		dev := servertest.Basic("dev", "dev-password")
		var robot struct {
			CreateRobot struct{ Login, Secret string }
		}
		s.MustDo(admin, `mutation { createRobot(input: {name: "puller", project: "sec", permissions: [{resource: REPOSITORY, action: PULL}]}) { login secret } }`, nil, &robot)
		var tok struct{ CreateAccessToken struct{ Secret string } }
		s.MustDo(dev, `mutation { createAccessToken(input: {name: "ro", readOnly: true}) { secret } }`, nil, &tok)
		pullers := map[string]servertest.Creds{
			"admin":                 admin,
			"developer":             dev,
			"developer's ro token":  servertest.Basic("dev", tok.CreateAccessToken.Secret),
			"pull robot":            servertest.Basic(robot.CreateRobot.Login, robot.CreateRobot.Secret),
			"developer's reg token": {Bearer: registryToken(t, s, "dev", "dev-password", "sec/debian")},
		}

		// Before the policy, everything is served.
		if st, _, msg := pull(t, s, dev, "GET", "sec/debian", "12"); st != 200 {
			t.Fatalf("pull without a policy: %d %s", st, msg)
		}

		// Only project admins set the policy.
		setPolicy := `mutation($in: PreventVulnerableInput!) { updateProject(name: "sec", input: {preventVulnerable: $in}) { preventVulnerable { enabled severity allowUnscanned } } }`
		high := map[string]any{"in": map[string]any{"enabled": true, "severity": "HIGH", "allowUnscanned": false}}
		for who, c := range map[string]servertest.Creds{"developer": dev, "read-only token": {Bearer: tok.CreateAccessToken.Secret}, "outsider": s.CreateUser("outsider"), "anonymous": {}} {
			if r := s.Do(c, setPolicy, high); r.Code() == "" {
				t.Fatalf("%s set the pull policy", who)
			}
		}
		var set struct {
			UpdateProject struct {
				PreventVulnerable struct {
					Enabled        bool
					Severity       string
					AllowUnscanned bool
				}
			}
		}
		s.MustDo(admin, setPolicy, high, &set)
		if p := set.UpdateProject.PreventVulnerable; !p.Enabled || p.Severity != "HIGH" || p.AllowUnscanned {
			t.Fatalf("policy read back: %+v", p)
		}

		// Unscanned images are refused; HEAD still answers.
		st, code, msg := pull(t, s, dev, "GET", "sec/debian", "12")
		if st != 403 || code != "DENIED" || !strings.Contains(msg, `"prevent vulnerable images"`) ||
			!strings.Contains(msg, "sec/debian@"+debDigest.String()) || !strings.Contains(msg, "not been scanned") {
			t.Fatalf("unscanned pull: %d %s %s", st, code, msg)
		}
		if st, _, _ := pull(t, s, dev, "HEAD", "sec/debian", "12"); st != 200 {
			t.Fatalf("HEAD under the policy: %d", st)
		}

		scanNow(t, s, admin, "sec/debian", "12")
		scanNow(t, s, admin, "sec/alpine", "3.19")
		scanNow(t, s, admin, "sec/multi", "1")
		for who, c := range pullers {
			for _, ref := range []string{"sec/debian:12", "sec/debian:" + debDigest.String(), "sec/multi:1"} {
				repo, r, _ := strings.Cut(ref, ":")
				if repo != "sec/debian" && strings.Contains(who, "reg token") {
					continue // the token is for sec/debian only
				}
				st, code, msg := pull(t, s, c, "GET", repo, r)
				if st != 403 || code != "DENIED" || !strings.Contains(msg, `project sec's policy "prevent vulnerable images" (HIGH and worse)`) ||
					!strings.Contains(msg, "CVE-2023-5363 (DSA-5532-1) (HIGH) in libssl3 3.0.11-1~deb12u1, fixed in 3.0.11-1~deb12u2") {
					t.Errorf("%s pulling %s: %d %s %s", who, ref, st, code, msg)
				}
			}
			if !strings.Contains(who, "reg token") {
				if st, _, msg := pull(t, s, c, "GET", "sec/alpine", "3.19"); st != 200 {
					t.Errorf("%s pulling the MEDIUM image under a HIGH threshold: %d %s", who, st, msg)
				}
			}
		}
		// An outsider still learns nothing about the project.
		if st, code, _ := pull(t, s, servertest.Basic("outsider", "outsider-password"), "GET", "sec/debian", "12"); st == 403 && code == "DENIED" {
			t.Fatal("an outsider got the policy's refusal")
		}

		// Allowlists: who may read and write them.
		allow := `mutation($p: String, $in: CVEAllowlistInput!) { setCVEAllowlist(project: $p, input: $in) { project entries { cve expiresAt expired } updatedBy } }`
		entry := func(p any, cves ...any) map[string]any {
			entries := []any{}
			for _, c := range cves {
				if m, ok := c.(map[string]any); ok {
					entries = append(entries, m)
				} else {
					entries = append(entries, map[string]any{"cve": c})
				}
			}
			return map[string]any{"p": p, "in": map[string]any{"entries": entries}}
		}
		for _, tc := range []struct {
			who     string
			c       servertest.Creds
			project any
			code    string
		}{
			{"developer on the project", dev, "sec", "FORBIDDEN"},
			{"read-only token on the project", servertest.Creds{Bearer: tok.CreateAccessToken.Secret}, "sec", "FORBIDDEN"},
			{"outsider on the project", servertest.Basic("outsider", "outsider-password"), "sec", "NOT_FOUND"},
			{"anonymous on the project", servertest.Creds{}, "sec", "UNAUTHENTICATED"},
			{"developer on the system", dev, nil, "FORBIDDEN"},
			{"anonymous on the system", servertest.Creds{}, nil, "UNAUTHENTICATED"},
			{"admin with a bad id", admin, "sec", "BAD_USER_INPUT"},
		} {
			vars := entry(tc.project, "CVE-2023-5363")
			if strings.Contains(tc.who, "bad id") {
				vars = entry(tc.project, "not a cve; drop table")
			}
			if r := s.Do(tc.c, allow, vars); r.Code() != tc.code {
				t.Errorf("%s setting an allowlist: %q %+v, want %s", tc.who, r.Code(), r.Errors, tc.code)
			}
		}
		readList := `query($p: String) { cveAllowlist(project: $p) { project entries { cve } } }`
		if r := s.Do(servertest.Basic("outsider", "outsider-password"), readList, map[string]any{"p": "sec"}); r.Code() != "NOT_FOUND" {
			t.Errorf("outsider reading the project's allowlist: %q", r.Code())
		}
		if r := s.Do(servertest.Creds{}, readList, nil); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("anonymous reading the system allowlist: %q", r.Code())
		}

		// An expired entry releases nothing.
		past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		var got struct {
			SetCVEAllowlist struct {
				Project *string
				Entries []struct {
					Cve       string
					ExpiresAt *string
					Expired   bool
				}
				UpdatedBy string
			}
		}
		s.MustDo(admin, allow, entry("sec", map[string]any{"cve": "cve-2023-5363", "expiresAt": past}), &got)
		if l := got.SetCVEAllowlist; l.Project == nil || *l.Project != "sec" || len(l.Entries) != 1 || l.Entries[0].Cve != "CVE-2023-5363" ||
			!l.Entries[0].Expired || l.UpdatedBy != "admin" {
			t.Fatalf("allowlist read back: %+v", l)
		}
		if st, _, _ := pull(t, s, dev, "GET", "sec/debian", "12"); st != 403 {
			t.Fatalf("an expired entry released the image: %d", st)
		}

		// A current project entry releases it, for everyone.
		future := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
		s.MustDo(admin, allow, entry("sec", map[string]any{"cve": "CVE-2023-5363", "expiresAt": future}), nil)
		for who, c := range pullers {
			if st, _, msg := pull(t, s, c, "GET", "sec/debian", "12"); st != 200 {
				t.Errorf("%s pulling an allowlisted image: %d %s", who, st, msg)
			}
		}
		var proj struct {
			Project struct {
				CveAllowlist struct{ Entries []struct{ Cve string } }
			}
		}
		s.MustDo(dev, `{ project(name: "sec") { cveAllowlist { entries { cve } } } }`, nil, &proj)
		if e := proj.Project.CveAllowlist.Entries; len(e) != 1 || e[0].Cve != "CVE-2023-5363" {
			t.Fatalf("the project's allowlist as its developer: %+v", e)
		}

		// The system list applies to every project.
		s.MustDo(admin, allow, entry("sec"), nil)
		if st, _, _ := pull(t, s, dev, "GET", "sec/debian", "12"); st != 403 {
			t.Fatalf("emptied allowlist still releases: %d", st)
		}
		s.MustDo(admin, allow, entry(nil, "DSA-5532-1"), nil)
		if st, _, msg := pull(t, s, dev, "GET", "sec/debian", "12"); st != 200 {
			t.Fatalf("the system allowlist (by OSV id) does not release: %d %s", st, msg)
		}
		var sys struct {
			CveAllowlist struct {
				Project *string
				Entries []struct{ Cve string }
			}
		}
		s.MustDo(dev, readList, nil, &sys)
		if sys.CveAllowlist.Project != nil || len(sys.CveAllowlist.Entries) != 1 || sys.CveAllowlist.Entries[0].Cve != "DSA-5532-1" {
			t.Fatalf("system allowlist read by a user: %+v", sys.CveAllowlist)
		}
		s.MustDo(admin, allow, entry(nil), nil)

		// A lower threshold catches the MEDIUM image; allowing unscanned
		// images serves the one never scanned.
		s.MustDo(admin, setPolicy, map[string]any{"in": map[string]any{"enabled": true, "severity": "MEDIUM", "allowUnscanned": true}}, nil)
		if st, _, msg := pull(t, s, dev, "GET", "sec/alpine", "3.19"); st != 403 || !strings.Contains(msg, "CVE-2023-42366 (ALPINE-CVE-2023-42366) (MEDIUM) in busybox") {
			t.Fatalf("MEDIUM threshold: %d %s", st, msg)
		}
		if st, _, msg := pull(t, s, dev, "GET", "sec/fresh", "1"); st != 200 {
			t.Fatalf("allowUnscanned: %d %s", st, msg)
		}
		// Turned off, everything is served again.
		s.MustDo(admin, setPolicy, map[string]any{"in": map[string]any{"enabled": false, "severity": "LOW", "allowUnscanned": false}}, nil)
		for _, ref := range [][2]string{{"sec/debian", "12"}, {"sec/alpine", "3.19"}, {"sec/fresh", "1"}, {"sec/multi", "1"}} {
			if st, _, msg := pull(t, s, dev, "GET", ref[0], ref[1]); st != 200 {
				t.Errorf("policy off, %s: %d %s", ref, st, msg)
			}
		}
	})
}

// TestRequireSignatureSettingsAreValidated: keys and certificates must be
// PEM of the right kind and within bounds; they read back as set, and
// empty lists turn the requirement off.
func TestRequireSignatureSettingsAreValidated(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "signed", false)
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
		pub := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signer"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
		certDER, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		cert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}))

		q := `mutation($in: RequireSignatureInput!) { updateProject(name: "signed", input: {requireSignature: $in}) { requireSignature { enabled cosignPublicKeys notationCertificates } } }`
		for name, in := range map[string]map[string]any{
			"a certificate as a key":  {"cosignPublicKeys": []string{cert}},
			"a key as a certificate":  {"notationCertificates": []string{pub}},
			"garbage":                 {"cosignPublicKeys": []string{"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"}},
			"two blocks in one entry": {"cosignPublicKeys": []string{pub + pub}},
			"too many":                {"cosignPublicKeys": strings.Split(strings.Repeat(pub+"\x00", 17), "\x00")[:17]},
			"too large":               {"cosignPublicKeys": []string{pub + strings.Repeat(" ", 17<<10)}},
		} {
			if r := s.Do(admin, q, map[string]any{"in": in}); r.Code() != "BAD_USER_INPUT" {
				t.Errorf("%s: %q %+v, want BAD_USER_INPUT", name, r.Code(), r.Errors)
			}
		}
		var got struct {
			UpdateProject struct {
				RequireSignature struct {
					Enabled              bool
					CosignPublicKeys     []string
					NotationCertificates []string
				}
			}
		}
		s.MustDo(admin, q, map[string]any{"in": map[string]any{"cosignPublicKeys": []string{pub, pub}, "notationCertificates": []string{cert}}}, &got)
		if r := got.UpdateProject.RequireSignature; !r.Enabled || len(r.CosignPublicKeys) != 1 || r.CosignPublicKeys[0] != pub || len(r.NotationCertificates) != 1 {
			t.Fatalf("requireSignature read back: %+v", r)
		}
		s.CreateUser("dev")
		addMember(t, s, "signed", "dev", member.RoleDEVELOPER)
		if r := s.Do(servertest.Basic("dev", "dev-password"), q, map[string]any{"in": map[string]any{"cosignPublicKeys": []string{}}}); r.Code() != "FORBIDDEN" {
			t.Fatalf("a developer changed the signature requirement: %q", r.Code())
		}
		s.MustDo(admin, q, map[string]any{"in": map[string]any{"cosignPublicKeys": []string{}, "notationCertificates": []string{}}}, &got)
		if r := got.UpdateProject.RequireSignature; r.Enabled || len(r.CosignPublicKeys)+len(r.NotationCertificates) != 0 {
			t.Fatalf("requirement not turned off: %+v", r)
		}
	})
}
