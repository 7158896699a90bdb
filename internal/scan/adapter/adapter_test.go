package adapter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/scan/adapter"
)

// Credentials the spec adapter checks, and that no error may quote.
const (
	adapterAuth  = "Bearer adapter-secret-7f3a"
	registryAuth = "Bearer registry-pull-token-91c2"
)

const (
	imageDigest = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"
	layerDigest = "sha256:2d3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3c"
)

// scanRequest is what berth asks the spec adapter to scan.
func scanRequest() adapter.ScanRequest {
	return adapter.ScanRequest{
		Registry: adapter.Registry{URL: "https://berth.example.com", Authorization: registryAuth},
		Artifact: adapter.Artifact{Repository: "team/app", Digest: imageDigest, Tag: "1.0", MIMEType: adapter.MIMEOCIManifest},
	}
}

// specAdapter is an adapter speaking the Pluggable Scanner API v1.1, as
// the spec describes it, written here from the spec rather than from the
// client's types: it requires its Authorization, checks the scan
// request's media type and every field against scanRequest(), answers
// 302 for the first pending polls, then serves report (or what a test
// puts in place of a handler).
type specAdapter struct {
	t       *testing.T
	server  *httptest.Server
	pending int
	// headers are set on every 302.
	headers map[string]string
	// report is the report's JSON; reportType its Content-Type.
	report     string
	reportType string
	// scanID is what POST /scan answers.
	scanID string

	mu      sync.Mutex
	polls   int
	scans   int
	handler map[string]http.HandlerFunc // replaces a route: "metadata", "scan", "report"
}

const defaultReport = `{
  "generated_at": "2026-01-02T03:04:05.123Z",
  "artifact": {"repository": "team/app", "digest": "` + imageDigest + `", "tag": "1.0", "mime_type": "application/vnd.oci.image.manifest.v1+json"},
  "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.58.0"},
  "severity": "Critical",
  "vulnerabilities": [
    {"id": "CVE-2023-0002", "package": "zlib", "version": "1.2.13-r0", "fix_version": "", "severity": "Low",
     "description": "zlib\nis slow", "links": ["https://avd.aquasec.com/nvd/cve-2023-0002"]},
    {"id": "GHSA-xxxx-yyyy-zzzz", "package": "golang.org/x/net", "version": "v0.1.0", "fix_version": "0.17.0",
     "severity": "Critical", "description": "HTTP/2 rapid reset",
     "links": ["https://github.com/advisories/GHSA-xxxx-yyyy-zzzz", "https://nvd.nist.gov/vuln/detail/CVE-2023-44487", "javascript:alert(1)"],
     "preferred_cvss": {"score_v3": 9.8, "vector_v3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "score_v2": 7.5, "vector_v2": "AV:N/AC:L/Au:N/C:P/I:P/A:P"},
     "cwe_ids": ["CWE-400"], "vendor_attributes": {"CVSS": {"nvd": {"V3Score": 9.8}}},
     "layer": {"digest": "` + layerDigest + `", "diff_id": "sha256:abc"}}
  ]
}`

func newSpecAdapter(t *testing.T) *specAdapter {
	a := &specAdapter{t: t, report: defaultReport, reportType: adapter.MIMEVulnerabilityReport, scanID: "3fa85f64-5717-4562-b3fc-2c963f66afa6",
		headers: map[string]string{"Retry-After": "1"}, handler: map[string]http.HandlerFunc{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/metadata", a.route("metadata", a.metadata))
	mux.HandleFunc("POST /api/v1/scan", a.route("scan", a.scan))
	mux.HandleFunc("GET /api/v1/scan/{id}/report", a.route("report", a.getReport))
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the client followed the 302 of a pending report to %s", r.URL)
		writeJSON(w, http.StatusOK, a.reportType, a.report)
	})
	a.server = httptest.NewServer(mux)
	t.Cleanup(a.server.Close)
	return a
}

// client is a client of the adapter, as a registration named "trivy".
func (a *specAdapter) client(opts ...func(*adapter.Options)) *adapter.Client {
	o := adapter.Options{Name: "trivy", URL: a.server.URL, Authorization: adapterAuth, PollInterval: time.Second}
	for _, f := range opts {
		f(&o)
	}
	c, err := adapter.New(o)
	if err != nil {
		a.t.Fatal(err)
	}
	return c
}

