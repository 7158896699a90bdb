package graph

import (
	"context"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/tag"
	"github.com/berth-registry/berth/graph/model"
)

// searchInput is searchArtifacts' arguments.
type searchInput struct {
	tag, digestPrefix, repository string
	first                         *int
}

const (
	searchDefault = 10
	searchMax     = 50
)

var digestPrefixRE = regexp.MustCompile(`^sha256:[0-9a-f]{6,64}$`)

// searchArtifacts finds artifacts by a tag's name or a digest's prefix.
// The privacy rules keep the hits to what the caller may read; the
// predicates are the ones berth's search indexes serve (see
// internal/database/search.go).
func (r *queryResolver) searchArtifacts(ctx context.Context, in searchInput) ([]*model.ArtifactSearchHit, error) {
	n := searchDefault
	if in.first != nil {
		n = *in.first
	}
	if n < 1 || n > searchMax {
		return nil, badInput("first must be between 1 and %d", searchMax)
	}
	if (in.tag == "") == (in.digestPrefix == "") {
		return nil, badInput("give exactly one of tag and digestPrefix")
	}
	if len(in.repository) > 255 {
		return nil, badInput("repository must be at most 255 characters")
	}
	if in.tag != "" {
		if l := utf8.RuneCountInString(in.tag); l < 2 || l > 128 {
			return nil, badInput("tag must be 2 to 128 characters")
		}
		q := r.DB.Client.Tag.Query().Where(r.DB.TagNameContains(in.tag))
		if in.repository != "" {
			q.Where(tag.HasRepositoryWith(repository.NameContainsFold(in.repository)))
		}
		tags, err := q.WithArtifact(func(a *ent.ArtifactQuery) { a.WithTags() }).WithRepository().Order(r.DB.NewestTagsFirst(in.tag)).Limit(n).All(ctx)
		if err != nil {
			return nil, err
		}
		hits := make([]*model.ArtifactSearchHit, 0, len(tags))
		for _, t := range tags {
			// The artifact and repository are readable when the tag is
			// (same repository); nil only in a race with a delete.
			if t.Edges.Artifact == nil || t.Edges.Repository == nil {
				continue
			}
			hits = append(hits, &model.ArtifactSearchHit{Artifact: t.Edges.Artifact, Repository: t.Edges.Repository, Tag: t})
		}
		return hits, nil
	}
	p := strings.ToLower(in.digestPrefix)
	if !digestPrefixRE.MatchString(p) {
		return nil, badInput("digestPrefix must be sha256: and 6 to 64 hex digits")
	}
	q := r.DB.Client.Artifact.Query().Where(artifact.DigestHasPrefix(p))
	if in.repository != "" {
		q.Where(artifact.HasRepositoryWith(repository.NameContainsFold(in.repository)))
	}
	arts, err := q.WithTags().WithRepository().Order(ent.Desc(artifact.FieldID)).Limit(n).All(ctx)
	if err != nil {
		return nil, err
	}
	hits := make([]*model.ArtifactSearchHit, 0, len(arts))
	for _, a := range arts {
		if a.Edges.Repository != nil {
			hits = append(hits, &model.ArtifactSearchHit{Artifact: a, Repository: a.Edges.Repository})
		}
	}
	return hits, nil
}
