package database_test

import (
	"context"
	"errors"
	"testing"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
)

func TestMigrateIsIdempotentOnEveryDialect(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := viewer.SystemContext(context.Background())
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second migration: %v", err)
		}
		p, err := db.Project.Create().SetName("team-a").Save(ctx)
		if err != nil {
			t.Fatalf("create project: %v", err)
		}
		if p.ID == 0 {
			t.Fatal("project got id 0")
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatalf("ping: %v", err)
		}
	})
}

func TestOpenRejectsUnknownScheme(t *testing.T) {
	_, err := database.Open(context.Background(), "mysql://root@localhost/berth", t.TempDir())
	if !errors.Is(err, database.ErrBadURL) {
		t.Fatalf("want ErrBadURL, got %v", err)
	}
}

func TestOpenFailsFastOnUnreachablePostgres(t *testing.T) {
	_, err := database.Open(context.Background(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", t.TempDir())
	if err == nil {
		t.Fatal("want an error for an unreachable server")
	}
}
