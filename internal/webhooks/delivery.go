package webhooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/schema/rules"
	"github.com/berth-registry/berth/ent/webhookpolicy"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/egress"
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/viewer"
)

// Delivery limits.
const (
	// MaxAttempts is how often a delivery is tried before it is given up.
	MaxAttempts = 8
	// RequestTimeout bounds one attempt, from dialing to the end of the
	// response body berth reads.
	RequestTimeout = 10 * time.Second
	// ResponseBodyKept is how much of a response the delivery log keeps.
	ResponseBodyKept = 1024
	// maxDrained is how much more of a response is read, so that the
	// connection can be reused.
	maxDrained = 64 << 10
)

// DeliveryArgs is the job of delivering one event to one target of one
// policy. The target is named by its URL, which is unique in a policy, so
// that a job finds its target (and its current header and format) after
// the policy's targets were edited, and skips it if it was removed.
type DeliveryArgs struct {
	PolicyID int          `json:"policy_id" river:"unique"`
	EventID  int          `json:"event_id" river:"unique"`
	URL      string       `json:"url" river:"unique"`
	Event    events.Event `json:"event"`
}

// Kind is the River job kind of deliveries.
func (DeliveryArgs) Kind() string { return "webhook_delivery" }

// InsertOpts put deliveries on the webhooks queue and make them unique by
// policy, event and target in every state River keeps jobs in (finished
// ones too, until River's cleaner removes them), so that an event batch
// the dispatcher enqueues twice is delivered once.
func (DeliveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       jobs.QueueWebhooks,
		MaxAttempts: MaxAttempts,
		UniqueOpts: river.UniqueOpts{
			ByArgs:  true,
			ByState: append(rivertype.UniqueOptsByStateDefault(), rivertype.JobStateCancelled, rivertype.JobStateDiscarded),
		},
	}
}

// newClients returns the HTTP clients deliveries go out with: through
// egress, so that unless private addresses are allowed every address
// dialed is checked (DNS rebinding included); without following
// redirects, which would turn a POST into a GET somewhere else; and one
// that skips TLS verification, for the targets that ask for it.
func newClients(allowPrivate bool) (verified, insecure *http.Client) {
	verified = egress.NewClient(egress.Options{AllowPrivate: allowPrivate, Timeout: RequestTimeout})
	verified.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	skip := *verified
	t := verified.Transport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // the target's owner chose this
	skip.Transport = t
	return verified, &skip
}

