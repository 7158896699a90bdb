// Package artifacts is the metadata side of the registry, shared by the OCI
// handler (registry/) and GraphQL (graph/): which repositories exist, which
// artifacts and tags they hold, which blobs they may serve, who may see or
// change them. It parses and validates manifests, classifies artifacts,
// records pushes in one transaction, and batches pull statistics.
//
// Every exported method checks auth.Can for the viewer of its context.
package artifacts

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry/storage"
)

// Options configures a Service.
type Options struct {
	// Client is the ent client (required).
	Client *ent.Client
	// Blobs is the blob store, read for image configs and chart metadata (required).
	Blobs *storage.Blobs
	// Auth decides permissions (required).
	Auth *auth.Service
	// ExternalURL is how clients reach berth, used for pull commands.
	ExternalURL string
	// Logger receives warnings, such as failed pull-stat flushes.
	Logger *slog.Logger
	// PullFlushInterval is how often batched pull statistics are written;
	// 5 seconds when zero.
	PullFlushInterval time.Duration
	// Audit records pushes, pulls and deletes made through the registry;
	// nil records nothing.
	Audit *audit.Recorder
	// OnChange is called after a change with outbox rows commits, to wake
	// the event dispatcher.
	OnChange func()
	// OnForget is called with the names dropped from this process's name
	// cache (see Forget), so that other replicas drop them too.
	OnForget func(names []string)
	// Postgres says Client is on PostgreSQL, where a blob's commit skips
	// the wait for the write-ahead log's flush (see CommitBlob).
	Postgres bool
	// Unsynced, on PostgreSQL, is a client on the same database whose
	// sessions commit without waiting for the log's flush
	// (database.DB.UnsyncedClient), for the usage fold after a push: one
	// statement there, where on Client it would wait for the flush.
	Unsynced *ent.Client
}

// Service reads and writes registry metadata on behalf of a caller.
type Service struct {
	client   *ent.Client
	unsynced *ent.Client // see Options.Unsynced; nil without one
	blobs    *storage.Blobs
	auth     *auth.Service
	host     string
	log      *slog.Logger
	pulls    *pullRecorder
	audit    *audit.Recorder
	onChange func()
	onForget func(names []string)
	postgres bool
	// readCounts counts the manifests and configs read for GraphQL.
	readCounts readCounters

	// names caches the project and repository rows of recently used
	// repository names for nameTTL: a pull otherwise spends more time
	// looking them up than serving the manifest. A name pushed to before
	// its repository exists is cached with the project alone, for the
	// rest of that push (see Access). Only rows are cached,
	// never decisions: auth.Can still runs on every request that a
	// registry token's scopes do not already grant, so a role change
	// applies as soon as auth forgets its cached roles (at the change's
	// commit; for registry tokens, when they expire) and a visibility
	// change within nameTTL.
	mu    sync.Mutex
	names map[string]cachedName
	// manifests caches recently served manifests and blob sizes (readcache.go).
	manifests *readCache

	// PullPolicy, when set, decides whether a manifest GET of a project
	// with a pull policy (pullpolicy.Active) is served (pullpolicy.Check).
	PullPolicy func(ctx context.Context, p *ent.Project, repo string, a *ent.Artifact) error
}

// nameTTL bounds how stale a cached project or repository row may be.
const nameTTL = time.Second

type cachedName struct {
	project    *ent.Project
	repository *ent.Repository
	at         time.Time
}

// New returns a Service and starts its pull-statistics flusher; call Close
// on shutdown so that the last pulls are written.
func New(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PullFlushInterval <= 0 {
		opts.PullFlushInterval = 5 * time.Second
	}
	host := opts.ExternalURL
	host = strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
	host = strings.TrimSuffix(host, "/")
	s := &Service{client: opts.Client, blobs: opts.Blobs, auth: opts.Auth, host: host, log: opts.Logger, audit: opts.Audit, onChange: opts.OnChange, onForget: opts.OnForget, names: map[string]cachedName{}, manifests: newReadCache(), postgres: opts.Postgres, unsynced: opts.Unsynced}
	s.pulls = newPullRecorder(opts.Client, opts.Logger, opts.PullFlushInterval)
	s.pulls.onFlush = s.changed
	return s
}

