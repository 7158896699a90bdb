// Package adaptertest is a test server: a scanner adapter speaking
// Harbor's Pluggable Scanner Adapter API v1.1, for tests of berth's
// adapter support and end-to-end tests that register an adapter. It never
// runs in berth.
//
// It behaves as a real adapter does, as far as berth can tell: it
// requires the Authorization it was given, accepts a scan request only
// with the spec's media type and fields, pulls the artifact's manifest
// (and an image's config blob) from the registry URL in the request with
// the request's Authorization, checks the manifest's digest, and reports
// one vulnerability, in the image's first layer. Its report endpoint
// answers 302 with Refresh-After and Retry-After while the pull runs and
// for the first Options.Pending polls, 500 with the spec's ErrorResponse
// when the pull failed, and 200 with the report in the media type asked
// for.
package adaptertest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// The media types the server speaks, spelled as the spec spells them.
const (
	metadataType     = "application/vnd.scanner.adapter.metadata+json; version=1.0"
	scanRequestType  = "application/vnd.scanner.adapter.scan.request+json"
	scanResponseType = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
	errorType        = "application/vnd.scanner.adapter.error+json; version=1.0"
	reportV11        = "application/vnd.security.vulnerability.report; version=1.1"
	reportV10        = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
	ociManifest      = "application/vnd.oci.image.manifest.v1+json"
	dockerManifest   = "application/vnd.docker.distribution.manifest.v2+json"
	ociIndex         = "application/vnd.oci.image.index.v1+json"
	dockerList       = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// Vulnerability is what the server reports for every artifact it scans.
type Vulnerability struct {
	ID, Package, Version, FixVersion string
	// Severity is the spec's word: Unknown, Negligible, Low, Medium,
	// High, Critical.
	Severity    string
	Description string
	Links       []string
	// CVSSScore and CVSSVector are sent as the v1.1 report's
	// preferred_cvss v3 score and vector.
	CVSSScore  float64
	CVSSVector string
}

// DefaultVulnerability is reported when Options.Vulnerability is zero.
var DefaultVulnerability = Vulnerability{
	ID: "CVE-2024-12345", Package: "libexample", Version: "1.2.3-r0", FixVersion: "1.2.4-r0",
	Severity:    "High",
	Description: "A buffer overflow in libexample's parser allows remote code execution.",
	Links:       []string{"https://nvd.nist.gov/vuln/detail/CVE-2024-12345"},
	CVSSScore:   8.1, CVSSVector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
}

// Options configure the server.
type Options struct {
	// Authorization is the Authorization header berth must send; empty:
	// none required.
	Authorization string
	// Pending is how many polls of a report answer 302 before it.
	Pending int
	// RetryAfter is the seconds a 302 asks the client to wait; 0 means 1.
	RetryAfter int
	// Vulnerability is reported for every scan; zero: DefaultVulnerability.
	Vulnerability Vulnerability
	// Client pulls from the registry; nil: a client with a 30 s timeout.
	Client *http.Client
}

// Scan is one scan request the server accepted, and what its pull found.
type Scan struct {
	ID string
	// The request's fields.
	RegistryURL, Authorization        string
	Repository, Digest, Tag, MIMEType string
	// What the pull found: the manifest, its media type, its layers.
	Manifest     []byte
	ManifestType string
	Layers       []string
	// Done is set when the pull ended, Err when it failed.
	Done bool
	Err  error
	// Polls counts the report requests.
	Polls int
}

// Server is a running test adapter; its URL is the adapter's base URL.
type Server struct {
	*httptest.Server
	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	scans map[string]*Scan
	order []string
}

// New starts a server and closes it when the test ends.
func New(t testing.TB, opts Options) *Server {
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 1
	}
	if opts.Vulnerability.ID == "" {
		opts.Vulnerability = DefaultVulnerability
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	s := &Server{opts: opts, scans: map[string]*Scan{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/metadata", s.metadata)
	mux.HandleFunc("POST /api/v1/scan", s.acceptScan)
	mux.HandleFunc("GET /api/v1/scan/{id}/report", s.report)
	s.Server = httptest.NewServer(s.authorized(mux))
	t.Cleanup(s.Close)
	return s
}

// Close stops the pulls under way and the server.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
	s.Server.Close()
}

// Scans returns the scans accepted so far, in order.
func (s *Server) Scans() []Scan {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Scan, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, *s.scans[id])
	}
	return out
}

