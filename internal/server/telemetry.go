package server

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/telemetry"
	"github.com/berth-registry/berth/registry/storage"
)

// startTracing sets up OpenTelemetry from the OTEL_* environment (see
// internal/telemetry). Its shutdown is the first closer, so Close runs it
// last and it flushes the spans of everything closed before.
func (s *Server) startTracing(ctx context.Context, version string) error {
	t, shutdown, err := telemetry.Setup(ctx, version, s.log)
	if err != nil {
		return &config.Error{Setting: "OTEL_EXPORTER_OTLP_ENDPOINT", Msg: err.Error()}
	}
	s.tracing = t
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return shutdown(ctx)
	})
	return nil
}

// tracedDatabase is the driver wrapper that gives database statements
// their spans, when tracing is on.
func (s *Server) tracedDatabase() []database.DriverWrapper {
	if !s.tracing.Enabled() {
		return nil
	}
	return []database.DriverWrapper{s.tracing.Database}
}

// tracedStorage gives the blob store's driver calls their spans, when
// tracing is on.
func (s *Server) tracedStorage(b *storage.Blobs) *storage.Blobs {
	if !s.tracing.Enabled() {
		return b
	}
	return b.WithTracing(s.tracing.Provider)
}

// tracedGraphQL is the gqlgen extension that gives each operation its
// span, when tracing is on.
func (s *Server) tracedGraphQL() []graphql.HandlerExtension {
	if !s.tracing.Enabled() {
		return nil
	}
	return []graphql.HandlerExtension{s.tracing.GraphQL()}
}

// tracedRequests gives every request but the probes a server span, when
// tracing is on; the request log, inside it, writes the span's trace id.
func (s *Server) tracedRequests(next http.Handler) http.Handler {
	if !s.tracing.Enabled() {
		return next
	}
	return s.tracing.HTTP(next, routeOf, isProbe)
}

// isProbe tells the requests of health checks and scrapers, which come
// every few seconds and would bury the traces worth reading.
func isProbe(r *http.Request) bool {
	switch r.URL.Path {
	case "/healthz", "/readyz", "/metrics":
		return true
	}
	return false
}

// fixedRoutes are the paths outside /v2/ that are their own route; any
// other path is the portal's.
var fixedRoutes = map[string]bool{
	"/graphql": true, "/service/token": true,
	"/auth/login": true, "/auth/logout": true,
	"/auth/oidc/login": true, "/auth/oidc/callback": true, "/auth/oidc/onboard": true, "/auth/oidc/logout": true,
	"/healthz": true, "/readyz": true, "/metrics": true,
}

// v2Routes are the /v2/ resources, found by their marker from the end of
// the path since repository names contain slashes (as registry/routes.go
// parses them). "/blobs/uploads/" comes before "/blobs/", which it
// contains.
var v2Routes = []struct{ marker, route, ref string }{
	{"/blobs/uploads/", "/v2/{name}/blobs/uploads/{reference}", "berth.upload"},
	{"/manifests/", "/v2/{name}/manifests/{reference}", "berth.reference"},
	{"/referrers/", "/v2/{name}/referrers/{digest}", "berth.digest"},
	{"/blobs/", "/v2/{name}/blobs/{digest}", "berth.digest"},
}

// routeOf names the route class of a request for its span and gives the
// repository and reference as attributes.
func routeOf(r *http.Request) (string, []attribute.KeyValue) {
	path := r.URL.Path
	p, ok := strings.CutPrefix(path, "/v2/")
	switch {
	case !ok && path == "/v2":
		return "/v2/", nil
	case !ok && fixedRoutes[path]:
		return path, nil
	case !ok:
		return "/", nil
	case p == "":
		return "/v2/", nil
	case p == "_catalog":
		return "/v2/_catalog", nil
	}
	if name, ok := strings.CutSuffix(p, "/tags/list"); ok {
		return "/v2/{name}/tags/list", []attribute.KeyValue{attribute.String("berth.repository", name)}
	}
	if name, ok := strings.CutSuffix(strings.TrimSuffix(p, "/"), "/blobs/uploads"); ok {
		return "/v2/{name}/blobs/uploads/", []attribute.KeyValue{attribute.String("berth.repository", name)}
	}
	best, bestAt := -1, -1
	for i, rt := range v2Routes {
		if at := strings.LastIndex(p, rt.marker); at > bestAt {
			best, bestAt = i, at
		}
	}
	if best < 0 || bestAt == 0 {
		return "/v2/{unknown}", nil
	}
	rt := v2Routes[best]
	return rt.route, []attribute.KeyValue{
		attribute.String("berth.repository", p[:bestAt]),
		attribute.String(rt.ref, p[bestAt+len(rt.marker):]),
	}
}
