package retention

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/predicate"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/schema/rules"
	"github.com/berth-registry/berth/ent/tag"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/viewer"
)

// How a plan is made. The unit is a root artifact: one that no index
// lists and that is no referrer of an artifact of its repository (index
// children and referrers go with their root, never on their own).
//
// A rule selects an artifact of repository R when its repository pattern
// matches R's name inside the project and a tag of the artifact matches
// its tag pattern (or, with Untagged, the artifact has no tag). In each
// repository the rule's template then keeps some of what it selects. An
// artifact is deleted when some enabled rule selects it, none keeps it, no
// immutability rule protects a tag of it, and every tag of it is selected
// by some rule: a tag no rule speaks about protects its artifact. Artifacts
// no rule selects are left alone and not listed.

// Artifact is what planning knows of one root artifact.
type Artifact struct {
	ID         int
	Repository string // the full name, project first
	Digest     string
	Tags       []string // sorted
	PushedAt   time.Time
	PulledAt   *time.Time
}

// Plan is what a run deletes, or would, and what it keeps and why.
type Plan struct {
	// Delete are the artifacts to delete, with Deleted their candidates
	// (same order).
	Delete       []Artifact
	Deleted      []rules.Candidate
	Retained     []rules.Candidate
	Repositories []rules.RepositoryCount
}

// DescribeRule names a retention rule (numbered from 1) in reasons:
// `rule 1: latest 3 pushed of tags "**" in repositories "**"`.
func DescribeRule(n int, r rules.RetentionRule) string {
	return "rule " + strconv.Itoa(n) + ": " + describe(r)
}

func describe(r rules.RetentionRule) string {
	var what string
	switch r.Template {
	case rules.LatestPushed:
		what = fmt.Sprintf("latest %d pushed", deref(r.Count))
	case rules.LatestPulled:
		what = fmt.Sprintf("latest %d pulled", deref(r.Count))
	case rules.PushedWithinDays:
		what = fmt.Sprintf("pushed within %d days", deref(r.Days))
	case rules.PulledWithinDays:
		what = fmt.Sprintf("pulled within %d days", deref(r.Days))
	default:
		what = "always"
	}
	tags := "tags " + r.Tags.String()
	if r.Untagged {
		tags += " and untagged artifacts"
	}
	return what + " of " + tags + " in repositories " + r.Repositories.String()
}

// selects reports whether rule r selects a of a repository its
// repository pattern matches.
func selects(r rules.RetentionRule, a Artifact) bool {
	if len(a.Tags) == 0 {
		return r.Untagged
	}
	for _, t := range a.Tags {
		if r.Tags.Matches(t) {
			return true
		}
	}
	return false
}

// keeps returns the ids of the artifacts of one repository that rule r's
// template keeps among those it selects.
func keeps(r rules.RetentionRule, selected []Artifact, now time.Time) map[int]bool {
	kept := map[int]bool{}
	switch r.Template {
	case rules.LatestPushed, rules.LatestPulled:
		order := slices.Clone(selected)
		slices.SortFunc(order, func(a, b Artifact) int {
			if r.Template == rules.LatestPulled {
				// Most recently pulled first; never pulled last.
				switch {
				case a.PulledAt != nil && b.PulledAt == nil:
					return -1
				case a.PulledAt == nil && b.PulledAt != nil:
					return 1
				case a.PulledAt != nil && !a.PulledAt.Equal(*b.PulledAt):
					return b.PulledAt.Compare(*a.PulledAt)
				}
			}
			return cmp.Or(b.PushedAt.Compare(a.PushedAt), cmp.Compare(b.ID, a.ID))
		})
		for _, a := range order[:min(len(order), deref(r.Count))] {
			kept[a.ID] = true
		}
	case rules.PushedWithinDays, rules.PulledWithinDays:
		cutoff := now.Add(-time.Duration(deref(r.Days)) * 24 * time.Hour)
		for _, a := range selected {
			at := &a.PushedAt
			if r.Template == rules.PulledWithinDays {
				at = a.PulledAt
			}
			if at != nil && !at.Before(cutoff) {
				kept[a.ID] = true
			}
		}
	case rules.Always:
		for _, a := range selected {
			kept[a.ID] = true
		}
	}
	return kept
}

