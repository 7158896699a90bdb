package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// refuseReadOnlyMutations stops every mutation of a caller who signed in
// with a read-only access token before its resolver runs, whatever the
// resolver or the service beneath it checks: a read-only token reads, and
// nothing else, even when its owner is a system admin. Services refuse
// such callers too (auth.Can, auth.RequireAdmin, the ent privacy rules);
// this is the one place that covers a mutation added tomorrow.
func refuseReadOnlyMutations(ctx context.Context, next graphql.Resolver) (any, error) {
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == "Mutation" && viewer.FromContext(ctx).ReadOnly {
		return nil, errdefs.Deniedf("this access token is read-only: %s is not allowed", fc.Field.Name)
	}
	return next(ctx)
}