func (a *specAdapter) route(name string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != adapterAuth {
			writeError(w, http.StatusUnauthorized, "invalid credentials")
			return
		}
		a.mu.Lock()
		custom := a.handler[name]
		a.mu.Unlock()
		if custom != nil {
			custom(w, r)
			return
		}
		h(w, r)
	}
}

func (a *specAdapter) metadata(w http.ResponseWriter, r *http.Request) {
	if !acceptsType(r.Header.Get("Accept"), "application/vnd.scanner.adapter.metadata+json") {
		a.t.Errorf("metadata Accept %q", r.Header.Get("Accept"))
	}
	writeJSON(w, http.StatusOK, "application/vnd.scanner.adapter.metadata+json; version=1.0", `{
	  "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.58.0"},
	  "capabilities": [{
	    "consumes_mime_types": ["application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"],
	    "produces_mime_types": ["application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0", "application/vnd.security.vulnerability.report; version=1.1"]
	  }],
	  "properties": {"harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
	    "harbor.scanner-adapter/vulnerability-database-updated-at": "2026-01-01T00:00:00Z"}
	}`)
}

func (a *specAdapter) scan(w http.ResponseWriter, r *http.Request) {
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil ||
		mt != "application/vnd.scanner.adapter.scan.request+json" || params["version"] != "1.0" {
		writeError(w, http.StatusBadRequest, "unsupported Content-Type "+r.Header.Get("Content-Type"))
		return
	}
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	want := map[string]any{
		"registry": map[string]any{"url": "https://berth.example.com", "authorization": registryAuth},
		"artifact": map[string]any{"repository": "team/app", "digest": imageDigest, "tag": "1.0",
			"mime_type": "application/vnd.oci.image.manifest.v1+json"},
	}
	if got, exp := fmt.Sprint(req), fmt.Sprint(want); got != exp {
		a.t.Errorf("scan request\n got %s\nwant %s", got, exp)
		writeError(w, http.StatusUnprocessableEntity, "unexpected scan request")
		return
	}
	a.mu.Lock()
	a.scans++
	a.mu.Unlock()
	writeJSON(w, http.StatusAccepted, "application/vnd.scanner.adapter.scan.response+json; version=1.0",
		fmt.Sprintf(`{"id": %q}`, a.scanID))
}

func (a *specAdapter) getReport(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != a.scanID {
		writeError(w, http.StatusNotFound, "cannot find scan job: "+r.PathValue("id"))
		return
	}
	if accept := r.Header.Get("Accept"); accept != adapter.MIMEVulnerabilityReport && accept != adapter.MIMEHarborVulnerabilityReport {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported media type "+accept)
		return
	}
	a.mu.Lock()
	a.polls++
	pending := a.polls <= a.pending
	a.mu.Unlock()
	if pending {
		// A client that follows this redirect fails the test.
		w.Header().Set("Location", "/elsewhere")
		for k, v := range a.headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(http.StatusFound)
		return
	}
	writeJSON(w, http.StatusOK, a.reportType, a.report)
}

func (a *specAdapter) set(route string, h http.HandlerFunc) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.handler[route] = h
}

func (a *specAdapter) pollCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.polls
}

func (a *specAdapter) scanCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.scans
}

func acceptsType(accept, base string) bool {
	for _, part := range strings.Split(accept, ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == base {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, contentType, body string) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func writeError(w http.ResponseWriter, status int, message string) {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"message": message}})
	writeJSON(w, status, "application/vnd.scanner.adapter.error+json; version=1.0", string(b))
}

// noSecrets fails the test if err quotes a credential.
func noSecrets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range []string{"adapter-secret", "registry-pull-token"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("the error quotes a credential: %v", err)
		}
	}
}

