// Package registry serves the OCI distribution API (/v2/) over the blob
// store (registry/storage) and the metadata service (internal/artifacts).
// One file per resource: blobs.go, uploads.go, manifests.go, tags.go,
// catalog.go, referrers.go; routes.go dispatches, auth.go authenticates and
// answers challenges, errors.go is the one place errors become OCI codes.
package registry

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/registry/storage"
)

// Options are the dependencies of the registry handler.
type Options struct {
	// DB holds upload sessions (and everything else, through Artifacts).
	DB *database.DB
	// Blobs stores the bytes.
	Blobs *storage.Blobs
	// Auth checks Basic credentials and access tokens.
	Auth *auth.Service
	// Tokens verifies the Bearer JWTs that /service/token issues.
	Tokens *token.Service
	// Artifacts is the metadata service.
	Artifacts *artifacts.Service
	// ExternalURL is how clients reach berth ("https://registry.example.com"),
	// used for the token realm. When empty, the request's Host is used if it
	// is a loopback name, else the address the connection reached.
	ExternalURL string
	// Logger gets server errors; slog.Default() when nil.
	Logger *slog.Logger
	// Redirect answers blob GETs with a 307 to a presigned storage URL
	// when the blob store's driver can presign (S3); otherwise, and for
	// HEAD, berth answers itself.
	Redirect bool
	// NoSendfile copies blobs to clients through a buffer instead of
	// handing the storage's *os.File to sendfile.
	NoSendfile bool
}

type handler struct {
	db     *database.DB
	blobs  *storage.Blobs
	auth   *auth.Service
	tokens *token.Service
	art    *artifacts.Service
	extURL string
	log    *slog.Logger
	// redirect: see Options.Redirect.
	redirect bool
	// noSendfile: see Options.NoSendfile.
	noSendfile bool
}

// New returns the handler for /v2/ and everything under it. Mount it at
// "/v2/" without stripping the prefix. Call Artifacts.Close on shutdown to
// flush pull statistics.
func New(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &handler{
		db: opts.DB, blobs: opts.Blobs, auth: opts.Auth, tokens: opts.Tokens, art: opts.Artifacts,
		extURL: strings.TrimSuffix(opts.ExternalURL, "/"), log: opts.Logger, redirect: opts.Redirect,
		noSendfile: opts.NoSendfile,
	}
}
