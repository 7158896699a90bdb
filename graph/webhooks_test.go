package graph_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server/servertest"
)

// allowPrivateWebhooks lets webhooks reach the test's receivers on 127.0.0.1.
func allowPrivateWebhooks(c *config.Config) {
	c.WebhookAllowPrivate = "true"
	c.JobRetryDelay = "100ms"
}

// hookReceiver is a webhook endpoint that keeps what it got.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies, r.heads = append(r.bodies, b), append(r.heads, req.Header.Clone())
		r.mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// waitFor returns the first request whose body contains s.
func (r *hookReceiver) waitFor(t *testing.T, s string) ([]byte, http.Header) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r.mu.Lock()
		for i, b := range r.bodies {
			if strings.Contains(string(b), s) {
				r.mu.Unlock()
				return b, r.heads[i]
			}
		}
		r.mu.Unlock()
	}
	t.Fatalf("no webhook containing %q arrived", s)
	return nil, nil
}

const createPolicy = `mutation($p: String!, $url: String!) {
  createWebhookPolicy(project: $p, input: {name: "ci", eventTypes: [PUSH_ARTIFACT, TAG_CREATED],
    targets: [{url: $url, authHeader: "Bearer hook-token", format: JSON}]}) {
    secret policy { id project name eventTypes enabled createdBy targets { url hasAuthHeader skipTLSVerify format } }
  }
}`

type policyOut struct {
	ID, Project, Name, CreatedBy string
	EventTypes                   []string
	Enabled                      bool
	Targets                      []struct {
		URL           string
		HasAuthHeader bool
		SkipTLSVerify bool
		Format        string
	}
}