func TestMetadataReadsTheScannerItsCapabilitiesAndTheReportTypeToAskFor(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	m, err := a.client().Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m.Scanner != (adapter.Scanner{Name: "Trivy", Vendor: "Aqua Security", Version: "0.58.0"}) {
		t.Errorf("scanner %+v", m.Scanner)
	}
	if len(m.Capabilities) != 1 || len(m.Capabilities[0].ConsumesMIMETypes) != 2 || len(m.Capabilities[0].ProducesMIMETypes) != 2 {
		t.Errorf("capabilities %+v", m.Capabilities)
	}
	if m.Properties["harbor.scanner-adapter/scanner-type"] != "os-package-vulnerability" {
		t.Errorf("properties %v", m.Properties)
	}
	for _, tc := range []struct {
		artifact string
		want     string
	}{
		{adapter.MIMEOCIManifest, adapter.MIMEVulnerabilityReport},
		{adapter.MIMEDockerManifest, adapter.MIMEVulnerabilityReport},
		{"application/vnd.oci.image.index.v1+json", ""},
	} {
		if got, ok := m.ReportMIMEType(tc.artifact); got != tc.want || ok != (tc.want != "") {
			t.Errorf("ReportMIMEType(%s) = %q, %v; want %q", tc.artifact, got, ok, tc.want)
		}
	}
}

func TestReportMIMETypeFallsBackToTheV10ReportAndSkipsSBOMCapabilities(t *testing.T) {
	m := &adapter.Metadata{Capabilities: []adapter.Capability{
		{Type: "sbom", ConsumesMIMETypes: []string{adapter.MIMEOCIManifest}, ProducesMIMETypes: []string{adapter.MIMEVulnerabilityReport}},
		{Type: "vulnerability", ConsumesMIMETypes: []string{adapter.MIMEOCIManifest},
			ProducesMIMETypes: []string{adapter.MIMERawReport, "application/vnd.scanner.adapter.vuln.report.harbor+json;version=1.0"}},
	}}
	if got, ok := m.ReportMIMEType(adapter.MIMEOCIManifest); !ok || got != adapter.MIMEHarborVulnerabilityReport {
		t.Errorf("ReportMIMEType = %q, %v; want the v1.0 report", got, ok)
	}
	m.Capabilities = m.Capabilities[:1]
	if got, ok := m.ReportMIMEType(adapter.MIMEOCIManifest); ok {
		t.Errorf("an SBOM capability gave the report type %q", got)
	}
}

func TestScanAndWaitHonoursRetryAfterUntilTheReport(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	a.pending = 1
	start := time.Now()
	r, err := a.client().ScanAndWait(context.Background(), scanRequest(), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("the report came after %s: the client did not wait the Retry-After of 1 s", elapsed)
	}
	if a.pollCount() != 2 || a.scanCount() != 1 {
		t.Errorf("%d scans and %d polls; want 1 and 2 (one 302, one 200)", a.scanCount(), a.pollCount())
	}
	if want := time.Date(2026, 1, 2, 3, 4, 5, 123e6, time.UTC); !r.GeneratedAt.Equal(want) {
		t.Errorf("generated_at %s", r.GeneratedAt)
	}
	if r.Artifact.Digest != imageDigest || r.Artifact.Repository != "team/app" || r.Scanner.Name != "Trivy" || r.Severity != "Critical" {
		t.Errorf("report %+v", r)
	}
	if r.MIMEType != adapter.MIMEVulnerabilityReport || r.Dropped != 0 || len(r.Vulnerabilities) != 2 {
		t.Fatalf("report type %q, %d vulnerabilities, %d dropped", r.MIMEType, len(r.Vulnerabilities), r.Dropped)
	}
	v := r.Vulnerabilities[1]
	if v.ID != "GHSA-xxxx-yyyy-zzzz" || v.Package != "golang.org/x/net" || v.Version != "v0.1.0" || v.FixVersion != "0.17.0" ||
		v.Severity != "Critical" || v.PreferredCVSS == nil || *v.PreferredCVSS.ScoreV3 != 9.8 || v.Layer == nil ||
		v.Layer.Digest != layerDigest || len(v.CWEIDs) != 1 {
		t.Errorf("vulnerability %+v", v)
	}
}