// Enqueue inserts a delivery job for every event and every target of
// every enabled policy of the event's project that subscribes to its
// type. It is idempotent: enqueuing a batch again inserts nothing new.
// Events of no project (GC_COMPLETED) match no policy.
func (s *Service) Enqueue(ctx context.Context, evs []events.Event) error {
	names := map[string]bool{}
	for _, e := range evs {
		if e.Project != "" {
			names[e.Project] = true
		}
	}
	if len(names) == 0 {
		return nil
	}
	if s.Jobs == nil {
		return errors.New("webhooks: no job queue to enqueue deliveries on")
	}
	sys := viewer.SystemContext(ctx)
	ps, err := s.opts.Client.Project.Query().Where(project.NameIn(keys(names)...)).All(sys)
	if err != nil {
		return fmt.Errorf("finding the projects of events: %w", err)
	}
	ids := map[int]string{}
	for _, p := range ps {
		ids[p.ID] = p.Name
	}
	pols, err := s.opts.Client.WebhookPolicy.Query().
		Where(webhookpolicy.ProjectIDIn(keys(ids)...), webhookpolicy.Enabled(true)).
		Order(webhookpolicy.ByID()).
		All(sys)
	if err != nil {
		return fmt.Errorf("finding webhook policies: %w", err)
	}
	byProject := map[string][]*ent.WebhookPolicy{}
	for _, pol := range pols {
		byProject[ids[pol.ProjectID]] = append(byProject[ids[pol.ProjectID]], pol)
	}
	n := 0
	for _, e := range evs {
		for _, pol := range byProject[e.Project] {
			if !slices.Contains(pol.EventTypes, string(e.Type)) {
				continue
			}
			for _, t := range pol.Targets {
				args := DeliveryArgs{PolicyID: pol.ID, EventID: e.ID, URL: t.URL, Event: e}
				if _, err := s.Jobs.Insert(ctx, args, nil); err != nil {
					return fmt.Errorf("enqueueing event %d for webhook policy %d: %w", e.ID, pol.ID, err)
				}
				n++
			}
		}
	}
	if n > 0 {
		s.opts.Logger.DebugContext(ctx, "webhook deliveries enqueued", "deliveries", n, "events", len(evs))
	}
	return nil
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Worker returns the River worker of delivery jobs; register it with
// river.AddWorker before the job queue is built.
func (s *Service) Worker() river.Worker[DeliveryArgs] { return &deliveryWorker{s: s} }

type deliveryWorker struct {
	river.WorkerDefaults[DeliveryArgs]
	s *Service
}

// Timeout leaves room after the request's own timeout for recording it.
func (w *deliveryWorker) Timeout(*river.Job[DeliveryArgs]) time.Duration {
	return RequestTimeout + 20*time.Second
}

// Work makes one attempt. A policy deleted, disabled or no longer
// subscribed to the event, or a target removed, ends the job without
// sending; a failed attempt returns an error so that River retries it
// with backoff, except one refused for its address, which retrying
// cannot fix.
func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	s, a := w.s, job.Args
	pol, err := s.opts.Client.WebhookPolicy.Get(viewer.SystemContext(ctx), a.PolicyID)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !pol.Enabled || !slices.Contains(pol.EventTypes, string(a.Event.Type)) {
		return nil
	}
	i := slices.IndexFunc(pol.Targets, func(t rules.WebhookTarget) bool { return t.URL == a.URL })
	if i < 0 {
		return nil
	}
	d, err := s.deliver(ctx, pol, pol.Targets[i], a.Event, attempt{number: job.Attempt, jobID: job.ID})
	if err != nil {
		return err
	}
	if d.Succeeded {
		return nil
	}
	log := s.opts.Logger.With("job", job.ID, "policy", pol.ID, "event", a.Event.ID, "project", a.Event.Project,
		"target", hostOf(a.URL), "attempt", job.Attempt, "status", d.StatusCode)
	failure := fmt.Errorf("delivering event %d to %s: %s", a.Event.ID, hostOf(a.URL), d.Error)
	if d.refused {
		log.WarnContext(ctx, "webhook delivery refused: the target leads to a private address", "err", d.Error)
		return river.JobCancel(failure)
	}
	log.InfoContext(ctx, "webhook delivery failed", "err", d.Error)
	return failure
}

// hostOf is what logs say about a target: its host, never its path or
// query, which may hold a token (Slack's incoming-webhook URLs do).
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	return u.Host
}

// attempt says which try of which job a delivery is; the zero value is a
// test delivery.
type attempt struct {
	number int
	jobID  int64
}

// delivered is a recorded attempt and whether it was refused for the
// address it would have reached.
type delivered struct {
	*ent.WebhookDelivery
	refused bool
}

