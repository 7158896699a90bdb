package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/schema/rules"
	"github.com/berth-registry/berth/ent/webhookdelivery"
	"github.com/berth-registry/berth/ent/webhookpolicy"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/secrets"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/internal/webhooks"
)

// fixture is a webhook service on a test database with a job queue that
// works its deliveries, and a project "team-a".
type fixture struct {
	db      *database.DB
	svc     *webhooks.Service
	queue   *jobs.Service
	ctx     context.Context // berth itself: allowed everything
	project *ent.Project
}

func start(t *testing.T, db *database.DB, allowPrivate bool) *fixture {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	p, err := db.Project.Create().SetName("team-a").Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	svc := webhooks.New(webhooks.Options{Client: db.Client, Auth: auth.New(db.Client), Logger: log,
		AllowPrivate: allowPrivate, ExternalURL: "https://berth.example.com/", Secrets: testBox(t)})
	workers := river.NewWorkers()
	river.AddWorker(workers, svc.Worker())
	q, err := jobs.New(ctx, jobs.Options{DB: db, Logger: log, Workers: workers, RetryDelay: 100 * time.Millisecond,
		Work: true, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	svc.Jobs = q
	return &fixture{db: db, svc: svc, queue: q, ctx: ctx, project: p}
}

// receiver is a webhook endpoint on 127.0.0.1 that answers with the
// given statuses in turn, then 200, and keeps what it got.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	statuses []int
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), body})
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, "answer "+http.StatusText(status)+strings.Repeat(".", 2000))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// wait returns the receiver's requests once it has n of them.
func (r *receiver) wait(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if got := r.requests(); len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the receiver got %d requests, want %d", len(r.requests()), n)
	return nil
}

func target(url string, f rules.Format) rules.WebhookTarget {
	return rules.WebhookTarget{URL: url, Format: f}
}

func (f *fixture) create(t *testing.T, name string, types []events.Type, targets ...rules.WebhookTarget) (*ent.WebhookPolicy, string) {
	t.Helper()
	pol, secret, err := f.svc.Create(f.ctx, "team-a", webhooks.PolicyInput{Name: name, EventTypes: types, Targets: targets, Enabled: true})
	if err != nil {
		t.Fatalf("creating policy %s: %v", name, err)
	}
	return pol, secret
}

var pushed = events.Event{
	ID: 42, Type: events.PushArtifact, Project: "team-a", Repository: "team-a/app",
	Digest:    "sha256:4f3c2e1d0b9a8f7e6d5c4b3a29181716151413121110090807060504030201ff",
	MediaType: "application/vnd.oci.image.manifest.v1+json", Tags: []string{"1.0", "latest"},
	Size: 7234, Actor: "alice", OccurredAt: time.Date(2026, 12, 6, 5, 25, 33, 0, time.UTC),
	Detail: map[string]any{"pushes": 1},
}

