// Package server builds every component of berth from its configuration
// and mounts them on one HTTP listener.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"

	"github.com/berth-registry/berth/ent/schedule"
	"github.com/berth-registry/berth/graph"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/oidc"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/clientip"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/procmem"
	"github.com/berth-registry/berth/internal/projects"
	"github.com/berth-registry/berth/internal/pullpolicy"
	"github.com/berth-registry/berth/internal/retention"
	"github.com/berth-registry/berth/internal/scan/inventory"
	"github.com/berth-registry/berth/internal/scan/scanner"
	"github.com/berth-registry/berth/internal/scan/vulndb"
	"github.com/berth-registry/berth/internal/telemetry"
	"github.com/berth-registry/berth/internal/webhooks"
	"github.com/berth-registry/berth/portal"
	"github.com/berth-registry/berth/registry"
	"github.com/berth-registry/berth/registry/storage"
	"github.com/berth-registry/berth/registry/storage/filesystem"
	"github.com/berth-registry/berth/registry/storage/s3"
)

// Server is a running berth: its components and the HTTP handler over them.
type Server struct {
	cfg     *config.Config
	log     *slog.Logger
	db      *database.DB
	blobs   *storage.Blobs
	redis   *redis.Client
	handler http.Handler
	audit   *audit.Recorder
	closers []func() error
	// artifacts is the registry metadata service, for tests.
	artifacts *artifacts.Service
	// metrics serves /metrics on its own listener when --metrics-addr is
	// set; metricsAddr is that listener's address once Run has opened it.
	metrics     http.Handler
	metricsAddr net.Addr
	// pprofAddr is the --pprof-addr listener's address once Run opened it.
	pprofAddr net.Addr
	// tracing is OpenTelemetry's wiring (telemetry.go); off unless an
	// OTLP endpoint is set.
	tracing telemetry.Tracing
}

// Options are what the caller (the CLI) supplies besides configuration.
type Options struct {
	Version string
	Logger  *slog.Logger
	// Out receives the one-time admin password notice on first start.
	Out io.Writer
}

