package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry"
	"github.com/berth-registry/berth/registry/registrytest"
)

func TestBaseWithoutCredentialsIs401WithBearerChallenge(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		resp := e.do(req{method: "GET", path: "/v2/"})
		expect(t, resp, http.StatusUnauthorized, "UNAUTHORIZED")
		want := fmt.Sprintf(`Bearer realm="%s/service/token",service="berth"`, e.URL)
		if got := resp.Header.Get("WWW-Authenticate"); got != want {
			t.Fatalf("WWW-Authenticate = %q, want %q", got, want)
		}
		expect(t, e.do(req{method: "GET", path: "/v2/", user: "dev"}), http.StatusOK, "")
		bad := e.do(req{method: "GET", path: "/v2/", header: map[string]string{"Authorization": "Basic ZGV2Ondyb25n"}})
		expect(t, bad, http.StatusUnauthorized, "UNAUTHORIZED")
	})
}

// TestErrorCodes checks the status and OCI code of each failure.
func TestErrorCodes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		m, md := e.image("dev", "team/app", "")
		expect(t, e.putManifest("dev", "team/app", "v1", m, ociManifest), http.StatusCreated, "")
		unknown := digest.FromString("nothing").String()
		huge := make([]byte, 4<<20+10)
		missing := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":5},"layers":[]}`, ociManifest, unknown))
		cases := []struct {
			name   string
			r      req
			status int
			code   string
		}{
			{"InvalidNameIsNameInvalid", req{method: "GET", path: "/v2/team/UPPER/tags/list", user: "dev"}, 400, "NAME_INVALID"},
			{"NameWithoutProjectIsNameInvalid", req{method: "POST", path: "/v2/app/blobs/uploads/", user: "admin"}, 400, "NAME_INVALID"},
			{"UnknownRepositoryIsNameUnknown", req{method: "GET", path: "/v2/team/nope/tags/list", user: "dev"}, 404, "NAME_UNKNOWN"},
			{"PushToMissingProjectIsNameUnknown", req{method: "POST", path: "/v2/ghost/app/blobs/uploads/", user: "admin"}, 404, "NAME_UNKNOWN"},
			{"UnknownBlobIsBlobUnknown", req{method: "GET", path: "/v2/team/app/blobs/" + unknown, user: "dev"}, 404, "BLOB_UNKNOWN"},
			{"BadBlobDigestIsDigestInvalid", req{method: "GET", path: "/v2/team/app/blobs/sha256:xyz", user: "dev"}, 400, "DIGEST_INVALID"},
			{"UnknownManifestIsManifestUnknown", req{method: "GET", path: "/v2/team/app/manifests/nope", user: "dev"}, 404, "MANIFEST_UNKNOWN"},
			{"UnknownUploadIsBlobUploadUnknown", req{method: "GET", path: "/v2/team/app/blobs/uploads/no-such-upload", user: "dev"}, 404, "BLOB_UPLOAD_UNKNOWN"},
			{"MonolithicDigestMismatchIsDigestInvalid", req{method: "POST", path: "/v2/team/app/blobs/uploads/?digest=" + unknown, user: "dev", body: []byte("x")}, 400, "DIGEST_INVALID"},
			{"ManifestDigestMismatchIsDigestInvalid", req{method: "PUT", path: "/v2/team/app/manifests/" + unknown, user: "dev", body: m, header: map[string]string{"Content-Type": ociManifest}}, 400, "DIGEST_INVALID"},
			{"SchemaOneIsManifestInvalid", req{method: "PUT", path: "/v2/team/app/manifests/old", user: "dev", body: []byte(`{"schemaVersion":1,"name":"team/app","tag":"old","fsLayers":[]}`), header: map[string]string{"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"}}, 400, "MANIFEST_INVALID"},
			{"GarbageManifestIsManifestInvalid", req{method: "PUT", path: "/v2/team/app/manifests/bad", user: "dev", body: []byte(`not json`), header: map[string]string{"Content-Type": ociManifest}}, 400, "MANIFEST_INVALID"},
			{"MissingBlobIsManifestBlobUnknown", req{method: "PUT", path: "/v2/team/other/manifests/v1", user: "dev", body: missing, header: map[string]string{"Content-Type": ociManifest}}, 400, "MANIFEST_BLOB_UNKNOWN"},
			{"ManifestOver4MiBIs413", req{method: "PUT", path: "/v2/team/app/manifests/big", user: "dev", body: huge, header: map[string]string{"Content-Type": ociManifest}}, 413, "SIZE_INVALID"},
			{"AnonymousPrivatePullIs401", req{method: "GET", path: "/v2/team/app/manifests/v1"}, 401, "UNAUTHORIZED"},
			{"StrangerPrivatePullIsLikeAMissingProject", req{method: "GET", path: "/v2/team/app/manifests/v1", user: "stranger"}, 404, "NAME_UNKNOWN"},
			{"GuestPushIsDenied", req{method: "POST", path: "/v2/team/app/blobs/uploads/", user: "guest"}, 403, "DENIED"},
			{"DeveloperDeleteIsDenied", req{method: "DELETE", path: "/v2/team/app/manifests/" + md.String(), user: "dev"}, 403, "DENIED"},
			{"UnsupportedMethodIsUnsupported", req{method: "POST", path: "/v2/team/app/manifests/v1", user: "dev"}, 405, "UNSUPPORTED"},
			{"BadTagsPageIsRejected", req{method: "GET", path: "/v2/team/app/tags/list?n=-1", user: "dev"}, 400, "UNSUPPORTED"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) { expect(t, e.do(c.r), c.status, c.code) })
		}
	})
}

