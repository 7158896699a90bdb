package artifacts

import (
	"context"
	"fmt"
	"strings"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/immutabilityrule"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// Tag immutability: a project's rules select tags by repository and tag
// pattern; a tag a rule selects, once it exists, is never moved to
// another artifact or deleted, nor is the artifact carrying it. The write
// path checks them (checkImmutable) for every push, tag, copy and delete;
// retention asks ImmutableBy before it plans a deletion.

// RepoPath is a repository's name inside its project, which repository
// patterns match: "app" for "team/app", "tools/app" for "team/tools/app".
func RepoPath(name string) string {
	_, rest, _ := strings.Cut(name, "/")
	return rest
}

// ImmutabilityRules returns the enabled immutability rules of a project,
// in the order they were created.
func (s *Service) ImmutabilityRules(ctx context.Context, projectID int) ([]*ent.ImmutabilityRule, error) {
	return immutabilityRules(ctx, s.client, projectID)
}

func immutabilityRules(ctx context.Context, client *ent.Client, projectID int) ([]*ent.ImmutabilityRule, error) {
	return client.ImmutabilityRule.Query().
		Where(immutabilityrule.ProjectID(projectID), immutabilityrule.Disabled(false)).
		Order(ent.Asc(immutabilityrule.FieldID)).All(viewer.SystemContext(ctx))
}

// ImmutableBy returns the first rule that makes tag of repository name (a
// full name, project first) immutable, or nil.
func ImmutableBy(rules []*ent.ImmutabilityRule, name, tag string) *ent.ImmutabilityRule {
	path := RepoPath(name)
	for _, r := range rules {
		if !r.Disabled && r.Repositories.Matches(path) && r.Tags.Matches(tag) {
			return r
		}
	}
	return nil
}

// DescribeRule names an immutability rule in errors and reasons.
func DescribeRule(r *ent.ImmutabilityRule) string {
	return fmt.Sprintf("immutability rule %d (repositories %s, tags %s)", r.ID, r.Repositories, r.Tags)
}

// immutableError is the refusal of a change to an immutable tag.
func immutableError(r *ent.ImmutabilityRule, name, tag, what string) error {
	return errdefs.Deniedf("tag %s:%s is immutable by %s: %s", name, tag, DescribeRule(r), what)
}
