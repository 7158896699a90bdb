package storage

import (
	"context"
	"errors"
	"io"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names the tracer of storage spans.
const tracerName = "github.com/berth-registry/berth/registry/storage"

// Traced returns d with an OpenTelemetry span around every call: named
// "storage.<method>" ("storage.stat", "storage.move"...), with the
// attributes storage.driver (d's Name) and storage.path (which holds the
// digest of a blob; storage.destination too for a move). A Writer's
// Commit and Cancel get spans of their own; reads and writes of bytes do
// not, and the reader is d's own so that sendfile still works.
//
// Only calls made for a traced operation make spans: the context must
// already hold a span. Garbage collection and upload expiry run outside
// any request and would otherwise make a trace for each blob.
//
// The result implements Presigner exactly when d does.
func Traced(d Driver, tp trace.TracerProvider) Driver {
	t := &tracedDriver{d: d, tracer: tp.Tracer(tracerName), name: attribute.String("storage.driver", d.Name())}
	if p, ok := d.(Presigner); ok {
		return &tracedPresigner{tracedDriver: t, p: p}
	}
	return t
}

// WithTracing returns Blobs on the same driver, traced as Traced says.
func (b *Blobs) WithTracing(tp trace.TracerProvider) *Blobs {
	return NewBlobs(Traced(b.driver, tp))
}

// tracedDriver implements Driver over d.
type tracedDriver struct {
	d      Driver
	tracer trace.Tracer
	name   attribute.KeyValue
}

// start begins the span of one call, or returns nil when ctx is not part
// of a trace; end takes care of both.
func (t *tracedDriver) start(ctx context.Context, op, path string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, nil
	}
	attrs = append(attrs, t.name, attribute.String("storage.path", path))
	return t.tracer.Start(ctx, "storage."+op, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// end records err on span, if any, and ends it. A missing path is an
// answer, not a failure of the call.
func end(span trace.Span, err error) {
	if span == nil {
		return
	}
	switch {
	case errors.Is(err, ErrNotFound):
		span.SetAttributes(attribute.Bool("storage.found", false))
	case err != nil:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func (t *tracedDriver) Name() string { return t.d.Name() }

func (t *tracedDriver) GetContent(ctx context.Context, path string) ([]byte, error) {
	ctx, span := t.start(ctx, "get_content", path)
	b, err := t.d.GetContent(ctx, path)
	end(span, err)
	return b, err
}

func (t *tracedDriver) PutContent(ctx context.Context, path string, content []byte) error {
	ctx, span := t.start(ctx, "put_content", path, attribute.Int("storage.size", len(content)))
	err := t.d.PutContent(ctx, path, content)
	end(span, err)
	return err
}

func (t *tracedDriver) Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	ctx, span := t.start(ctx, "reader", path, attribute.Int64("storage.offset", offset))
	r, err := t.d.Reader(ctx, path, offset)
	end(span, err)
	return r, err
}

func (t *tracedDriver) Writer(ctx context.Context, path string, append bool) (FileWriter, error) {
	ctx, span := t.start(ctx, "writer", path, attribute.Bool("storage.append", append))
	w, err := t.d.Writer(ctx, path, append)
	end(span, err)
	if err != nil {
		return nil, err
	}
	return &tracedWriter{FileWriter: w, t: t, path: path}, nil
}

func (t *tracedDriver) Stat(ctx context.Context, path string) (FileInfo, error) {
	ctx, span := t.start(ctx, "stat", path)
	info, err := t.d.Stat(ctx, path)
	end(span, err)
	return info, err
}

func (t *tracedDriver) Move(ctx context.Context, src, dst string) error {
	ctx, span := t.start(ctx, "move", src, attribute.String("storage.destination", dst))
	err := t.d.Move(ctx, src, dst)
	end(span, err)
	return err
}

func (t *tracedDriver) Delete(ctx context.Context, path string) error {
	ctx, span := t.start(ctx, "delete", path)
	err := t.d.Delete(ctx, path)
	end(span, err)
	return err
}

func (t *tracedDriver) Walk(ctx context.Context, path string, fn WalkFunc) error {
	ctx, span := t.start(ctx, "walk", path)
	err := t.d.Walk(ctx, path, fn)
	end(span, err)
	return err
}

// tracedPresigner is a traced driver that can presign (S3).
type tracedPresigner struct {
	*tracedDriver
	p Presigner
}

func (t *tracedPresigner) PresignGet(ctx context.Context, path string, expires time.Duration) (string, error) {
	ctx, span := t.start(ctx, "presign_get", path)
	u, err := t.p.PresignGet(ctx, path, expires)
	end(span, err)
	return u, err
}

// tracedWriter gives a pending write's Commit and Cancel their spans.
type tracedWriter struct {
	FileWriter
	t    *tracedDriver
	path string
}

func (w *tracedWriter) Commit(ctx context.Context) error {
	ctx, span := w.t.start(ctx, "commit", w.path)
	if span != nil {
		span.SetAttributes(attribute.Int64("storage.size", w.Size()))
	}
	err := w.FileWriter.Commit(ctx)
	end(span, err)
	return err
}

func (w *tracedWriter) Cancel(ctx context.Context) error {
	ctx, span := w.t.start(ctx, "cancel", w.path)
	err := w.FileWriter.Cancel(ctx)
	end(span, err)
	return err
}
