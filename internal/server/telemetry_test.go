package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/testtool"
)

// otlpReceiver is an OTLP/HTTP trace endpoint, as a collector runs one:
// it decodes the protobuf export requests berth's exporter sends.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []exportedSpan
}

// exportedSpan is a span as it arrived, with the resource it came from.
type exportedSpan struct {
	*tracepb.Span
	resource map[string]string
}

func startReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rcv := &otlpReceiver{}
	rcv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(raw, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rcv.mu.Lock()
		for _, rs := range req.ResourceSpans {
			res := attrs(rs.GetResource().GetAttributes())
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					rcv.spans = append(rcv.spans, exportedSpan{Span: s, resource: res})
				}
			}
		}
		rcv.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(rcv.Close)
	return rcv
}

// inTrace returns the spans received so far of trace id (hex).
func (rcv *otlpReceiver) inTrace(id string) []exportedSpan {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var out []exportedSpan
	for _, s := range rcv.spans {
		if hex.EncodeToString(s.TraceId) == id {
			out = append(out, s)
		}
	}
	return out
}

// waitFor polls until check accepts the spans of trace id, for up to ten
// seconds (the batch processor sends every 50 ms in these tests).
func (rcv *otlpReceiver) waitFor(t *testing.T, id string, check func([]exportedSpan) error) []exportedSpan {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		spans := rcv.inTrace(id)
		err := check(spans)
		if err == nil {
			return spans
		}
		if time.Now().After(deadline) {
			var names []string
			for _, s := range spans {
				names = append(names, s.Name)
			}
			t.Fatalf("trace %s: %v; spans received: %q", id, err, names)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// attrs flattens OTLP attributes (and resource attributes) to strings.
func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		switch v := kv.GetValue().GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = fmt.Sprint(v.IntValue)
		case *commonpb.AnyValue_BoolValue:
			m[kv.Key] = fmt.Sprint(v.BoolValue)
		}
	}
	return m
}

// traceTo points the exporter at rcv with a short batch delay, and clears
// whatever in the environment could turn tracing off or send it elsewhere.
func traceTo(t *testing.T, rcv *otlpReceiver) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_SDK_DISABLED", "")
	t.Setenv("OTEL_TRACES_SAMPLER", "")
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
}

// traceparent makes a sampled W3C trace context, as a client in a traced
// system sends it: the trace id and the client span's id, in hex.
func traceparent() (header, traceID, parentID string) {
	tid, sid := make([]byte, 16), make([]byte, 8)
	rand.Read(tid)
	rand.Read(sid)
	traceID, parentID = hex.EncodeToString(tid), hex.EncodeToString(sid)
	return "00-" + traceID + "-" + parentID + "-01", traceID, parentID
}

// gqlTraced sends a GraphQL operation as admin with a traceparent header.
func gqlTraced(t *testing.T, base, tp, query string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", tp)
	req.SetBasicAuth("admin", servertest.AdminPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(raw, []byte(`"errors"`)) {
		t.Fatalf("graphql: %d %s", resp.StatusCode, raw)
	}
}

func TestTelemetryExportsOneTraceAcrossHTTPGraphQLDatabaseAndStorage(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			rcv := startReceiver(t)
			traceTo(t, rcv)
			s := servertest.Start(t, kind)
			s.CreateProject(servertest.Admin, "traced", false)

			tp, traceID, parentID := traceparent()
			c := s3Client{t: t, base: s.URL}
			layer := []byte("a layer of the traced image")
			cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
			var dgsts []string
			for _, blob := range [][]byte{layer, cfg} {
				d := digestOf(blob)
				dgsts = append(dgsts, d)
				c.expect(c.do("POST", "/v2/traced/app/blobs/uploads/?digest="+d, blob,
					"Content-Type", "application/octet-stream", "traceparent", tp), 201, "uploading a blob")
			}
			manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
				`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
				`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
				dgsts[1], len(cfg), dgsts[0], len(layer))
			c.expect(c.do("PUT", "/v2/traced/app/manifests/v1", []byte(manifest),
				"Content-Type", "application/vnd.oci.image.manifest.v1+json", "traceparent", tp), 201, "pushing the manifest")
			gqlTraced(t, s.URL, tp, `query TracedRepository { repository(name: "traced/app") { name } systemInfo { repositoryCount } }`)

			spans := rcv.waitFor(t, traceID, func(spans []exportedSpan) error {
				for _, want := range []string{
					"POST /v2/{name}/blobs/uploads/", "PUT /v2/{name}/manifests/{reference}", "POST /graphql",
					"query TracedRepository", "db", "storage",
				} {
					if find(spans, want) == nil {
						return fmt.Errorf("no %q span", want)
					}
				}
				return nil
			})
			byID := map[string]exportedSpan{}
			for _, s := range spans {
				byID[hex.EncodeToString(s.SpanId)] = s
			}

			put := find(spans, "PUT /v2/{name}/manifests/{reference}")
			if got := hex.EncodeToString(put.ParentSpanId); got != parentID {
				t.Errorf("manifest PUT span's parent = %s, want the client's span %s", got, parentID)
			}
			if put.Kind != tracepb.Span_SPAN_KIND_SERVER {
				t.Errorf("manifest PUT span kind = %v, want server", put.Kind)
			}
			if a := attrs(put.Attributes); a["http.route"] != "/v2/{name}/manifests/{reference}" ||
				a["berth.repository"] != "traced/app" || a["berth.reference"] != "v1" {
				t.Errorf("manifest PUT span attributes = %v", a)
			}
			if r := put.resource; r["service.name"] != "berth" || r["service.version"] != "test" {
				t.Errorf("resource = %v, want service berth version test", r)
			}

			op := find(spans, "query TracedRepository")
			if a := attrs(op.Attributes); a["graphql.operation.type"] != "query" || a["graphql.operation.name"] != "TracedRepository" {
				t.Errorf("GraphQL span attributes = %v", a)
			}
			if parent := byID[hex.EncodeToString(op.ParentSpanId)]; parent.Span == nil || parent.Name != "POST /graphql" {
				t.Errorf("GraphQL span's parent is not the POST /graphql span")
			}
			var dbUnderOp bool
			for _, s := range spans {
				if attrs(s.Attributes)["db.statement"] != "" && under(byID, &s, op) {
					dbUnderOp = true
				}
			}
			if !dbUnderOp {
				t.Errorf("no database statement span under the GraphQL operation")
			}

			system := map[string]string{"sqlite": "sqlite", "postgres": "postgresql"}[kind]
			for _, s := range spans {
				a := attrs(s.Attributes)
				switch {
				case s.Name == "transaction":
					if a["db.system"] != system || a["db.transaction.outcome"] == "" {
						t.Errorf("transaction span attributes = %v, want db.system %s and an outcome", a, system)
					}
				case a["db.system"] != "":
					if a["db.system"] != system || a["db.statement"] == "" {
						t.Errorf("database span %q attributes = %v, want db.system %s and a statement", s.Name, a, system)
					}
				case a["storage.driver"] != "":
					if a["storage.driver"] != "filesystem" || !strings.HasPrefix(a["storage.path"], "/") {
						t.Errorf("storage span %q attributes = %v", s.Name, a)
					}
				}
				// Names come from a small set; what a request is about goes
				// into attributes.
				if strings.Contains(s.Name, "traced/app") || strings.Contains(s.Name, "sha256:") {
					t.Errorf("span name %q holds a repository or digest", s.Name)
				}
			}
			var storageUnderPush bool
			for _, s := range spans {
				if attrs(s.Attributes)["storage.driver"] != "" && under(byID, &s, find(spans, "POST /v2/{name}/blobs/uploads/")) {
					storageUnderPush = true
				}
			}
			if !storageUnderPush {
				t.Errorf("no storage span under a blob upload's span")
			}
		})
	}
}