// Close writes pending pull statistics and stops the flusher.
func (s *Service) Close() error { return s.pulls.close() }

// FlushPulls writes pending pull statistics now.
func (s *Service) FlushPulls(ctx context.Context) error { return s.pulls.flush(ctx) }

// Repo is a repository name the caller was allowed to act on.
type Repo struct {
	// Name is the full name, "project/path".
	Name string
	// Project owns the repository.
	Project *ent.Project
	// Repository is nil when nothing was pushed to the name yet.
	Repository *ent.Repository
}

// nameComponent and the name rule come from the distribution spec.
var nameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)

// tagRE is the distribution spec's tag rule.
var tagRE = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// ValidateName checks a repository name: the distribution spec's rule, at
// most 255 characters, and a project part followed by a path.
func ValidateName(name string) error {
	if len(name) > 255 || !nameRE.MatchString(name) {
		return nameInvalid("invalid repository name %q", name)
	}
	if !strings.Contains(name, "/") {
		return nameInvalid("repository name %q has no project: names are <project>/<path>, for example %q", name, "library/"+name)
	}
	return nil
}

// ValidTag reports whether name is a valid tag.
func ValidTag(name string) bool { return tagRE.MatchString(name) }

// ProjectName returns the project part of a repository name.
func ProjectName(name string) string {
	p, _, _ := strings.Cut(name, "/")
	return p
}

// Access checks that the viewer of ctx may perform action on repository
// name, and returns what it knows of the repository. For a pull the
// repository must exist; for a push only its project must.
func (s *Service) Access(ctx context.Context, name string, action auth.Action) (*Repo, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	// A name cached without its repository (none existed) serves pushes
	// only: every push creates the repository if it is still missing, but
	// a pull must see one another push created meanwhile.
	if c, ok := s.cached(name); ok && (c.repository != nil || action == auth.RepositoryPush) {
		if err := s.can(ctx, action, c.project, name); err != nil {
			return nil, err
		}
		return &Repo{Name: name, Project: c.project, Repository: c.repository}, nil
	}
	sys := viewer.SystemContext(ctx)
	p, err := s.client.Project.Query().Where(project.Name(ProjectName(name))).Only(sys)
	if ent.IsNotFound(err) {
		return nil, unknownProject(ctx, name, action)
	}
	if err != nil {
		return nil, err
	}
	if err := s.can(ctx, action, p, name); err != nil {
		return nil, err
	}
	r, err := s.client.Repository.Query().Where(repository.Name(name)).Only(sys)
	if ent.IsNotFound(err) {
		if action != auth.RepositoryPush {
			return nil, nameUnknown(name)
		}
		s.remember(name, p, nil)
		return &Repo{Name: name, Project: p}, nil
	}
	if err != nil {
		return nil, err
	}
	s.remember(name, p, r)
	return &Repo{Name: name, Project: p, Repository: r}, nil
}

// can is auth.Can for a repository of project p, except that a caller
// who may not even see p gets the answer a project that does not exist
// gets: the same status and message, so that names of private projects
// cannot be found by probing (Harbor answers both the same way too).
func (s *Service) can(ctx context.Context, action auth.Action, p *ent.Project, name string) error {
	if auth.TokenAllows(ctx, name, action) {
		return nil // granted when the token was issued (auth/scopes.go)
	}
	err := s.auth.Can(ctx, action, p)
	if err == nil || action == auth.ProjectRead {
		return err
	}
	if s.auth.Can(ctx, auth.ProjectRead, p) != nil {
		return unknownProject(ctx, name, action)
	}
	return err
}

// unknownProject is the refusal for a repository whose project does not
// exist, or which the caller may not see.
func unknownProject(ctx context.Context, name string, action auth.Action) error {
	if viewer.FromContext(ctx).IsAnonymous() {
		return errdefs.Unauthenticatedf("sign in to access repository %q", name)
	}
	if action == auth.RepositoryPush {
		return coded(ErrNameUnknown, errdefs.NotFoundf,
			"project %q does not exist or you may not push to it: a project is created in berth (GraphQL createProject or the portal) before anything is pushed to %q",
			ProjectName(name), name)
	}
	return nameUnknown(name)
}