func TestReportWaitsAsTheAdapterSaysWithinBounds(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	a.pending = 1 << 30
	c := a.client(func(o *adapter.Options) { o.PollInterval, o.MaxPollInterval = 2*time.Second, 30*time.Second })
	for _, tc := range []struct {
		name    string
		headers map[string]string
		min     time.Duration
		max     time.Duration
	}{
		{"the spec's Refresh-After", map[string]string{"Refresh-After": "3"}, 3 * time.Second, 3 * time.Second},
		{"Retry-After in seconds", map[string]string{"Retry-After": "7"}, 7 * time.Second, 7 * time.Second},
		{"Retry-After as a date", map[string]string{"Retry-After": time.Now().Add(12 * time.Second).UTC().Format(http.TimeFormat)},
			9 * time.Second, 12 * time.Second},
		{"no header: the poll interval (Trivy's adapter)", nil, 2 * time.Second, 2 * time.Second},
		{"garbage: the poll interval", map[string]string{"Retry-After": "soon"}, 2 * time.Second, 2 * time.Second},
		{"zero: at least a second", map[string]string{"Retry-After": "0"}, time.Second, time.Second},
		{"a day: at most the cap", map[string]string{"Refresh-After": "86400"}, 30 * time.Second, 30 * time.Second},
	} {
		a.mu.Lock()
		a.headers = tc.headers
		a.mu.Unlock()
		r, wait, err := c.Report(context.Background(), a.scanID)
		if err != nil || r != nil {
			t.Fatalf("%s: a 302 gave %v, %v", tc.name, r, err)
		}
		if wait < tc.min || wait > tc.max {
			t.Errorf("%s: wait %s, want %s to %s", tc.name, wait, tc.min, tc.max)
		}
	}
}

func TestAdapterErrorsNameTheAdapterTheStatusAndTheAdaptersMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		route   string
		status  int
		message string
		kind    error
	}{
		{"the scan fails", "report", http.StatusInternalServerError, "trivy: analyze error: failed to pull image: denied", adapter.ErrFailed},
		{"the adapter cannot enqueue", "scan", http.StatusInternalServerError, "enqueuing scan job: redis: connection refused", adapter.ErrFailed},
		{"the adapter refuses a field", "scan", http.StatusUnprocessableEntity, "missing artifact.digest", adapter.ErrRejected},
		{"the adapter refuses the JSON", "scan", http.StatusBadRequest, "unmarshalling scan request: unexpected EOF", adapter.ErrRejected},
		{"the adapter forgot the scan", "report", http.StatusNotFound, "cannot find scan job", adapter.ErrScanNotFound},
		{"the adapter is overloaded", "report", http.StatusServiceUnavailable, "busy", adapter.ErrFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newSpecAdapter(t)
			a.set(tc.route, func(w http.ResponseWriter, r *http.Request) { writeError(w, tc.status, tc.message+"\nforged log line") })
			c := a.client(func(o *adapter.Options) { o.PollInterval = time.Second })
			_, err := c.ScanAndWait(context.Background(), scanRequest(), 10*time.Second)
			var e *adapter.Error
			if !errors.As(err, &e) || !errors.Is(err, tc.kind) || e.Status != tc.status {
				t.Fatalf("error %v; want %v with HTTP %d", err, tc.kind, tc.status)
			}
			if e.Adapter != "trivy" || !strings.Contains(e.Message, tc.message) || strings.Contains(e.Message, "\n") {
				t.Errorf("error %+v: want the adapter's name and its message on one line", e)
			}
			for _, part := range []string{`scanner adapter "trivy"`, fmt.Sprint("HTTP ", tc.status), tc.message} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("%q does not say %q", err, part)
				}
			}
			noSecrets(t, err)
		})
	}
}

func TestWrongCredentialsAreUnauthorized(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	_, err := a.client(func(o *adapter.Options) { o.Authorization = "Bearer wrong" }).Metadata(context.Background())
	if !errors.Is(err, adapter.ErrUnauthorized) || !strings.Contains(err.Error(), "HTTP 401: adapter refused berth's credentials: invalid credentials") {
		t.Errorf("error %v", err)
	}
}

func TestATransientFailureWhilePollingIsRetried(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	var once sync.Once
	a.set("report", func(w http.ResponseWriter, r *http.Request) {
		first := false
		once.Do(func() { first = true })
		if first {
			writeError(w, http.StatusServiceUnavailable, "restarting")
			return
		}
		a.getReport(w, r)
	})
	r, err := a.client().ScanAndWait(context.Background(), scanRequest(), 10*time.Second)
	if err != nil || len(r.Vulnerabilities) != 2 {
		t.Fatalf("report %v, error %v", r, err)
	}
}

