// Package telemetry sends OpenTelemetry traces of berth to a collector over
// OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, and gives the pieces that make
// the spans: HTTP server spans, one span per GraphQL operation and one per
// database statement. Spans of storage calls are made by
// registry/storage.Traced.
//
// Nothing here sets OpenTelemetry's global tracer provider or propagator:
// internal/server passes the Tracing that Setup returns to each component.
// Without an endpoint, Setup returns a no-op provider and the server leaves
// every component unwrapped, so tracing costs nothing when it is off.
package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ServiceName is the service.name of berth's spans unless OTEL_SERVICE_NAME
// (or service.name in OTEL_RESOURCE_ATTRIBUTES) says otherwise.
const ServiceName = "berth"

// instrumentation names the tracer of every span berth makes itself.
const instrumentation = "github.com/berth-registry/berth"

// Tracing is what an instrumented component needs: the provider its spans
// come from and the propagator that reads trace context from requests.
// The zero value traces nothing.
type Tracing struct {
	// Provider makes the tracers; a no-op provider when tracing is off.
	Provider trace.TracerProvider
	// Propagator reads (and writes) W3C traceparent and baggage headers.
	Propagator propagation.TextMapPropagator
	enabled    bool
}

// Enabled reports whether spans are exported. Components are wrapped only
// when it is true.
func (t Tracing) Enabled() bool { return t.enabled }

// tracer is berth's own tracer, for the spans made in this package.
func (t Tracing) tracer() trace.Tracer {
	if t.Provider == nil {
		return noop.NewTracerProvider().Tracer(instrumentation)
	}
	return t.Provider.Tracer(instrumentation)
}

// Configured reports whether the environment asks for traces to be
// exported: an OTLP endpoint is set and OTEL_SDK_DISABLED is not "true".
func Configured() bool {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup reads the standard OTEL_* environment. Without an OTLP endpoint it
// returns a Tracing with a no-op provider and a shutdown that does nothing.
// With one, spans go through a batch span processor to an OTLP/HTTP
// exporter, which itself honours OTEL_EXPORTER_OTLP_* (headers, timeout,
// compression, certificates); the sampler follows OTEL_TRACES_SAMPLER
// (parent-based, always on by default). The resource names the service
// "berth" with version, overridable by OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES.
//
// shutdown flushes the spans still queued and stops the exporter; call it
// once, when the server closes.
func Setup(ctx context.Context, version string, log *slog.Logger) (Tracing, func(context.Context) error, error) {
	propagator := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	off := Tracing{Provider: noop.NewTracerProvider(), Propagator: propagator}
	nothing := func(context.Context) error { return nil }
	if !Configured() {
		return off, nothing, nil
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return off, nothing, fmt.Errorf("creating the OTLP trace exporter: %w", err)
	}
	// Later options win: berth's name and version, then the environment.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			attribute.String("service.name", ServiceName),
			attribute.String("service.version", version),
		),
		resource.WithFromEnv(),
	)
	if err != nil {
		// A malformed OTEL_RESOURCE_ATTRIBUTES leaves out what it could
		// not parse; the rest of the resource is still good.
		log.Warn("tracing: reading the resource from the environment", "err", err)
	}
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(res),
	)
	// The SDK reports failed exports only to OpenTelemetry's global error
	// handler, which otherwise prints unstructured lines with the standard
	// log package; there is no per-provider option, so this is the one
	// global berth sets.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: exporting spans", "err", err)
	}))
	log.Info("tracing: exporting spans over OTLP/HTTP")
	return Tracing{Provider: provider, Propagator: propagator, enabled: true}, provider.Shutdown, nil
}
