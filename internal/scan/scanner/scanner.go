// Package scanner runs vulnerability scans of stored images as jobs and
// keeps each artifact's latest report: it reads an image's config and
// layers from the blob store, lists its packages (internal/scan/inventory),
// matches them against the offline vulnerability database
// (internal/scan/vulndb) and replaces the artifact's report and findings
// in one transaction, with a SCAN_COMPLETED outbox row.
//
// A successful scan of an image also attaches the image's SBOM to it: an
// SPDX 2.3 JSON document of the packages found (and, with
// Options.CycloneDX, a CycloneDX 1.5 one), each an OCI 1.1 referrer
// manifest (artifactType application/spdx+json or
// application/vnd.cyclonedx+json, subject the image) in the image's own
// repository, pushed as berth through the content service's write path.
// Its bytes depend only on the image and the registry, so a re-scan of an
// unchanged image finds it in place; a new document replaces the one
// berth attached before, never one a user attached. An index gets none:
// each of its images has its own. (sbom.go)
//
// Scans start from scanArtifact, from pushes to projects that scan on
// push (the event dispatcher's Sink), and from scan-all, which the
// SCAN_ALL schedule runs and which an hourly pass runs for the reports
// the vulnerability database has changed under.
//
// Only images and image indexes are scanned. Asking to scan anything
// else (a Helm chart, a signature, an SBOM) is refused, and pushes and
// scan-all skip them; an image whose layers are not a container
// filesystem ends in status ERROR with the reason.
package scanner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/egress"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/scan/adapter"
	"github.com/berth-registry/berth/internal/scan/inventory"
	"github.com/berth-registry/berth/internal/secrets"
)

// Bounds of one scan's report.
const (
	// MaxStoredFindings is how many findings a report keeps, the worst
	// first; its counts cover them all.
	MaxStoredFindings = 20_000
	// maxConfigSize bounds the image config read from the blob store.
	maxConfigSize = 16 << 20
	// maxIndexImages bounds the platform images an index's scan scans.
	maxIndexImages = 64
)

// BlobStore is what the scanner needs of berth's blob store
// (storage.Blobs): reading layers, and staging the SBOMs it attaches.
type BlobStore interface {
	Open(ctx context.Context, dgst digest.Digest, offset int64) (io.ReadCloser, error)
	Stage(ctx context.Context, dgst digest.Digest, r io.Reader) (id string, size int64, err error)
	CommitUpload(ctx context.Context, id string, dgst digest.Digest) (int64, error)
	CancelUpload(ctx context.Context, id string) error
}

// Options configure the scanner.
type Options struct {
	Client *ent.Client
	Blobs  BlobStore
	Auth   *auth.Service
	Logger *slog.Logger
	// Limits bound each image's inventory; Limits.TempDir is created if
	// it does not exist (empty: os.TempDir()).
	Limits inventory.Limits
	// ExternalURL is how clients reach berth; its host names the image
	// in the SBOMs.
	ExternalURL string
	// ToolVersion is berth's version, named in the SBOMs.
	ToolVersion string
	// CycloneDX attaches a CycloneDX 1.5 SBOM beside the SPDX 2.3 one.
	CycloneDX bool
	// Secrets opens the registered scanner adapters' authorizations.
	Secrets *secrets.Box
}

// Service scans artifacts and reads their reports. The wiring sets its
// exported fields once what they name exists: the scanner is one of the
// event dispatcher's sinks, made before the content service and the job
// queue that need the dispatcher and the scanner's workers.
type Service struct {
	opts Options
	// Content resolves and authorizes the artifacts scanArtifact names.
	Content *artifacts.Service
	// Jobs is the job queue scans are enqueued on.
	Jobs *jobs.Service
	// OnChange wakes the event dispatcher after a report and its outbox
	// row commit.
	OnChange func()
	// Tokens mints the pull tokens scanner adapters pull images with.
	Tokens *token.Service
	// adapterHTTP reaches scanner adapters, on private addresses too
	// (adapter.go).
	adapterHTTP *http.Client
	loader      *loader
	// host names the registry in the SBOMs' image references.
	host string
}

// New returns the scanner.
func New(opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Limits.TempDir != "" {
		if err := os.MkdirAll(opts.Limits.TempDir, 0o750); err != nil {
			return nil, fmt.Errorf("creating the scan directory: %w", err)
		}
	}
	return &Service{opts: opts, loader: newLoader(opts.Client), host: registryHost(opts.ExternalURL),
		adapterHTTP: egress.NewClient(egress.Options{AllowPrivate: true, Timeout: adapter.DefaultTimeout})}, nil
}

// changed tells the event dispatcher that the outbox has new rows.
func (s *Service) changed() {
	if s.OnChange != nil {
		s.OnChange()
	}
}