func signed(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestDeliveriesAreSignedAndShapedAsEachFormatDocuments(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := start(t, db, true)
		plain, cloud, slack := newReceiver(t), newReceiver(t), newReceiver(t)
		withAuth := target(plain.URL+"/hook?x=1", rules.FormatJSON)
		withAuth.AuthHeader = "Bearer s3cret"
		pol, secret := f.create(t, "all-formats", []events.Type{events.PushArtifact},
			withAuth, target(cloud.URL, rules.FormatCloudEvents), target(slack.URL, rules.FormatSlack))
		if len(secret) != 64 {
			t.Fatalf("secret %q is not 32 random bytes in hex", secret)
		}
		if err := f.svc.Enqueue(f.ctx, []events.Event{pushed}); err != nil {
			t.Fatal(err)
		}

		check := func(r received, contentType string) {
			t.Helper()
			if got := r.header.Get("X-Berth-Signature"); got != signed(secret, r.body) {
				t.Errorf("X-Berth-Signature %q does not verify with the policy's secret", got)
			}
			for h, want := range map[string]string{"Content-Type": contentType, "X-Berth-Event": "PUSH_ARTIFACT", "User-Agent": "berth-webhook"} {
				if got := r.header.Get(h); got != want {
					t.Errorf("%s: %q, want %q", h, got, want)
				}
			}
			if r.header.Get("X-Berth-Delivery") == "" {
				t.Error("no X-Berth-Delivery")
			}
		}

		p := plain.wait(t, 1)[0]
		check(p, "application/json")
		if got := p.header.Get("Authorization"); got != "Bearer s3cret" {
			t.Errorf("Authorization %q", got)
		}
		var body map[string]any
		if err := json.Unmarshal(p.body, &body); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"type": "PUSH_ARTIFACT", "id": 42.0, "occurredAt": "2026-12-06T05:25:33Z", "project": "team-a",
			"repository": "team-a/app", "digest": pushed.Digest, "mediaType": pushed.MediaType,
			"tags": []any{"1.0", "latest"}, "size": 7234.0, "actor": "alice", "detail": map[string]any{"pushes": 1.0},
		}
		if g, w := mustJSON(body), mustJSON(want); g != w {
			t.Errorf("berth JSON\n got %s\nwant %s", g, w)
		}

		c := cloud.wait(t, 1)[0]
		check(c, "application/cloudevents+json")
		var ce map[string]any
		if err := json.Unmarshal(c.body, &ce); err != nil {
			t.Fatal(err)
		}
		for k, w := range map[string]any{
			"specversion": "1.0", "id": "42", "source": "https://berth.example.com/projects/team-a",
			"type": "io.berth.artifact.pushed", "subject": "team-a/app@" + pushed.Digest,
			"time": "2026-12-06T05:25:33Z", "datacontenttype": "application/json",
		} {
			if ce[k] != w {
				t.Errorf("CloudEvent %s = %v, want %v", k, ce[k], w)
			}
		}
		if g, w := mustJSON(ce["data"]), mustJSON(want); g != w {
			t.Errorf("CloudEvent data\n got %s\nwant %s", g, w)
		}

		s := slack.wait(t, 1)[0]
		check(s, "application/json")
		var msg map[string]string
		if err := json.Unmarshal(s.body, &msg); err != nil || len(msg) != 1 {
			t.Fatalf("Slack body %s is not {\"text\": ...}", s.body)
		}
		if w := "*alice* pushed `team-a/app@sha256:4f3c2e1d0b9a` (1.0, latest), 7.1 KiB"; msg["text"] != w {
			t.Errorf("Slack text %q, want %q", msg["text"], w)
		}

		// Every attempt is logged, succeeded, with the first KiB of the answer.
		waitDeliveries(t, f, pol.ID, 3)
		conn, err := f.svc.Deliveries(f.ctx, pol.ID, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range conn.Edges {
			d := e.Node
			if !d.Succeeded || d.StatusCode != 200 || d.Attempt != 1 || d.EventID != 42 || d.Test || len(d.ResponseBody) != webhooks.ResponseBodyKept {
				t.Errorf("delivery %+v", d)
			}
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// waitDeliveries waits until a policy's delivery log has n entries.
func waitDeliveries(t *testing.T, f *fixture, policyID, n int) []*ent.WebhookDelivery {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ds, err := f.db.WebhookDelivery.Query().Where(webhookdelivery.PolicyID(policyID)).
			Order(webhookdelivery.ByID()).All(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) >= n {
			return ds
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries logged, want %d", len(ds), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFailingReceiverIsRetriedAndEveryAttemptIsLogged(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := start(t, db, true)
		r := newReceiver(t, 500, 500, 200)
		pol, _ := f.create(t, "flaky", []events.Type{events.PushArtifact}, target(r.URL, rules.FormatJSON))
		if err := f.svc.Enqueue(f.ctx, []events.Event{pushed}); err != nil {
			t.Fatal(err)
		}
		got := r.wait(t, 3)
		ids := map[string]bool{}
		for _, g := range got {
			ids[g.header.Get("X-Berth-Delivery")] = true
		}
		if len(ids) != 1 {
			t.Errorf("the attempts carry X-Berth-Delivery %v, want the job's id every time", ids)
		}
		waitDeliveries(t, f, pol.ID, 3)

		conn, err := f.svc.Deliveries(f.ctx, pol.ID, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if conn.TotalCount != 3 || len(conn.Edges) != 3 {
			t.Fatalf("delivery log has %d entries, want 3", conn.TotalCount)
		}
		// Newest first.
		for i, w := range []struct {
			attempt, status int
			ok              bool
		}{{3, 200, true}, {2, 500, false}, {1, 500, false}} {
			d := conn.Edges[i].Node
			if d.Attempt != w.attempt || d.StatusCode != w.status || d.Succeeded != w.ok {
				t.Errorf("entry %d: attempt %d status %d succeeded %v, want %+v", i, d.Attempt, d.StatusCode, d.Succeeded, w)
			}
			if !w.ok && !strings.Contains(d.Error, "500") {
				t.Errorf("entry %d: error %q does not name the status", i, d.Error)
			}
			if !strings.HasPrefix(d.ResponseBody, "answer ") || len(d.ResponseBody) != 1024 {
				t.Errorf("entry %d: response body of %d bytes: %.20q", i, len(d.ResponseBody), d.ResponseBody)
			}
		}
		last, err := f.svc.LastDelivery(f.ctx, pol)
		if err != nil || last.Attempt != 3 || !last.Succeeded {
			t.Fatalf("last delivery %+v, %v", last, err)
		}

		// Paging: one at a time, newest first.
		one := 1
		page, err := f.svc.Deliveries(f.ctx, pol.ID, &one, nil)
		if err != nil {
			t.Fatal(err)
		}
		next, err := f.svc.Deliveries(f.ctx, pol.ID, &one, page.PageInfo.EndCursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(next.Edges) != 1 || next.Edges[0].Node.Attempt != 2 {
			t.Fatalf("second page %+v", next.Edges)
		}
	})
}

func TestEnqueueMatchesPoliciesAndEnqueuingTwiceDeliversOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := start(t, db, true)
		pushes, tags, off, other := newReceiver(t), newReceiver(t), newReceiver(t), newReceiver(t)
		f.create(t, "pushes", []events.Type{events.PushArtifact, events.GCCompleted}, target(pushes.URL, rules.FormatJSON))
		f.create(t, "tags", []events.Type{events.TagCreated}, target(tags.URL, rules.FormatSlack))
		disabled, _ := f.create(t, "off", []events.Type{events.PushArtifact}, target(off.URL, rules.FormatJSON))
		if _, err := f.svc.Update(f.ctx, disabled.ID, webhooks.PolicyUpdate{Enabled: new(bool)}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Project.Create().SetName("team-b").Save(f.ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.Create(f.ctx, "team-b", webhooks.PolicyInput{Name: "b", EventTypes: []events.Type{events.PushArtifact},
			Targets: []rules.WebhookTarget{target(other.URL, rules.FormatJSON)}, Enabled: true}); err != nil {
			t.Fatal(err)
		}

		tagged := events.Event{ID: 43, Type: events.TagCreated, Project: "team-a", Repository: "team-a/app", Tags: []string{"v2"}, OccurredAt: time.Now()}
		gc := events.Event{ID: 44, Type: events.GCCompleted, OccurredAt: time.Now()}
		batch := []events.Event{pushed, tagged, gc}
		for range 2 {
			if err := f.svc.Enqueue(f.ctx, batch); err != nil {
				t.Fatal(err)
			}
		}
		jobsOf, _, err := f.queue.List(f.ctx, jobs.Filter{Kind: webhooks.DeliveryArgs{}.Kind()}, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(jobsOf) != 2 {
			t.Fatalf("%d delivery jobs, want 2 (the push to pushes, the tag to tags)", len(jobsOf))
		}
		pushes.wait(t, 1)
		tags.wait(t, 1)
		for _, j := range jobsOf {
			if _, err := f.queue.Wait(f.ctx, j.ID); err != nil {
				t.Fatal(err)
			}
		}
		// Enqueuing after the deliveries finished inserts nothing either.
		if err := f.svc.Enqueue(f.ctx, batch); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		for name, r := range map[string]*receiver{"pushes": pushes, "tags": tags, "off": off, "other project": other} {
			want := map[string]int{"pushes": 1, "tags": 1}[name]
			if got := len(r.requests()); got != want {
				t.Errorf("%s got %d requests, want %d", name, got, want)
			}
		}
	})
}

func TestDeletedOrDisabledPolicyCompletesWithoutSending(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := start(t, db, true)
		r := newReceiver(t)
		pol, _ := f.create(t, "p", []events.Type{events.PushArtifact}, target(r.URL, rules.FormatJSON))
		job := &river.Job[webhooks.DeliveryArgs]{
			JobRow: &rivertype.JobRow{ID: 7, Attempt: 1},
			Args:   webhooks.DeliveryArgs{PolicyID: pol.ID, EventID: pushed.ID, URL: r.URL, Event: pushed},
		}
		if _, err := f.svc.Update(f.ctx, pol.ID, webhooks.PolicyUpdate{Enabled: new(bool)}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Worker().Work(f.ctx, job); err != nil {
			t.Fatalf("disabled: %v", err)
		}
		if err := f.svc.Delete(f.ctx, pol.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Worker().Work(f.ctx, job); err != nil {
			t.Fatalf("deleted: %v", err)
		}
		if n := len(r.requests()); n != 0 {
			t.Fatalf("the receiver got %d requests", n)
		}
		if n, _ := db.WebhookDelivery.Query().Count(f.ctx); n != 0 {
			t.Fatalf("%d deliveries logged", n)
		}
	})
}

func TestTestWebhookSendsToEveryTargetNow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := start(t, db, true)
		first, second := newReceiver(t), newReceiver(t, 404)
		pol, secret := f.create(t, "p", []events.Type{events.TagCreated}, target(first.URL, rules.FormatCloudEvents), target(second.URL, rules.FormatJSON))
		if _, err := f.svc.Update(f.ctx, pol.ID, webhooks.PolicyUpdate{Enabled: new(bool)}); err != nil {
			t.Fatal(err)
		}
		d, err := f.svc.Test(f.ctx, pol.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Test || !d.Succeeded || d.StatusCode != 200 || d.TargetURL != first.URL || d.Attempt != 1 || d.EventType != "TAG_CREATED" {
			t.Fatalf("testWebhook returned %+v", d)
		}
		got := first.requests()
		if len(got) != 1 || got[0].header.Get("X-Berth-Signature") != signed(secret, got[0].body) {
			t.Fatalf("first target got %d requests, or one badly signed", len(got))
		}
		var ce struct {
			ID   string
			Data struct {
				Test    bool
				Project string
			}
		}
		json.Unmarshal(got[0].body, &ce)
		if !ce.Data.Test || ce.Data.Project != "team-a" || !strings.HasPrefix(ce.ID, "test-") {
			t.Errorf("test CloudEvent %s", got[0].body)
		}
		ds := waitDeliveries(t, f, pol.ID, 2)
		if !ds[0].Test || !ds[1].Test || ds[1].Succeeded == ds[0].Succeeded {
			t.Fatalf("deliveries %+v %+v", ds[0], ds[1])
		}
		for _, d := range ds {
			if d.TargetURL == second.URL && (d.StatusCode != 404 || d.Succeeded) {
				t.Errorf("second target's delivery %+v", d)
			}
		}
	})
}

func TestPrivateTargetsAreRefusedUnlessAllowed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := start(t, db, false)
		for _, u := range []string{
			"http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data", "http://localhost/hook",
			"http://[::1]/hook", "https://10.1.2.3/", "http://[::ffff:127.0.0.1]/", "http://[fe80::1%25eth0]/",
		} {
			_, _, err := f.svc.Create(f.ctx, "team-a", webhooks.PolicyInput{Name: "p", EventTypes: []events.Type{events.PushArtifact},
				Targets: []rules.WebhookTarget{target(u, rules.FormatJSON)}, Enabled: true})
			if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), "--webhook-allow-private") {
				t.Errorf("%s: %v, want an invalid-input error naming --webhook-allow-private", u, err)
			}
		}
		pol, _ := f.create(t, "public", []events.Type{events.PushArtifact}, target("https://93.184.215.14/hook", rules.FormatJSON))
		_, err := f.svc.Update(f.ctx, pol.ID, webhooks.PolicyUpdate{Targets: []rules.WebhookTarget{target("http://169.254.169.254/", rules.FormatJSON)}})
		if !errors.Is(err, errdefs.ErrInvalid) {
			t.Errorf("update to the metadata address: %v", err)
		}

		// A target saved while private addresses were allowed (or whose
		// name resolves elsewhere since) is still not reached: the
		// address is checked when it is dialed.
		r := newReceiver(t)
		allowed := webhooks.New(webhooks.Options{Client: db.Client, Auth: auth.New(db.Client), AllowPrivate: true, Secrets: testBox(t)})
		inner, _, err := allowed.Create(f.ctx, "team-a", webhooks.PolicyInput{Name: "inner", EventTypes: []events.Type{events.PushArtifact},
			Targets: []rules.WebhookTarget{target(r.URL, rules.FormatJSON)}, Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		d, err := f.svc.Test(f.ctx, inner.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Succeeded || d.StatusCode != 0 || !strings.Contains(d.Error, "private") {
			t.Fatalf("delivery to a private address %+v", d)
		}
		if n := len(r.requests()); n != 0 {
			t.Fatalf("the private receiver got %d requests", n)
		}
	})
}

