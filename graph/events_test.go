package graph_test

import (
	"archive/tar"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/testtool"
	"github.com/berth-registry/berth/test/gqlws"
)

// craneTool returns the path of crane, skipping (or failing, when services
// are required) without it.
func craneTool(t *testing.T) string {
	t.Helper()
	return testtool.Path(t, "crane")
}

// cranePush pushes a one-layer image with crane as user/pass and returns
// its digest.
func cranePush(t *testing.T, s *servertest.Server, user, pass, ref, content string) string {
	t.Helper()
	crane := craneTool(t)
	dir := t.TempDir()
	env := append(os.Environ(), "HOME="+dir, "DOCKER_CONFIG="+dir)
	host := strings.TrimPrefix(s.URL, "http://")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(crane, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("crane %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("auth", "login", host, "-u", user, "-p", pass)
	layer := filepath.Join(dir, "layer.tar")
	writeLayerTar(t, layer, "hello.txt", content)
	// crane append prints the pushed image's reference by digest.
	out := strings.TrimSpace(run("append", "--insecure", "-f", layer, "-t", host+"/"+ref))
	_, dgst, ok := strings.Cut(out[strings.LastIndex(out, "\n")+1:], "@")
	if !ok {
		t.Fatalf("crane append printed %q, not a reference by digest", out)
	}
	return dgst
}

// writeLayerTar writes a tar file holding one file, a layer for crane
// append.
func writeLayerTar(t *testing.T, path, name, content string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content))})
	tw.Write([]byte(content))
	tw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func subscribe(t *testing.T, s *servertest.Server, token, query string) *gqlws.Subscription {
	t.Helper()
	return gqlws.Subscribe(t, s.URL, nil, map[string]any{"Authorization": "Bearer " + token}, query)
}

// subscribeWith subscribes with the given handshake headers and
// connection_init payload.
func subscribeWith(t *testing.T, s *servertest.Server, header http.Header, payload map[string]any, query string) *gqlws.Subscription {
	t.Helper()
	return gqlws.Subscribe(t, s.URL, header, payload, query)
}

func token(t *testing.T, s *servertest.Server, c servertest.Creds) string {
	t.Helper()
	var out struct{ CreateAccessToken struct{ Secret string } }
	s.MustDo(c, `mutation { createAccessToken(input: {name: "events"}) { secret } }`, nil, &out)
	return out.CreateAccessToken.Secret
}

func allowWebhooks(c *config.Config) {
	c.WebhookAllowPrivate = "true"
	c.JobRetryDelay = "100ms"
}

