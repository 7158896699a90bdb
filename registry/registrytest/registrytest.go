// Package registrytest composes a complete registry (handler, token
// service, metadata service, filesystem blob store) over a database, for
// tests of the registry and end-to-end tests with real clients.
package registrytest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry"
	"github.com/berth-registry/berth/registry/storage"
	"github.com/berth-registry/berth/registry/storage/filesystem"
)

// Server is a running test registry.
type Server struct {
	*httptest.Server
	// Host is host:port, for image references.
	Host      string
	DB        *database.DB
	Blobs     *storage.Blobs
	Auth      *auth.Service
	Tokens    *token.Service
	Artifacts *artifacts.Service
	// Audit records the registry's actions, as berth's does.
	Audit *audit.Recorder
	// Handler is the /v2/ handler alone.
	Handler http.Handler
	// Dir is the data directory (blobs, token key).
	Dir string
}

// Start serves a registry over db with data in dir (t.TempDir() when
// empty). Two servers started on the same db and dir share all state, as
// a restarted berth does.
func Start(t testing.TB, db *database.DB, dir string) *Server {
	t.Helper()
	return start(t, db, dir, true)
}

// StartWithoutExternalURL serves a registry that, like berth run without
// --external-url, does not know the URL clients reach it at.
func StartWithoutExternalURL(t testing.TB, db *database.DB) *Server {
	t.Helper()
	return start(t, db, "", false)
}

func start(t testing.TB, db *database.DB, dir string, external bool) *Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	drv, err := filesystem.New(filepath.Join(dir, "storage"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := token.LoadOrCreateKey(filepath.Join(dir, "token-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{DB: db, Blobs: storage.NewBlobs(drv), Auth: auth.New(db.Client), Dir: dir}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s.Audit = audit.New(db, log)
	t.Cleanup(func() { s.Audit.Close() })
	s.Artifacts = artifacts.New(artifacts.Options{Client: db.Client, Blobs: s.Blobs, Auth: s.Auth, Audit: s.Audit, Logger: log, PullFlushInterval: 200 * time.Millisecond, Postgres: db.Kind == database.Postgres, Unsynced: db.UnsyncedClient()})
	s.Tokens = token.New(token.Options{Key: key, Auth: s.Auth, Client: db.Client, Grants: s.Artifacts, Logger: log})
	mux := http.NewServeMux()
	s.Server = httptest.NewUnstartedServer(mux)
	s.Start()
	s.Host = strings.TrimPrefix(s.URL, "http://")
	extURL := ""
	if external {
		extURL = s.URL
	}
	s.Handler = registry.New(registry.Options{DB: db, Blobs: s.Blobs, Auth: s.Auth, Tokens: s.Tokens,
		Artifacts: s.Artifacts, ExternalURL: extURL, Logger: log})
	mux.Handle("/v2/", s.Handler)
	mux.Handle("/service/token", s.Tokens)
	t.Cleanup(func() {
		s.Server.Close()
		CheckUsage(t, s.Artifacts)
		s.Artifacts.Close()
	})
	return s
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// CreateUser adds a user with a password.
func (s *Server) CreateUser(t testing.TB, name, password string, admin bool) *ent.User {
	t.Helper()
	h, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.DB.User.Create().SetUsername(name).SetPasswordHash(h).SetAdmin(admin).Save(viewer.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// CreateProject adds a project.
func (s *Server) CreateProject(t testing.TB, name string, public bool) *ent.Project {
	t.Helper()
	p, err := s.DB.Project.Create().SetName(name).SetPublic(public).Save(viewer.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// AddMember gives user a role in project.
func (s *Server) AddMember(t testing.TB, projectName string, u *ent.User, role member.Role) {
	t.Helper()
	ctx := viewer.SystemContext(context.Background())
	p, err := s.DB.Project.Query().Where(project.Name(projectName)).Only(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DB.Member.Create().SetProjectID(p.ID).SetUserID(u.ID).SetRole(role).Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// CheckUsage fails t if any project's stored usage differs from a recount
// from references: the write path keeps it exact, whatever a test did.
func CheckUsage(t testing.TB, content *artifacts.Service) {
	t.Helper()
	usage, err := content.RecalculateUsage(viewer.SystemContext(context.Background()), "")
	if err != nil {
		t.Errorf("recounting usage after the test: %v", err)
		return
	}
	for _, u := range usage {
		if u.Stored != u.Recounted {
			t.Errorf("project %s: stored usage %d bytes, recounted %d", u.Project, u.Stored, u.Recounted)
		}
	}
}