// New opens the database (migrating it), the blob store and Redis if
// configured, creates the admin user on first start, and wires the routes.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Server, error) {
	s := &Server{cfg: cfg, log: opts.Logger}
	if err := s.startTracing(ctx, opts.Version); err != nil {
		return nil, err
	}
	// Before the database: on PostgreSQL without a key, refuse at once.
	box, err := OpenSecrets(cfg, s.log)
	if err != nil {
		s.Close()
		return nil, err
	}
	db, err := OpenDatabase(ctx, cfg, s.tracedDatabase()...)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.db = db
	s.closers = append(s.closers, db.Close)
	if err := SealStoredSecrets(ctx, db, box, s.log); err != nil {
		s.Close()
		return nil, err
	}
	s.blobs, err = OpenStore(cfg)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.blobs = s.tracedStorage(s.blobs)
	if cfg.RedisURL != "" {
		ropts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			s.Close()
			return nil, &config.Error{Setting: "--redis-url (BERTH_REDIS_URL)", Msg: err.Error()}
		}
		s.redis = redis.NewClient(ropts)
		s.closers = append(s.closers, s.redis.Close)
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err = s.redis.Ping(pingCtx).Err()
		cancel()
		if err != nil {
			s.Close()
			return nil, &config.Error{Setting: "--redis-url (BERTH_REDIS_URL)", Msg: "Redis unreachable: " + err.Error()}
		}
	}

	recorder := audit.New(db, s.log)
	recorder.RecordPulls = cfg.RecordPulls()
	s.closers = append(s.closers, recorder.Close)
	authSvc := auth.New(db.Client)
	authSvc.Audit = recorder
	// With Redis, the installation's id names its channels (events, cache
	// invalidations) and keys (rate limits, lockouts).
	installation := ""
	var limits *auth.SharedLimits
	if s.redis != nil {
		if installation, err = database.InstallationID(ctx, db.Client); err != nil {
			s.Close()
			return nil, err
		}
		limits = auth.NewSharedLimits(s.redis, "berth:"+installation+":", s.log)
		authSvc.ShareLimits(limits)
	}
	// Failed sign-ins are limited per client on every door that takes
	// credentials (/v2/ and /graphql Basic, /service/token, /auth/login).
	authSvc.FailedLogins = auth.NewClientLimiter("failed-signins", 10, 50, limits)
	if cfg.RobotPrefix != "" {
		authSvc.RobotPrefix = cfg.RobotPrefix
	}
	if d := cfg.RobotExpiry(); d > 0 {
		authSvc.RobotDefaultExpiry = d
	}
	created, pw, err := authSvc.EnsureAdmin(ctx, cfg.AdminPassword)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("creating the admin user: %w", err)
	}
	if created && opts.Out != nil {
		if cfg.AdminPassword == "" {
			fmt.Fprintf(opts.Out, "Created user \"admin\" with password %s\nThis password is shown only once; change it with `berth admin user passwd admin`.\n", pw)
		} else {
			fmt.Fprintln(opts.Out, "Created user \"admin\" with the password from BERTH_ADMIN_PASSWORD.")
		}
	}

	// Token signing keys live in the database, shared by every replica; a
	// key file of an earlier version becomes the first key.
	keys, err := token.OpenKeyring(ctx, db.Client, box, filepath.Join(cfg.DataDir, "token-signing-key.pem"), token.KeyKeep)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("loading the token signing keys: %w", err)
	}
	webhookSvc := webhooks.New(webhooks.Options{Client: db.Client, Auth: authSvc, Logger: s.log,
		AllowPrivate: cfg.WebhookPrivateAllowed(), ExternalURL: cfg.PublicURL(), Secrets: box})
	bus, err := events.NewBus(ctx, s.redis, "berth:events:"+installation, s.log)
	if err != nil {
		s.Close()
		return nil, &config.Error{Setting: "--redis-url (BERTH_REDIS_URL)", Msg: "subscribing to events: " + err.Error()}
	}
	s.closers = append(s.closers, bus.Close)
	scanSvc, err := scanner.New(scanner.Options{Client: db.Client, Blobs: s.blobs, Auth: authSvc, Logger: s.log,
		Limits:      inventory.Limits{TempDir: filepath.Join(cfg.DataDir, "scan-tmp")},
		ExternalURL: cfg.PublicURL(), ToolVersion: opts.Version, CycloneDX: cfg.SBOMCycloneDXOn(), Secrets: box})
	if err != nil {
		s.Close()
		return nil, err
	}
	dispatcher := events.NewDispatcher(db.Client, bus, s.log, webhookSvc, scanSvc)
	contentOpts := artifacts.Options{
		Client: db.Client, Blobs: s.blobs, Auth: authSvc, ExternalURL: cfg.PublicURL(), Logger: s.log, Audit: recorder,
		OnChange: dispatcher.Notify, Postgres: db.Kind == database.Postgres, Unsynced: db.UnsyncedClient(),
	}
	var names, roles *forgets
	if s.redis != nil {
		names = &forgets{rdb: s.redis, channel: "berth:forget:" + installation, log: s.log,
			what: "cached names; they expire within 2 seconds"}
		roles = &forgets{rdb: s.redis, channel: "berth:forget-roles:" + installation, log: s.log,
			what: "cached roles; they expire within a second"}
		contentOpts.OnForget = names.publish
		authSvc.OnRolesChanged = func() { roles.publish(nil) }
	}
	artifactSvc := artifacts.New(contentOpts)
	s.closers = append(s.closers, artifactSvc.Close)
	s.artifacts = artifactSvc
	scanSvc.Content, scanSvc.OnChange = artifactSvc, dispatcher.Notify
	pullSvc := pullpolicy.New(db.Client, authSvc, s.blobs, s.log)
	artifactSvc.PullPolicy = pullSvc.Check
	if s.redis != nil {
		for _, l := range []struct {
			f    *forgets
			drop func(...string)
		}{{names, artifactSvc.Dropped}, {roles, func(...string) { authSvc.RolesDropped() }}} {
			run, err := l.f.listen(ctx, l.drop)
			if err != nil {
				s.Close()
				return nil, &config.Error{Setting: "--redis-url (BERTH_REDIS_URL)", Msg: "subscribing to cache invalidations: " + err.Error()}
			}
			s.background(run)
		}
	}
	collector := NewCollector(cfg, db, s.blobs, artifactSvc, s.log)
	retentionSvc := retention.New(retention.Options{Client: db.Client, Auth: authSvc, Content: artifactSvc, Logger: s.log})
	tokens := token.New(token.Options{Keys: keys, Auth: authSvc, Client: db.Client, Grants: artifactSvc, Logger: s.log, Audit: recorder})
	scanSvc.Tokens = tokens // scanner adapters pull with its tokens; before the job queue starts
	jobSvc, err := s.startJobs(ctx, collector, webhookSvc, retentionSvc, scanSvc, recorder)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.background(dispatcher.Run)
	registryHandler := registry.New(registry.Options{
		DB: db, Blobs: s.blobs, Auth: authSvc, Tokens: tokens, Artifacts: artifactSvc,
		ExternalURL: cfg.ExternalURL, Logger: s.log, Redirect: cfg.StorageRedirects(),
		Sendfile: sendfileMode(cfg.StorageSendfileMode()),
	})

	oidcSvc := oidc.New(oidc.Options{Client: db.Client, Auth: authSvc, Defaults: oidc.SettingsFromConfig(cfg),
		ExternalURL: cfg.PublicURL(), Logger: s.log, AllowPrivate: cfg.OIDCPrivateAllowed(), Secrets: box})
	resolver := &graph.Resolver{
		OIDC:            oidcSvc,
		DB:              db,
		Auth:            authSvc,
		ProjectService:  projects.New(db.Client, authSvc, artifactSvc),
		ArtifactService: artifactSvc,
		Audit:           recorder,
		GC:              collector,
		Jobs:            jobSvc,
		Events:          bus,
		Webhooks:        webhookSvc,
		Retention:       retentionSvc,
		Scans:           scanSvc,
		PullPolicy:      pullSvc,
		Info: graph.Info{
			Version:       opts.Version,
			StorageDriver: s.blobs.DriverName(),
			RegistryHost:  cfg.RegistryHost(),
		},
	}
	secure := len(cfg.PublicURL()) > 5 && cfg.PublicURL()[:5] == "https"
	mux := http.NewServeMux()
	withViewer := authSvc.Middleware(s.log)
	mux.Handle("/v2/", registryHandler)
	// The doors where credentials are guessed are rate limited per client;
	// accounts also lock out with back-off after repeated failures (auth).
	doors := auth.NewClientLimiter("doors", 50, 500, limits)
	mux.Handle("/service/token", doors.Middleware(tokens))
	mux.Handle("/graphql", withViewer(graph.NewHandler(resolver, s.log, s.tracedGraphQL()...)))
	mux.Handle("GET /api/projects/{project}/vulnerabilities.csv", withViewer(scanSvc.ExportHandler()))
	authSvc.PasswordPolicy = oidcSvc.LocalPasswordPolicy
	mux.Handle("/auth/login", doors.Middleware(authSvc.LoginHandler(secure)))
	oidcSvc.Mount(mux, doors.Middleware) // /auth/oidc/{login,callback,onboard,logout}
	mux.Handle("/auth/logout", authSvc.LogoutHandler(secure))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/readyz", s.ready)
	mux.Handle("/", portal.Handler())
	m := newMetrics()
	m.registry.MustRegister(newDBMetrics(db))
	if cfg.MetricsAddr == "" {
		mux.Handle("/metrics", m.handler())
	} else {
		// Run serves it on its own listener, which an Ingress in front of
		// the public port does not reach.
		mux.Handle("/metrics", http.NotFoundHandler())
		s.metrics = m.handler()
	}
	proxies, err := cfg.TrustedProxyNetworks()
	if err != nil {
		s.Close()
		return nil, err
	}
	s.handler = s.tracedRequests(logRequests(s.log, m, securityHeaders(audit.Middleware(clientip.New(proxies).Addr, mux))))
	s.audit = recorder
	return s, nil
}

