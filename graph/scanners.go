package graph

import (
	"context"

	"github.com/berth-registry/berth/internal/viewer"
)

// adminOnly returns v to a system admin, nil to anyone else: the fields of
// a registration only admins see.
func adminOnly[T any](ctx context.Context, v T) *T {
	if !viewer.FromContext(ctx).IsAdmin() {
		return nil
	}
	return &v
}