// TestWebhookDoorsOpenOnlyToProjectAdminsAndReadersOnlyToMaintainers
// runs every webhook query and mutation as each kind of caller.
func TestWebhookDoorsOpenOnlyToProjectAdminsAndReadersOnlyToMaintainers(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind, allowPrivateWebhooks)
			recv := newHookReceiver(t)
			s.CreateProject(admin, "team", false)
			owner, maint, dev := s.CreateUser("owner"), s.CreateUser("maint"), s.CreateUser("dev")
			outsider := s.CreateUser("outsider")
			addMember(t, s, "team", "owner", member.RolePROJECT_ADMIN)
			addMember(t, s, "team", "maint", member.RoleMAINTAINER)
			addMember(t, s, "team", "dev", member.RoleDEVELOPER)
			var tok struct{ CreateAccessToken struct{ Secret string } }
			s.MustDo(owner, `mutation { createAccessToken(input: {name: "ro", readOnly: true}) { secret } }`, nil, &tok)
			readOnly := servertest.Creds{Bearer: tok.CreateAccessToken.Secret}
			var rb struct {
				CreateRobot struct{ Login, Secret string }
			}
			s.MustDo(admin, `mutation { createRobot(input: {name: "ci", project: "team", permissions: [{resource: REPOSITORY, action: PULL}, {resource: REPOSITORY, action: PUSH}]}) { login secret } }`, nil, &rb)
			robot := servertest.Basic(rb.CreateRobot.Login, rb.CreateRobot.Secret)

			var created struct {
				CreateWebhookPolicy struct {
					Secret string
					Policy policyOut
				}
			}
			s.MustDo(owner, createPolicy, map[string]any{"p": "team", "url": recv.URL}, &created)
			pol := created.CreateWebhookPolicy.Policy
			if len(created.CreateWebhookPolicy.Secret) != 64 || pol.Project != "team" || pol.CreatedBy != "owner" || !pol.Enabled ||
				len(pol.Targets) != 1 || !pol.Targets[0].HasAuthHeader || pol.Targets[0].Format != "JSON" ||
				strings.Join(pol.EventTypes, ",") != "PUSH_ARTIFACT,TAG_CREATED" {
				t.Fatalf("created %+v", created.CreateWebhookPolicy)
			}

			read := map[string]string{
				"webhookPolicies":   `{ webhookPolicies(project: "team") { id name } }`,
				"webhookDeliveries": fmt.Sprintf(`{ webhookDeliveries(policyId: %q) { totalCount } }`, pol.ID),
			}
			write := map[string]string{
				"createWebhookPolicy": fmt.Sprintf(`mutation { createWebhookPolicy(project: "team", input: {name: "other", eventTypes: [PUSH_ARTIFACT], targets: [{url: %q, format: SLACK}]}) { secret } }`, recv.URL),
				"updateWebhookPolicy": fmt.Sprintf(`mutation { updateWebhookPolicy(id: %q, input: {description: "changed"}) { id } }`, pol.ID),
				"testWebhook":         fmt.Sprintf(`mutation { testWebhook(id: %q) { id } }`, pol.ID),
				"deleteWebhookPolicy": fmt.Sprintf(`mutation { deleteWebhookPolicy(id: %q) }`, pol.ID),
			}
			// Expected extensions.code ("" = allowed) of the doors that name
			// the project, and of those that name a policy by id: a caller
			// who may not read the project's webhooks is told the policy
			// does not exist.
			const ok, unauth, forbidden, notFound = "", "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"
			for _, c := range []struct {
				who                     string
				creds                   servertest.Creds
				readProject, readByID   string
				writeProject, writeByID string
			}{
				{"anonymous", servertest.Creds{}, unauth, unauth, unauth, unauth},
				{"read-only token of the project admin", readOnly, ok, ok, forbidden, forbidden},
				{"robot with pull and push", robot, forbidden, notFound, forbidden, notFound},
				{"outsider", outsider, notFound, notFound, notFound, notFound},
				{"developer", dev, forbidden, notFound, forbidden, notFound},
				{"maintainer", maint, ok, ok, forbidden, forbidden},
			} {
				for name, q := range read {
					want := c.readByID
					if name == "webhookPolicies" {
						want = c.readProject
					}
					if r := s.Do(c.creds, q, nil); r.Code() != want {
						t.Errorf("%s %s: code %q (%+v), want %q", c.who, name, r.Code(), r.Errors, want)
					}
				}
				for name, q := range write {
					want := c.writeByID
					if name == "createWebhookPolicy" {
						want = c.writeProject
					}
					if r := s.Do(c.creds, q, nil); r.Code() != want {
						t.Errorf("%s %s: code %q (%+v), want %q", c.who, name, r.Code(), r.Errors, want)
					}
				}
			}
			if n := recv.count(); n != 0 {
				t.Fatalf("refused callers made %d deliveries", n)
			}

			// The project admin and the system admin may do everything.
			for _, who := range []servertest.Creds{owner, admin} {
				for _, name := range []string{"webhookPolicies", "webhookDeliveries", "updateWebhookPolicy", "testWebhook"} {
					q := read[name]
					if q == "" {
						q = write[name]
					}
					s.MustDo(who, q, nil, nil)
				}
			}
			var listed struct{ WebhookPolicies []policyOut }
			s.MustDo(maint, `{ webhookPolicies(project: "team") { id name project targets { url hasAuthHeader } } }`, nil, &listed)
			if len(listed.WebhookPolicies) != 1 || !listed.WebhookPolicies[0].Targets[0].HasAuthHeader {
				t.Fatalf("maintainer lists %+v", listed.WebhookPolicies)
			}
			s.MustDo(owner, write["createWebhookPolicy"], nil, nil)
			s.MustDo(owner, write["deleteWebhookPolicy"], nil, nil)
			if r := s.Do(owner, write["testWebhook"], nil); r.Code() != "NOT_FOUND" {
				t.Fatalf("testing a deleted policy: %+v", r.Errors)
			}
		})
	}
}

