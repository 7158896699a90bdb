package telemetry

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unicode/utf8"

	"entgo.io/ent/dialect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// maxStatement bounds the db.statement attribute: ent's statements are
// short, but an IN list of a large page is not.
const maxStatement = 1 << 10

// Database wraps an ent driver so that each statement gets a client span
// named after its operation ("SELECT", "INSERT"...) with the attributes
// db.system (postgresql or sqlite) and db.statement (the SQL, at most
// 1 KiB; arguments are never recorded: they hold password hashes and
// tokens), and each transaction a span "transaction" from begin to commit
// or rollback, the parent of the statements made in it.
//
// Only work done for a traced operation makes spans: a statement whose
// context has no span (the event dispatcher's polls, job queue upkeep,
// migrations at start-up) goes straight to drv, or every poll would be a
// trace of its own.
func (t Tracing) Database(drv dialect.Driver) dialect.Driver {
	system := drv.Dialect()
	switch system {
	case dialect.Postgres:
		system = "postgresql"
	case dialect.SQLite:
		system = "sqlite"
	}
	return &tracedDriver{Driver: drv, tracer: t.tracer(), system: attribute.String("db.system", system)}
}

type tracedDriver struct {
	dialect.Driver
	tracer trace.Tracer
	system attribute.KeyValue
}

// start begins the span of one statement, or reports false when ctx is
// not part of a trace.
func (d *tracedDriver) start(ctx context.Context, query string) (context.Context, trace.Span, bool) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, nil, false
	}
	ctx, span := d.tracer.Start(ctx, operation(query), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(d.system, attribute.String("db.statement", truncate(query, maxStatement))))
	return ctx, span, true
}

// Exec implements dialect.ExecQuerier.
func (d *tracedDriver) Exec(ctx context.Context, query string, args, v any) error {
	ctx, span, ok := d.start(ctx, query)
	if !ok {
		return d.Driver.Exec(ctx, query, args, v)
	}
	err := d.Driver.Exec(ctx, query, args, v)
	finish(span, err)
	return err
}

// Query implements dialect.ExecQuerier. The span covers running the
// query, not reading its rows.
func (d *tracedDriver) Query(ctx context.Context, query string, args, v any) error {
	ctx, span, ok := d.start(ctx, query)
	if !ok {
		return d.Driver.Query(ctx, query, args, v)
	}
	err := d.Driver.Query(ctx, query, args, v)
	finish(span, err)
	return err
}

// ExecContext is the method ent's generated ExecContext looks for.
func (d *tracedDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ex, ok := d.Driver.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("driver %T does not support ExecContext", d.Driver)
	}
	ctx, span, traced := d.start(ctx, query)
	res, err := ex.ExecContext(ctx, query, args...)
	if traced {
		finish(span, err)
	}
	return res, err
}

// QueryContext is the method ent's generated QueryContext looks for.
func (d *tracedDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q, ok := d.Driver.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	})
	if !ok {
		return nil, fmt.Errorf("driver %T does not support QueryContext", d.Driver)
	}
	ctx, span, traced := d.start(ctx, query)
	rows, err := q.QueryContext(ctx, query, args...)
	if traced {
		finish(span, err)
	}
	return rows, err
}

// Tx implements dialect.Driver.
func (d *tracedDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	return d.begin(ctx, d.Driver.Tx)
}

// BeginTx is the method ent's Client.BeginTx requires of its driver.
func (d *tracedDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	b, ok := d.Driver.(interface {
		BeginTx(context.Context, *sql.TxOptions) (dialect.Tx, error)
	})
	if !ok {
		return nil, fmt.Errorf("driver %T does not support BeginTx", d.Driver)
	}
	return d.begin(ctx, func(ctx context.Context) (dialect.Tx, error) { return b.BeginTx(ctx, opts) })
}

func (d *tracedDriver) begin(ctx context.Context, open func(context.Context) (dialect.Tx, error)) (dialect.Tx, error) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return open(ctx)
	}
	ctx, span := d.tracer.Start(ctx, "transaction", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(d.system))
	tx, err := open(ctx)
	if err != nil {
		finish(span, err)
		return nil, err
	}
	return &tracedTx{Tx: tx, driver: d, span: span}, nil
}

// tracedTx is a transaction in progress: its statements are children of
// its span.
type tracedTx struct {
	dialect.Tx
	driver *tracedDriver
	span   trace.Span
}

// Exec implements dialect.ExecQuerier.
func (t *tracedTx) Exec(ctx context.Context, query string, args, v any) error {
	ctx, span, _ := t.driver.start(trace.ContextWithSpan(ctx, t.span), query)
	err := t.Tx.Exec(ctx, query, args, v)
	finish(span, err)
	return err
}

// Query implements dialect.ExecQuerier.
func (t *tracedTx) Query(ctx context.Context, query string, args, v any) error {
	ctx, span, _ := t.driver.start(trace.ContextWithSpan(ctx, t.span), query)
	err := t.Tx.Query(ctx, query, args, v)
	finish(span, err)
	return err
}

// ExecContext is the method ent's generated ExecContext looks for.
func (t *tracedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ex, ok := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("transaction %T does not support ExecContext", t.Tx)
	}
	ctx, span, _ := t.driver.start(trace.ContextWithSpan(ctx, t.span), query)
	res, err := ex.ExecContext(ctx, query, args...)
	finish(span, err)
	return res, err
}

// QueryContext is the method ent's generated QueryContext looks for.
func (t *tracedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q, ok := t.Tx.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	})
	if !ok {
		return nil, fmt.Errorf("transaction %T does not support QueryContext", t.Tx)
	}
	ctx, span, _ := t.driver.start(trace.ContextWithSpan(ctx, t.span), query)
	rows, err := q.QueryContext(ctx, query, args...)
	finish(span, err)
	return rows, err
}

// Commit implements driver.Tx and ends the transaction's span.
func (t *tracedTx) Commit() error {
	err := t.Tx.Commit()
	t.span.SetAttributes(attribute.String("db.transaction.outcome", "commit"))
	finish(t.span, err)
	return err
}

// Rollback implements driver.Tx and ends the transaction's span.
func (t *tracedTx) Rollback() error {
	err := t.Tx.Rollback()
	t.span.SetAttributes(attribute.String("db.transaction.outcome", "rollback"))
	finish(t.span, err)
	return err
}

// finish records err, if any, on span and ends it.
func finish(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// operation is the SQL keyword a statement starts with, upper-cased, for
// the span name; "query" when it does not start with a plain word.
func operation(query string) string {
	q := strings.TrimSpace(query)
	end := strings.IndexFunc(q, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') })
	if end < 0 {
		end = len(q)
	}
	if end == 0 || end > 16 {
		return "query"
	}
	return strings.ToUpper(q[:end])
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
