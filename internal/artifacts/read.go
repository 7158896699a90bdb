package artifacts

import (
	"context"
	"errors"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/predicate"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/tag"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/pullpolicy"
	"github.com/berth-registry/berth/internal/viewer"
)

// Resolve returns the artifact of repository name that reference (a tag or
// a digest) names, if the caller may pull from the repository. Missing
// artifacts give an error wrapping ErrManifestUnknown (and errdefs.ErrNotFound).
// The row comes without its manifest and annotations, which can be 4 MiB
// each: Manifest, Annotations and the other read helpers load them once
// per request.
func (s *Service) Resolve(ctx context.Context, name, reference string) (*ent.Artifact, error) {
	r, err := s.Access(ctx, name, auth.RepositoryPull)
	if err != nil {
		return nil, err
	}
	return s.find(ctx, r, reference, summaryColumns...)
}

// find looks reference up in r, which the caller may read, loading only
// the given columns of its row, or all of them when none are given.
func (s *Service) find(ctx context.Context, r *Repo, reference string, columns ...string) (*ent.Artifact, error) {
	sys := viewer.SystemContext(ctx)
	if r.Repository == nil {
		return nil, manifestUnknown(r.Name, reference)
	}
	var q *ent.ArtifactQuery
	if d, err := digest.Parse(reference); err == nil {
		q = s.client.Artifact.Query().Where(artifact.RepositoryID(r.Repository.ID), artifact.Digest(d.String()))
	} else if ValidTag(reference) {
		q = s.client.Artifact.Query().Where(artifact.HasTagsWith(tag.RepositoryID(r.Repository.ID), tag.Name(reference)))
	} else if looksLikeDigest(reference) {
		return nil, digestInvalid("invalid digest %q", reference)
	} else {
		return nil, coded(ErrManifestUnknown, errdefs.NotFoundf, "invalid reference %q", reference)
	}
	if len(columns) > 0 {
		q.Select(columns...)
	}
	a, err := q.Only(sys)
	if ent.IsNotFound(err) {
		return nil, manifestUnknown(r.Name, reference)
	}
	return a, err
}

// GetManifest returns the artifact to serve for a manifest GET or HEAD. A
// GET (pull true) is counted in the pull statistics, in the background.
func (s *Service) GetManifest(ctx context.Context, name, reference string, pull bool) (*ent.Artifact, error) {
	r, err := s.Access(ctx, name, auth.RepositoryPull)
	if err != nil {
		return nil, err
	}
	a := s.manifests.get(r.Project.Name, name, reference)
	if a == nil {
		gen := s.manifests.generation(r.Project.Name)
		if a, err = s.find(ctx, r, reference); err != nil {
			return nil, err
		}
		s.manifests.put(r.Project.Name, name, reference, gen, a)
	}
	if pull && s.PullPolicy != nil && pullpolicy.Active(r.Project) {
		if err := s.PullPolicy(ctx, r.Project, name, a); err != nil {
			s.RecordRefusal(ctx, auth.RepositoryPull, name, err)
			return nil, err
		}
	}
	if pull {
		s.pulls.record(a, name, viewer.FromContext(ctx).Name())
		s.record(ctx, "pull", name, reference, nil)
	}
	return a, nil
}

// Tags lists the tags of repository name in lexical order, at most n of
// them (n < 0: all) after last. more tells whether tags remain.
func (s *Service) Tags(ctx context.Context, name string, n int, last string) (tags []string, more bool, err error) {
	r, err := s.Access(ctx, name, auth.RepositoryPull)
	if err != nil {
		return nil, false, err
	}
	q := s.client.Tag.Query().Where(tag.RepositoryID(r.Repository.ID)).Order(orderBytes(tag.FieldName))
	if last != "" {
		q.Where(afterBytes(tag.FieldName, last))
	}
	if n >= 0 {
		q.Limit(n + 1)
	}
	tags, err = q.Select(tag.FieldName).Strings(viewer.SystemContext(ctx))
	if err != nil {
		return nil, false, err
	}
	if n >= 0 && len(tags) > n {
		return tags[:n], true, nil
	}
	return tags, false, nil
}

// Catalog lists the repositories the caller may see that hold at least one
// artifact, in lexical order, at most n (n < 0: all) after last.
func (s *Service) Catalog(ctx context.Context, n int, last string) (names []string, more bool, err error) {
	// The caller's context: privacy rules keep only visible projects.
	q := s.client.Repository.Query().Where(repository.HasArtifacts()).Order(orderBytes(repository.FieldName))
	if last != "" {
		q.Where(afterBytes(repository.FieldName, last))
	}
	if n >= 0 {
		q.Limit(n + 1)
	}
	names, err = q.Select(repository.FieldName).Strings(ctx)
	if err != nil {
		return nil, false, err
	}
	if n >= 0 && len(names) > n {
		return names[:n], true, nil
	}
	return names, false, nil
}

// ReferrerDescriptors returns the descriptors of the manifests of
// repository name whose subject is subject, optionally only those of
// artifactType, for the referrers API.
func (s *Service) ReferrerDescriptors(ctx context.Context, name string, subject digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	r, err := s.Access(ctx, name, auth.RepositoryPull)
	if errors.Is(err, ErrNameUnknown) && s.projectPullable(ctx, name) {
		// A repository nothing was pushed to yet has no referrers: the
		// spec wants an empty list, not an error.
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	refs, err := s.referrers(ctx, r.Repository.ID, subject.String(), artifactType)
	if err != nil {
		return nil, err
	}
	out := make([]ocispec.Descriptor, 0, len(refs))
	for _, a := range refs {
		out = append(out, ocispec.Descriptor{
			MediaType:    a.MediaType,
			Digest:       digest.Digest(a.Digest),
			Size:         int64(len(a.Manifest)),
			ArtifactType: a.OciArtifactType,
			Annotations:  a.Annotations,
		})
	}
	return out, nil
}

// referrers lists the referrers of subject in repository repoID, loading
// only the given columns of their rows, or all of them when none are given.
func (s *Service) referrers(ctx context.Context, repoID int, subject, artifactType string, columns ...string) ([]*ent.Artifact, error) {
	q := s.client.Artifact.Query().
		Where(artifact.RepositoryID(repoID), artifact.SubjectDigest(subject)).
		Order(ent.Asc(artifact.FieldPushedAt), ent.Asc(artifact.FieldID))
	if artifactType != "" {
		q.Where(artifact.OciArtifactType(artifactType))
	}
	if len(columns) > 0 {
		q.Select(columns...)
	}
	return q.All(viewer.SystemContext(ctx))
}

func artifactIDIs(id int) predicate.Artifact     { return artifact.ID(id) }
func repositoryIDIs(id int) predicate.Repository { return repository.ID(id) }

// projectPullable reports whether the project of repository name exists
// and the caller may pull from it.
func (s *Service) projectPullable(ctx context.Context, name string) bool {
	p, err := s.client.Project.Query().Where(project.Name(ProjectName(name))).Only(viewer.SystemContext(ctx))
	return err == nil && s.auth.Can(ctx, auth.RepositoryPull, p) == nil
}
