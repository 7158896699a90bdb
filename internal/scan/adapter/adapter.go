// Package adapter is berth's client for Harbor's Pluggable Scanner Adapter
// API v1.1 (github.com/goharbor/pluggable-scanner-spec), so that existing
// scanner adapters, such as Aqua's adapter for Trivy, can scan berth's
// images instead of the built-in scanner.
//
// An adapter serves three operations under {base URL}/api/v1:
//
//   - GET /metadata: the scanner's name, vendor and version, and its
//     capabilities (the artifact types it consumes, the report types it
//     produces);
//   - POST /scan: enqueue a scan of one artifact, which the adapter pulls
//     from berth with the registry URL and Authorization the request carries;
//     202 with the scan's id;
//   - GET /scan/{id}/report: 302 while the report is being made, with a
//     Refresh-After (the spec) or Retry-After header, or none (Trivy's
//     adapter); 200 with the report; 404 for an id the adapter does not
//     know; 500 when the scan failed.
//
// Everything the adapter answers is bounded (body sizes, the scan id, the
// vulnerabilities kept) and checked (status, media type, JSON shape), and
// every failure names the adapter, the operation, the HTTP status and the
// adapter's own error message. Findings maps a report to the shape of
// berth's scan findings.
package adapter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/errdefs"
)

// Defaults of Options.
const (
	// DefaultTimeout bounds one request to the adapter, its body included,
	// when Options.HTTPClient is nil.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxReportSize bounds a report's body.
	DefaultMaxReportSize = 64 << 20
	// DefaultMaxMetadataSize bounds the metadata's body.
	DefaultMaxMetadataSize = 1 << 20
	// DefaultMaxVulnerabilities is how many vulnerabilities a report keeps,
	// the most severe; Report.Dropped counts the rest.
	DefaultMaxVulnerabilities = 100_000
	// DefaultPollInterval is the wait between report polls when the
	// adapter's 302 names none (Harbor's own default).
	DefaultPollInterval = 5 * time.Second
	// DefaultMaxPollInterval caps a wait the adapter names.
	DefaultMaxPollInterval = 60 * time.Second
	// MinPollInterval is the shortest wait between polls, whatever the
	// adapter says: a Retry-After of 0 must not make a busy loop.
	MinPollInterval = time.Second
)

// Bounds of what berth sends and accepts.
const (
	// maxAuthorization bounds an Authorization header value (ours to the
	// adapter, and the registry's in a scan request).
	maxAuthorization = 16 << 10
	// maxSmallBody bounds a scan response and an error body.
	maxSmallBody = 64 << 10
	// maxScanID bounds the id an adapter gives a scan.
	maxScanID = 256
	// maxMessage bounds the adapter's error message quoted in our errors.
	maxMessage = 1024
)

// The kinds of failure, for errors.Is. Every failure of a call to the
// adapter is an *Error wrapping one of them.
var (
	// ErrUnreachable: no HTTP answer (connection refused, timeout, TLS).
	ErrUnreachable = errors.New("adapter unreachable")
	// ErrUnauthorized: the adapter refused berth's Authorization (401, 403).
	ErrUnauthorized = errors.New("adapter refused berth's credentials")
	// ErrRejected: the adapter refused the scan request (400, 422, 415, 501).
	ErrRejected = errors.New("adapter rejected the request")
	// ErrScanNotFound: the adapter does not know the scan id (404 on the
	// report). The spec asks clients to treat the scan as failed and send
	// a new scan request.
	ErrScanNotFound = errors.New("adapter does not know the scan")
	// ErrFailed: the adapter answered 500 or another unexpected status; on
	// the report, 500 means the scan failed.
	ErrFailed = errors.New("adapter failed")
	// ErrBadAnswer: the answer does not follow the API (media type, JSON,
	// a required field, the scan id's format, the artifact it reports on).
	ErrBadAnswer = errors.New("adapter's answer does not follow the scanner API")
	// ErrTooLarge: the answer is over its size bound.
	ErrTooLarge = errors.New("adapter's answer is too large")
)

