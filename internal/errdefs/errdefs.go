// Package errdefs defines the kinds of failure berth's services report.
// Services return them wrapped with a message meant for the user; the edges
// translate the kind once: registry/errors.go to OCI error codes, graph/ to
// GraphQL extensions.code.
package errdefs

import (
	"errors"
	"fmt"
)

// The kinds of failure. Test with errors.Is.
var (
	ErrUnauthenticated = errors.New("authentication required")
	ErrDenied          = errors.New("permission denied")
	ErrNotFound        = errors.New("not found")
	ErrInvalid         = errors.New("invalid input")
	ErrConflict        = errors.New("conflict")
	ErrUnsupported     = errors.New("unsupported")
	ErrTooManyRequests = errors.New("too many requests")
	// ErrTooLarge is a request that would read or answer more than berth
	// allows one request to (a GraphQL answer over its byte budget).
	ErrTooLarge = errors.New("too large")
)

// Error is a failure of a known kind with a message for the user.
type Error struct {
	kind error
	msg  string
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the kind, so errors.Is(err, ErrNotFound) works.
func (e *Error) Unwrap() error { return e.kind }

func newf(kind error, format string, args ...any) error {
	return &Error{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Unauthenticatedf reports a request that needs credentials.
func Unauthenticatedf(format string, args ...any) error {
	return newf(ErrUnauthenticated, format, args...)
}

// Deniedf reports an authenticated caller who may not do this.
func Deniedf(format string, args ...any) error { return newf(ErrDenied, format, args...) }

// NotFoundf reports a missing resource.
func NotFoundf(format string, args ...any) error { return newf(ErrNotFound, format, args...) }

// Invalidf reports bad input.
func Invalidf(format string, args ...any) error { return newf(ErrInvalid, format, args...) }

// Conflictf reports a clash with existing state (a duplicate name, a non-empty project).
func Conflictf(format string, args ...any) error { return newf(ErrConflict, format, args...) }

// Unsupportedf reports something berth deliberately does not do.
func Unsupportedf(format string, args ...any) error { return newf(ErrUnsupported, format, args...) }

// TooManyRequestsf reports a caller who is being rate limited.
func TooManyRequestsf(format string, args ...any) error {
	return newf(ErrTooManyRequests, format, args...)
}

// TooLargef reports a request that would read or answer too many bytes.
func TooLargef(format string, args ...any) error { return newf(ErrTooLarge, format, args...) }