func TestPushToMissingProjectSaysSo(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		b := expect(t, e.do(req{method: "POST", path: "/v2/ghost/app/blobs/uploads/", user: "admin"}), 404, "NAME_UNKNOWN")
		if !contains(string(b), `project \"ghost\" does not exist`) {
			t.Fatalf("message does not say the project is missing: %s", b)
		}
	})
}

func TestMonolithicUploadThenHeadGetRangeAndDelete(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		content := randomBytes(5000)
		d := e.pushBlob("dev", "team/app", content)
		path := "/v2/team/app/blobs/" + d.String()
		resp := e.do(req{method: "HEAD", path: path, user: "guest"})
		expect(t, resp, 200, "")
		if resp.Header.Get("Content-Length") != "5000" || resp.Header.Get("Docker-Content-Digest") != d.String() {
			t.Fatalf("HEAD headers: %v", resp.Header)
		}
		if b := expect(t, e.do(req{method: "GET", path: path, user: "guest"}), 200, ""); string(b) != string(content) {
			t.Fatal("GET returned other bytes")
		}
		resp = e.do(req{method: "GET", path: path, user: "guest", header: map[string]string{"Range": "bytes=100-199"}})
		if b := expect(t, resp, 206, ""); string(b) != string(content[100:200]) || resp.Header.Get("Content-Range") != "bytes 100-199/5000" {
			t.Fatalf("range GET: %q %v", resp.Header.Get("Content-Range"), len(b))
		}
		expect(t, e.do(req{method: "GET", path: path, user: "guest", header: map[string]string{"Range": "bytes=6000-"}}), 416, "")
		// The blob is linked to team/app only.
		expect(t, e.do(req{method: "GET", path: "/v2/pub/app/blobs/" + d.String(), user: "dev"}), 404, "")
		expect(t, e.do(req{method: "DELETE", path: path, user: "admin"}), 202, "")
		expect(t, e.do(req{method: "HEAD", path: path, user: "dev"}), 404, "")
	})
}