// authorized requires Options.Authorization on every request.
func (s *Server) authorized(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Authorization != "" && r.Header.Get("Authorization") != s.opts.Authorization {
			writeError(w, http.StatusUnauthorized, "missing or wrong Authorization")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) metadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, metadataType, map[string]any{
		"scanner": map[string]string{"name": "adaptertest", "vendor": "berth tests", "version": "1.0.0"},
		"capabilities": []map[string]any{{
			"consumes_mime_types": []string{ociManifest, dockerManifest},
			"produces_mime_types": []string{reportV11, reportV10},
		}},
		"properties": map[string]string{"harbor.scanner-adapter/scanner-type": "os-package-vulnerability"},
	})
}

// scanRequest is the spec's ScanRequest, with v1.2's enabled_capabilities.
type scanRequest struct {
	Registry struct {
		URL           string `json:"url"`
		Authorization string `json:"authorization"`
	} `json:"registry"`
	Artifact struct {
		Repository string `json:"repository"`
		Digest     string `json:"digest"`
		Tag        string `json:"tag"`
		MIMEType   string `json:"mime_type"`
	} `json:"artifact"`
	EnabledCapabilities []struct {
		Type              string   `json:"type"`
		ProducesMIMETypes []string `json:"produces_mime_types"`
		Parameters        any      `json:"parameters"`
	} `json:"enabled_capabilities"`
}

func (s *Server) acceptScan(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != scanRequestType {
		writeError(w, http.StatusBadRequest, "the scan request's Content-Type must be "+scanRequestType)
		return
	}
	var req scanRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "the scan request does not decode: "+err.Error())
		return
	}
	u, err := url.Parse(req.Registry.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		writeError(w, http.StatusUnprocessableEntity, "invalid registry.url")
		return
	case req.Artifact.Repository == "":
		writeError(w, http.StatusUnprocessableEntity, "missing artifact.repository")
		return
	case digest.Digest(req.Artifact.Digest).Validate() != nil:
		writeError(w, http.StatusUnprocessableEntity, "invalid artifact.digest")
		return
	case req.Artifact.MIMEType != ociManifest && req.Artifact.MIMEType != dockerManifest:
		writeError(w, http.StatusUnprocessableEntity, "unsupported artifact.mime_type "+strconv.Quote(req.Artifact.MIMEType))
		return
	}
	for _, c := range req.EnabledCapabilities {
		if c.Type != "vulnerability" {
			writeError(w, http.StatusUnprocessableEntity, "unsupported capability "+strconv.Quote(c.Type))
			return
		}
	}
	sc := &Scan{
		ID: rand.Text(), RegistryURL: req.Registry.URL, Authorization: req.Registry.Authorization,
		Repository: req.Artifact.Repository, Digest: req.Artifact.Digest, Tag: req.Artifact.Tag,
		MIMEType: req.Artifact.MIMEType,
	}
	s.mu.Lock()
	s.scans[sc.ID] = sc
	s.order = append(s.order, sc.ID)
	s.mu.Unlock()
	s.wg.Go(func() {
		pulled, err := s.pull(s.ctx, *sc)
		s.mu.Lock()
		defer s.mu.Unlock()
		sc.Manifest, sc.ManifestType, sc.Layers = pulled.Manifest, pulled.ManifestType, pulled.Layers
		sc.Done, sc.Err = true, err
	})
	writeJSON(w, http.StatusAccepted, scanResponseType, map[string]string{"id": sc.ID})
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	accept := r.Header.Get("Accept")
	var reportType string
	for _, t := range []string{reportV11, reportV10} {
		if sameType(accept, t) {
			reportType = t
		}
	}
	if reportType == "" {
		writeError(w, http.StatusBadRequest, "unsupported report type "+strconv.Quote(accept))
		return
	}
	s.mu.Lock()
	sc, ok := s.scans[r.PathValue("id")]
	var snap Scan
	if ok {
		sc.Polls++
		snap = *sc
	}
	s.mu.Unlock()
	switch {
	case !ok:
		writeError(w, http.StatusNotFound, "no scan "+strconv.Quote(r.PathValue("id")))
		return
	case !snap.Done || snap.Polls <= s.opts.Pending:
		w.Header().Set("Location", r.URL.String())
		w.Header().Set("Refresh-After", strconv.Itoa(s.opts.RetryAfter))
		w.Header().Set("Retry-After", strconv.Itoa(s.opts.RetryAfter))
		w.WriteHeader(http.StatusFound)
		return
	case snap.Err != nil:
		writeError(w, http.StatusInternalServerError, snap.Err.Error())
		return
	}
	v := s.opts.Vulnerability
	item := map[string]any{
		"id": v.ID, "package": v.Package, "version": v.Version, "fix_version": v.FixVersion,
		"severity": v.Severity, "description": v.Description, "links": v.Links,
	}
	if reportType == reportV11 && v.CVSSScore > 0 {
		item["preferred_cvss"] = map[string]any{"score_v3": v.CVSSScore, "vector_v3": v.CVSSVector}
	}
	if len(snap.Layers) > 0 {
		item["layer"] = map[string]string{"digest": snap.Layers[0]}
	}
	writeJSON(w, http.StatusOK, reportType, map[string]any{
		"generated_at": time.Now().UTC().Format(time.RFC3339Nano),
		"artifact": map[string]string{"repository": snap.Repository, "digest": snap.Digest,
			"tag": snap.Tag, "mime_type": snap.MIMEType},
		"scanner":         map[string]string{"name": "adaptertest", "vendor": "berth tests", "version": "1.0.0"},
		"severity":        v.Severity,
		"vulnerabilities": []any{item},
	})
}

