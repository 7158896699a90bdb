// Package jobs is berth's durable job queue: River on the same database as
// everything else (its pgx v5 driver on PostgreSQL, its SQLite driver on
// SQLite). Jobs are rows, so they survive restarts; they retry with
// exponential backoff; each queue has its own concurrency; and with
// several berth processes on one PostgreSQL each job runs in one of them.
//
// Periodic jobs (garbage collection, each project's retention) are driven
// by the Schedule table: every process reconciles River's periodic jobs
// with it, and River's elected leader is the only one that enqueues them,
// so a schedule fires once per tick across replicas.
//
// A job whose process died mid-run (kill -9, a node lost) is put back in
// the queue by the reaper as soon as that process is known to be gone:
// every process holds a lease named after its River client id while it
// lives.
package jobs

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/errdefs"
)

// Queues and how many jobs of each run at once in one process.
const (
	QueueGC          = "gc"
	QueueRetention   = "retention"
	QueueWebhooks    = "webhooks"
	QueueMaintenance = "maintenance"
	// QueueScan runs vulnerability scans: each reads an image's layers
	// and holds a temporary file of their package databases.
	QueueScan = "scan"
)

var queues = map[string]river.QueueConfig{
	QueueGC:          {MaxWorkers: 1},
	QueueRetention:   {MaxWorkers: 2},
	QueueWebhooks:    {MaxWorkers: 16},
	QueueMaintenance: {MaxWorkers: 2},
	QueueScan:        {MaxWorkers: 2},
}

// Options configure the job service.
type Options struct {
	DB     *database.DB
	Logger *slog.Logger
	// Workers are the job kinds this process can work; add them with
	// river.AddWorker before New.
	Workers *river.Workers
	// RetryDelay is the first retry's delay; each further one doubles it,
	// up to an hour. Zero means 10 seconds.
	RetryDelay time.Duration
	// Work makes the process work jobs and drive schedules; without it the
	// service only inserts and lists (the CLI).
	Work bool
	// PollInterval is how often a worker looks for jobs inserted by other
	// processes when the database cannot notify it (SQLite). Zero means
	// one second.
	PollInterval time.Duration
}

// client is what berth uses of River's client, whichever the driver.
type client interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobCancel(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobRetry(ctx context.Context, id int64) (*rivertype.JobRow, error)
	PeriodicJobs() *river.PeriodicJobBundle
}

// Service is the job queue of one berth process.
type Service struct {
	opts   Options
	client client
	id     string
	pool   *pgxpool.Pool
	lite   *sql.DB

	mu        sync.Mutex
	periodic  map[string]Periodic
	scheduled map[string]rivertype.PeriodicJobHandle
	stop      context.CancelFunc
	done      chan struct{}
	kick      chan struct{}
}

// Periodic makes the job a schedule of one kind starts.
type Periodic func(projectID int) river.JobArgs

// New opens the queue on opts.DB, bringing River's tables up to date.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.RetryDelay <= 0 {
		opts.RetryDelay = 10 * time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.Workers == nil {
		opts.Workers = river.NewWorkers()
	}
	host, _ := os.Hostname()
	s := &Service{
		opts:      opts,
		id:        fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano()%1_000_000),
		periodic:  map[string]Periodic{},
		scheduled: map[string]rivertype.PeriodicJobHandle{},
		kick:      make(chan struct{}, 1),
	}
	cfg := &river.Config{
		ID:                s.id,
		Logger:            quiet(opts.Logger),
		RetryPolicy:       backoff{base: opts.RetryDelay},
		JobTimeout:        -1, // workers that need a bound set their own
		FetchPollInterval: opts.PollInterval,
	}
	if opts.Work {
		cfg.Queues = queues
		cfg.Workers = opts.Workers
	}
	var err error
	switch opts.DB.Kind {
	case database.Postgres:
		s.pool, err = pgxpool.New(ctx, opts.DB.URL)
		if err != nil {
			return nil, fmt.Errorf("opening the job queue's pool: %w", err)
		}
		driver := riverpgxv5.New(s.pool)
		if err := migrate[pgx.Tx](ctx, driver, func(ctx context.Context, fn func() error) error {
			return withAdvisoryLock(ctx, s.pool, fn)
		}); err != nil {
			s.pool.Close()
			return nil, err
		}
		s.client, err = river.NewClient[pgx.Tx](driver, cfg)
	default:
		// River's SQLite driver wants one connection: SQLite has one
		// writer, and River's own maintenance would otherwise contend
		// with itself.
		s.lite, err = opts.DB.OpenAnother()
		if err != nil {
			return nil, err
		}
		s.lite.SetMaxOpenConns(1)
		driver := riversqlite.New(s.lite)
		if err := migrate[*sql.Tx](ctx, driver, func(ctx context.Context, fn func() error) error { return fn() }); err != nil {
			s.lite.Close()
			return nil, err
		}
		s.client, err = river.NewClient[*sql.Tx](driver, cfg)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("starting the job queue: %w", err)
	}
	return s, nil
}