func TestChunkedUploadOutOfOrderRangeIs416(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		content := randomBytes(3000)
		resp := e.do(req{method: "POST", path: "/v2/team/app/blobs/uploads/", user: "dev"})
		expect(t, resp, 202, "")
		loc := resp.Header.Get("Location")
		chunk := func(start, end int) *http.Response {
			return e.do(req{method: "PATCH", path: loc, user: "dev", body: content[start : end+1],
				header: map[string]string{"Content-Range": fmt.Sprintf("%d-%d", start, end), "Content-Type": "application/octet-stream"}})
		}
		resp = chunk(0, 999)
		expect(t, resp, 202, "")
		if resp.Header.Get("Range") != "0-999" {
			t.Fatalf("Range after first chunk = %q", resp.Header.Get("Range"))
		}
		resp = chunk(2000, 2999)
		expect(t, resp, 416, "BLOB_UPLOAD_INVALID")
		if resp.Header.Get("Range") != "0-999" {
			t.Fatalf("Range after out-of-order chunk = %q", resp.Header.Get("Range"))
		}
		resp = e.do(req{method: "GET", path: loc, user: "dev"})
		expect(t, resp, 204, "")
		if resp.Header.Get("Range") != "0-999" {
			t.Fatalf("upload status Range = %q", resp.Header.Get("Range"))
		}
		expect(t, chunk(1000, 1999), 202, "")
		d := digest.FromBytes(content)
		resp = e.do(req{method: "PUT", path: loc + "?digest=" + d.String(), user: "dev", body: content[2000:],
			header: map[string]string{"Content-Range": "2000-2999"}})
		expect(t, resp, 201, "")
		if b := expect(t, e.do(req{method: "GET", path: "/v2/team/app/blobs/" + d.String(), user: "dev"}), 200, ""); string(b) != string(content) {
			t.Fatal("chunked upload stored other bytes")
		}
	})
}

func TestChunkedUploadWrongDigestIsDigestInvalidAndCancelIs204(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		resp := e.do(req{method: "POST", path: "/v2/team/app/blobs/uploads/", user: "dev"})
		loc := resp.Header.Get("Location")
		expect(t, e.do(req{method: "PATCH", path: loc, user: "dev", body: []byte("abc")}), 202, "")
		expect(t, e.do(req{method: "PUT", path: loc + "?digest=" + digest.FromString("xyz").String(), user: "dev"}), 400, "DIGEST_INVALID")
		resp = e.do(req{method: "POST", path: "/v2/team/app/blobs/uploads/", user: "dev"})
		loc = resp.Header.Get("Location")
		expect(t, e.do(req{method: "DELETE", path: loc, user: "dev"}), 204, "")
		expect(t, e.do(req{method: "GET", path: loc, user: "dev"}), 404, "BLOB_UPLOAD_UNKNOWN")
	})
}

func TestSHA512ChunkedUploadIsVerifiedByReadingBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		content := randomBytes(2048)
		resp := e.do(req{method: "POST", path: "/v2/team/app/blobs/uploads/", user: "dev"})
		loc := resp.Header.Get("Location")
		expect(t, e.do(req{method: "PATCH", path: loc, user: "dev", body: content}), 202, "")
		d := digest.SHA512.FromBytes(content)
		expect(t, e.do(req{method: "PUT", path: loc + "?digest=" + d.String(), user: "dev"}), 201, "")
		expect(t, e.do(req{method: "HEAD", path: "/v2/team/app/blobs/" + d.String(), user: "dev"}), 200, "")
	})
}

// TestChunkedUploadContinuesAfterRestart stops a registry in the middle of
// a chunked upload and finishes it on a new instance over the same
// database and data directory.
func TestChunkedUploadContinuesAfterRestart(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		dir := t.TempDir()
		first := registrytest.Start(t, db, dir)
		setupUsers(t, first)
		content := randomBytes(4096)
		resp := doURL(t, first.URL, req{method: "POST", path: "/v2/team/app/blobs/uploads/", user: "dev"})
		expect(t, resp, 202, "")
		loc := resp.Header.Get("Location")
		expect(t, doURL(t, first.URL, req{method: "PATCH", path: loc, user: "dev", body: content[:2048],
			header: map[string]string{"Content-Range": "0-2047"}}), 202, "")
		first.Close()

		second := registrytest.Start(t, db, dir)
		resp = doURL(t, second.URL, req{method: "GET", path: loc, user: "dev"})
		expect(t, resp, 204, "")
		if resp.Header.Get("Range") != "0-2047" {
			t.Fatalf("after restart Range = %q", resp.Header.Get("Range"))
		}
		expect(t, doURL(t, second.URL, req{method: "PATCH", path: loc, user: "dev", body: content[2048:],
			header: map[string]string{"Content-Range": "2048-4095"}}), 202, "")
		d := digest.FromBytes(content)
		expect(t, doURL(t, second.URL, req{method: "PUT", path: loc + "?digest=" + d.String(), user: "dev"}), 201, "")
		if b := expect(t, doURL(t, second.URL, req{method: "GET", path: "/v2/team/app/blobs/" + d.String(), user: "dev"}), 200, ""); string(b) != string(content) {
			t.Fatal("resumed upload stored other bytes")
		}
	})
}

