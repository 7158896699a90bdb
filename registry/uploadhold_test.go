package registry_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent/uploadsession"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
)

// startUpload opens an upload session in repo and returns its Location.
func (e *env) startUpload(user, repo string) string {
	e.t.Helper()
	resp := e.do(req{method: "POST", path: "/v2/" + repo + "/blobs/uploads/", user: user})
	expect(e.t, resp, 202, "")
	return resp.Header.Get("Location")
}

// TestConcurrentPatchWhileAChunkStreamsIs416 is the blob-poisoning probe:
// while one PATCH is still streaming into an upload, a second PATCH on the
// same upload must be refused with 416 and the current Range, so the
// upload can only ever commit the bytes it hashed.
func TestConcurrentPatchWhileAChunkStreamsIs416(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		p, a, b := randomBytes(1000), randomBytes(3000), randomBytes(2000)
		loc := e.startUpload("dev", "team/app")
		expect(t, e.do(req{method: "PATCH", path: loc, user: "dev", body: p}), 202, "")

		// The first PATCH streams A slowly through a pipe.
		pr, pw := io.Pipe()
		t.Cleanup(func() { pw.CloseWithError(io.ErrUnexpectedEOF) }) // never leave the server waiting
		hr, _ := http.NewRequest("PATCH", e.URL+loc, pr)
		hr.SetBasicAuth("dev", password)
		done := make(chan *http.Response, 1)
		go func() {
			resp, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Error(err)
				close(done)
				return
			}
			done <- resp
		}()
		pw.Write(a[:1500])
		// Wait until the first PATCH holds the upload.
		waitFor(t, func() bool {
			s, err := db.UploadSession.Query().Where(uploadsession.UUIDNEQ("")).Only(viewer.SystemContext(t.Context()))
			return err == nil && s.Writer != nil
		})
		resp := e.do(req{method: "PATCH", path: loc, user: "dev", body: b})
		expect(t, resp, 416, "BLOB_UPLOAD_INVALID")
		if got := resp.Header.Get("Range"); got != "0-999" {
			t.Fatalf("416 Range = %q, want 0-999", got)
		}
		// A PUT with a last chunk is refused the same way.
		expect(t, e.do(req{method: "PUT", path: loc + "?digest=" + digest.FromBytes(append(append([]byte{}, p...), b...)).String(), user: "dev", body: b}), 416, "BLOB_UPLOAD_INVALID")
		pw.Write(a[1500:])
		pw.Close()
		first := <-done
		if first == nil {
			t.Fatal("first PATCH failed")
		}
		first.Body.Close()
		if first.StatusCode != 202 || first.Header.Get("Range") != "0-3999" {
			t.Fatalf("first PATCH: %d Range %q", first.StatusCode, first.Header.Get("Range"))
		}

		whole := append(append([]byte{}, p...), a...)
		poisoned := append(append([]byte{}, p...), b...)
		expect(t, e.do(req{method: "PUT", path: loc + "?digest=" + digest.FromBytes(poisoned).String(), user: "dev"}), 400, "DIGEST_INVALID")

		// The genuine content still goes in, and reads back whole.
		loc = e.startUpload("dev", "team/app")
		expect(t, e.do(req{method: "PATCH", path: loc, user: "dev", body: whole}), 202, "")
		d := digest.FromBytes(whole)
		expect(t, e.do(req{method: "PUT", path: loc + "?digest=" + d.String(), user: "dev"}), 201, "")
		if got := expect(t, e.do(req{method: "GET", path: "/v2/team/app/blobs/" + d.String(), user: "dev"}), 200, ""); !bytes.Equal(got, whole) {
			t.Fatal("the committed blob is not the uploaded content")
		}
	})
}

