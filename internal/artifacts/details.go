package artifacts

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/internal/viewer"
)

// The read helpers below serve GraphQL. They take an artifact the caller
// already obtained through Resolve or a privacy-filtered ent query, so
// they do not check permissions again. They read manifests and configs
// through the request's Reads: once per request, within its budgets.

// Layer is one layer of an image manifest.
type Layer struct {
	Digest    string
	Size      int64
	MediaType string
}

// Manifest returns the manifest of a exactly as stored, read once per
// request (see Reads) and charged to the request's answer budget.
func (s *Service) Manifest(ctx context.Context, a *ent.Artifact) ([]byte, error) {
	d, err := s.manifestData(ctx, a)
	if err != nil {
		return nil, err
	}
	if err := readsFrom(ctx).answer(int64(len(d.raw))); err != nil {
		return nil, err
	}
	return d.raw, nil
}

// Layers returns the layers of an image manifest in order; none for an index.
func (s *Service) Layers(ctx context.Context, a *ent.Artifact) ([]Layer, error) {
	m, err := s.parsedManifest(ctx, a)
	if err != nil {
		return nil, err
	}
	if err := readsFrom(ctx).answer(descriptorsSize(m.Layers)); err != nil {
		return nil, err
	}
	out := make([]Layer, len(m.Layers))
	for i, l := range m.Layers {
		out[i] = Layer{Digest: l.Digest.String(), Size: l.Size, MediaType: l.MediaType}
	}
	return out, nil
}

// Annotations returns the annotations of a's manifest. Rows loaded
// without their large columns (Resolve) get them from the database, once
// per request.
func (s *Service) Annotations(ctx context.Context, a *ent.Artifact) (map[string]string, error) {
	r := readsFrom(ctx)
	ann := a.Annotations
	if ann == nil {
		var err error
		ann, err = cached(ctx, r, r.annotations, a.ID, func() (map[string]string, error) {
			var out map[string]string
			err := r.load(ctx, 0, func() (int64, error) {
				row, err := s.client.Artifact.Query().Where(artifact.ID(a.ID)).
					Select(artifact.FieldAnnotations).Only(viewer.SystemContext(ctx))
				if err != nil {
					return 0, err
				}
				out = row.Annotations
				return annotationsSize(out), nil
			})
			return out, err
		})
		if err != nil {
			return nil, err
		}
	}
	if err := r.answer(annotationsSize(ann)); err != nil {
		return nil, err
	}
	return ann, nil
}

// manifestData returns a's manifest from the request's cache, loading it
// from the database when the row came without it.
func (s *Service) manifestData(ctx context.Context, a *ent.Artifact) (*manifestData, error) {
	r := readsFrom(ctx)
	return cached(ctx, r, r.manifests, a.ID, func() (*manifestData, error) {
		raw := a.Manifest
		err := r.load(ctx, 0, func() (int64, error) {
			if raw == nil {
				s.readCounts.manifests.Add(1)
				row, err := s.client.Artifact.Query().Where(artifact.ID(a.ID)).
					Select(artifact.FieldManifest).Only(viewer.SystemContext(ctx))
				if err != nil {
					return 0, err
				}
				raw = row.Manifest
			}
			return int64(len(raw)), nil
		})
		if err != nil {
			return nil, err
		}
		return &manifestData{raw: raw, mediaType: a.MediaType}, nil
	})
}

func (s *Service) parsedManifest(ctx context.Context, a *ent.Artifact) (*Manifest, error) {
	d, err := s.manifestData(ctx, a)
	if err != nil {
		return nil, err
	}
	return d.manifest()
}

// descriptorsSize estimates the bytes ds take in a JSON answer.
func descriptorsSize(ds []ocispec.Descriptor) int64 {
	var n int64
	for _, d := range ds {
		n += int64(len(d.Digest)+len(d.MediaType)) + 64
		if d.Platform != nil {
			n += int64(len(d.Platform.OS)+len(d.Platform.Architecture)+len(d.Platform.Variant)) + 64
		}
	}
	return n
}