// pull fetches the artifact's manifest, and an image's config blob, as
// an adapter does before it scans, checking their digests.
func (s *Server) pull(ctx context.Context, sc Scan) (Scan, error) {
	base := strings.TrimRight(sc.RegistryURL, "/") + "/v2/" + sc.Repository
	body, ctype, err := s.get(ctx, base+"/manifests/"+sc.Digest, sc.Authorization,
		strings.Join([]string{ociManifest, dockerManifest, ociIndex, dockerList}, ", "))
	if err != nil {
		return sc, fmt.Errorf("pulling the manifest: %w", err)
	}
	want := digest.Digest(sc.Digest)
	if got := want.Algorithm().FromBytes(body); got != want {
		return sc, fmt.Errorf("the registry's manifest has digest %s, not %s", got, want)
	}
	var m struct {
		Config *struct {
			Digest digest.Digest `json:"digest"`
		} `json:"config"`
		Layers []struct {
			Digest digest.Digest `json:"digest"`
		} `json:"layers"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return sc, fmt.Errorf("the manifest does not parse: %w", err)
	}
	sc.Manifest, sc.ManifestType = body, ctype
	for _, l := range m.Layers {
		sc.Layers = append(sc.Layers, l.Digest.String())
	}
	if m.Config != nil {
		config, _, err := s.get(ctx, base+"/blobs/"+m.Config.Digest.String(), sc.Authorization, "*/*")
		if err != nil {
			return sc, fmt.Errorf("pulling the config: %w", err)
		}
		if m.Config.Digest.Validate() != nil || m.Config.Digest.Algorithm().FromBytes(config) != m.Config.Digest {
			return sc, errors.New("the registry's config does not match its digest")
		}
	}
	return sc, nil
}

// get fetches a registry URL with the scan request's Authorization.
func (s *Server) get(ctx context.Context, u, authorization, accept string) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", accept)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("GET %s: HTTP %d: %s", u, resp.StatusCode, strings.TrimSpace(string(body[:min(len(body), 300)])))
	}
	return body, resp.Header.Get("Content-Type"), nil
}

// sameType compares media types by type and version.
func sameType(a, b string) bool {
	ta, pa, err1 := mime.ParseMediaType(a)
	tb, pb, err2 := mime.ParseMediaType(b)
	return err1 == nil && err2 == nil && ta == tb && pa["version"] == pb["version"]
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with the spec's ErrorResponse.
func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, errorType, map[string]any{"error": map[string]string{"message": message}})
}