func TestCrossRepositoryMountAndAutomaticMount(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		d := e.pushBlob("dev", "team/app", randomBytes(100))
		resp := e.do(req{method: "POST", path: "/v2/pub/app/blobs/uploads/?mount=" + d.String() + "&from=team/app", user: "dev"})
		expect(t, resp, 201, "")
		if resp.Header.Get("Location") != "/v2/pub/app/blobs/"+d.String() {
			t.Fatalf("mount Location = %q", resp.Header.Get("Location"))
		}
		expect(t, e.do(req{method: "HEAD", path: "/v2/pub/app/blobs/" + d.String(), user: "dev"}), 200, "")
		// Without from: mounted because dev can read team/app.
		expect(t, e.do(req{method: "POST", path: "/v2/team/other/blobs/uploads/?mount=" + d.String(), user: "dev"}), 201, "")
		// An admin of nothing in team... a stranger cannot mount what they cannot read.
		e.CreateProject(t, "mine", false)
		resp = e.do(req{method: "POST", path: "/v2/mine/app/blobs/uploads/?mount=" + d.String() + "&from=team/app", user: "admin"})
		expect(t, resp, 201, "")
	})
}

func TestManifestPutGetByteForByteWithDigestAndSubjectHeaders(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		m, md := e.image("dev", "team/app", "")
		resp := e.putManifest("dev", "team/app", "v1", m, ociManifest)
		expect(t, resp, 201, "")
		if resp.Header.Get("Docker-Content-Digest") != md.String() || resp.Header.Get("Location") != "/v2/team/app/manifests/"+md.String() {
			t.Fatalf("PUT headers: %v", resp.Header)
		}
		for _, ref := range []string{"v1", md.String()} {
			resp := e.do(req{method: "GET", path: "/v2/team/app/manifests/" + ref, user: "guest"})
			b := expect(t, resp, 200, "")
			if string(b) != string(m) || resp.Header.Get("Content-Type") != ociManifest || resp.Header.Get("Docker-Content-Digest") != md.String() {
				t.Fatalf("GET %s: %v", ref, resp.Header)
			}
			expect(t, e.do(req{method: "HEAD", path: "/v2/team/app/manifests/" + ref, user: "guest"}), 200, "")
		}
		// A signature-like artifact with a subject.
		sig, sd := e.image("dev", "team/app", fmt.Sprintf(`,"artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json","subject":{"mediaType":%q,"digest":%q,"size":%d}`, ociManifest, md, len(m)))
		resp = e.putManifest("dev", "team/app", sd.String(), sig, ociManifest)
		expect(t, resp, 201, "")
		if resp.Header.Get("OCI-Subject") != md.String() {
			t.Fatalf("OCI-Subject = %q", resp.Header.Get("OCI-Subject"))
		}
		var idx struct {
			Manifests []struct {
				Digest, ArtifactType string
				Size                 int64
			}
		}
		resp = e.do(req{method: "GET", path: "/v2/team/app/referrers/" + md.String(), user: "guest"})
		json.Unmarshal(expect(t, resp, 200, ""), &idx)
		if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != sd.String() || idx.Manifests[0].Size != int64(len(sig)) {
			t.Fatalf("referrers = %+v", idx)
		}
		if resp.Header.Get("Content-Type") != "application/vnd.oci.image.index.v1+json" || resp.Header.Get("OCI-Filters-Applied") != "" {
			t.Fatalf("referrers headers: %v", resp.Header)
		}
		resp = e.do(req{method: "GET", path: "/v2/team/app/referrers/" + md.String() + "?artifactType=application/spdx%2Bjson", user: "guest"})
		json.Unmarshal(expect(t, resp, 200, ""), &idx)
		if len(idx.Manifests) != 0 || resp.Header.Get("OCI-Filters-Applied") != "artifactType" {
			t.Fatalf("filtered referrers = %+v, %v", idx, resp.Header)
		}
	})
}