func TestPoliciesAreValidated(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := start(t, db, true)
		ok := target("https://hooks.example.com/berth", rules.FormatJSON)
		many := make([]rules.WebhookTarget, webhooks.MaxTargets+1)
		for i := range many {
			many[i] = target(fmt.Sprintf("https://hooks.example.com/%d", i), rules.FormatJSON)
		}
		long := ok
		long.AuthHeader = "Bearer " + strings.Repeat("x", webhooks.MaxAuthHeader)
		injected := ok
		injected.AuthHeader = "Bearer x\r\nX-Evil: 1"
		push := []events.Type{events.PushArtifact}
		for _, tc := range []struct {
			name string
			in   webhooks.PolicyInput
		}{
			{"no name", webhooks.PolicyInput{EventTypes: push, Targets: []rules.WebhookTarget{ok}}},
			{"no event type", webhooks.PolicyInput{Name: "p", Targets: []rules.WebhookTarget{ok}}},
			{"unknown event type", webhooks.PolicyInput{Name: "p", EventTypes: []events.Type{"PUSHED"}, Targets: []rules.WebhookTarget{ok}}},
			{"no target", webhooks.PolicyInput{Name: "p", EventTypes: push}},
			{"eleven targets", webhooks.PolicyInput{Name: "p", EventTypes: push, Targets: many}},
			{"ftp URL", webhooks.PolicyInput{Name: "p", EventTypes: push, Targets: []rules.WebhookTarget{target("ftp://hooks.example.com/", rules.FormatJSON)}}},
			{"relative URL", webhooks.PolicyInput{Name: "p", EventTypes: push, Targets: []rules.WebhookTarget{target("/hook", rules.FormatJSON)}}},
			{"URL with credentials", webhooks.PolicyInput{Name: "p", EventTypes: push, Targets: []rules.WebhookTarget{target("https://u:pw@hooks.example.com/", rules.FormatJSON)}}},
			{"URL too long", webhooks.PolicyInput{Name: "p", EventTypes: push, Targets: []rules.WebhookTarget{target("https://hooks.example.com/"+strings.Repeat("a", webhooks.MaxURLLength), rules.FormatJSON)}}},
			{"same URL twice", webhooks.PolicyInput{Name: "p", EventTypes: push, Targets: []rules.WebhookTarget{ok, ok}}},
			{"auth header too long", webhooks.PolicyInput{Name: "p", EventTypes: push, Targets: []rules.WebhookTarget{long}}},
			{"auth header of two lines", webhooks.PolicyInput{Name: "p", EventTypes: push, Targets: []rules.WebhookTarget{injected}}},
			{"unknown format", webhooks.PolicyInput{Name: "p", EventTypes: push, Targets: []rules.WebhookTarget{target("https://hooks.example.com/", "XML")}}},
		} {
			if _, _, err := f.svc.Create(f.ctx, "team-a", tc.in); !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("%s: %v, want an invalid-input error", tc.name, err)
			}
		}
		f.create(t, "taken", push, ok)
		if _, _, err := f.svc.Create(f.ctx, "team-a", webhooks.PolicyInput{Name: "taken", EventTypes: push, Targets: []rules.WebhookTarget{ok}}); !errors.Is(err, errdefs.ErrConflict) {
			t.Errorf("a second policy named taken: %v, want a conflict", err)
		}
		if _, _, err := f.svc.Create(f.ctx, "nope", webhooks.PolicyInput{Name: "p", EventTypes: push, Targets: []rules.WebhookTarget{ok}}); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("a policy in a missing project: %v, want not found", err)
		}
	})
}