// sendfileMode maps --storage-sendfile onto the registry's modes.
func sendfileMode(mode string) registry.SendfileMode {
	switch mode {
	case config.SendfileAlways:
		return registry.SendfileAlways
	case config.SendfileNever:
		return registry.SendfileNever
	}
	return registry.SendfileRemote
}

// startJobs opens the job queue with every kind of job berth runs, drives
// the schedules and starts working.
func (s *Server) startJobs(ctx context.Context, collector *gc.Collector, wh *webhooks.Service, ret *retention.Service, scans *scanner.Service, recorder *audit.Recorder) (*jobs.Service, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, collector.Worker())
	river.AddWorker(workers, wh.Worker())
	river.AddWorker(workers, ret.Worker())
	river.AddWorker(workers, scans.Worker())
	river.AddWorker(workers, scans.AllWorker())
	river.AddWorker(workers, &housekeeper{db: s.db, blobs: s.blobs, audit: recorder, retention: s.cfg.AuditRetention(), log: s.log})
	refresh := vulndb.NewRefresher(vulndb.RefreshOptions{Client: s.db.Client, URLs: s.cfg.VulndbURLs(), Every: s.cfg.VulndbRefreshEvery(),
		TempDir: filepath.Join(s.cfg.DataDir, "vulndb-tmp"), Logger: s.log, Changed: scanner.ScanAllArgs{StaleOnly: true}})
	river.AddWorker(workers, refresh.Worker())
	q, err := jobs.New(ctx, jobs.Options{DB: s.db, Logger: s.log, Workers: workers, RetryDelay: s.cfg.JobRetry(), Work: true})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, q.Close)
	wh.Jobs, ret.Jobs, scans.Jobs = q, q, q
	q.Register(string(schedule.KindGARBAGE_COLLECTION), func(int) river.JobArgs { return gc.JobArgs{} })
	q.Register(string(schedule.KindRETENTION), func(projectID int) river.JobArgs { return retention.RunArgs{ProjectID: projectID} })
	scans.Schedule(q) // SCAN_ALL and the hourly pass over reports the vulnerability database changed under
	// --vulndb-url every --vulndb-refresh
	refresh.Schedule(q)
	scheduleHousekeeping(q)
	if err := q.Start(ctx); err != nil {
		return nil, err
	}
	return q, nil
}

