package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAccessLogLine: one JSON line per request, with the fields operators
// search by, the request id echoed in X-Request-Id, and the bytes the
// handler read and wrote; nothing below the logger's level.
func TestAccessLogLine(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := logRequests(log, newMetrics(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte("hello"))
	}))
	req := httptest.NewRequest("PUT", "/v2/p/r/manifests/latest", strings.NewReader("0123456789"))
	req.Header.Set("X-Request-Id", "abc-123")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get("X-Request-Id"); got != "abc-123" {
		t.Fatalf("X-Request-Id = %q, want the client's", got)
	}
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q: %v", out.String(), err)
	}
	want := map[string]any{"level": "INFO", "msg": "request", "request_id": "abc-123", "method": "PUT",
		"path": "/v2/p/r/manifests/latest", "status": 201.0, "bytes": 5.0, "remote": req.RemoteAddr}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v (line %s)", k, line[k], v, out.String())
		}
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("duration_ms missing: %s", out.String())
	}

	out.Reset()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/healthz", nil))
	if out.Len() != 0 {
		t.Fatalf("a health check at info: %q, want nothing", out.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v2/", nil))
	if id := rec.Header().Get("X-Request-Id"); len(id) != 16 || !strings.Contains(out.String(), `"request_id":"`+id+`"`) {
		t.Fatalf("a request without an id: header %q, line %q", id, out.String())
	}
}

// BenchmarkAccessLog measures what the access log costs a request, at
// the level berth runs with (info) and with request lines off (error).
func BenchmarkAccessLog(b *testing.B) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelError} {
		b.Run(level.String(), func(b *testing.B) {
			log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: level}))
			h := logRequests(log, newMetrics(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("{}"))
			}))
			req := httptest.NewRequest("GET", "/v2/p/r/manifests/latest", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}
