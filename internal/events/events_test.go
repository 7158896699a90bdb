package events_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/internal/events"
)

// TestEveryEventOperationBecomesItsType: outbox operations that are events
// map to their type; blob links and repository or project deletes do not.
func TestEveryEventOperationBecomesItsType(t *testing.T) {
	want := map[change.Operation]events.Type{
		change.OperationARTIFACT_PUSHED:     events.PushArtifact,
		change.OperationARTIFACT_COPIED:     events.PushArtifact,
		change.OperationARTIFACT_PULLED:     events.PullArtifact,
		change.OperationARTIFACT_DELETED:    events.DeleteArtifact,
		change.OperationTAG_CREATED:         events.TagCreated,
		change.OperationTAG_DELETED:         events.TagDeleted,
		change.OperationQUOTA_WARNING:       events.QuotaWarning,
		change.OperationQUOTA_EXCEEDED:      events.QuotaExceeded,
		change.OperationRETENTION_COMPLETED: events.RetentionCompleted,
		change.OperationGC_COMPLETED:        events.GCCompleted,
		change.OperationSCAN_COMPLETED:      events.ScanCompleted,
		change.OperationBLOB_LINKED:         "",
		change.OperationBLOB_MOUNTED:        "",
		change.OperationBLOB_UNLINKED:       "",
		change.OperationREPOSITORY_DELETED:  "",
		change.OperationPROJECT_DELETED:     "",
	}
	for op, typ := range want {
		e, ok := events.FromChange(&ent.Change{ID: 7, Operation: op, Project: "p", Digest: "sha256:x"})
		if ok != (typ != "") || e.Type != typ {
			t.Errorf("%s became %q (%v), want %q", op, e.Type, ok, typ)
		}
		if ok && (e.ID != 7 || e.Tags == nil) {
			t.Errorf("%s: event %+v lost its id or has nil tags", op, e)
		}
	}
}

// TestBusFiltersAndNeverBlocks: a subscriber gets what its filter accepts;
// one that does not read misses events instead of blocking the bus; a
// subscription ends with its context.
func TestBusFiltersAndNeverBlocks(t *testing.T) {
	bus, err := events.NewBus(context.Background(), nil, "", slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pushes := bus.Subscribe(ctx, func(e events.Event) bool { return e.Type == events.PushArtifact })
	stuck := bus.Subscribe(ctx, func(events.Event) bool { return true })
	var batch []events.Event
	for i := range 1000 {
		typ := events.PushArtifact
		if i%2 == 1 {
			typ = events.PullArtifact
		}
		batch = append(batch, events.Event{ID: i, Type: typ})
	}
	done := make(chan struct{})
	go func() {
		bus.Publish(ctx, batch)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	got := 0
	for len(pushes) > 0 {
		if e := <-pushes; e.Type != events.PushArtifact {
			t.Fatalf("the push subscriber got %s", e.Type)
		}
		got++
	}
	if got == 0 || got > 500 {
		t.Errorf("the push subscriber got %d events", got)
	}
	cancel()
	for range stuck {
	}
	for range pushes {
	}
}