// annotationsSize estimates the bytes m takes in a JSON answer.
func annotationsSize(m map[string]string) int64 {
	var n int64
	for k, v := range m {
		n += int64(len(k)+len(v)) + 6
	}
	return n
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
// image config) from the blob store, once per request (see Reads). It
// returns nil, nil for artifacts that are not images.
func (s *Service) ImageConfig(ctx context.Context, a *ent.Artifact) (*ImageConfig, error) {
	m, err := s.parsedManifest(ctx, a)
	if err != nil {
		return nil, err
	}
	if m.Config == nil || (m.Config.MediaType != ocispec.MediaTypeImageConfig && m.Config.MediaType != mediaTypeDockerConfig) {
		return nil, nil
	}
	d, err := s.config(ctx, *m.Config)
	if err != nil {
		return nil, err
	}
	d.once.Do(func() {
		var c ocispec.Image
		if d.err = json.Unmarshal(d.raw, &c); d.err != nil {
			d.err = fmt.Errorf("config blob %s is not valid JSON: %w", m.Config.Digest, d.err)
			return
		}
		d.image = &ImageConfig{
			OS: c.OS, Architecture: c.Architecture, Variant: c.Variant, Created: c.Created,
			Entrypoint: c.Config.Entrypoint, Cmd: c.Config.Cmd, Env: c.Config.Env,
			WorkingDir: c.Config.WorkingDir, User: c.Config.User, Labels: c.Config.Labels,
		}
		for _, h := range c.History {
			d.image.History = append(d.image.History, HistoryEntry{Created: h.Created, CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer})
		}
	})
	if d.err != nil {
		return nil, d.err
	}
	if err := readsFrom(ctx).answer(int64(len(d.raw))); err != nil {
		return nil, err
	}
	return d.image, nil
}

// config returns the config blob d describes from the request's cache,
// reading it from the blob store (or the descriptor's embedded data) once.
func (s *Service) config(ctx context.Context, d ocispec.Descriptor) (*configData, error) {
	r := readsFrom(ctx)
	return cached(ctx, r, r.configs, d.Digest.String(), func() (*configData, error) {
		raw := d.Data
		err := r.load(ctx, min(d.Size, maxConfigSize), func() (int64, error) {
			if raw != nil {
				return int64(len(raw)), nil
			}
			if d.Size > maxConfigSize {
				return 0, fmt.Errorf("config blob %s is too large to read (%d bytes)", d.Digest, d.Size)
			}
			s.readCounts.configs.Add(1)
			rc, err := s.blobs.Open(ctx, d.Digest, 0)
			if err != nil {
				return 0, fmt.Errorf("reading config blob %s: %w", d.Digest, err)
			}
			defer rc.Close()
			if raw, err = io.ReadAll(io.LimitReader(rc, maxConfigSize)); err != nil {
				return 0, fmt.Errorf("reading config blob %s: %w", d.Digest, err)
			}
			return int64(len(raw)), nil
		})
		if err != nil {
			return nil, err
		}
		return &configData{raw: raw}, nil
	})
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
	m, err := s.parsedManifest(ctx, a)
	if err != nil {
		return nil, err
	}
	if len(m.Manifests) == 0 {
		return nil, nil
	}
	if err := readsFrom(ctx).answer(descriptorsSize(m.Manifests)); err != nil {
		return nil, err
	}
	stored, err := a.QueryChildren().Select(summaryColumns...).All(viewer.SystemContext(ctx))
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
	return s.referrers(ctx, a.RepositoryID, a.Digest, artifactType, summaryColumns...)
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
	m, err := s.parsedManifest(ctx, a)
	if err != nil {
		return nil, err
	}
	if m.Config == nil || m.Config.MediaType != MediaTypeHelmConfig {
		return nil, nil
	}
	d, err := s.config(ctx, *m.Config)
	if err != nil {
		return nil, err
	}
	if err := readsFrom(ctx).answer(int64(len(d.raw))); err != nil {
		return nil, err
	}
	var c ChartMetadata
	if err := json.Unmarshal(d.raw, &c); err != nil {
		return nil, fmt.Errorf("config blob %s is not valid JSON: %w", m.Config.Digest, err)
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