func TestUpdateKeepsTheAuthHeaderOfATargetWithTheSameURL(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := start(t, db, true)
		ra, rb, rc := newReceiver(t), newReceiver(t), newReceiver(t)
		a, b := target(ra.URL+"/a", rules.FormatJSON), target(rb.URL+"/b", rules.FormatSlack)
		a.AuthHeader, b.AuthHeader = "Bearer a", "Bearer b"
		pol, secret := f.create(t, "p", []events.Type{events.PushArtifact}, a, b)
		name := "renamed"
		upd, err := f.svc.Update(f.ctx, pol.ID, webhooks.PolicyUpdate{Name: &name, Targets: []rules.WebhookTarget{
			target(" "+ra.URL+"/a", rules.FormatCloudEvents), target(rc.URL+"/c", rules.FormatJSON),
		}})
		if err != nil {
			t.Fatal(err)
		}
		got := upd.Targets
		if upd.Name != "renamed" || len(got) != 2 || got[0].AuthHeader == "" || got[0].Format != rules.FormatCloudEvents || got[1].AuthHeader != "" {
			t.Fatalf("targets after update: %+v", got)
		}
		if upd.Secret != pol.Secret {
			t.Fatal("an update changed the secret")
		}
		// The kept header is the one sent, and the secret still signs.
		if _, err := f.svc.Test(f.ctx, pol.ID); err != nil {
			t.Fatal(err)
		}
		ka, kc := ra.wait(t, 1)[0], rc.wait(t, 1)[0]
		if h := ka.header.Get("Authorization"); h != "Bearer a" {
			t.Errorf("the kept target sends Authorization %q, want the header it had", h)
		}
		if h := kc.header.Get("Authorization"); h != "" {
			t.Errorf("the new target without a header sends Authorization %q", h)
		}
		if ka.header.Get("X-Berth-Signature") != signed(secret, ka.body) {
			t.Error("after an update the signature no longer verifies with the policy's secret")
		}
	})
}

