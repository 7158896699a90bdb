package telemetry_test

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/telemetry"
)

// TestDatabaseSpansFollowTracedWorkOnly: statements and transactions made
// in a traced context get spans, children of that context's span; the
// same calls without a span in their context make none.
func TestDatabaseSpansFollowTracedWorkOnly(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			spans := tracetest.NewSpanRecorder()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
			tr := telemetry.Tracing{Provider: tp}
			db, err := database.Open(context.Background(), dbtest.URL(t, kind), t.TempDir(), tr.Database)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(context.Background()); err != nil {
				t.Fatal(err)
			}
			work := func(ctx context.Context) {
				t.Helper()
				if _, err := db.Lease.Query().Count(ctx); err != nil {
					t.Fatal(err)
				}
				if err := database.WithTx(ctx, db.Client, func(tx *ent.Tx) error {
					_, err := tx.Lease.Query().Count(ctx)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				// ent's BeginTx and ExecContext need the driver's own.
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := tx.Rollback(); err != nil {
					t.Fatal(err)
				}
				if _, err := db.ExecContext(ctx, "SELECT 1"); err != nil {
					t.Fatal(err)
				}
			}

			work(context.Background())
			if n := len(spans.Ended()); n != 0 {
				t.Fatalf("%d spans for untraced work", n)
			}

			ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
			work(ctx)
			parent.End()
			system := map[string]string{"sqlite": "sqlite", "postgres": "postgresql"}[kind]
			var names []string
			for _, s := range spans.Ended() {
				if s.Name() == "request" {
					continue
				}
				names = append(names, s.Name())
				if s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
					t.Errorf("span %q is in another trace", s.Name())
				}
				attrs := map[string]string{}
				for _, kv := range s.Attributes() {
					attrs[string(kv.Key)] = kv.Value.Emit()
				}
				if attrs["db.system"] != system {
					t.Errorf("span %q: db.system = %q, want %q", s.Name(), attrs["db.system"], system)
				}
				if s.Name() != "transaction" && !strings.HasPrefix(attrs["db.statement"], s.Name()) {
					t.Errorf("span %q: db.statement = %q", s.Name(), attrs["db.statement"])
				}
			}
			want := "SELECT SELECT transaction transaction SELECT"
			if got := strings.Join(names, " "); got != want {
				t.Fatalf("spans %q, want %q", got, want)
			}
			// The statement in the transaction is a child of its span.
			ended := spans.Ended()
			if inTx, tx := ended[1], ended[2]; inTx.Parent().SpanID() != tx.SpanContext().SpanID() {
				t.Errorf("the statement in the transaction is not a child of its span")
			}
			if first := ended[0]; first.Parent().SpanID() != parent.SpanContext().SpanID() {
				t.Errorf("a statement is not a child of the request's span")
			}
		})
	}
}