func TestAnOversizedReportIsRefused(t *testing.T) {
	t.Parallel()
	big := `{"vulnerabilities": [` + strings.Repeat(`{"id": "CVE-2024-0001", "package": "p", "severity": "Low"},`, 200) +
		`{"id": "CVE-2024-0002"}]}`
	for _, tc := range []struct {
		name    string
		chunked bool
	}{{"with its Content-Length", false}, {"streamed without one", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newSpecAdapter(t)
			a.set("report", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", adapter.MIMEVulnerabilityReport)
				if !tc.chunked {
					w.Header().Set("Content-Length", fmt.Sprint(len(big)))
				}
				for i := 0; i < len(big); i += 1000 {
					_, _ = io.WriteString(w, big[i:min(i+1000, len(big))])
					w.(http.Flusher).Flush()
				}
			})
			c := a.client(func(o *adapter.Options) { o.MaxReportSize = 4 << 10 })
			_, _, err := c.Report(context.Background(), a.scanID)
			if !errors.Is(err, adapter.ErrTooLarge) || !strings.Contains(err.Error(), "4096 bytes") {
				t.Errorf("error %v; want ErrTooLarge naming the limit", err)
			}
			c = a.client(func(o *adapter.Options) { o.MaxReportSize = 64 << 10 })
			if r, _, err := c.Report(context.Background(), a.scanID); err != nil || len(r.Vulnerabilities) != 201 {
				t.Errorf("under the limit: %v", err)
			}
		})
	}
}

func TestOversizedMetadataIsRefused(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	a.set("metadata", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, adapter.MIMEMetadata, `{"scanner": {"name": "x"}, "properties": {"k": "`+strings.Repeat("v", 2<<20)+`"}}`)
	})
	if _, err := a.client().Metadata(context.Background()); !errors.Is(err, adapter.ErrTooLarge) {
		t.Errorf("error %v", err)
	}
}

func TestAReportOfTheWrongTypeOrShapeIsAClearError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		contentType string
		body        string
		says        string
	}{
		{"an HTML page", "text/html; charset=utf-8", "<html>proxy error</html>", `the answer is "text/html; charset=utf-8", not application/vnd.security.vulnerability.report; version=1.1`},
		{"the raw report", adapter.MIMERawReport, `{"vendor_specific": "report"}`, "not application/vnd.security.vulnerability.report"},
		{"the v1.0 report when v1.1 was asked for", adapter.MIMEHarborVulnerabilityReport, defaultReport, "not application/vnd.security.vulnerability.report; version=1.1"},
		{"no Content-Type", "", defaultReport, "no Content-Type"},
		{"truncated JSON", adapter.MIMEVulnerabilityReport, defaultReport[:300], "unexpected EOF"},
		{"not an object", adapter.MIMEVulnerabilityReport, `[1, 2]`, "not a JSON object"},
		{"vulnerabilities not a list", adapter.MIMEVulnerabilityReport, `{"vulnerabilities": {"id": "x"}}`, "vulnerabilities: expected an array"},
		{"a severity that is a number", adapter.MIMEVulnerabilityReport, `{"vulnerabilities": [{"id": "CVE-1", "severity": 3}]}`, "vulnerability 0: json: cannot unmarshal number"},
		{"a vulnerability without id", adapter.MIMEVulnerabilityReport, `{"vulnerabilities": [{"id": "CVE-1"}, {"package": "p"}]}`, "vulnerability 1 has no id"},
		{"two documents", adapter.MIMEVulnerabilityReport, `{} {}`, "data after the report's JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newSpecAdapter(t)
			a.set("report", func(w http.ResponseWriter, r *http.Request) {
				if tc.contentType == "" {
					w.Header()["Content-Type"] = nil // no sniffing either
				} else {
					w.Header().Set("Content-Type", tc.contentType)
				}
				_, _ = io.WriteString(w, tc.body)
			})
			_, _, err := a.client().Report(context.Background(), a.scanID)
			if !errors.Is(err, adapter.ErrBadAnswer) || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), `"trivy"`) {
				t.Errorf("error %v; want ErrBadAnswer saying %q", err, tc.says)
			}
		})
	}
}