func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], locked func(context.Context, func() error) error) error {
	m, err := rivermigrate.New[TTx](driver, nil)
	if err != nil {
		return err
	}
	return locked(ctx, func() error {
		if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return fmt.Errorf("migrating the job queue's tables: %w", err)
		}
		return nil
	})
}

// withAdvisoryLock runs fn holding a PostgreSQL advisory lock, so that
// replicas starting together migrate River's tables one at a time.
func withAdvisoryLock(ctx context.Context, pool *pgxpool.Pool, fn func() error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	const key = 0x6265727468 // "berth"
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
	return fn()
}

// ID is this process's River client id: host/pid/nonce.
func (s *Service) ID() string { return s.id }

// Register makes schedules of kind start the job fn returns. Call it
// before Start.
func (s *Service) Register(kind string, fn Periodic) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.periodic[kind] = fn
}

// Start works jobs until Close: River's producers, the schedules and the
// reaper of jobs whose process died.
func (s *Service) Start(ctx context.Context) error {
	if !s.opts.Work {
		return errors.New("jobs: Start on a service made without Work")
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	if err := s.stayAlive(ctx); err != nil {
		cancel()
		return err
	}
	if err := s.client.Start(ctx); err != nil {
		cancel()
		return fmt.Errorf("starting job workers: %w", err)
	}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.loop(ctx)
	}()
	return nil
}

// loop keeps this process's lease, reconciles schedules and reaps orphaned
// jobs, every few seconds and whenever a schedule changed here.
func (s *Service) loop(ctx context.Context) {
	t := time.NewTicker(aliveTTL / 3)
	defer t.Stop()
	s.tick(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		s.tick(ctx)
	}
}

func (s *Service) tick(ctx context.Context) {
	if err := s.stayAlive(ctx); err != nil && ctx.Err() == nil {
		s.opts.Logger.Warn("renewing the job queue's process lease", "err", err)
	}
	if err := s.reconcile(ctx); err != nil && ctx.Err() == nil {
		s.opts.Logger.Warn("applying job schedules", "err", err)
	}
	if err := s.reap(ctx); err != nil && ctx.Err() == nil {
		s.opts.Logger.Warn("requeueing the jobs of stopped processes", "err", err)
	}
}

// Close stops working jobs: running ones get up to 10 seconds to finish,
// then their context is cancelled and they are retried later.
func (s *Service) Close() error {
	var err error
	if s.stop != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = s.client.Stop(ctx)
		cancel()
		s.stop()
		<-s.done
		database.ReleaseLease(context.Background(), s.opts.DB.Client, aliveLease(s.id), s.id)
	}
	if s.pool != nil {
		s.pool.Close()
	}
	if s.lite != nil {
		s.lite.Close()
	}
	return err
}

// Insert enqueues a job.
func (s *Service) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobRow, error) {
	res, err := s.client.Insert(ctx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("enqueueing a %s job: %w", args.Kind(), err)
	}
	return res.Job, nil
}

// Get returns a job, or a not-found error.
func (s *Service) Get(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	j, err := s.client.JobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return nil, errdefs.NotFoundf("job %d not found", id)
	}
	return j, err
}