func (s *Service) cached(name string) (cachedName, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.names[name]
	if !ok || time.Since(c.at) > nameTTL {
		return cachedName{}, false
	}
	return c, true
}

func (s *Service) remember(name string, p *ent.Project, r *ent.Repository) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.names) >= 4096 {
		clear(s.names)
	}
	s.names[name] = cachedName{project: p, repository: r, at: time.Now()}
}

// learnRepository gives a name cached without its repository (none
// existed when it was looked up) the row a committed change created or
// found, so that the rest of the push does not look it up again. The
// entry keeps its age: the project row in it is no fresher.
func (s *Service) learnRepository(repo *ent.Repository) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.names[repo.Name]; ok && c.repository == nil {
		c.repository = repo
		s.names[repo.Name] = c
	}
}

// forget drops a cached name, after its repository was created or deleted.
// Forget drops names from this process's name cache and tells the other
// replicas (OnForget) to drop them too: a repository name drops that
// repository, a project name (no slash) every repository of the project.
// Deletes and project updates call it once they have committed.
func (s *Service) Forget(names ...string) {
	s.Dropped(names...)
	if s.onForget != nil && len(names) > 0 {
		s.onForget(names)
	}
}

// Dropped drops names from this process's name cache only: for what
// another replica said it forgot.
func (s *Service) Dropped(names ...string) {
	for _, name := range names {
		s.manifests.invalidate(ProjectName(name))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range names {
		if strings.Contains(name, "/") {
			delete(s.names, name)
			continue
		}
		for cached := range s.names {
			if ProjectName(cached) == name {
				delete(s.names, cached)
			}
		}
	}
}

// ScopeActions maps the actions of a Docker token scope to berth actions.
var ScopeActions = map[string]auth.Action{
	"pull":   auth.RepositoryPull,
	"push":   auth.RepositoryPush,
	"delete": auth.ArtifactDelete,
}

// Grant returns the subset of the Docker token actions ("pull", "push",
// "delete", "*") that the viewer of ctx may perform on repository name,
// for the token service.
func (s *Service) Grant(ctx context.Context, name string, actions []string) []string {
	want := map[string]bool{}
	for _, a := range actions {
		if a == "*" {
			for k := range ScopeActions {
				want[k] = true
			}
			continue
		}
		if _, ok := ScopeActions[a]; ok {
			want[a] = true
		}
	}
	if len(want) == 0 || ValidateName(name) != nil {
		return nil
	}
	p, err := s.client.Project.Query().Where(project.Name(ProjectName(name))).Only(viewer.SystemContext(ctx))
	if err != nil {
		return nil
	}
	var granted []string
	for _, a := range []string{"pull", "push", "delete"} {
		if want[a] && s.auth.Can(ctx, ScopeActions[a], p) == nil {
			granted = append(granted, a)
		}
	}
	return granted
}

// ensureRepository returns the repository row of r, creating it inside
// w's transaction if this is the first push. It leaves r as it is: a row
// created by a transaction that is then rolled back (PostgreSQL breaking
// a deadlock, and write retrying) must not outlive it. Once w commits,
// the name cache learns the row (see learnRepository).
func (s *Service) ensureRepository(w *writeTx, r *Repo) (*ent.Repository, error) {
	if r.Repository != nil {
		return r.Repository, nil
	}
	// Looked up first: the upsert below, which returns the existing row's
	// id when another push created it meanwhile, rewrites the unique name
	// and so locks that row FOR UPDATE; against pushes into the
	// repository, holding it KEY SHARE through their foreign keys, that
	// deadlocks (the database breaks it and the change runs again).
	sys := viewer.SystemContext(w.ctx)
	repo, err := w.client.Repository.Query().Where(repository.Name(r.Name)).Only(sys)
	if ent.IsNotFound(err) {
		id, cerr := w.client.Repository.Create().
			SetName(r.Name).SetProjectID(r.Project.ID).
			OnConflictColumns(repository.FieldName).Ignore().
			ID(auth.Allow(w.ctx))
		if cerr != nil {
			return nil, wrapf(cerr, "creating repository %q", r.Name)
		}
		repo, err = w.client.Repository.Get(sys, id)
	}
	if err != nil {
		return nil, err
	}
	w.found = append(w.found, repo)
	return repo, nil
}
