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
	case ent.IsNotFound(err):
		return CodeNotFound, false
	case ent.IsConstraintError(err):
		return CodeConflict, false
	case ent.IsValidationError(err):
		return CodeBadUserInput, true
	}
	return CodeInternal, false
}

// presentError gives every error an extensions.code and hides the text of
// unexpected ones, which could carry SQL or internal paths.
func presentError(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if gqlErr.Extensions != nil && gqlErr.Extensions["code"] != nil {
			return gqlErr // parse and validation errors already carry gqlgen's codes
		}
		if inner, ok := err.(*gqlerror.Error); ok && inner.Extensions == nil {
			// Resolvers return plain errors; a *gqlerror.Error at the top
			// was made by gqlgen decoding arguments (a bad cursor, an
			// unknown enum value): the caller's input is at fault.
			if c, _ := code(inner.Err); inner.Err == nil || c == CodeInternal {
				gqlErr.Extensions = map[string]any{"code": CodeBadUserInput}
				return gqlErr
			}
		}
		c, public := code(err)
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

// recoverPanic turns a resolver panic into an INTERNAL error instead of a
// crashed request, and logs it.
func recoverPanic(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, v any) error {
		log.ErrorContext(ctx, "graphql resolver panicked", "panic", fmt.Sprint(v))
		return &gqlerror.Error{Message: "internal error", Extensions: map[string]any{"code": CodeInternal}}
	}
}

func badInput(format string, args ...any) error { return errdefs.Invalidf(format, args...) }