// TestPushReachesWebhookAndSubscribersWhoMayRead is the done-when of
// events: a crane push reaches a project's CloudEvents webhook, signed,
// within a second, and a subscriber who may read the project sees the
// same event, while one who may not never sees it.
func TestPushReachesWebhookAndSubscribersWhoMayRead(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind, allowWebhooks)
			alice := s.CreateUser("alice")
			bob := s.CreateUser("bob")
			s.CreateProject(admin, "team-a", false)
			s.CreateProject(admin, "team-b", false)
			addMember(t, s, "team-a", "alice", member.RoleDEVELOPER)
			addMember(t, s, "team-b", "bob", member.RoleDEVELOPER)

			type delivery struct {
				body   []byte
				header http.Header
				at     time.Time
			}
			got := make(chan delivery, 10)
			receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				got <- delivery{body, r.Header.Clone(), time.Now()}
			}))
			defer receiver.Close()
			var created struct {
				CreateWebhookPolicy struct {
					Policy struct{ ID string }
					Secret string
				}
			}
			s.MustDo(admin, `mutation($url: String!) { createWebhookPolicy(project: "team-a", input: {name: "ci", eventTypes: [PUSH_ARTIFACT],
				targets: [{url: $url, format: CLOUDEVENTS}]}) { policy { id } secret } }`, map[string]any{"url": receiver.URL}, &created)
			secret := created.CreateWebhookPolicy.Secret

			const fields = `{ id type project repository digest tags actor occurredAt }`
			mine := subscribe(t, s, token(t, s, alice), `subscription { events(types: [PUSH_ARTIFACT]) `+fields+` }`)
			theirs := subscribe(t, s, token(t, s, bob), `subscription { events `+fields+` }`)

			dgst := cranePush(t, s, "alice", "alice-password", "team-a/app:v1", "pushed by alice")
			pushed := time.Now()

			var d delivery
			select {
			case d = <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("the webhook receiver got nothing within 5 s of the push")
			}
			lag := d.at.Sub(pushed)
			t.Logf("the webhook arrived %s after crane returned", lag)
			if lag > time.Second {
				t.Errorf("the webhook arrived %s after the push, want within 1 s", lag)
			}
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write(d.body)
			if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); d.header.Get("X-Berth-Signature") != want {
				t.Errorf("X-Berth-Signature %q, want %q", d.header.Get("X-Berth-Signature"), want)
			}
			var ce struct {
				SpecVersion string `json:"specversion"`
				Type        string
				ID          string
				Data        struct {
					Type, Project, Repository, Digest string
					Tags                              []string
				}
			}
			if err := json.Unmarshal(d.body, &ce); err != nil {
				t.Fatalf("the webhook body is not JSON: %s", d.body)
			}
			if ce.SpecVersion != "1.0" || ce.Data.Type != "PUSH_ARTIFACT" || ce.Data.Digest != dgst || ce.Data.Repository != "team-a/app" {
				t.Errorf("CloudEvent %s, want a PUSH_ARTIFACT of team-a/app@%s", d.body, dgst)
			}

			e := mine.Next(t, 5*time.Second)
			if e["type"] != "PUSH_ARTIFACT" || e["digest"] != dgst || e["project"] != "team-a" || e["actor"] != "alice" {
				t.Errorf("alice's subscription got %v", e)
			}
			// bob may not read team-a; his own project's push reaches him.
			own := cranePush(t, s, "bob", "bob-password", "team-b/tool:v1", "pushed by bob")
			for {
				e := theirs.Next(t, 5*time.Second)
				if e["project"] != "team-b" {
					t.Fatalf("bob received an event of %v: %v", e["project"], e)
				}
				if e["type"] == "PUSH_ARTIFACT" && e["digest"] == own {
					break
				}
			}
			select {
			case e := <-mine.Events:
				t.Errorf("alice received an event of team-b: %v", e)
			default:
			}
		})
	}
}

// TestSubscriptionsRefuseProjectsOneMayNotRead: asking for one project's
// events needs the right to read it, as queries do; anonymous callers get
// public projects only.
func TestSubscriptionsRefuseProjectsOneMayNotRead(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "secret", false)
		bob := s.CreateUser("bob")
		answer := wsOperation(t, s, nil, map[string]any{"Authorization": "Bearer " + token(t, s, bob)},
			`subscription { events(project: "secret") { id } }`)
		if !strings.Contains(string(answer.next), "NOT_FOUND") {
			t.Errorf("bob subscribing to a project he may not read: %s", answer.next)
		}
		answer = wsOperation(t, s, nil, nil, `subscription { events(project: "secret") { id } }`)
		if !strings.Contains(string(answer.next), "NOT_FOUND") {
			t.Errorf("anonymous subscribing to a private project: %s", answer.next)
		}
	})
}

// TestEventsReachEveryProcessThroughRedis runs two berth servers on one
// PostgreSQL and one Redis: a subscriber of each receives a push made
// through the other, whichever of them holds the dispatcher's lease.
func TestEventsReachEveryProcessThroughRedis(t *testing.T) {
	redisURL := testRedis(t)
	dbURL := dbtest.URL(t, database.Postgres)
	shared := func(c *config.Config) { c.DatabaseURL, c.RedisURL = dbURL, redisURL }
	a := servertest.Start(t, database.Postgres, shared)
	b := servertest.Start(t, database.Postgres, shared)
	a.CreateProject(admin, "team-a", false)
	tok := token(t, a, admin)
	const query = `subscription { events(project: "team-a", types: [PUSH_ARTIFACT]) { digest } }`
	onA, onB := subscribe(t, a, tok, query), subscribe(t, b, tok, query)
	for i, s := range []*servertest.Server{a, b} {
		dgst := cranePush(t, s, "admin", servertest.AdminPassword, "team-a/app:v1", fmt.Sprintf("pushed through server %d", i))
		for name, sub := range map[string]*gqlws.Subscription{"a": onA, "b": onB} {
			if e := sub.Next(t, 5*time.Second); e["digest"] != dgst {
				t.Errorf("the subscriber of server %s got %v, want the push of %s", name, e, dgst)
			}
		}
	}
}