func TestPlainJSONIsAcceptedForTheReport(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	a.reportType = "application/json; charset=utf-8"
	r, _, err := a.client().Report(context.Background(), a.scanID)
	if err != nil || len(r.Vulnerabilities) != 2 {
		t.Fatalf("report %v, error %v", r, err)
	}
}

func TestTheV10ReportIsReadWhenAskedFor(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	a.reportType = adapter.MIMEHarborVulnerabilityReport
	c := a.client(func(o *adapter.Options) { o.ReportMIMEType = adapter.MIMEHarborVulnerabilityReport })
	r, _, err := c.Report(context.Background(), a.scanID)
	if err != nil || r.MIMEType != adapter.MIMEHarborVulnerabilityReport {
		t.Fatalf("report %v, error %v", r, err)
	}
}

func TestAContextDeadlineEndsPolling(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	a.pending = 1 << 30
	start := time.Now()
	_, err := a.client().ScanAndWait(context.Background(), scanRequest(), 1500*time.Millisecond)
	elapsed := time.Since(start)
	if !errors.Is(err, adapter.ErrTimedOut) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v; want ErrTimedOut and context.DeadlineExceeded", err)
	}
	if elapsed < 1500*time.Millisecond || elapsed > 3*time.Second {
		t.Errorf("polling ended after %s; want the deadline of 1.5 s", elapsed)
	}
	if n := a.pollCount(); n != 2 {
		t.Errorf("%d polls in 1.5 s with Retry-After: 1; want 2", n)
	}
	if !strings.Contains(err.Error(), `report of scan "3fa85f64-5717-4562-b3fc-2c963f66afa6"`) {
		t.Errorf("error %v does not name the scan", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := a.client().ScanAndWait(ctx, scanRequest(), time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the caller's deadline: %v", err)
	}
}

func TestAReportAboutAnotherArtifactIsRefused(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	a.report = strings.Replace(defaultReport, imageDigest, layerDigest, 1)
	_, err := a.client().ScanAndWait(context.Background(), scanRequest(), 10*time.Second)
	if !errors.Is(err, adapter.ErrBadAnswer) || !strings.Contains(err.Error(), "the report is about") {
		t.Errorf("error %v", err)
	}
}

func TestTheScanIDIsBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, body, says string }{
		{"too long", fmt.Sprintf(`{"id": %q}`, strings.Repeat("a", 257)), "longer than 256"},
		{"with a space", `{"id": "a b"}`, "printable ASCII"},
		{"empty", `{"id": ""}`, "empty"},
		{"missing", `{}`, "no id"},
		{"not a string", `{"id": 7}`, "cannot unmarshal number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newSpecAdapter(t)
			a.set("scan", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusAccepted, adapter.MIMEScanResponse, tc.body)
			})
			_, err := a.client().Scan(context.Background(), scanRequest())
			if !errors.Is(err, adapter.ErrBadAnswer) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %v; want ErrBadAnswer saying %q", err, tc.says)
			}
			noSecrets(t, err)
		})
	}
}

func TestAScanIDIsPathEscaped(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	a.scanID = "job/1?x#y"
	id, err := a.client().Scan(context.Background(), scanRequest())
	if err != nil {
		t.Fatal(err)
	}
	if r, _, err := a.client().Report(context.Background(), id); err != nil || r == nil {
		t.Errorf("report of %q: %v", id, err)
	}
}

