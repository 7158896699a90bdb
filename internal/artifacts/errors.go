package artifacts

import (
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/errdefs"
)

// Registry-specific failures. Each error the service returns with one of
// these codes also wraps an errdefs kind, so GraphQL (which knows only the
// kinds) and the registry (which maps the codes to OCI error codes) can both
// translate it. Test them with errors.Is.
var (
	ErrNameInvalid         = errors.New("NAME_INVALID")
	ErrNameUnknown         = errors.New("NAME_UNKNOWN")
	ErrBlobUnknown         = errors.New("BLOB_UNKNOWN")
	ErrManifestUnknown     = errors.New("MANIFEST_UNKNOWN")
	ErrManifestInvalid     = errors.New("MANIFEST_INVALID")
	ErrManifestBlobUnknown = errors.New("MANIFEST_BLOB_UNKNOWN")
	ErrDigestInvalid       = errors.New("DIGEST_INVALID")
	ErrManifestTooLarge    = errors.New("MANIFEST_TOO_LARGE")
	ErrTagInvalid          = errors.New("TAG_INVALID")
)

// codedError carries a registry code and an errdefs kind with one message.
type codedError struct {
	code error
	err  error // an *errdefs.Error
}

func (e *codedError) Error() string   { return e.err.Error() }
func (e *codedError) Unwrap() []error { return []error{e.code, e.err} }

func coded(code error, kind func(string, ...any) error, format string, args ...any) error {
	return &codedError{code: code, err: kind(format, args...)}
}

func nameInvalid(format string, args ...any) error {
	return coded(ErrNameInvalid, errdefs.Invalidf, format, args...)
}

func nameUnknown(name string) error {
	return coded(ErrNameUnknown, errdefs.NotFoundf, "repository %q not found", name)
}

func manifestUnknown(name, ref string) error {
	return coded(ErrManifestUnknown, errdefs.NotFoundf, "manifest %q not found in repository %q", ref, name)
}

func manifestInvalid(format string, args ...any) error {
	return coded(ErrManifestInvalid, errdefs.Invalidf, format, args...)
}

func digestInvalid(format string, args ...any) error {
	return coded(ErrDigestInvalid, errdefs.Invalidf, format, args...)
}

func blobUnknown(name, dgst string) error {
	return coded(ErrBlobUnknown, errdefs.NotFoundf, "blob %s not found in repository %q", dgst, name)
}

// wrapf adds context to err while keeping its kind and code.
func wrapf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}