// TestSubscribersGetOnlyWhatTheyMayRead subscribes to every event as a
// robot of one project, a user's read-only token, an outsider and an
// anonymous caller, pushes to a private project, another private project
// and a public one, and checks who saw what.
func TestSubscribersGetOnlyWhatTheyMayRead(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		for _, p := range []string{"team-a", "team-b"} {
			s.CreateProject(admin, p, false)
		}
		s.CreateProject(admin, "public", true)
		alice := s.CreateUser("alice")
		addMember(t, s, "team-a", "alice", member.RoleGUEST)
		s.CreateUser("bob")
		var robot struct {
			CreateRobot struct{ Login, Secret string }
		}
		s.MustDo(admin, `mutation { createRobot(input: {name: "ci", project: "team-b", permissions: [{resource: REPOSITORY, action: PULL}]}) { login secret } }`, nil, &robot)
		var ro struct{ CreateAccessToken struct{ Secret string } }
		s.MustDo(alice, `mutation { createAccessToken(input: {name: "ro", readOnly: true}) { secret } }`, nil, &ro)

		const query = `subscription { events(types: [PUSH_ARTIFACT]) { project digest } }`
		subs := map[string]*gqlws.Subscription{
			"robot of team-b":         subscribeWith(t, s, basicHeader(robot.CreateRobot.Login, robot.CreateRobot.Secret), nil, query),
			"alice's read-only token": subscribe(t, s, ro.CreateAccessToken.Secret, query),
			"bob":                     subscribe(t, s, token(t, s, servertest.Basic("bob", "bob-password")), query),
			"anonymous":               subscribeWith(t, s, nil, nil, query),
			"admin":                   subscribe(t, s, token(t, s, admin), query),
		}
		want := map[string][]string{
			"robot of team-b":         {"team-b", "public"},
			"alice's read-only token": {"team-a", "public"},
			"bob":                     {"public"},
			"anonymous":               {"public"},
			"admin":                   {"team-a", "team-b", "public"},
		}
		for _, p := range []string{"team-a", "team-b", "public"} {
			cranePush(t, s, "admin", servertest.AdminPassword, p+"/app:v1", "for "+p)
		}
		for name, sub := range subs {
			for _, p := range want[name] {
				if e := sub.Next(t, 5*time.Second); e["project"] != p {
					t.Errorf("%s got an event of %v, want %s next", name, e["project"], p)
				}
			}
			select {
			case e := <-sub.Events:
				t.Errorf("%s also got %v", name, e)
			case <-time.After(300 * time.Millisecond):
			}
		}
	})
}

// TestQuotaEvents: a push that takes a project past 85% of its quota is
// announced with QUOTA_WARNING, and a push refused for the quota with
// QUOTA_EXCEEDED, to the project's subscribers.
func TestQuotaEvents(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.MustDo(admin, `mutation { createProject(input: {name: "team-a", quotaBytes: 10000}) { id } }`, nil, nil)
		sub := subscribe(t, s, token(t, s, admin),
			`subscription { events(project: "team-a", types: [QUOTA_WARNING, QUOTA_EXCEEDED]) { type project size detail } }`)
		c := registryClient{t, s.URL, "admin", servertest.AdminPassword}
		pushLayers(c, "team-a/app", "v1", []byte(`{"architecture":"amd64","os":"linux"}`), bytes.Repeat([]byte("w"), 8800))
		e := sub.Next(t, 5*time.Second)
		if e["type"] != "QUOTA_WARNING" || e["detail"].(map[string]any)["quotaBytes"] != float64(10000) {
			t.Errorf("after a push past 85%%: %v", e)
		}
		big := bytes.Repeat([]byte("x"), 5000)
		if st, body := c.do("POST", "/v2/team-a/app/blobs/uploads/?digest="+digest.FromBytes(big).String(), big); st != http.StatusForbidden || !strings.Contains(string(body), "DENIED") {
			t.Fatalf("a blob over the quota: %d %s", st, body)
		}
		e = sub.Next(t, 5*time.Second)
		if e["type"] != "QUOTA_EXCEEDED" || e["detail"].(map[string]any)["refusedBytes"] != float64(5000) {
			t.Errorf("after a push over the quota: %v", e)
		}
	})
}