func TestEnabledCapabilitiesAreSentAsTheV11Request(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	var got struct {
		contentType string
		body        map[string]any
	}
	a.set("scan", func(w http.ResponseWriter, r *http.Request) {
		got.contentType = r.Header.Get("Content-Type")
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		writeJSON(w, http.StatusAccepted, adapter.MIMEScanResponse, `{"id": "1"}`)
	})
	req := scanRequest()
	req.EnabledCapabilities = []adapter.EnabledCapability{{Type: adapter.CapabilityVulnerability,
		ProducesMIMETypes: []string{adapter.MIMEVulnerabilityReport}}}
	if _, err := a.client().Scan(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got.contentType != adapter.MIMEScanRequestV1_1 {
		t.Errorf("Content-Type %q", got.contentType)
	}
	if want := `[map[produces_mime_types:[application/vnd.security.vulnerability.report; version=1.1] type:vulnerability]]`; fmt.Sprint(got.body["enabled_capabilities"]) != want {
		t.Errorf("enabled_capabilities %v", got.body["enabled_capabilities"])
	}
}

func TestNewRefusesABadConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts adapter.Options
		says string
	}{
		{"not http", adapter.Options{URL: "ftp://scanner:8080"}, "http or https"},
		{"no scheme", adapter.Options{URL: "scanner:8080"}, "http or https"},
		{"no host", adapter.Options{URL: "http:///api"}, "no host"},
		{"credentials in the URL", adapter.Options{URL: "http://user:adapter-secret@scanner"}, "credentials"},
		{"a query", adapter.Options{URL: "http://scanner/?x=1"}, "query"},
		{"a header injection", adapter.Options{URL: "http://scanner", Authorization: "Bearer adapter-secret\r\nX-Evil: 1"}, "printable"},
		{"no scheme in the authorization", adapter.Options{URL: "http://scanner", Authorization: "adapter-secret"}, "<scheme> <credentials>"},
		{"the raw report", adapter.Options{URL: "http://scanner", ReportMIMEType: adapter.MIMERawReport}, "not a vulnerability report"},
	} {
		_, err := adapter.New(tc.opts)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: error %v; want ErrInvalid saying %q", tc.name, err, tc.says)
		}
		noSecrets(t, err)
	}
}

func TestTheAPIIsUnderAPIV1OfTheBaseURL(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	for _, u := range []string{a.server.URL, a.server.URL + "/", a.server.URL + "/api/v1", a.server.URL + "/api/v1/"} {
		c := a.client(func(o *adapter.Options) { o.URL = u })
		if _, err := c.Metadata(context.Background()); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	c := a.client(func(o *adapter.Options) { o.URL = a.server.URL + "/scanner" })
	if _, err := c.Metadata(context.Background()); !errors.Is(err, adapter.ErrFailed) || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("a wrong base URL: %v", err)
	}
}

func TestScanRefusesABadRequestWithoutSendingIt(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	for _, tc := range []struct {
		name   string
		change func(*adapter.ScanRequest)
		says   string
	}{
		{"a registry URL with a path", func(r *adapter.ScanRequest) { r.Registry.URL = "https://berth.example.com/registry" }, "path"},
		{"a registry URL that is not http", func(r *adapter.ScanRequest) { r.Registry.URL = "oci://berth" }, "http or https"},
		{"a malformed registry authorization", func(r *adapter.ScanRequest) { r.Registry.Authorization = registryAuth + "\n" }, "printable"},
		{"an invalid repository", func(r *adapter.ScanRequest) { r.Artifact.Repository = "Team/App" }, "repository name"},
		{"an invalid digest", func(r *adapter.ScanRequest) { r.Artifact.Digest = "sha256:abc" }, "digest"},
		{"an invalid tag", func(r *adapter.ScanRequest) { r.Artifact.Tag = "-x" }, "tag"},
		{"an invalid media type", func(r *adapter.ScanRequest) { r.Artifact.MIMEType = "not a type" }, "media type"},
	} {
		req := scanRequest()
		tc.change(&req)
		_, err := a.client().Scan(context.Background(), req)
		if !errors.Is(err, errdefs.ErrInvalid) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: error %v; want ErrInvalid saying %q", tc.name, err, tc.says)
		}
		noSecrets(t, err)
	}
	if n := a.scanCount(); n != 0 {
		t.Errorf("%d invalid requests reached the adapter", n)
	}
}

func TestPrintingAScanRequestHidesTheRegistryAuthorization(t *testing.T) {
	req := scanRequest()
	for _, s := range []string{fmt.Sprint(req), fmt.Sprintf("%+v", req), fmt.Sprintf("%v", &req)} {
		if strings.Contains(s, "registry-pull-token") || !strings.Contains(s, "<hidden>") {
			t.Errorf("printed: %s", s)
		}
	}
}

func TestAnUnreachableAdapterIsAClearError(t *testing.T) {
	t.Parallel()
	a := newSpecAdapter(t)
	c := a.client()
	a.server.Close()
	_, err := c.Metadata(context.Background())
	if !errors.Is(err, adapter.ErrUnreachable) || !strings.Contains(err.Error(), `scanner adapter "trivy": metadata: adapter unreachable`) {
		t.Errorf("error %v", err)
	}
}