// deliver sends an event to a target once and records the attempt.
func (s *Service) deliver(ctx context.Context, pol *ent.WebhookPolicy, t rules.WebhookTarget, e events.Event, at attempt) (delivered, error) {
	test := at.jobID == 0
	deliveryID := strconv.FormatInt(at.jobID, 10)
	if test {
		deliveryID = "test-" + randomID()
		at.number = 1
	}
	body, contentType, err := s.body(t.Format, e, test, deliveryID)
	if err != nil {
		return delivered{}, fmt.Errorf("encoding a webhook body: %w", err)
	}
	secret, err := s.signingSecret(pol)
	if err != nil {
		return delivered{}, err
	}
	if t.AuthHeader, err = s.authHeader(pol.ProjectID, t); err != nil {
		return delivered{}, err
	}
	res := s.post(ctx, t, body, http.Header{
		"Content-Type":     {contentType},
		"User-Agent":       {"berth-webhook"},
		SignatureHeader:    {Sign(secret, body)},
		"X-Berth-Event":    {string(e.Type)},
		"X-Berth-Delivery": {deliveryID},
	})
	d, err := s.opts.Client.WebhookDelivery.Create().
		SetPolicyID(pol.ID).
		SetEventType(string(e.Type)).
		SetEventID(e.ID).
		SetTargetURL(t.URL).
		SetFormat(string(t.Format)).
		SetAttempt(at.number).
		SetStatusCode(res.status).
		SetLatencyMs(res.latency.Milliseconds()).
		SetError(res.err).
		SetResponseBody(res.body).
		SetSucceeded(res.err == "").
		SetTest(test).
		SetJobID(at.jobID).
		Save(viewer.SystemContext(context.WithoutCancel(ctx)))
	if err != nil {
		return delivered{}, fmt.Errorf("recording a webhook delivery: %w", err)
	}
	return delivered{WebhookDelivery: d, refused: res.refused}, nil
}

// response is what an attempt got back.
type response struct {
	status  int
	latency time.Duration
	body    string
	err     string
	refused bool
}

// post sends body to a target and reads the first KiB of the answer. Any
// answer but a 2xx is a failure.
func (s *Service) post(ctx context.Context, t rules.WebhookTarget, body []byte, h http.Header) response {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return response{err: err.Error()}
	}
	req.Header = h
	if t.AuthHeader != "" {
		req.Header.Set("Authorization", t.AuthHeader)
	}
	client := s.client
	if t.SkipTLSVerify {
		client = s.insecure
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		// url.Error repeats the URL, which may hold a token; the cause is
		// what the log needs.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return response{latency: time.Since(start), err: err.Error(), refused: errors.Is(err, egress.ErrPrivateAddress)}
	}
	kept, readErr := io.ReadAll(io.LimitReader(resp.Body, ResponseBodyKept))
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrained))
	resp.Body.Close()
	r := response{status: resp.StatusCode, latency: time.Since(start), body: printable(kept)}
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		r.err = fmt.Sprintf("the receiver answered %s", resp.Status)
	case readErr != nil:
		r.err = fmt.Sprintf("reading the answer: %v", readErr)
	}
	return r
}

// printable makes a response's first bytes storable text: valid UTF-8
// (a cut rune or binary becomes U+FFFD) without NUL, which PostgreSQL's
// text refuses.
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), string(utf8.RuneError))
	return strings.ReplaceAll(s, "\x00", "")
}

func randomID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Test sends a made-up event of the policy's first type to every target
// now, whether the policy is enabled or not, records each attempt as a
// test delivery, and returns the first target's.
func (s *Service) Test(ctx context.Context, id int) (*ent.WebhookDelivery, error) {
	pol, p, err := s.policy(ctx, id, auth.WebhookWrite)
	if err != nil {
		return nil, err
	}
	e := TestEvent(p.Name, events.Type(pol.EventTypes[0]), viewer.FromContext(ctx).Name())
	out := make([]delivered, len(pol.Targets))
	errs := make([]error, len(pol.Targets))
	var wg sync.WaitGroup
	for i, t := range pol.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = s.deliver(ctx, pol, t, e, attempt{})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out[0].WebhookDelivery, nil
}

// TestEvent is the event testWebhook sends: an artifact that does not
// exist, in the policy's project.
func TestEvent(projectName string, t events.Type, actor string) events.Event {
	sum := sha256.Sum256([]byte("berth webhook test"))
	return events.Event{
		Type:       t,
		Project:    projectName,
		Repository: projectName + "/webhook-test",
		Digest:     "sha256:" + hex.EncodeToString(sum[:]),
		MediaType:  "application/vnd.oci.image.manifest.v1+json",
		Tags:       []string{"test"},
		Size:       1234,
		Actor:      actor,
		OccurredAt: time.Now().UTC(),
	}
}
