package events_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/viewer"
)

// repositories records the repositories of the events it is handed.
type repositories struct {
	mu    sync.Mutex
	names []string
}

func (r *repositories) Enqueue(_ context.Context, evs []events.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range evs {
		r.names = append(r.names, e.Repository)
	}
	return nil
}

func (r *repositories) has(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.names, name)
}

// TestARowThatCommitsLateIsStillPublished: on PostgreSQL outbox ids are
// taken at insert and commit out of order, and the dispatcher reads from
// past the rows it published last. A row that commits after a row with a
// larger id was published is published all the same, by the read from
// the outbox's start, and once.
func TestARowThatCommitsLateIsStillPublished(t *testing.T) {
	db := dbtest.Open(t, database.Postgres)
	ctx := viewer.SystemContext(t.Context())
	log := slog.New(slog.DiscardHandler)
	bus, err := events.NewBus(ctx, nil, "", log)
	if err != nil {
		t.Fatal(err)
	}
	sink := &repositories{}
	d := events.NewDispatcher(db.Client, bus, log, sink)
	d.Poll, d.Sweep = 20*time.Millisecond, 300*time.Millisecond

	late, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Rollback()
	late.Change.Create().SetOperation(change.OperationARTIFACT_PUSHED).SetProject("team").SetRepository("team/late").SaveX(ctx)
	db.Client.Change.Create().SetOperation(change.OperationARTIFACT_PUSHED).SetProject("team").SetRepository("team/early").SaveX(ctx)

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go d.Run(runCtx)
	waitFor(t, "the early row's event", func() bool { return sink.has("team/early") })
	if err := late.Commit(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the late row's event", func() bool { return sink.has("team/late") })
	waitFor(t, "both rows marked published", func() bool {
		return db.Client.Change.Query().Where(change.PublishedAtIsNil()).CountX(ctx) == 0
	})
	// Later sweeps find nothing more to publish.
	time.Sleep(2 * d.Sweep)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.names) != 2 {
		t.Fatalf("events handed on: %v, want each row once", sink.names)
	}
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5 s for %s", what)
		}
	}
}
