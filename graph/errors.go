package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/privacy"
	"github.com/berth-registry/berth/internal/errdefs"
)

// The values of extensions.code on berth's GraphQL errors.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeConflict        = "CONFLICT"
	CodeTooManyRequests = "TOO_MANY_REQUESTS"
	CodeInternal        = "INTERNAL"
	// CodeResponseTooLarge: the answer would carry more manifest and
	// config bytes than one request may (artifacts.ReadLimits).
	CodeResponseTooLarge = "RESPONSE_TOO_LARGE"
	// CodeTooManyReadFields: more than MaxReadFields fields that read
	// manifests, configs or annotations in one operation.
	CodeTooManyReadFields = "TOO_MANY_READ_FIELDS"
	// CodeRequestTooLarge: a body or query string over MaxRequestBytes (HTTP 413 or 414).
	CodeRequestTooLarge = "REQUEST_TOO_LARGE"
)

// code maps a service error to its extensions.code, and says whether its
// message may be shown to the caller.
func code(err error) (string, bool) {
	switch {
	case errors.Is(err, errdefs.ErrUnauthenticated):
		return CodeUnauthenticated, true
	case errors.Is(err, errdefs.ErrDenied), errors.Is(err, privacy.Deny):
		return CodeForbidden, true
	case errors.Is(err, errdefs.ErrNotFound):
		return CodeNotFound, true
	case errors.Is(err, errdefs.ErrInvalid), errors.Is(err, errdefs.ErrUnsupported):
		return CodeBadUserInput, true
	case errors.Is(err, errdefs.ErrConflict):
		return CodeConflict, true
	case errors.Is(err, errdefs.ErrTooManyRequests):
		return CodeTooManyRequests, true
	case errors.Is(err, errdefs.ErrTooLarge):
		return CodeResponseTooLarge, true
	case ent.IsNotFound(err):
		return CodeNotFound, false
	case ent.IsConstraintError(err):
		return CodeConflict, false
	case ent.IsValidationError(err):
		return CodeBadUserInput, true
	}
	return CodeInternal, false
}

// presentError gives every error an extensions.code and shows only
// classified messages: those of errdefs kinds, ent validation, and
// gqlgen's own about the request. Anything else a resolver returned could
// carry SQL, a driver's message or an internal path, and becomes
// "internal error" (logged in full).
func presentError(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if gqlErr.Extensions != nil && gqlErr.Extensions["code"] != nil {
			return gqlErr // parse and validation errors, and the limits', carry their codes
		}
		c, public := code(err)
		if c == CodeInternal && authoredForCaller(err) {
			gqlErr.Extensions = map[string]any{"code": CodeBadUserInput}
			return gqlErr
		}
		if !public {
			switch c {
			case CodeNotFound:
				gqlErr.Message = "not found"
			case CodeConflict:
				gqlErr.Message = "conflicts with existing data"
			default:
				log.ErrorContext(ctx, "graphql resolver failed", "path", gqlErr.Path.String(), "err", err)
				gqlErr.Message = "internal error"
			}
		}
		gqlErr.Extensions = map[string]any{"code": c}
		return gqlErr
	}
}

// resolverError marks an error a resolver returned. gqlgen wraps resolver
// errors and its own argument-decoding errors alike in *gqlerror.Error, so
// presentError could not otherwise tell a SQL error (to hide) from a
// malformed cursor (to show).
type resolverError struct{ err error }

func (e *resolverError) Error() string { return e.err.Error() }
func (e *resolverError) Unwrap() error { return e.err }

// authoredForCaller reports whether an unclassified error is a message
// about the caller's input rather than a failure: one gqlgen made decoding
// arguments (a bad cursor, an unknown enum value, an ID that is no
// number), or a *gqlerror.Error a resolver made itself wrapping nothing
// (entgql's "first and last both set").
func authoredForCaller(err error) bool {
	var re *resolverError
	if !errors.As(err, &re) {
		return true
	}
	var ge *gqlerror.Error
	return errors.As(re.err, &ge) && ge.Err == nil
}

// markResolverErrors wraps every error a resolver returns in resolverError.
func markResolverErrors(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	if err != nil {
		err = &resolverError{err}
	}
	return res, err
}

// recoverPanic turns a resolver panic into an INTERNAL error instead of a
// crashed request, and logs it.
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		log.ErrorContext(ctx, "graphql resolver panicked", "panic", fmt.Sprint(v))
		return &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": CodeInternal}}
	}
}

func badInput(format string, args ...any) error { return errdefs.Invalidf(format, args...) }
