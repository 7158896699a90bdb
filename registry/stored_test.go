package registry_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent/schema/robotperm"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
)

// storedFile is where the filesystem store keeps blob d of server dir.
func storedFile(dir string, d digest.Digest) string {
	return filepath.Join(dir, "storage", "blobs", d.Algorithm().String(), d.Encoded()[:2], d.Encoded(), "data")
}

// uploadsLeft lists what the store still keeps under uploads/.
func uploadsLeft(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "storage", "uploads"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// A push of a blob the store holds already, in each way clients push
// (monolithic POST, POST then PUT with the body as zb and others do,
// PATCH then an empty PUT), is hashed and linked without writing the
// bytes again: the stored file is the same file afterwards and no upload
// is left behind. Bytes that do not match the digest are refused and
// link nothing; callers who may not push get nothing linked either.
func TestPushOfAStoredBlobIsHashedNotWritten(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		content := randomBytes(64 << 10)
		d := e.pushBlob("dev", "team/first", content)
		file := storedFile(e.Dir, d)
		before, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}

		e.pushBlob("dev", "team/monolithic", content)

		resp := e.do(req{method: "POST", path: "/v2/team/put/blobs/uploads/", user: "dev"})
		expect(t, resp, 202, "")
		expect(t, e.do(req{method: "PUT", path: resp.Header.Get("Location") + "?digest=" + d.String(), user: "dev", body: content}), 201, "")

		resp = e.do(req{method: "POST", path: "/v2/team/chunked/blobs/uploads/", user: "dev"})
		expect(t, resp, 202, "")
		resp = e.do(req{method: "PATCH", path: resp.Header.Get("Location"), user: "dev", body: content,
			header: map[string]string{"Content-Range": "0-65535"}})
		expect(t, resp, 202, "")
		expect(t, e.do(req{method: "PUT", path: resp.Header.Get("Location") + "?digest=" + d.String(), user: "dev"}), 201, "")

		for _, repo := range []string{"first", "monolithic", "put", "chunked"} {
			b := expect(t, e.do(req{method: "GET", path: "/v2/team/" + repo + "/blobs/" + d.String(), user: "dev"}), 200, "")
			if !bytes.Equal(b, content) {
				t.Fatalf("team/%s serves other bytes", repo)
			}
		}
		after, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
			t.Fatal("the stored blob was written again")
		}
		if left := uploadsLeft(t, e.Dir); len(left) != 0 {
			t.Fatalf("uploads left behind: %v", left)
		}

		// The same length, other bytes, under d's digest.
		forged := randomBytes(len(content))
		expect(t, e.do(req{method: "POST", path: "/v2/team/forged/blobs/uploads/?digest=" + d.String(), user: "dev", body: forged}), 400, "DIGEST_INVALID")
		resp = e.do(req{method: "POST", path: "/v2/team/forged/blobs/uploads/", user: "dev"})
		expect(t, resp, 202, "")
		loc := resp.Header.Get("Location")
		expect(t, e.do(req{method: "PUT", path: loc + "?digest=" + d.String(), user: "dev", body: forged}), 400, "DIGEST_INVALID")
		expect(t, e.do(req{method: "GET", path: loc, user: "dev"}), 404, "BLOB_UPLOAD_UNKNOWN")
		expect(t, e.do(req{method: "HEAD", path: "/v2/team/forged/blobs/" + d.String(), user: "dev"}), 404, "")

		// Who may not push to team gets nothing linked by knowing a digest:
		// anonymous is asked to sign in, the read-only guest is denied and
		// an outsider is not told that the private project exists.
		for user, status := range map[string]int{"": 401, "guest": 403, "stranger": 404} {
			resp := e.do(req{method: "POST", path: "/v2/team/other/blobs/uploads/?digest=" + d.String(), user: user, body: content})
			if resp.StatusCode != status {
				t.Fatalf("%q: POST of a stored blob answered %d, want %d", user, resp.StatusCode, status)
			}
		}
		// Nor does a pull-only robot of team, or the developer's read-only
		// access token.
		ctx := context.Background()
		_, robotSecret, err := e.Auth.CreateRobot(viewer.SystemContext(ctx), auth.RobotInput{Name: "puller", Project: "team",
			Permissions: []robotperm.Permission{{Project: "team", Action: string(auth.RepositoryPull)}}})
		if err != nil {
			t.Fatal(err)
		}
		robot, err := e.Auth.Password(ctx, "robot$team+puller", robotSecret)
		if err != nil {
			t.Fatal(err)
		}
		dev, err := e.Auth.Password(ctx, "dev", password)
		if err != nil {
			t.Fatal(err)
		}
		_, tokenSecret, err := e.Auth.CreateAccessToken(viewer.NewContext(ctx, dev), auth.TokenInput{Name: "ro", ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, creds := range [][2]string{{robot.Username, robotSecret}, {"dev", tokenSecret}} {
			basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(creds[0]+":"+creds[1]))
			resp := e.do(req{method: "POST", path: "/v2/team/other/blobs/uploads/?digest=" + d.String(), body: content,
				header: map[string]string{"Authorization": basic}})
			expect(t, resp, 403, "DENIED")
			resp = e.do(req{method: "POST", path: "/v2/team/other/blobs/uploads/", header: map[string]string{"Authorization": basic}})
			expect(t, resp, 403, "DENIED")
		}
		expect(t, e.do(req{method: "HEAD", path: "/v2/team/other/blobs/" + d.String(), user: "admin"}), 404, "")

		if b := expect(t, e.do(req{method: "GET", path: "/v2/team/first/blobs/" + d.String(), user: "dev"}), 200, ""); !bytes.Equal(b, content) {
			t.Fatal("the stored blob changed")
		}
	})
}

// When the stored bytes a push relies on go away while it streams (a
// garbage collection that swept them), the push is answered 503 and links
// nothing; pushed again, the bytes are stored anew.
func TestStoredBlobRemovedDuringPushIsPushedAgain(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		content := randomBytes(1 << 20)
		d := e.pushBlob("dev", "team/first", content)

		// With Expect: 100-continue the client sends the body only when
		// the handler starts reading it, which is after it found the blob
		// stored: the first half arriving proves that, and the file is
		// removed before the rest.
		body, feed := io.Pipe()
		hr, err := http.NewRequest("POST", e.URL+"/v2/team/second/blobs/uploads/?digest="+d.String(), body)
		if err != nil {
			t.Fatal(err)
		}
		hr.ContentLength = int64(len(content))
		hr.SetBasicAuth("dev", password)
		hr.Header.Set("Expect", "100-continue")
		client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
		done := make(chan *http.Response, 1)
		go func() {
			resp, err := client.Do(hr)
			if err != nil {
				t.Error(err)
			}
			done <- resp
		}()
		if _, err := feed.Write(content[:len(content)/2]); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(storedFile(e.Dir, d)); err != nil {
			t.Fatal(err)
		}
		feed.Write(content[len(content)/2:])
		feed.Close()
		resp := <-done
		if resp == nil {
			t.FailNow()
		}
		defer resp.Body.Close()
		expect(t, resp, 503, "UNAVAILABLE")
		expect(t, e.do(req{method: "HEAD", path: "/v2/team/second/blobs/" + d.String(), user: "dev"}), 404, "")

		e.pushBlob("dev", "team/second", content)
		for _, repo := range []string{"first", "second"} {
			if b := expect(t, e.do(req{method: "GET", path: "/v2/team/" + repo + "/blobs/" + d.String(), user: "dev"}), 200, ""); !bytes.Equal(b, content) {
				t.Fatalf("team/%s serves other bytes", repo)
			}
		}
	})
}
