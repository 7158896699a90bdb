package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the Prometheus metrics served at /metrics: HTTP traffic by
// area of the API, plus the Go runtime and process collectors.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// The registry's own traffic, counted by the replica that served it.
	pushes, pulls   prometheus.Counter
	bytesIn         prometheus.Counter
	bytesOut        prometheus.Counter
	uploadDurations *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_http_requests_total",
			Help: "HTTP requests served, by area (registry, token, graphql, auth, portal, health), method and status code.",
		}, []string{"area", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "berth_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by area and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"area", "method"}),
	}
	m.pushes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "berth_registry_pushes_total", Help: "Manifests pushed (PUT /v2/<name>/manifests/<reference> answered 201) through this process.",
	})
	m.pulls = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "berth_registry_pulls_total", Help: "Manifests pulled (GET /v2/<name>/manifests/<reference> answered 200) through this process.",
	})
	m.bytesIn = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "berth_registry_received_bytes_total", Help: "Request body bytes the registry API read (blob and manifest uploads).",
	})
	m.bytesOut = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "berth_registry_sent_bytes_total", Help: "Response body bytes the registry API sent for GETs (blobs and manifests).",
	})
	m.uploadDurations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "berth_registry_upload_request_duration_seconds",
		Help:    "Time to serve blob upload requests (POST, PATCH, PUT under /v2/<name>/blobs/uploads/), by method.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300},
	}, []string{"method"})
	m.registry.MustRegister(m.pushes, m.pulls, m.bytesIn, m.bytesOut, m.uploadDurations)
	m.registry.MustRegister(m.requests, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// area names the part of the API a path belongs to; paths themselves
// would make unbounded label values.
func area(path string) string {
	switch {
	case strings.HasPrefix(path, "/v2/") || path == "/v2":
		return "registry"
	case path == "/service/token":
		return "token"
	case path == "/graphql":
		return "graphql"
	case strings.HasPrefix(path, "/auth/"):
		return "auth"
	case path == "/healthz" || path == "/readyz" || path == "/metrics":
		return "health"
	}
	return "portal"
}

func (m *metrics) observe(r *http.Request, status int, elapsed time.Duration, in, out int64) {
	a := area(r.URL.Path)
	m.requests.WithLabelValues(a, r.Method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(a, r.Method).Observe(elapsed.Seconds())
	if a != "registry" {
		return
	}
	m.bytesIn.Add(float64(in))
	if r.Method == http.MethodGet {
		m.bytesOut.Add(float64(out))
	}
	switch path := r.URL.Path; {
	case strings.Contains(path, "/manifests/"):
		if r.Method == http.MethodPut && status == http.StatusCreated {
			m.pushes.Inc()
		}
		if r.Method == http.MethodGet && status == http.StatusOK {
			m.pulls.Inc()
		}
	case strings.Contains(path, "/blobs/uploads/") && (r.Method == http.MethodPost || r.Method == http.MethodPatch || r.Method == http.MethodPut):
		m.uploadDurations.WithLabelValues(r.Method).Observe(elapsed.Seconds())
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
