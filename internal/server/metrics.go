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

func (m *metrics) observe(r *http.Request, status int, elapsed time.Duration) {
	a := area(r.URL.Path)
	m.requests.WithLabelValues(a, r.Method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(a, r.Method).Observe(elapsed.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