// testBox seals secrets under a fixed key.
func testBox(t *testing.T) *secrets.Box {
	t.Helper()
	box, err := secrets.New(dbtest.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// rawPolicy reads a policy's secret and targets as the database holds
// them, past ent: the secret, the targets' JSON and their auth headers.
func rawPolicy(t *testing.T, db *database.DB, id int) (secret, targets string, headers []string) {
	t.Helper()
	q := fmt.Sprintf("SELECT %s, %s FROM %s WHERE id = %d", webhookpolicy.FieldSecret, webhookpolicy.FieldTargets, webhookpolicy.Table, id)
	if err := db.SQL().QueryRow(q).Scan(&secret, &targets); err != nil {
		t.Fatal(err)
	}
	var ts []rules.WebhookTarget
	if err := json.Unmarshal([]byte(targets), &ts); err != nil {
		t.Fatal(err)
	}
	for _, tg := range ts {
		headers = append(headers, tg.AuthHeader)
	}
	return secret, targets, headers
}

// TestSecretsAreStoredEncryptedAndStillSign: the database holds the
// signing secret and the auth header sealed (v1:...), never in
// plaintext, and deliveries still carry the header and a signature
// that verifies with the secret shown at creation.
func TestSecretsAreStoredEncryptedAndStillSign(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := start(t, db, true)
		r := newReceiver(t)
		tg := target(r.URL+"/hook", rules.FormatJSON)
		tg.AuthHeader = "Bearer stored-sealed"
		pol, secret := f.create(t, "sealed", []events.Type{events.PushArtifact}, tg)

		rawSecret, rawTargets, headers := rawPolicy(t, db, pol.ID)
		if !strings.HasPrefix(rawSecret, "v1:") || strings.Contains(rawSecret, secret) {
			t.Errorf("stored secret %q is not sealed", rawSecret)
		}
		if strings.Contains(rawTargets, "stored-sealed") || !strings.HasPrefix(headers[0], "v1:") {
			t.Errorf("stored targets %s hold the auth header in plaintext", rawTargets)
		}

		if err := f.svc.Enqueue(f.ctx, []events.Event{pushed}); err != nil {
			t.Fatal(err)
		}
		got := r.wait(t, 1)[0]
		if got.header.Get("X-Berth-Signature") != signed(secret, got.body) {
			t.Error("the signature does not verify with the secret shown at creation")
		}
		if h := got.header.Get("Authorization"); h != "Bearer stored-sealed" {
			t.Errorf("Authorization %q", h)
		}

		// Under another key the delivery fails and says which setting.
		other, _ := secrets.New(secrets.GenerateKey())
		wrong := webhooks.New(webhooks.Options{Client: db.Client, Auth: auth.New(db.Client), AllowPrivate: true, Secrets: other})
		if _, err := wrong.Test(f.ctx, pol.ID); !errors.Is(err, secrets.ErrUndecryptable) || !strings.Contains(err.Error(), "BERTH_SECRET_KEY") {
			t.Errorf("a test delivery under another key: %v; want an error naming BERTH_SECRET_KEY", err)
		}
	})
}

