package adapter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
)

// The media types of the API, as the v1.1 spec names them.
const (
	MIMEMetadata     = "application/vnd.scanner.adapter.metadata+json; version=1.0"
	MIMEMetadataV1_1 = "application/vnd.scanner.adapter.metadata+json; version=1.1"
	// MIMEScanRequest is a scan request's type; MIMEScanRequestV1_1 the
	// type of one with enabled_capabilities (spec v1.2).
	MIMEScanRequest     = "application/vnd.scanner.adapter.scan.request+json; version=1.0"
	MIMEScanRequestV1_1 = "application/vnd.scanner.adapter.scan.request+json; version=1.1"
	MIMEScanResponse    = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
	MIMEError           = "application/vnd.scanner.adapter.error+json; version=1.0"
	// MIMEVulnerabilityReport is the v1.1 report (CVSS, CWE ids, vendor
	// attributes); MIMEHarborVulnerabilityReport the v1.0 one. Both have
	// the HarborVulnerabilityReport schema.
	MIMEVulnerabilityReport       = "application/vnd.security.vulnerability.report; version=1.1"
	MIMEHarborVulnerabilityReport = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
	// MIMERawReport is a vendor's own report, which berth does not read.
	MIMERawReport = "application/vnd.scanner.adapter.vuln.report.raw"

	// The artifact types adapters consume.
	MIMEOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MIMEDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

// mediaType is a parsed media type: its lower-case type/subtype and its
// version parameter.
type mediaType struct{ base, version string }

func parseMediaType(s string) (mediaType, bool) {
	base, params, err := mime.ParseMediaType(s)
	if err != nil {
		return mediaType{}, false
	}
	return mediaType{base: strings.ToLower(base), version: params["version"]}, true
}

// sameMediaType reports whether a and b name the same type; with
// version, their versions must be the same too.
func sameMediaType(a, b string, version bool) bool {
	ma, ok1 := parseMediaType(a)
	mb, ok2 := parseMediaType(b)
	return ok1 && ok2 && ma.base == mb.base && (!version || ma.version == mb.version)
}

// isVulnerabilityReport reports whether t is a report type berth reads.
func isVulnerabilityReport(t string) bool {
	return sameMediaType(t, MIMEVulnerabilityReport, true) || sameMediaType(t, MIMEHarborVulnerabilityReport, true)
}

// checkContentType checks an answer's Content-Type against the types
// expected. Plain application/json is accepted too: the schema is what
// matters, and some adapters answer with it.
func checkContentType(got string, version bool, want ...string) error {
	if got == "" {
		return fmt.Errorf("the answer has no Content-Type; expected %s", strings.Join(want, " or "))
	}
	if sameMediaType(got, "application/json", false) {
		return nil
	}
	for _, w := range want {
		if sameMediaType(got, w, version) {
			return nil
		}
	}
	return fmt.Errorf("the answer is %q, not %s", clip(got, 200), strings.Join(want, " or "))
}

// errBodyTooLarge is what a limitedReader returns past its limit.
var errBodyTooLarge = errors.New("body too large")

// limitedReader reads at most n bytes and fails, rather than stopping
// quietly, when there are more: a truncated JSON document must not pass
// as a complete one.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		return n, errBodyTooLarge
	}
	return n, err
}

// readBody reads a whole body of at most limit bytes.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, errBodyTooLarge
	}
	return io.ReadAll(&limitedReader{r: resp.Body, n: limit})
}

// adapterMessage reads the adapter's error message from an error answer:
// the ErrorResponse's message, or the start of a plain-text body.
// Adapters differ on the error's media type (the spec's ...error+json,
// Trivy's ...error without +json), so the JSON is tried whatever it is.
func adapterMessage(resp *http.Response) string {
	body, err := readBody(resp, maxSmallBody)
	if err != nil && !errors.Is(err, errBodyTooLarge) {
		return ""
	}
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return printable(e.Error.Message, maxMessage)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		return printable(string(body), 200)
	}
	return ""
}

// printable cuts s to n bytes and replaces control characters, so that
// an adapter's message cannot forge lines in a log or an error.
func printable(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, clip(s, n))
	// Map turns each invalid byte into U+FFFD, three bytes: cut again.
	return clip(strings.TrimSpace(s), n)
}

// clip cuts s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// drain reads a little of a body we do not use, so that the connection
// can be reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, maxSmallBody)
	resp.Body.Close()
}