func TestIndexNeedsItsChildrenAndDeletesKeepBothSidesInStep(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		m, md := e.image("dev", "team/app", "")
		idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":"linux","architecture":"amd64"}}]}`, ociManifest, md, len(m))
		expect(t, e.putManifest("dev", "team/app", "multi", []byte(idx), "application/vnd.oci.image.index.v1+json"), 400, "MANIFEST_BLOB_UNKNOWN")
		expect(t, e.putManifest("dev", "team/app", "v1", m, ociManifest), 201, "")
		expect(t, e.putManifest("dev", "team/app", "multi", []byte(idx), "application/vnd.oci.image.index.v1+json"), 201, "")
		expect(t, e.putManifest("dev", "team/app", "v2", m, ociManifest), 201, "")
		// Deleting a tag keeps the artifact; deleting by digest removes all its tags.
		expect(t, e.do(req{method: "DELETE", path: "/v2/team/app/manifests/v2", user: "admin"}), 202, "")
		expect(t, e.do(req{method: "GET", path: "/v2/team/app/manifests/v2", user: "dev"}), 404, "MANIFEST_UNKNOWN")
		expect(t, e.do(req{method: "GET", path: "/v2/team/app/manifests/v1", user: "dev"}), 200, "")
		expect(t, e.do(req{method: "DELETE", path: "/v2/team/app/manifests/" + md.String(), user: "admin"}), 202, "")
		expect(t, e.do(req{method: "GET", path: "/v2/team/app/manifests/v1", user: "dev"}), 404, "MANIFEST_UNKNOWN")
		expect(t, e.do(req{method: "GET", path: "/v2/team/app/manifests/multi", user: "dev"}), 200, "")
	})
}

func TestTagListPaginatesWithNAndLast(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		m, _ := e.image("dev", "team/app", "")
		for _, tag := range []string{"c", "a", "B", "b"} {
			expect(t, e.putManifest("dev", "team/app", tag, m, ociManifest), 201, "")
		}
		var list struct {
			Name string
			Tags []string
		}
		json.Unmarshal(expect(t, e.do(req{method: "GET", path: "/v2/team/app/tags/list", user: "dev"}), 200, ""), &list)
		if strings.Join(list.Tags, ",") != "B,a,b,c" || list.Name != "team/app" {
			t.Fatalf("tags = %+v", list)
		}
		resp := e.do(req{method: "GET", path: "/v2/team/app/tags/list?n=2", user: "dev"})
		json.Unmarshal(expect(t, resp, 200, ""), &list)
		if strings.Join(list.Tags, ",") != "B,a" || !contains(resp.Header.Get("Link"), "last=a") {
			t.Fatalf("page 1 = %v, Link %q", list.Tags, resp.Header.Get("Link"))
		}
		resp = e.do(req{method: "GET", path: "/v2/team/app/tags/list?n=2&last=a", user: "dev"})
		json.Unmarshal(expect(t, resp, 200, ""), &list)
		if strings.Join(list.Tags, ",") != "b,c" || resp.Header.Get("Link") != "" {
			t.Fatalf("page 2 = %v, Link %q", list.Tags, resp.Header.Get("Link"))
		}
	})
}

func TestCatalogListsOnlyWhatTheCallerMaySee(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		for _, repo := range []string{"team/a", "team/b", "pub/c"} {
			m, _ := e.image("dev", repo, "")
			expect(t, e.putManifest("dev", repo, "v1", m, ociManifest), 201, "")
		}
		catalog := func(user, query string) ([]string, string) {
			var c struct{ Repositories []string }
			resp := e.do(req{method: "GET", path: "/v2/_catalog" + query, user: user})
			json.Unmarshal(expect(t, resp, 200, ""), &c)
			return c.Repositories, resp.Header.Get("Link")
		}
		cases := []struct{ user, query, want string }{
			{"admin", "", "pub/c,team/a,team/b"},
			{"guest", "", "pub/c,team/a,team/b"},
			{"stranger", "", "pub/c"},
			{"", "", "pub/c"},
			{"admin", "?n=1&last=pub/c", "team/a"},
		}
		for _, c := range cases {
			if got, _ := catalog(c.user, c.query); strings.Join(got, ",") != c.want {
				t.Errorf("catalog for %q%s = %v, want %s", c.user, c.query, got, c.want)
			}
		}
		if _, link := catalog("admin", "?n=1"); !contains(link, "last=pub%2Fc") {
			t.Errorf("catalog Link = %q", link)
		}
	})
}

func TestAnonymousMayPullPublicProjectsOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		m, _ := e.image("dev", "pub/app", "")
		expect(t, e.putManifest("dev", "pub/app", "v1", m, ociManifest), 201, "")
		expect(t, e.do(req{method: "GET", path: "/v2/pub/app/manifests/v1"}), 200, "")
		resp := e.do(req{method: "POST", path: "/v2/pub/app/blobs/uploads/"})
		expect(t, resp, 401, "UNAUTHORIZED")
		if !contains(resp.Header.Get("WWW-Authenticate"), `scope="repository:pub/app:pull,push"`) {
			t.Fatalf("challenge = %q", resp.Header.Get("WWW-Authenticate"))
		}
	})
}

func TestPullStatisticsAreBatched(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		m, _ := e.image("dev", "team/app", "")
		expect(t, e.putManifest("dev", "team/app", "v1", m, ociManifest), 201, "")
		for range 3 {
			expect(t, e.do(req{method: "GET", path: "/v2/team/app/manifests/v1", user: "dev"}), 200, "")
		}
		expect(t, e.do(req{method: "HEAD", path: "/v2/team/app/manifests/v1", user: "dev"}), 200, "")
		if err := e.Artifacts.FlushPulls(context.Background()); err != nil {
			t.Fatal(err)
		}
		r, err := db.Repository.Query().Where(repository.Name("team/app")).Only(viewer.SystemContext(context.Background()))
		if err != nil {
			t.Fatal(err)
		}
		if r.PullCount != 3 {
			t.Fatalf("pull_count = %d, want 3 (HEAD is not a pull)", r.PullCount)
		}
	})
}

// token fetches a registry token the way docker does.
func token(t *testing.T, e *env, user, scope string) string {
	t.Helper()
	r := req{method: "GET", path: "/service/token?service=berth&scope=" + url.QueryEscape(scope), user: user}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		IssuedAt    string `json:"issued_at"`
	}
	json.Unmarshal(expect(t, e.do(r), 200, ""), &tok)
	if tok.AccessToken == "" || tok.ExpiresIn == 0 || tok.IssuedAt == "" {
		t.Fatalf("token response incomplete: %+v", tok)
	}
	return tok.AccessToken
}

func TestTokenFlowGrantsIntersectionOfScopeAndRole(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		m, _ := e.image("dev", "team/app", "")
		expect(t, e.putManifest("dev", "team/app", "v1", m, ociManifest), 201, "")

		guest := token(t, e, "guest", "repository:team/app:pull,push")
		expect(t, e.do(req{method: "GET", path: "/v2/team/app/manifests/v1", bearer: guest}), 200, "")
		// The guest's token carries pull only; pushing is refused outright.
		expect(t, e.do(req{method: "POST", path: "/v2/team/app/blobs/uploads/", bearer: guest}), 403, "DENIED")

		pullOnly := token(t, e, "dev", "repository:team/app:pull")
		resp := e.do(req{method: "POST", path: "/v2/team/app/blobs/uploads/", bearer: pullOnly})
		expect(t, resp, 401, "UNAUTHORIZED")
		if !contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Fatalf("challenge = %q", resp.Header.Get("WWW-Authenticate"))
		}
		push := token(t, e, "dev", "repository:team/app:pull,push")
		expect(t, e.do(req{method: "POST", path: "/v2/team/app/blobs/uploads/", bearer: push}), 202, "")

		anon := token(t, e, "", "repository:team/app:pull")
		expect(t, e.do(req{method: "GET", path: "/v2/team/app/manifests/v1", bearer: anon}), 401, "UNAUTHORIZED")
		expect(t, e.do(req{method: "GET", path: "/v2/", bearer: "not-a-jwt"}), 401, "UNAUTHORIZED")
		expect(t, e.do(req{method: "GET", path: "/service/token?scope=repository:team/app:pull", header: map[string]string{"Authorization": "Basic ZGV2Ondyb25n"}}), 401, "")
	})
}