// TestWebhookDeliveryLogThroughGraphQL pushes an image into a project
// with a webhook and follows the delivery through the dispatcher, the job
// queue and the delivery log; then testWebhook sends a signed test event.
func TestWebhookDeliveryLogThroughGraphQL(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind, allowPrivateWebhooks)
			recv := newHookReceiver(t)
			s.CreateProject(admin, "team", false)
			var created struct {
				CreateWebhookPolicy struct {
					Secret string
					Policy policyOut
				}
			}
			s.MustDo(admin, createPolicy, map[string]any{"p": "team", "url": recv.URL}, &created)
			secret, id := created.CreateWebhookPolicy.Secret, created.CreateWebhookPolicy.Policy.ID

			adm := registryClient{t, s.URL, "admin", servertest.AdminPassword}
			pushLayers(adm, "team/app", "v1", []byte(`{"architecture":"amd64","os":"linux"}`), []byte("layer"))
			body, head := recv.waitFor(t, `"PUSH_ARTIFACT"`)
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write(body)
			if got := head.Get("X-Berth-Signature"); got != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
				t.Errorf("signature %q does not verify", got)
			}
			if head.Get("Authorization") != "Bearer hook-token" || head.Get("X-Berth-Event") != "PUSH_ARTIFACT" {
				t.Errorf("headers %v", head)
			}
			var ev struct {
				Type, Project, Repository, Actor string
				ID                               int
			}
			json.Unmarshal(body, &ev)
			if ev.Project != "team" || ev.Repository != "team/app" || ev.Actor != "admin" || ev.ID == 0 {
				t.Errorf("event %s", body)
			}

			type delivery struct {
				EventType, TargetURL, Format, Error, ResponseBody string
				Attempt, StatusCode, LatencyMs, EventID           int
				Succeeded, Test                                   bool
			}
			const fields = `eventType eventID targetURL format attempt statusCode latencyMs error responseBody succeeded test`
			var log struct {
				WebhookDeliveries struct {
					TotalCount int
					Edges      []struct{ Node delivery }
				}
			}
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				s.MustDo(admin, `query($id: ID!) { webhookDeliveries(policyId: $id, first: 10) { totalCount edges { node { `+fields+` } } } }`, map[string]any{"id": id}, &log)
				if log.WebhookDeliveries.TotalCount > 0 || time.Now().After(deadline) {
					break
				}
			}
			if len(log.WebhookDeliveries.Edges) == 0 {
				t.Fatal("no delivery logged")
			}
			d := log.WebhookDeliveries.Edges[len(log.WebhookDeliveries.Edges)-1].Node
			if !d.Succeeded || d.StatusCode != 200 || d.Attempt != 1 || d.ResponseBody != "ok" || d.Test || d.TargetURL != recv.URL {
				t.Errorf("delivery %+v", d)
			}

			var tested struct{ TestWebhook delivery }
			s.MustDo(admin, `mutation($id: ID!) { testWebhook(id: $id) { `+fields+` } }`, map[string]any{"id": id}, &tested)
			if !tested.TestWebhook.Test || !tested.TestWebhook.Succeeded || tested.TestWebhook.EventID != 0 {
				t.Errorf("test delivery %+v", tested.TestWebhook)
			}
			recv.waitFor(t, `"test":true`)
			var last struct {
				WebhookPolicies []struct{ LastDelivery *delivery }
			}
			s.MustDo(admin, `{ webhookPolicies(project: "team") { lastDelivery { `+fields+` } } }`, nil, &last)
			if l := last.WebhookPolicies[0].LastDelivery; l == nil || !l.Test {
				t.Errorf("last delivery %+v, want the test", l)
			}
		})
	}
}

// TestWebhookTargetsOnInternalAddressesAreRefused: without
// --webhook-allow-private, loopback and cloud-metadata URLs are refused
// with a message that says why.
func TestWebhookTargetsOnInternalAddressesAreRefused(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "team", false)
		for _, u := range []string{"http://127.0.0.1:9999/hook", "http://169.254.169.254/latest/meta-data/"} {
			r := s.Do(admin, createPolicy, map[string]any{"p": "team", "url": u})
			if r.Code() != "BAD_USER_INPUT" || !strings.Contains(r.Errors[0].Message, "--webhook-allow-private") {
				t.Errorf("%s: %+v", u, r.Errors)
			}
		}
	})
}
