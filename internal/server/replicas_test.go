package server_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/berth-registry/berth/ent/user"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server"
	"github.com/berth-registry/berth/internal/viewer"
)

// TestThreeReplicasStartTogether starts three servers at once on one new
// PostgreSQL database: all of them start (migrations wait for each
// other), and there is one admin and one token signing key.
func TestThreeReplicasStartTogether(t *testing.T) {
	url := dbtest.URL(t, database.Postgres)
	var wg sync.WaitGroup
	servers := make([]*server.Server, 3)
	errs := make([]error, 3)
	for i := range servers {
		wg.Go(func() {
			cfg := newConfig(t)
			cfg.DatabaseURL, cfg.SecretKey = url, dbtest.SecretKey
			servers[i], errs[i] = server.New(context.Background(), cfg, server.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d did not start: %v", i, err)
		}
		defer servers[i].Close()
	}
	ctx := viewer.SystemContext(context.Background())
	db := servers[0].DB()
	if n := db.User.Query().Where(user.Admin(true)).CountX(ctx); n != 1 {
		t.Errorf("%d admins after three replicas started, want 1", n)
	}
	if n := db.SigningKey.Query().CountX(ctx); n != 1 {
		t.Errorf("%d token signing keys after three replicas started, want 1", n)
	}
}