// Error is a failed call to an adapter.
type Error struct {
	// Adapter is the adapter's name (Options.Name, or its URL's host).
	Adapter string
	// Op is the operation: "metadata", "scan" or "report of scan <id>".
	Op string
	// Status is the HTTP status, 0 without an answer.
	Status int
	// Message is the adapter's own error message (its ErrorResponse), or
	// what was wrong with its answer.
	Message string
	// Kind is one of the Err* kinds above.
	Kind error
	// Cause is the underlying error, if any (a network or JSON error).
	Cause error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scanner adapter %q: %s", e.Adapter, e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	b.WriteString(": ")
	b.WriteString(e.Kind.Error())
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns the kind and the cause, so errors.Is(err, ErrFailed) and
// errors.Is(err, context.DeadlineExceeded) both work.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

// Options configure a Client; one Client per registered adapter.
type Options struct {
	// Name names the adapter in errors: the registration's name. Empty:
	// the URL's host.
	Name string
	// URL is the adapter's base URL, http or https, without credentials,
	// query or fragment; the API is under {URL}/api/v1. A URL that
	// already ends in /api/v1 is used as it is.
	URL string
	// Authorization is the Authorization header sent with every request
	// to the adapter ("Bearer <token>", "Basic <base64>"); empty for none.
	// It is a secret: it never appears in errors.
	Authorization string
	// HTTPClient sends the requests (internal/egress makes one that keeps
	// off internal addresses; adapters usually run on one, so the
	// registration decides). Nil: a client with DefaultTimeout. Redirects
	// are never followed: a 302 from the report endpoint means "not yet".
	HTTPClient *http.Client
	// ReportMIMEType is the report type asked for:
	// MIMEVulnerabilityReport (the default) or MIMEHarborVulnerabilityReport,
	// as Metadata.ReportMIMEType chooses.
	ReportMIMEType string
	// MaxReportSize, MaxMetadataSize and MaxVulnerabilities bound the
	// answers; 0 means the Default of each.
	MaxReportSize      int64
	MaxMetadataSize    int64
	MaxVulnerabilities int
	// PollInterval is the wait between report polls when the adapter
	// names none; MaxPollInterval caps a wait it names. 0 means the
	// Default of each; neither goes below MinPollInterval.
	PollInterval    time.Duration
	MaxPollInterval time.Duration
}

// Client calls one scanner adapter. It is safe for concurrent use.
type Client struct {
	opts Options
	base string // {URL}/api/v1, without a trailing slash
	http *http.Client
}

// New checks the options and returns a client. It does not call the
// adapter: Metadata does, and is what a registration should try first.
func New(opts Options) (*Client, error) {
	base, host, err := apiBase(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = host
	}
	if err := checkAuthorization(opts.Authorization); err != nil {
		return nil, errdefs.Invalidf("the scanner adapter's authorization: %v", err)
	}
	switch {
	case opts.ReportMIMEType == "":
		opts.ReportMIMEType = MIMEVulnerabilityReport
	case !isVulnerabilityReport(opts.ReportMIMEType):
		return nil, errdefs.Invalidf("the report type %q is not a vulnerability report berth reads (%s, %s)",
			opts.ReportMIMEType, MIMEVulnerabilityReport, MIMEHarborVulnerabilityReport)
	}
	if opts.MaxReportSize <= 0 {
		opts.MaxReportSize = DefaultMaxReportSize
	}
	if opts.MaxMetadataSize <= 0 {
		opts.MaxMetadataSize = DefaultMaxMetadataSize
	}
	if opts.MaxVulnerabilities <= 0 {
		opts.MaxVulnerabilities = DefaultMaxVulnerabilities
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.MaxPollInterval <= 0 {
		opts.MaxPollInterval = DefaultMaxPollInterval
	}
	opts.PollInterval = max(opts.PollInterval, MinPollInterval)
	opts.MaxPollInterval = max(opts.MaxPollInterval, opts.PollInterval)

	var hc http.Client
	if opts.HTTPClient != nil {
		hc = *opts.HTTPClient // a copy: the caller's client keeps its redirect policy
	} else {
		hc.Timeout = DefaultTimeout
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{opts: opts, base: base, http: &hc}, nil
}

// Name is the adapter's name, as errors give it.
func (c *Client) Name() string { return c.opts.Name }

// apiBase checks an adapter's base URL and returns the API's base and the
// URL's host.
func apiBase(raw string) (base, host string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", errdefs.Invalidf("the scanner adapter's URL does not parse: %v", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", "", errdefs.Invalidf("the scanner adapter's URL must be http or https, not %q", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return "", "", errdefs.Invalidf("the scanner adapter's URL has no host")
	case u.User != nil:
		return "", "", errdefs.Invalidf("the scanner adapter's URL must not carry credentials: give them as its authorization")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", "", errdefs.Invalidf("the scanner adapter's URL must not have a query or fragment")
	}
	p := strings.TrimRight(u.EscapedPath(), "/")
	if !strings.HasSuffix(p, "/api/v1") {
		p += "/api/v1"
	}
	return u.Scheme + "://" + u.Host + p, u.Host, nil
}

// checkAuthorization checks an Authorization header value: bounded,
// printable, and "<scheme> <credentials>" when not empty.
func checkAuthorization(v string) error {
	if v == "" {
		return nil
	}
	if len(v) > maxAuthorization {
		return fmt.Errorf("longer than %d bytes", maxAuthorization)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return errors.New("only printable ASCII characters are allowed")
		}
	}
	scheme, cred, ok := strings.Cut(v, " ")
	if !ok || scheme == "" || strings.TrimSpace(cred) == "" {
		return errors.New(`expected "<scheme> <credentials>", such as "Bearer <token>" or "Basic <base64>"`)
	}
	return nil
}

// do sends a request to path under the API. A transport failure comes
// back as an *Error of kind ErrUnreachable.
func (c *Client) do(ctx context.Context, op, method, path string, body []byte, header ...string) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil { // the base URL was checked: only a nil ctx gets here
		return nil, fmt.Errorf("scanner adapter %q: %s: %w", c.opts.Name, op, err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if c.opts.Authorization != "" {
		req.Header.Set("Authorization", c.opts.Authorization)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.fail(op, 0, ErrUnreachable, "", err)
	}
	return resp, nil
}

// fail makes the error of a failed call.
func (c *Client) fail(op string, status int, kind error, message string, cause error) *Error {
	return &Error{Adapter: c.opts.Name, Op: op, Status: status, Kind: kind, Message: message, Cause: cause}
}

// statusError is the error of an answer with a status the operation
// does not expect; it reads the adapter's message and closes the body.
func (c *Client) statusError(op string, resp *http.Response) *Error {
	defer drain(resp)
	msg := adapterMessage(resp)
	kind := ErrFailed
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		kind = ErrUnauthorized
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity, http.StatusNotImplemented:
		kind = ErrRejected
	case http.StatusNotFound:
		if msg == "" && op == opMetadata {
			msg = "is the URL the adapter's base URL, the one its API is under at /api/v1?"
		}
	}
	return c.fail(op, resp.StatusCode, kind, msg, nil)
}

// badAnswer is the error of an answer that does not follow the API, or
// of one over its size limit.
func (c *Client) badAnswer(op string, status int, err error, limit int64) *Error {
	if errors.Is(err, errBodyTooLarge) {
		return c.fail(op, status, ErrTooLarge, fmt.Sprintf("over the limit of %d bytes", limit), nil)
	}
	return c.fail(op, status, ErrBadAnswer, "", err)
}
