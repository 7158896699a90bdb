package artifacts

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/internal/viewer"
)

// The read helpers below serve GraphQL. They take an artifact the caller
// already obtained through Resolve or a privacy-filtered ent query, so
// they do not check permissions again.

// Layer is one layer of an image manifest.
type Layer struct {
	Digest    string
	Size      int64
	MediaType string
}

// Layers returns the layers of an image manifest in order; none for an index.
func Layers(a *ent.Artifact) ([]Layer, error) {
	m, err := ParseManifest(a.MediaType, a.Manifest)
	if err != nil {
		return nil, err
	}
	out := make([]Layer, len(m.Layers))
	for i, l := range m.Layers {
		out[i] = Layer{Digest: l.Digest.String(), Size: l.Size, MediaType: l.MediaType}
	}
	return out, nil
}

// ImageConfig summarizes an image's config blob.
type ImageConfig struct {
	OS           string
	Architecture string
	Variant      string
	Created      *time.Time
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	User         string
	Labels       map[string]string
	History      []HistoryEntry
}

// HistoryEntry is one step of an image's build history.
type HistoryEntry struct {
	Created    *time.Time
	CreatedBy  string
	Comment    string
	EmptyLayer bool
}

// maxConfigSize bounds the config blobs read into memory for GraphQL.
const maxConfigSize = 16 << 20

// ImageConfig reads the config blob of an image artifact (OCI or Docker
// image config) from the blob store. It returns nil, nil for artifacts
// that are not images.
func (s *Service) ImageConfig(ctx context.Context, a *ent.Artifact) (*ImageConfig, error) {
	m, err := ParseManifest(a.MediaType, a.Manifest)
	if err != nil {
		return nil, err
	}
	if m.Config == nil || (m.Config.MediaType != ocispec.MediaTypeImageConfig && m.Config.MediaType != mediaTypeDockerConfig) {
		return nil, nil
	}
	var c ocispec.Image
	if err := s.readJSON(ctx, *m.Config, &c); err != nil {
		return nil, err
	}
	out := &ImageConfig{
		OS: c.OS, Architecture: c.Architecture, Variant: c.Variant, Created: c.Created,
		Entrypoint: c.Config.Entrypoint, Cmd: c.Config.Cmd, Env: c.Config.Env,
		WorkingDir: c.Config.WorkingDir, User: c.Config.User, Labels: c.Config.Labels,
	}
	for _, h := range c.History {
		out.History = append(out.History, HistoryEntry{Created: h.Created, CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer})
	}
	return out, nil
}

func (s *Service) readJSON(ctx context.Context, d ocispec.Descriptor, v any) error {
	if d.Data != nil {
		return json.Unmarshal(d.Data, v)
	}
	if d.Size > maxConfigSize {
		return fmt.Errorf("config blob %s is too large to read (%d bytes)", d.Digest, d.Size)
	}
	rc, err := s.blobs.Open(ctx, d.Digest, 0)
	if err != nil {
		return fmt.Errorf("reading config blob %s: %w", d.Digest, err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxConfigSize))
	if err != nil {
		return fmt.Errorf("reading config blob %s: %w", d.Digest, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("config blob %s is not valid JSON: %w", d.Digest, err)
	}
	return nil
}

// Platform is the platform of an index child.
type Platform struct {
	OS           string
	Architecture string
	Variant      string
	OSVersion    string
}

// Child is one manifest listed by an index.
type Child struct {
	Digest    string
	MediaType string
	Size      int64
	// Platform is nil when the index does not say (attestations, artifacts).
	Platform *Platform
	// Artifact is the stored child, nil if it is not in the repository.
	Artifact *ent.Artifact
}

// Children returns the manifests an index lists, in index order, with
// their platforms; none for an image manifest.
func (s *Service) Children(ctx context.Context, a *ent.Artifact) ([]Child, error) {
	m, err := ParseManifest(a.MediaType, a.Manifest)
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) == 0 {
		return nil, nil
	}
	stored, err := a.QueryChildren().All(viewer.SystemContext(ctx))
	if err != nil {
		return nil, err
	}
	byDigest := map[string]*ent.Artifact{}
	for _, c := range stored {
		byDigest[c.Digest] = c
	}
	out := make([]Child, len(m.Manifests))
	for i, d := range m.Manifests {
		out[i] = Child{Digest: d.Digest.String(), MediaType: d.MediaType, Size: d.Size, Artifact: byDigest[d.Digest.String()]}
		if p := d.Platform; p != nil {
			out[i].Platform = &Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, OSVersion: p.OSVersion}
		}
	}
	return out, nil
}

// Referrers returns the artifacts of a's repository whose subject is a
// (signatures, SBOMs, attestations...), oldest first, optionally only
// those whose declared artifactType is artifactType.
func (s *Service) Referrers(ctx context.Context, a *ent.Artifact, artifactType string) ([]*ent.Artifact, error) {
	return s.referrers(ctx, a.RepositoryID, a.Digest, artifactType)
}

// ChartMetadata is what Chart.yaml says of a Helm chart, as the chart
// config blob carries it.
type ChartMetadata struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	AppVersion  string   `json:"appVersion"`
	Description string   `json:"description"`
	APIVersion  string   `json:"apiVersion"`
	Type        string   `json:"type"`
	Home        string   `json:"home"`
	Icon        string   `json:"icon"`
	Keywords    []string `json:"keywords"`
}

// Chart returns the metadata of a Helm chart artifact, read from its
// config blob (media type application/vnd.cncf.helm.config.v1+json), or
// nil, nil for other artifacts.
func (s *Service) Chart(ctx context.Context, a *ent.Artifact) (*ChartMetadata, error) {
	m, err := ParseManifest(a.MediaType, a.Manifest)
	if err != nil {
		return nil, err
	}
	if m.Config == nil || m.Config.MediaType != MediaTypeHelmConfig {
		return nil, nil
	}
	var c ChartMetadata
	if err := s.readJSON(ctx, *m.Config, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// PullCommand returns the reference to copy into a client:
// <host>/<repo>:<tag> when tag is given, <host>/<repo>@<digest> otherwise.
func (s *Service) PullCommand(ctx context.Context, a *ent.Artifact, tag string) (string, error) {
	name, err := s.client.Repository.Query().Where(repository.ID(a.RepositoryID)).
		Select(repository.FieldName).String(viewer.SystemContext(ctx))
	if err != nil {
		return "", err
	}
	return PullReference(s.host, name, a.Digest, tag), nil
}

// PullReference formats what PullCommand returns, for a known repository name.
func PullReference(host, repo, dgst, tag string) string {
	if tag != "" {
		return host + "/" + repo + ":" + tag
	}
	return host + "/" + repo + "@" + dgst
}
