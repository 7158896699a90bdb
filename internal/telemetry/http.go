package telemetry

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// Route names the class of a request, such as
// "/v2/{name}/manifests/{reference}", and gives the attributes that say
// which resource it is about (repository names, digests), which do not
// belong in a span name: span names must come from a small, fixed set.
type Route func(r *http.Request) (route string, attrs []attribute.KeyValue)

// HTTP returns next wrapped so that every request gets a server span named
// "<METHOD> <route>", a child of the trace in the request's traceparent
// header when it has one. Requests for which skip returns true get no span.
// The span is in the request's context when next runs.
func (t Tracing) HTTP(next http.Handler, route Route, skip func(*http.Request) bool) http.Handler {
	tagged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt, attrs := route(r)
		span := trace.SpanFromContext(r.Context())
		span.SetAttributes(attribute.String("http.route", rt))
		span.SetAttributes(attrs...)
		next.ServeHTTP(w, r)
	})
	return otelhttp.NewHandler(tagged, "",
		otelhttp.WithTracerProvider(t.Provider),
		otelhttp.WithPropagators(t.Propagator),
		// berth's request metrics are Prometheus's (internal/server).
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool { return !skip(r) }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			rt, _ := route(r)
			return method(r.Method) + " " + rt
		}),
	)
}

// method is r.Method when it is a standard one and "HTTP" otherwise, as
// the semantic conventions say: clients choose methods, and any string
// would do.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "HTTP"
}
