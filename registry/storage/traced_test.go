package storage_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/berth-registry/berth/registry/storage"
	"github.com/berth-registry/berth/registry/storage/filesystem"
	"github.com/berth-registry/berth/registry/storage/storagetest"
)

// inTrace passes every call on with a span in its context, as a traced
// request's handler does, so that the traced driver below makes spans.
type inTrace struct {
	storage.Driver
	parent trace.Span
}

func (d inTrace) ctx(ctx context.Context) context.Context {
	return trace.ContextWithSpan(ctx, d.parent)
}

func (d inTrace) GetContent(ctx context.Context, path string) ([]byte, error) {
	return d.Driver.GetContent(d.ctx(ctx), path)
}

func (d inTrace) PutContent(ctx context.Context, path string, content []byte) error {
	return d.Driver.PutContent(d.ctx(ctx), path, content)
}

func (d inTrace) Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	return d.Driver.Reader(d.ctx(ctx), path, offset)
}

func (d inTrace) Writer(ctx context.Context, path string, append bool) (storage.FileWriter, error) {
	w, err := d.Driver.Writer(d.ctx(ctx), path, append)
	if err != nil {
		return nil, err
	}
	return writerInTrace{w, d}, nil
}

func (d inTrace) Stat(ctx context.Context, path string) (storage.FileInfo, error) {
	return d.Driver.Stat(d.ctx(ctx), path)
}

func (d inTrace) Move(ctx context.Context, src, dst string) error {
	return d.Driver.Move(d.ctx(ctx), src, dst)
}

func (d inTrace) Delete(ctx context.Context, path string) error {
	return d.Driver.Delete(d.ctx(ctx), path)
}

func (d inTrace) Walk(ctx context.Context, path string, fn storage.WalkFunc) error {
	return d.Driver.Walk(d.ctx(ctx), path, fn)
}

type writerInTrace struct {
	storage.FileWriter
	d inTrace
}

func (w writerInTrace) Commit(ctx context.Context) error { return w.FileWriter.Commit(w.d.ctx(ctx)) }
func (w writerInTrace) Cancel(ctx context.Context) error { return w.FileWriter.Cancel(w.d.ctx(ctx)) }

func TestTracedDriverPassesConformanceSuite(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	_, parent := tp.Tracer("test").Start(context.Background(), "request")
	t.Run("suite", func(t *testing.T) {
		storagetest.Run(t, func(t *testing.T) storage.Driver {
			fs, err := filesystem.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return inTrace{storage.Traced(fs, tp), parent}
		})
	})
	parent.End()

	seen := map[string]bool{}
	for _, s := range spans.Ended() {
		if s.Name() == "request" {
			continue
		}
		seen[s.Name()] = true
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.Emit()
		}
		// The suite gives invalid paths too, the empty one among them.
		if _, ok := attrs["storage.path"]; !ok || !strings.HasPrefix(s.Name(), "storage.") || attrs["storage.driver"] != "filesystem" {
			t.Fatalf("span %q with attributes %v", s.Name(), attrs)
		}
		// A missing path is an answer, not a failed call.
		if attrs["storage.found"] == "false" && s.Status().Code == codes.Error {
			t.Fatalf("span %q of a missing path has status Error", s.Name())
		}
	}
	for _, name := range []string{"storage.get_content", "storage.put_content", "storage.reader", "storage.writer",
		"storage.commit", "storage.cancel", "storage.stat", "storage.move", "storage.delete", "storage.walk"} {
		if !seen[name] {
			t.Errorf("no %s span", name)
		}
	}
}

func TestTracedDriverPresignsOnlyWhenItsDriverDoes(t *testing.T) {
	fs, err := filesystem.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := storage.Traced(fs, sdktrace.NewTracerProvider()).(storage.Presigner); ok {
		t.Fatal("the traced filesystem driver claims to presign")
	}
}
