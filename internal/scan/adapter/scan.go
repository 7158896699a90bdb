package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/errdefs"
)

// opScan names the scan operation in errors.
const opScan = "scan"

// ScanRequest asks an adapter to scan one artifact.
type ScanRequest struct {
	Registry Registry `json:"registry"`
	Artifact Artifact `json:"artifact"`
	// EnabledCapabilities (spec v1.2) narrows what the adapter does; empty
	// means everything it can, and is what v1.1 adapters expect. Set, the
	// request is sent as MIMEScanRequestV1_1.
	EnabledCapabilities []EnabledCapability `json:"enabled_capabilities,omitempty"`
}

// Registry is where and how the adapter pulls the artifact: berth's URL
// and the Authorization header it sends to berth's /v2/ API.
type Registry struct {
	// URL is berth's base URL as the adapter reaches it (scheme, host,
	// port; adapters build image references from the host and ignore any
	// path, so none is allowed).
	URL string `json:"url"`
	// Authorization is sent by the adapter with its registry requests:
	// "Bearer <token>" (a short-lived pull-only token) or "Basic
	// <base64>". A secret: String and LogValue hide it.
	Authorization string `json:"authorization,omitempty"`
}

// String hides the authorization, so that printing a request (%v, %+v)
// does not leak it.
func (r Registry) String() string {
	if r.Authorization == "" {
		return fmt.Sprintf("{%s}", r.URL)
	}
	return fmt.Sprintf("{%s authorization:<hidden>}", r.URL)
}

// LogValue hides the authorization from slog.
func (r Registry) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", r.URL), slog.Bool("authorization", r.Authorization != ""))
}

// Artifact is the artifact to scan, and the one a report is about.
type Artifact struct {
	// Repository is the repository's name, without the registry's host.
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
	Tag        string `json:"tag,omitempty"`
	// MIMEType is the manifest's media type (MIMEOCIManifest,
	// MIMEDockerManifest).
	MIMEType string `json:"mime_type,omitempty"`
}

// EnabledCapability is one capability a scan request enables.
type EnabledCapability struct {
	Type              string   `json:"type"`
	ProducesMIMETypes []string `json:"produces_mime_types,omitempty"`
}

// repositoryName is the OCI distribution grammar of a repository name.
var repositoryName = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)

// tagName is the OCI distribution grammar of a tag.
var tagName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// Check checks a scan request before it is sent: berth's URL, the
// authorization's form, the repository's name, the digest, the tag and
// the media type. Its errors are errdefs.ErrInvalid and never quote the
// authorization.
func (r *ScanRequest) Check() error {
	u, err := url.Parse(r.Registry.URL)
	switch {
	case err != nil:
		return errdefs.Invalidf("the registry URL does not parse: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return errdefs.Invalidf("the registry URL must be http or https, not %q", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return errdefs.Invalidf("the registry URL has no host")
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errdefs.Invalidf("the registry URL must not have credentials, a query or a fragment")
	case u.Path != "" && u.Path != "/":
		return errdefs.Invalidf("the registry URL must not have a path: adapters pull from the host's /v2/")
	}
	if err := checkAuthorization(r.Registry.Authorization); err != nil {
		return errdefs.Invalidf("the registry authorization: %v", err)
	}
	a := r.Artifact
	if len(a.Repository) > 4096 || !repositoryName.MatchString(a.Repository) {
		return errdefs.Invalidf("the repository name %q is not valid", clip(a.Repository, 256))
	}
	if d, err := digest.Parse(a.Digest); err != nil || d.Validate() != nil {
		return errdefs.Invalidf("the artifact digest %q is not valid", clip(a.Digest, 256))
	}
	if a.Tag != "" && !tagName.MatchString(a.Tag) {
		return errdefs.Invalidf("the tag %q is not valid", clip(a.Tag, 256))
	}
	if a.MIMEType != "" {
		if _, _, err := mime.ParseMediaType(a.MIMEType); err != nil || len(a.MIMEType) > maxShortText {
			return errdefs.Invalidf("the artifact media type %q is not valid", clip(a.MIMEType, 256))
		}
	}
	if len(r.EnabledCapabilities) > maxCapabilities {
		return errdefs.Invalidf("more than %d enabled capabilities", maxCapabilities)
	}
	return nil
}

// Scan checks req and sends it to the adapter, and returns the id of the
// scan the adapter enqueued (at most 256 printable ASCII characters).
func (c *Client) Scan(ctx context.Context, req ScanRequest) (string, error) {
	if err := req.Check(); err != nil {
		return "", err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	contentType := MIMEScanRequest
	if len(req.EnabledCapabilities) > 0 {
		contentType = MIMEScanRequestV1_1
	}
	resp, err := c.do(ctx, opScan, http.MethodPost, "/scan", body,
		"Content-Type", contentType, "Accept", MIMEScanResponse+", "+MIMEError)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusAccepted {
		return "", c.statusError(opScan, resp)
	}
	defer drain(resp)
	if err := checkContentType(resp.Header.Get("Content-Type"), false, MIMEScanResponse); err != nil {
		return "", c.badAnswer(opScan, resp.StatusCode, err, 0)
	}
	b, err := readBody(resp, maxSmallBody)
	if err != nil {
		return "", c.badAnswer(opScan, resp.StatusCode, err, maxSmallBody)
	}
	var sr struct {
		ID *string `json:"id"`
	}
	if err := json.Unmarshal(b, &sr); err != nil {
		return "", c.badAnswer(opScan, resp.StatusCode, err, 0)
	}
	if sr.ID == nil {
		return "", c.badAnswer(opScan, resp.StatusCode, fmt.Errorf("the scan response has no id"), 0)
	}
	if err := checkScanID(*sr.ID); err != nil {
		return "", c.badAnswer(opScan, resp.StatusCode, err, 0)
	}
	return *sr.ID, nil
}

// checkScanID checks a scan id: the spec imposes no format, so any
// printable ASCII without spaces, bounded; it is path-escaped in URLs.
func checkScanID(id string) error {
	if id == "" {
		return fmt.Errorf("the scan id is empty")
	}
	if len(id) > maxScanID {
		return fmt.Errorf("the scan id is longer than %d bytes", maxScanID)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= 0x20 || c > 0x7e {
			return fmt.Errorf("the scan id %q has characters other than printable ASCII", clip(id, 64))
		}
	}
	return nil
}