// TestPlaintextSecretsFromBeforeAreSealedOnce: a policy stored in
// plaintext by an earlier version still delivers, SealPlaintext seals it
// without touching updated_at, and a second run seals nothing.
func TestPlaintextSecretsFromBeforeAreSealedOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := start(t, db, true)
		withHeader, without := newReceiver(t), newReceiver(t)
		tg := target(withHeader.URL+"/old", rules.FormatJSON)
		tg.AuthHeader = "Bearer from-before"
		bare := target(without.URL+"/bare", rules.FormatJSON)
		old, err := db.WebhookPolicy.Create().SetProjectID(f.project.ID).SetName("old").
			SetEventTypes([]string{string(events.PushArtifact)}).SetTargets([]rules.WebhookTarget{tg, bare}).
			SetSecret("plaintext-secret-from-before").Save(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		// deliver sends a test event and checks what the n-th request
		// to each target carried.
		deliver := func(n int, when string) {
			t.Helper()
			if _, err := f.svc.Test(f.ctx, old.ID); err != nil {
				t.Fatal(err)
			}
			for r, auth := range map[*receiver]string{withHeader: "Bearer from-before", without: ""} {
				got := r.wait(t, n)[n-1]
				if got.header.Get("X-Berth-Signature") != signed("plaintext-secret-from-before", got.body) {
					t.Errorf("%s: the signature does not verify with the secret stored before", when)
				}
				if h := got.header.Get("Authorization"); h != auth {
					t.Errorf("%s: Authorization %q, want %q", when, h, auth)
				}
			}
		}
		deliver(1, "in plaintext")

		seal := func() int {
			t.Helper()
			tx, err := db.Tx(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			n, err := webhooks.SealPlaintext(f.ctx, tx, testBox(t))
			if err != nil {
				tx.Rollback()
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			return n
		}
		before := db.WebhookPolicy.GetX(f.ctx, old.ID)
		if n := seal(); n != 2 {
			t.Errorf("sealed %d values, want 2 (the secret and one auth header)", n)
		}
		rawSecret, rawTargets, headers := rawPolicy(t, db, old.ID)
		if !strings.HasPrefix(rawSecret, "v1:") || strings.Contains(rawTargets, "from-before") || !strings.HasPrefix(headers[0], "v1:") || headers[1] != "" {
			t.Errorf("after sealing: secret %q, targets %s", rawSecret, rawTargets)
		}
		if after := db.WebhookPolicy.GetX(f.ctx, old.ID); !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Errorf("sealing changed updated_at from %v to %v", before.UpdatedAt, after.UpdatedAt)
		}
		if n := seal(); n != 0 {
			t.Errorf("a second run sealed %d values, want 0", n)
		}
		if s2, _, _ := rawPolicy(t, db, old.ID); s2 != rawSecret {
			t.Error("a second run sealed the secret again")
		}

		deliver(2, "sealed")
	})
}