// TestEveryKindOfChangeBecomesAnEvent: a pull (batched), a tag created and
// deleted, and an artifact deleted reach a subscriber as typed events with
// their actor.
func TestEveryKindOfChangeBecomesAnEvent(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team-a", false)
		sub := subscribe(t, s, token(t, s, admin), `subscription { events(project: "team-a") { type repository digest tags actor detail } }`)
		dgst := cranePush(t, s, "admin", servertest.AdminPassword, "team-a/app:v1", "events")
		expect := func(typ string, tags ...string) map[string]any {
			t.Helper()
			e := sub.Next(t, 10*time.Second)
			if e["type"] != typ || e["digest"] != dgst || e["actor"] != "admin" || fmt.Sprint(e["tags"]) != fmt.Sprint(tags) {
				t.Errorf("got %v, want %s of %s with tags %v", e, typ, dgst, tags)
			}
			return e
		}
		expect("PUSH_ARTIFACT", "v1")
		c := registryClient{t, s.URL, "admin", servertest.AdminPassword}
		for range 3 {
			if st, body := c.do("GET", "/v2/team-a/app/manifests/v1", nil, "Accept", "application/vnd.oci.image.manifest.v1+json"); st != http.StatusOK {
				t.Fatalf("pull: %d %s", st, body)
			}
		}
		// Pulls are written in batches: one event for the three.
		if e := expect("PULL_ARTIFACT"); e["detail"].(map[string]any)["count"] != float64(3) {
			t.Errorf("pull event detail %v, want count 3", e["detail"])
		}
		s.MustDo(admin, `mutation { createTag(repository: "team-a/app", reference: "v1", name: "stable") { name } }`, nil, nil)
		expect("TAG_CREATED", "stable")
		s.MustDo(admin, `mutation { deleteTag(repository: "team-a/app", name: "stable") }`, nil, nil)
		expect("TAG_DELETED", "stable")
		s.MustDo(admin, `mutation($d: String!) { deleteArtifact(repository: "team-a/app", reference: $d) }`, map[string]any{"d": dgst}, nil)
		expect("DELETE_ARTIFACT", "v1")
	})
}

// TestReplicasDropCachedNamesAtOnce: with Redis, a project made private
// through one replica is refused by another at once, though the other had
// just cached it as public (its cache would keep it for 2 seconds); a
// repository deleted through one is gone from the other at once.
func TestReplicasDropCachedNamesAtOnce(t *testing.T) {
	redisURL := testRedis(t)
	dbURL := dbtest.URL(t, database.Postgres)
	shared := func(c *config.Config) { c.DatabaseURL, c.RedisURL = dbURL, redisURL }
	a := servertest.Start(t, database.Postgres, shared)
	b := servertest.Start(t, database.Postgres, shared)
	a.CreateProject(admin, "team-a", true)
	a.CreateUser("bob")
	img := pushLayers(registryClient{t, a.URL, "admin", servertest.AdminPassword}, "team-a/app", "v1",
		[]byte(`{"architecture":"amd64","os":"linux"}`), []byte("cached layer"))
	get := func(c registryClient) int {
		st, _ := c.do("GET", "/v2/team-a/app/manifests/"+img.manifest.String(), nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
		return st
	}
	bob := registryClient{t, b.URL, "bob", "bob-password"}
	if st := get(bob); st != http.StatusOK {
		t.Fatalf("bob pulling from a public project through b: %d", st)
	}
	a.MustDo(admin, `mutation { updateProject(name: "team-a", input: {public: false}) { public } }`, nil, nil)
	time.Sleep(300 * time.Millisecond)
	if st := get(bob); st == http.StatusOK {
		t.Errorf("300 ms after team-a was made private through a, b still serves bob its manifest")
	}
	adm := registryClient{t, b.URL, "admin", servertest.AdminPassword}
	if st := get(adm); st != http.StatusOK {
		t.Fatalf("admin pulling through b: %d", st)
	}
	a.MustDo(admin, `mutation { deleteRepository(name: "team-a/app") }`, nil, nil)
	time.Sleep(300 * time.Millisecond)
	if st := get(adm); st != http.StatusNotFound {
		t.Errorf("300 ms after team-a/app was deleted through a, b answers %d", st)
	}
}

// testRedis returns the URL of the tests' Redis, skipping (or failing,
// when services are required) when it does not answer.
func testRedis(t *testing.T) string {
	t.Helper()
	redisURL := os.Getenv("BERTH_TEST_REDIS_URL")
	if redisURL == "" {
		redisURL = "redis://127.0.0.1:6379/0"
	}
	c, err := net.DialTimeout("tcp", strings.TrimSuffix(strings.TrimPrefix(redisURL, "redis://"), "/0"), time.Second)
	if err != nil {
		if dbtest.RequireServices() {
			t.Fatalf("Redis is required: %v", err)
		}
		t.Skipf("Redis not reachable: %v", err)
	}
	c.Close()
	return redisURL
}
