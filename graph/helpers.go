package graph

import (
	"context"

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
