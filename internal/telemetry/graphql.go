package telemetry

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// GraphQL returns a gqlgen extension that puts every operation in a span
// named "<type> <name>" ("query ProjectPage"), or "<type>" for an
// anonymous one, with the attributes graphql.operation.type and
// graphql.operation.name. A response with errors sets the span's status
// to Error. The document itself is not recorded: literals in it may be
// secrets (a password given inline to createUser). Operation names come
// from clients; the portal's are a fixed set.
//
// Operations that fail to parse or validate are refused before operation
// interceptors run; the HTTP span records them.
func (t Tracing) GraphQL() graphql.HandlerExtension {
	return graphQLTracer{tracer: t.tracer()}
}

type graphQLTracer struct{ tracer trace.Tracer }

var (
	_ graphql.HandlerExtension     = graphQLTracer{}
	_ graphql.OperationInterceptor = graphQLTracer{}
)

// ExtensionName implements graphql.HandlerExtension.
func (graphQLTracer) ExtensionName() string { return "OpenTelemetry" }

// Validate implements graphql.HandlerExtension.
func (graphQLTracer) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation implements graphql.OperationInterceptor. The span
// ends with the first response of a query or mutation, and with the end
// of the stream (or of its context) for a subscription.
func (g graphQLTracer) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	kind, name := "graphql", oc.OperationName
	if op := oc.Operation; op != nil {
		kind = string(op.Operation)
		if name == "" {
			name = op.Name
		}
	}
	spanName := kind
	if name != "" {
		spanName += " " + name
	}
	attrs := []attribute.KeyValue{attribute.String("graphql.operation.type", kind)}
	if name != "" {
		attrs = append(attrs, attribute.String("graphql.operation.name", name))
	}
	ctx, span := g.tracer.Start(ctx, spanName, trace.WithAttributes(attrs...))
	end := sync.OnceFunc(func() { span.End() })
	// A stream that is abandoned without its last (nil) response still
	// ends its span.
	stop := context.AfterFunc(ctx, end)
	handler := next(ctx)
	subscription := kind == "subscription"
	return func(ctx context.Context) *graphql.Response {
		resp := handler(trace.ContextWithSpan(ctx, span))
		if resp != nil && len(resp.Errors) > 0 {
			span.SetStatus(codes.Error, resp.Errors[0].Message)
			span.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
		}
		if resp == nil || !subscription {
			stop()
			end()
		}
		return resp
	}
}
