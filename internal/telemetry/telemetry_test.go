package telemetry_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/berth-registry/berth/internal/telemetry"
)

func TestSetupExportsOnlyWhenAnEndpointIsSet(t *testing.T) {
	var exports atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" {
			exports.Add(1)
		}
	}))
	defer collector.Close()
	cases := []struct {
		name    string
		env     map[string]string
		enabled bool
	}{
		{"no endpoint", nil, false},
		{"OTEL_EXPORTER_OTLP_ENDPOINT", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL}, true},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": collector.URL + "/v1/traces"}, true},
		{"OTEL_SDK_DISABLED", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_SDK_DISABLED": "true"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED", "OTEL_TRACES_SAMPLER"} {
				t.Setenv(k, c.env[k])
			}
			before := exports.Load()
			ctx := context.Background()
			tr, shutdown, err := telemetry.Setup(ctx, "v1.2.3", slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if tr.Enabled() != c.enabled {
				t.Fatalf("Enabled() = %v, want %v", tr.Enabled(), c.enabled)
			}
			_, span := tr.Provider.Tracer("test").Start(ctx, "work")
			span.End()
			// The no-op provider makes spans without a trace context.
			if span.SpanContext().IsValid() != c.enabled {
				t.Fatalf("span has a trace context: %v, want %v", span.SpanContext().IsValid(), c.enabled)
			}
			if _, isNoop := tr.Provider.(noop.TracerProvider); isNoop == c.enabled {
				t.Fatalf("provider %T with Enabled() = %v", tr.Provider, c.enabled)
			}
			if err := shutdown(ctx); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
			// Shutdown flushes: the one span went out, or nothing did.
			if sent := exports.Load() - before; (sent > 0) != c.enabled {
				t.Fatalf("%d export requests, want them only when enabled", sent)
			}
		})
	}
}
