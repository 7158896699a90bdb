package oidc

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/egress"
)

func TestSlowProviderTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s := New(Options{HTTPClient: egress.NewClient(egress.Options{AllowPrivate: true, Timeout: 200 * time.Millisecond})})
	_, _, err := s.discover(context.Background(), srv.URL)
	if got := discoveryReason(err); got != "timed out" {
		t.Fatalf("discovery of a provider that never answers: %q (%v), want \"timed out\"", got, err)
	}
}