// background runs fn until the server closes.
func (s *Server) background(fn func(context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ctx)
	}()
	s.closers = append(s.closers, func() error {
		cancel()
		<-done
		return nil
	})
}

// OpenDatabase creates the data directory, opens the configured database
// and migrates it. Problems with the settings come back as *config.Error.
func OpenDatabase(ctx context.Context, cfg *config.Config, wrap ...database.DriverWrapper) (*database.DB, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, &config.Error{Setting: "--data-dir (BERTH_DATA_DIR)", Msg: err.Error()}
	}
	db, err := database.Open(ctx, cfg.DatabaseURL, cfg.DataDir, wrap...)
	if err != nil {
		return nil, &config.Error{Setting: "--database-url (BERTH_DATABASE_URL)", Msg: err.Error()}
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	for _, w := range db.Warnings {
		slog.Warn(w)
	}
	// Artifacts pushed before references were rows get them now (once).
	if _, err := artifacts.BackfillReferences(ctx, db.Client); err != nil {
		db.Close()
		return nil, fmt.Errorf("recording blob references of existing artifacts: %w", err)
	}
	if _, err := artifacts.FillReferenceProjects(ctx, db.SQL()); err != nil {
		db.Close()
		return nil, err
	}
	if _, err := artifacts.FillArtifactCounts(ctx, db.SQL()); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenStore opens the configured blob store: the filesystem under the data
// directory, or an S3 bucket, which must exist and accept the credentials.
func OpenStore(cfg *config.Config) (*storage.Blobs, error) {
	if cfg.StorageDriver == "s3" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		driver, err := s3.New(ctx, s3.Options{
			Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, Bucket: cfg.S3Bucket, Prefix: cfg.S3Prefix,
			AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, PathStyle: cfg.S3PathStyleAddressing(),
		})
		if err != nil {
			return nil, &config.Error{Setting: "--s3-bucket (BERTH_S3_BUCKET)", Msg: err.Error()}
		}
		return storage.NewBlobs(driver), nil
	}
	driver, err := filesystem.New(filepath.Join(cfg.DataDir, "storage"))
	if err != nil {
		return nil, &config.Error{Setting: "--data-dir (BERTH_DATA_DIR)", Msg: err.Error()}
	}
	return storage.NewBlobs(driver), nil
}

// NewCollector returns the garbage collector configured by cfg, for the
// server and for `berth gc`.
func NewCollector(cfg *config.Config, db *database.DB, blobs *storage.Blobs, content *artifacts.Service, log *slog.Logger) *gc.Collector {
	workers := cfg.GCWorkerCount()
	if db.Kind == database.SQLite {
		// One writer at a time: more workers only queue for SQLite's
		// lock and starve pushes.
		workers = 1
	}
	return gc.New(gc.Options{Client: db.Client, Blobs: blobs, Content: content,
		Grace: cfg.GCGrace(), Workers: workers, Logger: log})
}

