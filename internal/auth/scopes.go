package auth

import "context"

// A registry token (the JWT docker and crane get from /service/token)
// carries the repository scopes the token service granted after checking
// the caller's role. Like every Docker-token registry, berth then trusts
// those scopes for the token's short life instead of asking the database
// for the caller's membership on every pull: that query was most of the
// cost of a manifest GET by a project member.

type scopesKey struct{}

// ScopeCheck reports whether a verified token grants action on
// repository.
type ScopeCheck func(repository string, action Action) bool

// WithTokenScopes records on ctx the scopes of the verified registry token
// the request came with.
func WithTokenScopes(ctx context.Context, allows ScopeCheck) context.Context {
	return context.WithValue(ctx, scopesKey{}, allows)
}

// TokenAllows reports whether the request's verified registry token grants
// action on repository (false without a token).
func TokenAllows(ctx context.Context, repository string, action Action) bool {
	allows, _ := ctx.Value(scopesKey{}).(ScopeCheck)
	return allows != nil && allows(repository, action)
}