// Filter selects jobs to list.
type Filter struct {
	Kind  string
	State rivertype.JobState
}

// List returns up to first jobs, newest first, after the cursor of an
// earlier page, and the cursor of the next page ("" on the last one).
func (s *Service) List(ctx context.Context, f Filter, first int, after string) ([]*rivertype.JobRow, string, error) {
	p := river.NewJobListParams().OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(first + 1)
	if f.Kind != "" {
		p = p.Kinds(f.Kind)
	}
	if f.State != "" {
		p = p.States(f.State)
	}
	if after != "" {
		c, err := riverCursor(after)
		if err != nil {
			return nil, "", err
		}
		p = p.After(c)
	}
	res, err := s.client.JobList(ctx, p)
	if err != nil {
		return nil, "", err
	}
	jobs := res.Jobs
	if len(jobs) <= first {
		return jobs, "", nil
	}
	jobs = jobs[:first]
	return jobs, Cursor(jobs[len(jobs)-1]), nil
}

// Cursor is the cursor of a job in List's order: its id.
func Cursor(j *rivertype.JobRow) string { return strconv.FormatInt(j.ID, 10) }

// riverCursor turns a cursor of Cursor into River's, which for a list in
// id order is the id alone.
func riverCursor(after string) (*river.JobListCursor, error) {
	id, err := strconv.ParseInt(after, 10, 64)
	if err != nil || id <= 0 {
		return nil, errdefs.Invalidf("after: not a cursor of this list")
	}
	raw, err := json.Marshal(map[string]any{"id": id, "sort_field": string(river.JobListOrderByID)})
	if err != nil {
		return nil, err
	}
	var c river.JobListCursor
	if err := c.UnmarshalText([]byte(base64.URLEncoding.EncodeToString(raw))); err != nil {
		return nil, err
	}
	return &c, nil
}

// Cancel cancels a job that has not finished; a running one has its
// context cancelled.
func (s *Service) Cancel(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	j, err := s.client.JobCancel(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return nil, errdefs.NotFoundf("job %d not found", id)
	}
	return j, err
}

// Retry makes a job that is not running available to run again now.
func (s *Service) Retry(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	j, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if j.State == rivertype.JobStateRunning {
		return nil, errdefs.Conflictf("job %d is running", id)
	}
	j, err = s.client.JobRetry(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return nil, errdefs.NotFoundf("job %d not found", id)
	}
	return j, err
}

// Wait polls job id until it has finished (completed, cancelled or
// discarded) or ctx ends, and returns its last state.
func (s *Service) Wait(ctx context.Context, id int64) (*rivertype.JobRow, error) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		j, err := s.Get(ctx, id)
		if err != nil || j.FinalizedAt != nil {
			return j, err
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-t.C:
		}
	}
}

// backoff is the retry policy: base, 2×base, 4×base, ... up to an hour.
type backoff struct{ base time.Duration }

func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := b.base
	for i := 1; i < job.Attempt && d < time.Hour; i++ {
		d *= 2
	}
	return time.Now().Add(min(d, time.Hour))
}

// quiet turns River's info logs into debug ones: berth logs what its jobs
// do itself.
func quiet(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(levelShift{l.Handler()})
}

type levelShift struct{ slog.Handler }

func (h levelShift) Enabled(ctx context.Context, l slog.Level) bool {
	if l < slog.LevelWarn {
		l = slog.LevelDebug
	}
	return h.Handler.Enabled(ctx, l)
}

func (h levelShift) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h levelShift) WithAttrs(a []slog.Attr) slog.Handler { return levelShift{h.Handler.WithAttrs(a)} }
func (h levelShift) WithGroup(n string) slog.Handler      { return levelShift{h.Handler.WithGroup(n)} }

// parseID splits an id made by New: host/pid/nonce.
func parseID(id string) (host string, pid int, ok bool) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 {
		return "", 0, false
	}
	pid, err := strconv.Atoi(parts[1])
	return parts[0], pid, err == nil && pid > 0
}
