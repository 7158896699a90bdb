package security_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Probes of the OCI side: blob poisoning through racing PATCHes (hole 1),
// robots and members linking or reading more than granted (hole 7) and
// private project names told apart from missing ones (hole 9).

// testConcurrentPatchCannotPoisonBlob: an uploader opens an upload, sends
// P, then starts a PATCH of A by hand and, while the server is handling
// it (before its first byte arrives, or halfway through), sends B on the
// same upload. B must be refused (416, Range of P) rather than land
// between, the claimed digest of P+B must not commit, and the genuine
// P+B, pushed afterwards by someone else, must come back byte for byte.
func testConcurrentPatchCannotPoisonBlob(t *testing.T, f *fixture) {
	for _, v := range []struct {
		name string
		// sentOfA is how much of A has arrived when B is sent.
		sentOfA func(a []byte) int
	}{
		{"RacingPatchBeforeFirstByteIs416", func([]byte) int { return 0 }},
		{"RacingPatchMidStreamIs416", func(a []byte) int { return len(a) / 2 }},
	} {
		t.Run(v.name, func(t *testing.T) {
			mallory := f.user("mallory")
			p, a, b := randomBytes(64<<10), randomBytes(1<<20), randomBytes(48<<10)
			r := f.main.do(t, request{method: http.MethodPost, path: "/v2/scratch/poison/blobs/uploads/", cred: mallory})
			if r.Status != http.StatusAccepted {
				t.Fatalf("starting an upload: %s", r)
			}
			loc := r.Header.Get("Location")
			if u, err := url.Parse(loc); err == nil && u.IsAbs() {
				loc = u.RequestURI()
			}
			r = f.main.do(t, request{method: http.MethodPatch, path: loc, body: bytes.NewReader(p),
				contentType: "application/octet-stream", cred: mallory,
				header: map[string]string{"Content-Range": "0-" + strconv.Itoa(len(p)-1)}})
			if r.Status != http.StatusAccepted {
				t.Fatalf("PATCH of P: %s", r)
			}

			slow := f.main.startRaw(t, http.MethodPatch, loc, len(a), map[string]string{
				"Authorization": mallory.header, "Content-Type": "application/octet-stream"})
			sent := v.sentOfA(a)
			if err := slow.write(a[:sent]); err != nil {
				t.Fatalf("sending A: %v", err)
			}
			time.Sleep(500 * time.Millisecond) // the server is now in A's handler, waiting for its bytes
			rb := f.main.do(t, request{method: http.MethodPatch, path: loc, body: bytes.NewReader(b),
				contentType: "application/octet-stream", cred: mallory})
			if err := slow.write(a[sent:]); err != nil {
				t.Fatalf("sending A: %v", err)
			}
			ra, err := slow.finish()
			if err != nil {
				t.Fatalf("the PATCH of A: %v", err)
			}
			t.Logf("A: %s, Range %q; B: %s, Range %q", ra, ra.Header.Get("Range"), rb, rb.Header.Get("Range"))
			wantRange := "0-" + strconv.Itoa(len(p)-1)
			if rb.Status != http.StatusRequestedRangeNotSatisfiable || rb.Header.Get("Range") != wantRange {
				t.Errorf("a PATCH racing another on the same upload got %s (Range %q); want 416 with Range %q",
					rb, rb.Header.Get("Range"), wantRange)
			}

			genuine := append(append([]byte{}, p...), b...)
			claimed := sha256Digest(genuine)
			r = f.main.do(t, request{method: http.MethodPut, path: loc + "?digest=" + url.QueryEscape(claimed), cred: mallory})
			if code, _ := r.ociError(); r.Status != http.StatusBadRequest || code != "DIGEST_INVALID" {
				t.Errorf("committing the upload under the digest of P+B got %s; want 400 DIGEST_INVALID", r)
			}

			// The genuine content, pushed by someone else, must be what is stored.
			alice := f.user("alice")
			f.pushBlob(t, alice, "ci/genuine", genuine)
			for _, pull := range []struct {
				repo string
				cred credential
			}{{"ci/genuine", alice}, {"scratch/poison", mallory}} {
				r = f.main.do(t, request{method: http.MethodGet, path: "/v2/" + pull.repo + "/blobs/" + claimed, cred: pull.cred})
				switch {
				case r.Status == http.StatusOK && !bytes.Equal(r.Body, genuine):
					t.Errorf("GET %s blob %s returned %d bytes that are not the genuine %d: the blob is poisoned",
						pull.repo, claimed, len(r.Body), len(genuine))
				case r.Status != http.StatusOK && pull.repo == "ci/genuine":
					t.Errorf("pulling the genuine blob back: %s", r)
				}
			}
		})
	}
}

