// Package audit records who did what: every GraphQL mutation, sign-in,
// push, pull and delete becomes an AuditLog row with the actor, the
// resource, the client and the result.
package audit

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/auditlog"
	"github.com/berth-registry/berth/internal/viewer"
)

// Results of an audited action.
const (
	Success = "success"
	Failure = "failure"
)

// Entry is one audited action. The actor and client come from the context.
type Entry struct {
	Operation    string // e.g. createProject, push, pull, login
	ResourceType string // project, repository, artifact, user, robot...
	Resource     string // e.g. team-a/app:v1
	Project      string // the project it happened in, if any
	Result       string // Success or Failure
	Detail       string // the error message of a failure, or other context
	// Actor overrides the context's viewer, for actions by someone not yet
	// authenticated (a failed sign-in names the account it tried).
	Actor string
}

// Recorder writes audit entries. Pulls are frequent, so they are buffered
// and written in batches; everything else is written at once.
type Recorder struct {
	client *ent.Client
	log    *slog.Logger
	// RecordPulls turns pull entries on (the default) or off.
	RecordPulls bool

	mu      sync.Mutex
	pending []*ent.AuditLogCreate
	// flushing is held for a whole flush, so Flush also waits for a batch
	// the background writer is writing.
	flushing sync.Mutex
	stop     chan struct{}
	done     chan struct{}
}

// New returns a Recorder and starts its batch writer; Close flushes it.
func New(client *ent.Client, log *slog.Logger) *Recorder {
	r := &Recorder{client: client, log: log, RecordPulls: true, stop: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r
}

func (r *Recorder) loop() {
	defer close(r.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r.Flush(context.Background())
		case <-r.stop:
			r.Flush(context.Background())
			return
		}
	}
}

// Close writes what is buffered and stops the batch writer.
func (r *Recorder) Close() error {
	close(r.stop)
	<-r.done
	return nil
}

// Flush writes buffered entries now.
func (r *Recorder) Flush(ctx context.Context) {
	r.flushing.Lock()
	defer r.flushing.Unlock()
	r.mu.Lock()
	batch := r.pending
	r.pending = nil
	r.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := r.client.AuditLog.CreateBulk(batch...).Exec(viewer.SystemContext(ctx)); err != nil {
		r.log.Error("writing audit log batch", "entries", len(batch), "err", err)
	}
}

func (r *Recorder) build(ctx context.Context, e Entry) *ent.AuditLogCreate {
	v := viewer.FromContext(ctx)
	req := requestFrom(ctx)
	if e.Result == "" {
		e.Result = Success
	}
	actor := v.Name()
	if e.Actor != "" {
		actor = e.Actor
	}
	// Every field is clipped: many come from what unauthenticated callers
	// sent (a made-up username, scopes, a user agent), and an entry must
	// cost bounded space however big those were.
	return r.client.AuditLog.Create().
		SetActor(clip(actor, maxName)).SetOperation(clip(e.Operation, maxName)).
		SetResourceType(clip(e.ResourceType, maxName)).SetResource(clip(e.Resource, maxText)).
		SetProject(clip(e.Project, maxName)).SetResult(clip(e.Result, maxName)).
		SetDetail(clip(e.Detail, maxText)).SetClientIP(clip(req.ip, maxName)).
		SetUserAgent(clip(req.userAgent, maxUserAgent))
}

// Sizes, in bytes, that audit fields are clipped to.
const (
	maxName      = 255 // actor, project, operation and other names
	maxText      = 1024
	maxUserAgent = 512
)

// Record writes one entry. A failure to write is logged, never returned:
// auditing must not break the action it records.
func (r *Recorder) Record(ctx context.Context, e Entry) {
	if r == nil {
		return
	}
	if e.Operation == "pull" {
		if !r.RecordPulls {
			return
		}
		r.mu.Lock()
		r.pending = append(r.pending, r.build(ctx, e))
		r.mu.Unlock()
		return
	}
	if err := r.build(ctx, e).Exec(viewer.SystemContext(ctx)); err != nil {
		r.log.ErrorContext(ctx, "writing audit log", "operation", e.Operation, "err", err)
	}
}

// Purge deletes entries older than the retention period.
func (r *Recorder) Purge(ctx context.Context, retention time.Duration) (int, error) {
	return r.client.AuditLog.Delete().Where(auditlog.CreatedAtLT(time.Now().Add(-retention))).
		Exec(viewer.SystemContext(ctx))
}

// clip returns s cut to at most n bytes of valid UTF-8 without NUL bytes
// (PostgreSQL refuses both in text, which would lose the entry).
func clip(s string, n int) string {
	if len(s) <= n && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	if len(s) > n {
		s = s[:n]
	}
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	for len(s) > n { // replacement characters may have lengthened it
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	// A copy, so a buffered entry does not pin a large request string.
	return strings.Clone(s)
}

type requestInfo struct{ ip, userAgent string }

type requestKey struct{}

// Middleware puts the client address (as clientAddr works it out, which
// knows the trusted proxies) and user agent on the request context for
// the entries recorded while serving it, and for the rate limits.
func Middleware(clientAddr func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := context.WithValue(r.Context(), requestKey{}, requestInfo{ip: clientAddr(r), userAgent: r.UserAgent()})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func requestFrom(ctx context.Context) requestInfo {
	info, _ := ctx.Value(requestKey{}).(requestInfo)
	return info
}

// ClientIP returns the client address recorded on ctx by Middleware.
func ClientIP(ctx context.Context) string { return requestFrom(ctx).ip }