// TestRacingPatchesNeverCommitBytesTheyDidNotHash fires pairs of PATCHes at
// the same upload at once, many times. Either one wins and the other gets
// 416, or they ran one after the other; in every case the upload then
// commits under the digest of what it holds, and the blob reads back as
// exactly those bytes.
func TestRacingPatchesNeverCommitBytesTheyDidNotHash(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		refused := 0
		for round := range 10 {
			p := randomBytes(500)
			loc := e.startUpload("dev", "team/app")
			expect(t, e.do(req{method: "PATCH", path: loc, user: "dev", body: p}), 202, "")
			chunks := [][]byte{randomBytes(256 << 10), randomBytes(200 << 10)}
			var wg sync.WaitGroup
			status := make([]int, 2)
			for i := range chunks {
				wg.Go(func() {
					hr, _ := http.NewRequest("PATCH", e.URL+loc, bytes.NewReader(chunks[i]))
					hr.SetBasicAuth("dev", password)
					resp, err := http.DefaultClient.Do(hr)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status[i] = resp.StatusCode
				})
			}
			wg.Wait()
			var want []byte
			switch {
			case status[0] == 202 && status[1] == 202: // one after the other
				resp := e.do(req{method: "GET", path: loc, user: "dev"})
				expect(t, resp, 204, "")
				want = append(append(append([]byte{}, p...), chunks[0]...), chunks[1]...)
				if resp.Header.Get("Range") != fmt.Sprintf("0-%d", len(want)-1) {
					t.Fatalf("round %d: both PATCHes succeeded but Range is %q", round, resp.Header.Get("Range"))
				}
				// Which went first is unknown; try one order and accept a
				// refusal: what matters is that a commit is never wrong.
			case status[0] == 202 && status[1] == 416:
				want = append(append([]byte{}, p...), chunks[0]...)
				refused++
			case status[1] == 202 && status[0] == 416:
				want = append(append([]byte{}, p...), chunks[1]...)
				refused++
			default:
				t.Fatalf("round %d: PATCH statuses %v", round, status)
			}
			d := digest.FromBytes(want)
			resp := e.do(req{method: "PUT", path: loc + "?digest=" + d.String(), user: "dev"})
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == 201 {
				if got := expect(t, e.do(req{method: "GET", path: "/v2/team/app/blobs/" + d.String(), user: "dev"}), 200, ""); !bytes.Equal(got, want) {
					t.Fatalf("round %d: blob %s holds other bytes", round, d)
				}
			} else if status[0] != status[1] {
				t.Fatalf("round %d: committing the winner's content: %d %s", round, resp.StatusCode, b)
			}
		}
		t.Logf("%d of 10 rounds overlapped and refused the second PATCH", refused)
	})
}

// TestALapsedHoldIsTakenOver: a writer that died (its hold lapsed without
// renewal) does not block the upload forever.
func TestALapsedHoldIsTakenOver(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		content := randomBytes(2000)
		loc := e.startUpload("dev", "team/app")
		expect(t, e.do(req{method: "PATCH", path: loc, user: "dev", body: content[:1000]}), 202, "")
		sys := viewer.SystemContext(t.Context())
		// Another request holds it, and keeps holding it.
		db.UploadSession.Update().SetWriter("someone").SetWriterUntil(time.Now().Add(time.Hour)).ExecX(sys)
		expect(t, e.do(req{method: "PATCH", path: loc, user: "dev", body: content[1000:]}), 416, "BLOB_UPLOAD_INVALID")
		// Its hold lapsed: the upload goes on.
		db.UploadSession.Update().SetWriterUntil(time.Now().Add(-time.Second)).ExecX(sys)
		expect(t, e.do(req{method: "PATCH", path: loc, user: "dev", body: content[1000:],
			header: map[string]string{"Content-Range": "1000-1999"}}), 202, "")
		d := digest.FromBytes(content)
		expect(t, e.do(req{method: "PUT", path: loc + "?digest=" + d.String(), user: "dev"}), 201, "")
	})
}

// TestCommitReplacesADamagedBlobOfTheSameDigest: if the store holds a file
// of the wrong size under a digest (a blob poisoned before this fix, or
// damaged on disk), a genuine upload of that digest replaces it instead of
// being dropped in its favour.
func TestCommitReplacesADamagedBlobOfTheSameDigest(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		content := randomBytes(4000)
		d := digest.FromBytes(content)
		dir := filepath.Join(e.Dir, "storage", "blobs", "sha256", d.Encoded()[:2], d.Encoded())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "data"), append(randomBytes(100), content...), 0o644); err != nil {
			t.Fatal(err)
		}
		for i, push := range []func(){
			func() { // chunked
				loc := e.startUpload("dev", "team/app")
				expect(t, e.do(req{method: "PATCH", path: loc, user: "dev", body: content}), 202, "")
				expect(t, e.do(req{method: "PUT", path: loc + "?digest=" + d.String(), user: "dev"}), 201, "")
			},
			func() { e.pushBlob("dev", "team/other", content) }, // monolithic
		} {
			push()
			if got := expect(t, e.do(req{method: "GET", path: "/v2/team/app/blobs/" + d.String(), user: "dev"}), 200, ""); !bytes.Equal(got, content) {
				t.Fatalf("push %d: the damaged file was kept", i)
			}
			os.WriteFile(filepath.Join(dir, "data"), append(randomBytes(100), content...), 0o644)
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(fmt.Errorf("condition not met within 10s"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
