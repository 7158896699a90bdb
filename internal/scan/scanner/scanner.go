// Package scanner runs vulnerability scans of stored images as jobs and
// keeps each artifact's latest report: it reads an image's config and
// layers from the blob store, lists its packages (internal/scan/inventory),
// matches them against the offline vulnerability database
// (internal/scan/vulndb) and replaces the artifact's report and findings
// in one transaction, with a SCAN_COMPLETED outbox row.
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
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/scan/inventory"
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

// BlobReader reads blobs from berth's blob store (storage.Blobs).
type BlobReader interface {
	Open(ctx context.Context, dgst digest.Digest, offset int64) (io.ReadCloser, error)
}

// Options configure the scanner.
type Options struct {
	Client *ent.Client
	Blobs  BlobReader
	Auth   *auth.Service
	Logger *slog.Logger
	// Limits bound each image's inventory; Limits.TempDir is created if
	// it does not exist (empty: os.TempDir()).
	Limits inventory.Limits
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
	loader   *loader
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
	return &Service{opts: opts, loader: newLoader(opts.Client)}, nil
}

// changed tells the event dispatcher that the outbox has new rows.
func (s *Service) changed() {
	if s.OnChange != nil {
		s.OnChange()
	}
}