func TestTelemetryRequestLogCarriesTheTraceID(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(map[bool]string{true: "tracing on", false: "tracing off"}[on], func(t *testing.T) {
			rcv := startReceiver(t)
			traceTo(t, rcv)
			if !on {
				t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
			}
			var logs testtool.SyncBuffer
			b, err := server.New(context.Background(), newConfig(t), server.Options{Version: "test",
				Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
			if err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(b.Handler())
			tp, traceID, parentID := traceparent()
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v2/", nil)
			req.Header.Set("traceparent", tp)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			ts.Close()
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}

			line := requestLine(t, logs.String(), "/v2/")
			if !on {
				if line["trace_id"] != nil || line["span_id"] != nil {
					t.Fatalf("request line has trace ids with tracing off: %v", line)
				}
				if n := len(rcv.inTrace(traceID)); n != 0 {
					t.Fatalf("%d spans exported with tracing off", n)
				}
				return
			}
			if line["trace_id"] != traceID {
				t.Fatalf("request line trace_id = %v, want %s: %v", line["trace_id"], traceID, line)
			}
			// Close flushed the spans: the logged span is the server span
			// that was exported, a child of the client's.
			var found bool
			for _, s := range rcv.inTrace(traceID) {
				if hex.EncodeToString(s.SpanId) == line["span_id"] {
					found = true
					if s.Name != "GET /v2/" || hex.EncodeToString(s.ParentSpanId) != parentID {
						t.Errorf("logged span is %q with parent %x", s.Name, s.ParentSpanId)
					}
				}
			}
			if !found {
				t.Fatalf("logged span_id %v was not exported (Close must flush)", line["span_id"])
			}
		})
	}
}

// find returns the first span whose name is want, or, for "db" and
// "storage", the first database or storage span.
func find(spans []exportedSpan, want string) *exportedSpan {
	for i, s := range spans {
		a := attrs(s.Attributes)
		if s.Name == want || want == "db" && a["db.system"] != "" || want == "storage" && a["storage.driver"] != "" {
			return &spans[i]
		}
	}
	return nil
}

// under reports whether span descends from ancestor.
func under(byID map[string]exportedSpan, span, ancestor *exportedSpan) bool {
	if span == nil || ancestor == nil {
		return false
	}
	for id := hex.EncodeToString(span.ParentSpanId); id != ""; {
		if id == hex.EncodeToString(ancestor.SpanId) {
			return true
		}
		p, ok := byID[id]
		if !ok {
			return false
		}
		id = hex.EncodeToString(p.ParentSpanId)
	}
	return false
}

// requestLine finds the JSON request log line for path.
func requestLine(t *testing.T, logs, path string) map[string]any {
	t.Helper()
	for _, l := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" && m["path"] == path {
			return m
		}
	}
	t.Fatalf("no request line for %s in:\n%s", path, logs)
	return nil
}