func TestTokenOAuthPasswordAndRefreshGrants(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		form := url.Values{"grant_type": {"password"}, "username": {"dev"}, "password": {password},
			"service": {"berth"}, "scope": {"repository:team/app:pull,push"}, "access_type": {"offline"}, "client_id": {"test"}}
		post := func(f url.Values) map[string]any {
			resp, err := http.PostForm(e.URL+"/service/token", f)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			json.NewDecoder(resp.Body).Decode(&out)
			if resp.StatusCode != 200 {
				t.Fatalf("token POST %s: %d %v", f.Get("grant_type"), resp.StatusCode, out)
			}
			return out
		}
		out := post(form)
		refresh, _ := out["refresh_token"].(string)
		if refresh == "" || out["access_token"] == "" {
			t.Fatalf("password grant: %v", out)
		}
		out = post(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "service": {"berth"},
			"scope": {"repository:team/app:pull,push"}, "client_id": {"test"}})
		tok, _ := out["access_token"].(string)
		expect(t, e.do(req{method: "POST", path: "/v2/team/app/blobs/uploads/", bearer: tok}), 202, "")
	})
}

// readFromRecorder records whether the handler handed the blob's reader
// to the response's ReadFrom, which is where net/http uses sendfile.
type readFromRecorder struct {
	*httptest.ResponseRecorder
	readFroms int
}

func (r *readFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.readFroms++
	return io.Copy(struct{ io.Writer }{r.ResponseRecorder}, src)
}

// TestBlobGETWithAndWithoutSendfile: by default a blob GET hands the
// stored file to the response's ReadFrom (sendfile) when the client is on
// another host, and copies it through its buffer when the client is on
// this one (a loopback address, or the address the connection reached);
// SendfileAlways (--storage-sendfile=true) and SendfileNever (false) do
// one or the other for every client. Both serve the same bytes and ranges.
func TestBlobGETWithAndWithoutSendfile(t *testing.T) {
	db := dbtest.Open(t, database.SQLite)
	e := newEnv(t, db)
	content := randomBytes(3 << 20)
	d := e.pushBlob("dev", "pub/app", content)
	handler := func(mode registry.SendfileMode) http.Handler {
		return registry.New(registry.Options{DB: e.DB, Blobs: e.Blobs, Auth: e.Auth, Tokens: e.Tokens, Artifacts: e.Artifacts, ExternalURL: e.URL, Sendfile: mode})
	}
	always, never := handler(registry.SendfileAlways), handler(registry.SendfileNever)
	const local = "10.1.2.3:5000" // the address the connection reached
	for _, tc := range []struct {
		name, peer string
		h          http.Handler
		sendfile   bool
	}{
		{"default, client on another host", "192.0.2.1:1234", e.Handler, true},
		{"default, client on another host, IPv6", "[2001:db8::1]:1234", e.Handler, true},
		{"default, client on loopback", "127.0.0.1:40000", e.Handler, false},
		{"default, client on IPv6 loopback", "[::1]:40000", e.Handler, false},
		{"default, client on IPv4-mapped loopback", "[::ffff:127.0.0.1]:40000", e.Handler, false},
		{"default, client at this host's own address", "10.1.2.3:40000", e.Handler, false},
		{"default, unreadable peer address", "@", e.Handler, true},
		{"always, client on loopback", "127.0.0.1:40000", always, true},
		{"always, client on another host", "192.0.2.1:1234", always, true},
		{"never, client on another host", "192.0.2.1:1234", never, false},
		{"never, client on loopback", "127.0.0.1:40000", never, false},
	} {
		for _, rg := range []string{"", "bytes=1000-2000999"} {
			w := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
			r := httptest.NewRequest("GET", "/v2/pub/app/blobs/"+d.String(), nil)
			r.RemoteAddr = tc.peer
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(local))))
			want, status := content, 200
			if rg != "" {
				r.Header.Set("Range", rg)
				want, status = content[1000:2001000], 206
			}
			tc.h.ServeHTTP(w, r)
			if w.Code != status || !bytes.Equal(w.Body.Bytes(), want) || (w.readFroms == 1) != tc.sendfile || w.readFroms > 1 {
				t.Errorf("%s, range %q: status %d, %d bytes (equal %v), ReadFrom called %d times; want %d, %d bytes, sendfile %v",
					tc.name, rg, w.Code, w.Body.Len(), bytes.Equal(w.Body.Bytes(), want), w.readFroms, status, len(want), tc.sendfile)
			}
		}
	}
}