// rawRequest is a request whose head was sent on its own connection and
// whose body the caller sends when it likes: the server is already in the
// handler, waiting for the body, as with a slow client.
type rawRequest struct {
	conn net.Conn
	br   *bufio.Reader
}

// startRaw sends the head of a request with a Content-Length body.
func (c *client) startRaw(t *testing.T, method, path string, contentLength int, header map[string]string) *rawRequest {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.ip)}}
	conn, err := d.Dial("tcp", c.srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var head strings.Builder
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n", method, path, c.srv.Host, contentLength)
	for k, v := range header {
		fmt.Fprintf(&head, "%s: %s\r\n", k, v)
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	return &rawRequest{conn: conn, br: bufio.NewReader(conn)}
}

func (r *rawRequest) write(b []byte) error {
	_, err := r.conn.Write(b)
	return err
}

// finish reads the response.
func (r *rawRequest) finish() (*response, error) {
	r.conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// testRobotsAndMembersStayWithinGrants: a push-only robot cannot read
// what it pushed through GraphQL, and no robot or member of ci can link a
// private layer of vault into ci, by mount with or without from, or by a
// manifest naming it.
func testRobotsAndMembersStayWithinGrants(t *testing.T, f *fixture) {
	s := f.srv
	pusherLogin, pusherSecret := f.robot(t, "ci", "pusher", "PUSH")
	ppLogin, ppSecret := f.robot(t, "ci", "pullpush", "PULL", "PUSH")
	pusher := s.basic(pusherLogin, pusherSecret)

	t.Run("PushOnlyRobotCannotReadItsOwnArtifactThroughGraphQL", func(t *testing.T) {
		canary := "BERTH_CANARY_ENV=" + randomText(24)
		f.pushImage(t, pusher, "ci/app", "v1", randomBytes(2048), nil, canary)
		queries := []string{
			`{ artifact(repository: "ci/app", reference: "v1") { digest config { env } } }`,
			`{ artifact(repository: "ci/app", reference: "v1") { manifest layers { digest } } }`,
			`{ repository(name: "ci/app") { name artifacts(first: 10) { edges { node { digest config { env } } } } } }`,
		}
		for _, cred := range []credential{s.bearer(pusherSecret), pusher} {
			for _, q := range queries {
				g := f.main.gql(t, cred, q, nil)
				if bytes.Contains(g.HTTP.Body, []byte(canary)) {
					t.Errorf("a push-only robot read its artifact's config env through %q: %s", q, g)
					continue
				}
				var data map[string]json.RawMessage
				json.Unmarshal(g.Data, &data)
				for k, v := range data {
					if string(v) != "null" && k == "artifact" {
						t.Errorf("a push-only robot read artifact ci/app:v1 through %q: %s", q, g)
					}
					if k == "repository" && string(v) != "null" && bytes.Contains(v, []byte(`"digest"`)) {
						t.Errorf("a push-only robot listed the artifacts of ci/app through %q: %s", q, g)
					}
				}
			}
		}
	})

	// A system robot that may pull and push ci but only push to vault:
	// pushing to vault must not let it read vault's layers through ci.
	sysLogin, sysSecret := f.systemRobot(t, "ci-reader-vault-pusher", [2]string{"ci", "PULL"}, [2]string{"ci", "PUSH"}, [2]string{"vault", "PUSH"})

	layer := sha256Digest(f.privateLayer)
	actors := []struct {
		name string
		cred credential
	}{
		{"PushOnlyRobotOfCI", pusher},
		{"PullPushRobotOfCI", s.basic(ppLogin, ppSecret)},
		{"DeveloperOfCI", f.user("alice")},
		{"RobotPullingCIPushingOnlyToVault", s.basic(sysLogin, sysSecret)},
	}
	for _, actor := range actors {
		t.Run(actor.name+"CannotMountPrivateLayerOfVault", func(t *testing.T) {
			for _, q := range []string{"?mount=" + url.QueryEscape(layer) + "&from=vault/app", "?mount=" + url.QueryEscape(layer)} {
				r := f.main.do(t, request{method: http.MethodPost, path: "/v2/ci/app/blobs/uploads/" + q, cred: actor.cred})
				if r.Status == http.StatusCreated {
					t.Errorf("POST /v2/ci/app/blobs/uploads/%s mounted vault's private layer: %s", q, r)
				}
				if loc := r.Header.Get("Location"); r.Status == http.StatusAccepted && loc != "" {
					f.main.do(t, request{method: http.MethodDelete, path: loc, cred: actor.cred})
				}
			}
			r := f.main.do(t, request{method: http.MethodHead, path: "/v2/ci/app/blobs/" + layer, cred: f.admin})
			if r.Status != http.StatusNotFound {
				t.Errorf("after the mount attempts, HEAD of vault's private layer in ci/app answers %d; want 404", r.Status)
			}
		})
		t.Run(actor.name+"CannotReferencePrivateLayerOfVaultInManifest", func(t *testing.T) {
			cfg := imageConfig("PROBE=" + actor.name)
			f.pushBlob(t, actor.cred, "ci/app", cfg)
			m := imageManifest(cfg, [][]byte{f.privateLayer}, nil)
			r := f.putManifest(t, actor.cred, "ci/app", "steal-"+strings.ToLower(actor.name), m)
			if code, _ := r.ociError(); r.Status != http.StatusBadRequest || code != "MANIFEST_BLOB_UNKNOWN" {
				t.Errorf("PUT of a ci/app manifest naming vault's private layer got %s; want 400 MANIFEST_BLOB_UNKNOWN", r)
			}
			r = f.main.do(t, request{method: http.MethodHead, path: "/v2/ci/app/blobs/" + layer, cred: f.admin})
			if r.Status != http.StatusNotFound {
				t.Errorf("after the manifest attempt, HEAD of vault's private layer in ci/app answers %d; want 404", r.Status)
			}
		})
	}
}

// testPrivateAndMissingProjectsAnswerAlike: for anonymous callers and
// signed-in outsiders, a private project that exists and one that does
// not get the same status, OCI code and message (names swapped), on /v2/
// and in GraphQL.
func testPrivateAndMissingProjectsAnswerAlike(t *testing.T, f *fixture) {
	const private, missing = "vault", "nothere"
	swap := func(s string) string { return strings.ReplaceAll(s, private, missing) }
	callers := []struct {
		name string
		cred credential
	}{{"Anonymous", anonymous}, {"Outsider", f.user("olga")}}
	probes := []struct{ name, method, path string }{
		{"GetManifest", http.MethodGet, "/v2/%s/app/manifests/v1"},
		{"ListTags", http.MethodGet, "/v2/%s/app/tags/list"},
		{"StartUpload", http.MethodPost, "/v2/%s/app/blobs/uploads/"},
	}
	for _, c := range callers {
		for _, p := range probes {
			t.Run(c.name+p.name, func(t *testing.T) {
				ra := f.main.do(t, request{method: p.method, path: strings.Replace(p.path, "%s", private, 1), cred: c.cred})
				rb := f.main.do(t, request{method: p.method, path: strings.Replace(p.path, "%s", missing, 1), cred: c.cred})
				codeA, msgA := ra.ociError()
				codeB, msgB := rb.ociError()
				if ra.Status != rb.Status || codeA != codeB || swap(msgA) != msgB {
					t.Errorf("%s %s tells a private project from a missing one:\n  %s: %s\n  %s: %s",
						c.name, p.method, private, ra, missing, rb)
				}
				if wa, wb := swap(ra.Header.Get("WWW-Authenticate")), rb.Header.Get("WWW-Authenticate"); wa != wb {
					t.Errorf("the challenges differ:\n  %s: %s\n  %s: %s", private, wa, missing, wb)
				}
				if ra.Status < 400 {
					t.Errorf("%s %s on a private project succeeded: %s", c.name, p.method, ra)
				}
			})
		}
		t.Run(c.name+"GraphQLProject", func(t *testing.T) {
			q := `query($n: String!) { project(name: $n) { name } }`
			ga := f.main.gql(t, c.cred, q, map[string]any{"n": private})
			gb := f.main.gql(t, c.cred, q, map[string]any{"n": missing})
			if string(ga.Data) != `{"project":null}` || string(gb.Data) != `{"project":null}` ||
				strings.ReplaceAll(string(ga.HTTP.Body), private, missing) != string(gb.HTTP.Body) {
				t.Errorf("project(name:) tells a private project from a missing one:\n  %s: %s\n  %s: %s", private, ga, missing, gb)
			}
		})
	}
}