// Evaluate plans a run of rules over the root artifacts of one project at
// time now; immutable are the project's enabled immutability rules.
func Evaluate(rs []rules.RetentionRule, immutable []*ent.ImmutabilityRule, arts []Artifact, now time.Time) Plan {
	byRepo := map[string][]Artifact{}
	for _, a := range arts {
		byRepo[a.Repository] = append(byRepo[a.Repository], a)
	}
	repos := make([]string, 0, len(byRepo))
	for name := range byRepo {
		repos = append(repos, name)
	}
	slices.Sort(repos)
	plan := Plan{Delete: []Artifact{}, Deleted: []rules.Candidate{}, Retained: []rules.Candidate{}, Repositories: []rules.RepositoryCount{}}
	for _, repo := range repos {
		list := byRepo[repo]
		// Newest first, so the lists read like the repository's page.
		slices.SortFunc(list, func(a, b Artifact) int {
			return cmp.Or(b.PushedAt.Compare(a.PushedAt), cmp.Compare(b.ID, a.ID))
		})
		path := artifacts.RepoPath(repo)
		var applying []int // the enabled rules for this repository
		for i, r := range rs {
			if !r.Disabled && r.Repositories.Matches(path) {
				applying = append(applying, i)
			}
		}
		if len(applying) == 0 {
			continue
		}
		selectedBy := map[int]int{} // artifact id → first rule selecting it
		keptBy := map[int]int{}     // artifact id → first rule keeping it
		for _, i := range applying {
			var selected []Artifact
			for _, a := range list {
				if selects(rs[i], a) {
					selected = append(selected, a)
					if _, ok := selectedBy[a.ID]; !ok {
						selectedBy[a.ID] = i
					}
				}
			}
			for id := range keeps(rs[i], selected, now) {
				if _, ok := keptBy[id]; !ok {
					keptBy[id] = i
				}
			}
		}
		count := rules.RepositoryCount{Repository: repo}
		for _, a := range list {
			first, ok := selectedBy[a.ID]
			if !ok {
				continue
			}
			c := rules.Candidate{Repository: repo, Digest: a.Digest, Tags: nonNil(a.Tags)}
			c.Reason = retainedBecause(rs, applying, immutable, a, keptBy)
			if c.Reason == "" {
				c.Reason = fmt.Sprintf("selected by rule %d (%s), kept by no rule", first+1, describe(rs[first]))
				plan.Delete = append(plan.Delete, a)
				plan.Deleted = append(plan.Deleted, c)
				count.Deleted++
			} else {
				plan.Retained = append(plan.Retained, c)
				count.Retained++
			}
		}
		if count.Deleted+count.Retained > 0 {
			plan.Repositories = append(plan.Repositories, count)
		}
	}
	return plan
}

// retainedBecause says why a selected artifact stays, or "" if it goes.
func retainedBecause(rs []rules.RetentionRule, applying []int, immutable []*ent.ImmutabilityRule, a Artifact, keptBy map[int]int) string {
	if i, ok := keptBy[a.ID]; ok {
		return DescribeRule(i+1, rs[i])
	}
	for _, t := range a.Tags {
		if r := artifacts.ImmutableBy(immutable, a.Repository, t); r != nil {
			return fmt.Sprintf("tag %q is immutable by %s", t, artifacts.DescribeRule(r))
		}
	}
	for _, t := range a.Tags {
		if !slices.ContainsFunc(applying, func(i int) bool { return rs[i].Tags.Matches(t) }) {
			return fmt.Sprintf("also tagged %q, which no rule selects", t)
		}
	}
	return ""
}

// roots loads the root artifacts of a project, with their tags.
func (s *Service) roots(ctx context.Context, projectID int) ([]Artifact, error) {
	sys := viewer.SystemContext(ctx)
	rows, err := s.opts.Client.Artifact.Query().
		Where(artifact.HasRepositoryWith(repository.ProjectID(projectID)), root()).
		WithRepository(func(q *ent.RepositoryQuery) { q.Select(repository.FieldID, repository.FieldName) }).
		WithTags(func(q *ent.TagQuery) { q.Select(tag.FieldArtifactID, tag.FieldName) }).
		Select(artifact.FieldID, artifact.FieldRepositoryID, artifact.FieldDigest, artifact.FieldPushedAt, artifact.FieldPulledAt).
		All(sys)
	if err != nil {
		return nil, fmt.Errorf("reading the artifacts of project %d: %w", projectID, err)
	}
	out := make([]Artifact, 0, len(rows))
	for _, r := range rows {
		out = append(out, toArtifact(r))
	}
	return out, nil
}

func toArtifact(r *ent.Artifact) Artifact {
	a := Artifact{ID: r.ID, Digest: r.Digest, PushedAt: r.PushedAt, PulledAt: r.PulledAt, Tags: []string{}}
	if r.Edges.Repository != nil {
		a.Repository = r.Edges.Repository.Name
	}
	for _, t := range r.Edges.Tags {
		a.Tags = append(a.Tags, t.Name)
	}
	slices.Sort(a.Tags)
	return a
}

// root matches artifacts no index lists that are not referrers of an
// artifact of their repository.
func root() predicate.Artifact {
	return artifact.And(
		artifact.Not(artifact.HasParents()),
		artifact.Or(artifact.SubjectDigestIsNil(), artifact.Not(artifacts.SubjectExists())),
	)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
