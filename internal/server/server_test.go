package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server"
)

func redisURL(t *testing.T) string {
	if u := os.Getenv("BERTH_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

func newConfig(t *testing.T) *config.Config {
	cfg := config.Default()
	cfg.Addr, cfg.DataDir, cfg.LogLevel, cfg.AdminPassword = "127.0.0.1:0", t.TempDir(), "error", "admin-pass-1"
	return cfg
}

func TestReadyzChecksRedisWhenConfigured(t *testing.T) {
	cfg := newConfig(t)
	cfg.RedisURL = redisURL(t)
	s, err := server.New(context.Background(), cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var cerr *config.Error
	if errors.As(err, &cerr) && !dbtest.RequireServices() {
		t.Skipf("Redis not available: %v", err)
	}
	if err != nil {
		t.Fatalf("starting with Redis: %v", err)
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", resp, err)
	}
}

func TestUnreachableRedisIsAConfigError(t *testing.T) {
	cfg := newConfig(t)
	cfg.RedisURL = "redis://127.0.0.1:1/0"
	_, err := server.New(context.Background(), cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	var cerr *config.Error
	if !errors.As(err, &cerr) || cerr.Setting != "--redis-url (BERTH_REDIS_URL)" {
		t.Fatalf("want a --redis-url config error, got %v", err)
	}
}

func TestReadyzFailsWhenStorageIsNotWritable(t *testing.T) {
	// Tests run as root in CI, which writes through permission bits, so
	// the storage directory is replaced by a file instead.
	cfg := newConfig(t)
	s, err := server.New(context.Background(), cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	if err := os.RemoveAll(cfg.DataDir + "/storage"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.DataDir+"/storage", []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ts.URL + "/readyz")
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz with broken storage: %v %v", resp, err)
	}
}

func TestSignInEndpointsTakePostOnly(t *testing.T) {
	s, err := server.New(context.Background(), newConfig(t), server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	for _, p := range []string{"/auth/login", "/auth/logout"} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(resp.Header.Get("Allow"), "POST") {
			t.Fatalf("GET %s: %d, Allow %q", p, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}