// Handler is the whole HTTP surface of berth.
func (s *Server) Handler() http.Handler { return s.handler }

// ready answers /readyz: 200 when the database answers and the blob store
// (and Redis, if configured) is usable, 503 naming what is not.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	type check struct {
		name string
		fn   func(context.Context) error
	}
	checks := []check{{"database", s.db.Ping}, {"storage", s.blobs.Writable}}
	if s.redis != nil {
		checks = append(checks, check{"redis", func(ctx context.Context) error { return s.redis.Ping(ctx).Err() }})
	}
	for _, c := range checks {
		if err := c.fn(ctx); err != nil {
			s.log.WarnContext(ctx, "readiness check failed", "check", c.name, "err", err)
			http.Error(w, c.name+" not ready", http.StatusServiceUnavailable)
			return
		}
	}
	io.WriteString(w, "ok\n")
}

// Run serves on the configured address (and /metrics on --metrics-addr
// when set) until ctx is cancelled, then stops accepting connections and
// lets in-flight requests finish.
func (s *Server) Run(ctx context.Context, ready func(addr net.Addr)) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return &config.Error{Setting: "--addr (BERTH_ADDR)", Msg: err.Error()}
	}
	errorLog := slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)
	// Memory that later work (jobs, collections, bursts of pushes) grows
	// is handed back too once berth is idle again.
	idle := &procmem.Idle{OnRelease: func(before, after int64) {
		s.log.Debug("released memory while idle", "rss_before", before, "rss_after", after)
	}}
	servers := []*http.Server{{
		Handler:           idle.Wrap(s.handler),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          errorLog,
	}}
	listeners := []net.Listener{ln}
	if s.metrics != nil {
		mln, err := net.Listen("tcp", s.cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return &config.Error{Setting: "--metrics-addr (BERTH_METRICS_ADDR)", Msg: err.Error()}
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", s.metrics)
		servers = append(servers, &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second, ErrorLog: errorLog})
		listeners = append(listeners, mln)
		s.metricsAddr = mln.Addr()
		s.log.Info("serving /metrics on its own listener", "addr", mln.Addr().String())
	}
	if s.cfg.PprofAddr != "" {
		pln, err := net.Listen("tcp", s.cfg.PprofAddr)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return &config.Error{Setting: "--pprof-addr (BERTH_PPROF_ADDR)", Msg: err.Error()}
		}
		servers = append(servers, &http.Server{Handler: pprofHandler(), ReadHeaderTimeout: 30 * time.Second, ErrorLog: errorLog})
		listeners = append(listeners, pln)
		s.pprofAddr = pln.Addr()
		s.log.Info("serving Go profiles (net/http/pprof) on loopback", "addr", pln.Addr().String())
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(listeners[i]) }()
	}
	// Migrating, hashing the first admin's password, building the schema
	// and starting the job queue left garbage and code pages a registry
	// waiting for its first request would hold for a long time.
	if n := procmem.ReleaseStartup(); n > 0 {
		s.log.Debug("released start-up memory", "code_mappings_bytes", n)
	}
	idleCtx, stopIdle := context.WithCancel(ctx)
	defer stopIdle()
	go idle.Run(idleCtx)
	if ready != nil {
		ready(ln.Addr())
	}
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		s.log.Info("shutting down; waiting for in-flight requests")
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := []error{serveErr}
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// PprofAddr is the address of the profiles with --pprof-addr, known once
// Run has called its ready function; nil otherwise.
func (s *Server) PprofAddr() net.Addr { return s.pprofAddr }

// pprofHandler serves net/http/pprof's pages under /debug/pprof/.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// MetricsAddr is the address /metrics listens on when --metrics-addr is
// set, known once Run has called its ready function; nil otherwise.
func (s *Server) MetricsAddr() net.Addr { return s.metricsAddr }

// Close releases every component, in reverse order of opening.
func (s *Server) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Audit is the server's audit recorder, for tests that flush it.
func (s *Server) Audit() *audit.Recorder { return s.audit }

// DB is the server's database, for tests and tools that inspect state.
func (s *Server) DB() *database.DB { return s.db }

// Blobs returns the blob store.
func (s *Server) Blobs() *storage.Blobs { return s.blobs }

// Artifacts is the server's artifact service, for tests that inspect what
// it read (ReadCounts).
func (s *Server) Artifacts() *artifacts.Service { return s.artifacts }