func TestSkipTLSVerifyAppliesToItsTargetOnly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := start(t, db, true)
		hits := 0
		var mu sync.Mutex
		tlsRecv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits++
			mu.Unlock()
			// Binary and NUL in the answer must still be storable text.
			w.Write([]byte("ok\x00\xff\xfe"))
		}))
		tlsRecv.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // the refused handshake
		tlsRecv.StartTLS()
		defer tlsRecv.Close()
		skip := target(tlsRecv.URL+"/skip", rules.FormatJSON)
		skip.SkipTLSVerify = true
		pol, _ := f.create(t, "tls", []events.Type{events.PushArtifact}, skip, target(tlsRecv.URL+"/verify", rules.FormatJSON))
		if _, err := f.svc.Test(f.ctx, pol.ID); err != nil {
			t.Fatal(err)
		}
		ds := waitDeliveries(t, f, pol.ID, 2)
		for _, d := range ds {
			switch {
			case strings.HasSuffix(d.TargetURL, "/skip"):
				if !d.Succeeded || d.ResponseBody != "ok\uFFFD" {
					t.Errorf("the target that skips verification: %+v", d)
				}
			case d.Succeeded || d.StatusCode != 0 || !strings.Contains(d.Error, "certificate"):
				t.Errorf("the target that verifies a self-signed certificate: %+v", d)
			}
		}
		if hits != 1 {
			t.Errorf("the TLS receiver answered %d requests, want 1", hits)
		}
	})
}
