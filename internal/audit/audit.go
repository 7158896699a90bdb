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
	"github.com/berth-registry/berth/internal/database"
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
	db  *database.DB
	log *slog.Logger
	// RecordPulls turns pull entries on (the default) or off.
	RecordPulls bool

	mu      sync.Mutex
	pending []row
	dropped int
	// flushing is held for a whole flush, so Flush also waits for a batch
	// the background writer is writing.
	flushing sync.Mutex
	kick     chan struct{}
	stop     chan struct{}
	done     chan struct{}
}

// Batching bounds. A CI fleet pulling a hot manifest makes tens of
// thousands of pull entries a second: they are written in batches of
// batchRows, each in one transaction (writeBatch), as soon as flushAt are
// waiting; past maxPending, new pull entries are dropped and the number
// dropped is logged, so a database that stops answering cannot make the
// buffer grow without bound.
const (
	batchRows  = 1000
	flushAt    = 2 * batchRows
	maxPending = 200_000
)

// row is a buffered entry, clipped: a few hundred bytes, where an ent
// create would cost a whole mutation.
type row struct {
	at                                                time.Time
	actor, operation, resourceType, resource, project string
	result, detail, clientIP, userAgent               string
}

// New returns a Recorder and starts its batch writer; Close flushes it.
func New(db *database.DB, log *slog.Logger) *Recorder {
	r := &Recorder{db: db, log: log, RecordPulls: true,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
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
		case <-r.kick:
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
	batch, dropped := r.pending, r.dropped
	r.pending, r.dropped = nil, 0
	r.mu.Unlock()
	if dropped > 0 {
		r.log.Warn("audit log: pull entries dropped while the buffer was full", "dropped", dropped, "buffered", maxPending)
	}
	for len(batch) > 0 {
		n := min(len(batch), batchRows)
		if err := writeBatch(ctx, r.db, batch[:n]); err != nil {
			r.log.Error("writing audit log batch", "entries", n, "err", err)
		}
		batch = batch[n:]
	}
}

// row clips an entry's fields. Every field is clipped: many come from
// what unauthenticated callers sent (a made-up username, scopes, a user
// agent), and an entry must cost bounded space however big those were.
func (r *Recorder) row(ctx context.Context, e Entry) row {
	v := viewer.FromContext(ctx)
	req := requestFrom(ctx)
	if e.Result == "" {
		e.Result = Success
	}
	actor := v.Name()
	if e.Actor != "" {
		actor = e.Actor
	}
	return row{at: time.Now(),
		actor: clip(actor, maxName), operation: clip(e.Operation, maxName),
		resourceType: clip(e.ResourceType, maxName), resource: clip(e.Resource, maxText),
		project: clip(e.Project, maxName), result: clip(e.Result, maxName), detail: clip(e.Detail, maxText),
		clientIP: clip(req.ip, maxName), userAgent: clip(req.userAgent, maxUserAgent)}
}

func create(client *ent.Client, e row) *ent.AuditLogCreate {
	return client.AuditLog.Create().SetCreatedAt(e.at).
		SetActor(e.actor).SetOperation(e.operation).SetResourceType(e.resourceType).SetResource(e.resource).
		SetProject(e.project).SetResult(e.result).SetDetail(e.detail).SetClientIP(e.clientIP).SetUserAgent(e.userAgent)
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
		e := r.row(ctx, e)
		r.mu.Lock()
		if len(r.pending) >= maxPending {
			r.dropped++
		} else {
			r.pending = append(r.pending, e)
		}
		full := len(r.pending) >= flushAt
		r.mu.Unlock()
		if full {
			select {
			case r.kick <- struct{}{}:
			default:
			}
		}
		return
	}
	if err := create(r.db.Client, r.row(ctx, e)).Exec(viewer.SystemContext(ctx)); err != nil {
		r.log.ErrorContext(ctx, "writing audit log", "operation", e.Operation, "err", err)
	}
}

// RecordIn writes e through client, a transaction's, so that the entry
// commits or rolls back with the action it records: the write path puts a
// push's entry in the push's transaction, one commit (and on PostgreSQL
// one log flush) fewer than writing it afterwards. Unlike Record, it
// returns the error, which aborts the transaction. A nil Recorder writes
// nothing.
func (r *Recorder) RecordIn(ctx context.Context, client *ent.Client, e Entry) error {
	if r == nil {
		return nil
	}
	return create(client, r.row(ctx, e)).Exec(viewer.SystemContext(ctx))
}

// Purge deletes entries older than the retention period.
func (r *Recorder) Purge(ctx context.Context, retention time.Duration) (int, error) {
	return r.db.AuditLog.Delete().Where(auditlog.CreatedAtLT(time.Now().Add(-retention))).
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
