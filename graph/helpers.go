package graph

import (
	"context"
	"reflect"
	"strings"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/viewer"
)

// deref returns the value p points at, or the zero value for nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// storedBytes sums the distinct blobs in the blob store.
func (r *Resolver) storedBytes(ctx context.Context) (int64, error) {
	var total int64
	err := r.DB.SQL().QueryRowContext(viewer.SystemContext(ctx), "SELECT COALESCE(SUM(size), 0) FROM blobs").Scan(&total)
	return total, err
}

// optional returns nil for an empty string, so GraphQL answers null.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nonNil returns an empty slice for nil, for non-null GraphQL lists.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// setArtifactLabel adds or removes a label on the artifact reference names.
func (r *mutationResolver) setArtifactLabel(ctx context.Context, repo, reference string, labelID int, on bool) (*ent.Artifact, error) {
	a, err := r.ArtifactService.Resolve(ctx, repo, reference)
	if err != nil {
		return nil, err
	}
	p, err := r.ProjectService.Get(ctx, artifacts.ProjectName(repo))
	if err != nil {
		return nil, err
	}
	if err := r.ProjectService.SetArtifactLabel(ctx, p, a, labelID, on); err != nil {
		return nil, err
	}
	return r.DB.Artifact.Get(ctx, a.ID)
}

// structField reads an exported field of a struct (or pointer to one) by
// its GraphQL name, for the audit log's view of input objects.
func structField(v any, key string) string {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return ""
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return ""
	}
	f := rv.FieldByNameFunc(func(n string) bool { return strings.EqualFold(n, key) })
	if !f.IsValid() || !f.CanInterface() {
		return ""
	}
	return deepString(f.Interface())
}

// immutableRulesKey holds a response's cache of immutability rules.
type immutableRulesKey struct{}

// orEmpty is list, or an empty list for nil: for non-null list fields.
func orEmpty(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
