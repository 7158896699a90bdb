package events

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/viewer"
)

// Sink receives every batch of events before it is marked published, so
// what it does with them (enqueue webhook deliveries) survives a crash.
// It must be idempotent: after a crash a batch may come again.
type Sink interface {
	Enqueue(ctx context.Context, evs []Event) error
}

// Dispatcher turns outbox rows into events, once across every berth
// process on the database: only the holder of the "events" lease reads
// the outbox.
type Dispatcher struct {
	client *ent.Client
	bus    *Bus
	sinks  []Sink
	log    *slog.Logger
	holder string
	wake   chan struct{}
	// Poll is how often the dispatcher looks for rows other processes
	// wrote; rows written here wake it at once.
	Poll time.Duration
	// Sweep is how often the dispatcher reads the outbox from its start
	// rather than from past the rows it published last (see dispatch).
	Sweep time.Duration
	// Gather is how long a wake-up waits for more rows before it reads
	// the outbox: under a stream of pushes one read and one update then
	// serve the commits of those milliseconds, not one commit each (a
	// chunked image push commits three times).
	Gather time.Duration
	// from is the id the next read starts at, past the rows this
	// dispatcher published last, and swept when it last read the outbox
	// from its start (see dispatch).
	from  int
	swept time.Time
}

const (
	leaseName = "events"
	leaseTTL  = 15 * time.Second
	batchSize = 500
)

// NewDispatcher returns a dispatcher publishing on bus and handing every
// batch to sinks first.
func NewDispatcher(client *ent.Client, bus *Bus, log *slog.Logger, sinks ...Sink) *Dispatcher {
	host, _ := os.Hostname()
	return &Dispatcher{
		client: client, bus: bus, sinks: sinks, log: log,
		holder: fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano()%1_000_000),
		wake:   make(chan struct{}, 1),
		Poll:   250 * time.Millisecond,
		Sweep:  5 * time.Second,
		Gather: 20 * time.Millisecond,
	}
}

// Notify wakes the dispatcher: the outbox has new rows.
func (d *Dispatcher) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	ctx = viewer.SystemContext(ctx)
	defer database.ReleaseLease(context.WithoutCancel(ctx), d.client, leaseName, d.holder)
	t := time.NewTicker(d.Poll)
	defer t.Stop()
	// tried is when the lease was last asked for, held when it was last
	// granted: a holder renews it, and anybody else asks again for it,
	// every third of its term, and dispatches only while the last grant
	// is within its term.
	var tried, held time.Time
	for {
		if time.Since(tried) > leaseTTL/3 {
			tried = time.Now()
			ok, err := d.lease(ctx)
			switch {
			case err != nil:
				if ctx.Err() == nil {
					d.log.Warn("taking the event dispatcher's lease", "err", err)
				}
			case ok:
				held = tried
			default:
				held = time.Time{}
			}
		}
		if time.Since(held) < leaseTTL {
			for {
				n, err := d.dispatch(ctx)
				if err != nil {
					if ctx.Err() == nil {
						d.log.Warn("dispatching events", "err", err)
					}
					break
				}
				if n < batchSize {
					break
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.wake:
			select {
			case <-ctx.Done():
				return
			case <-time.After(d.Gather):
			}
		}
	}
}

func (d *Dispatcher) lease(ctx context.Context) (bool, error) {
	ok, err := database.AcquireLease(ctx, d.client, leaseName, d.holder, leaseTTL)
	if err != nil || ok {
		return ok, err
	}
	holder, err := database.LeaseHolder(ctx, d.client, leaseName)
	if err != nil || !database.HolderGone(holder) {
		return false, err
	}
	return database.TakeLease(ctx, d.client, leaseName, holder, d.holder, leaseTTL)
}

// dispatch publishes one batch of unpublished rows and returns how many
// rows it took.
//
// It reads from past the rows it published last, not from the outbox's
// start: on PostgreSQL the unpublished rows' index keeps an entry for
// every published row until VACUUM removes it, and after a bulk import
// each read from the start walked a million dead entries (13 ms, for every
// push, which took a third of the machine and the PUT rate from 709 to
// 500 a second). A row below that point that was not committed yet when
// it was passed (ids are taken at insert, and commit out of order) is
// found by the read from the start every Sweep.
func (d *Dispatcher) dispatch(ctx context.Context) (int, error) {
	q := d.client.Change.Query().Where(change.PublishedAtIsNil())
	if time.Since(d.swept) < d.Sweep {
		q.Where(change.IDGTE(d.from))
	} else {
		d.swept = time.Now()
	}
	rows, err := q.Order(ent.Asc(change.FieldID)).Limit(batchSize).All(ctx)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	evs := make([]Event, 0, len(rows))
	ids := make([]int, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
		if e, ok := FromChange(r); ok {
			evs = append(evs, e)
		}
	}
	for _, s := range d.sinks {
		if err := s.Enqueue(ctx, evs); err != nil {
			return 0, err
		}
	}
	if err := d.client.Change.Update().Where(change.IDIn(ids...)).SetPublishedAt(time.Now()).Exec(ctx); err != nil {
		return 0, err
	}
	d.bus.Publish(ctx, evs)
	d.from = rows[len(rows)-1].ID + 1
	return len(rows), nil
}

// FromChange turns an outbox row into the event it stands for, if any:
// blob links and repository or project deletes are not events.
func FromChange(c *ent.Change) (Event, bool) {
	var t Type
	switch c.Operation {
	case change.OperationARTIFACT_PUSHED, change.OperationARTIFACT_COPIED:
		t = PushArtifact
	case change.OperationARTIFACT_PULLED:
		t = PullArtifact
	case change.OperationARTIFACT_DELETED:
		t = DeleteArtifact
	case change.OperationTAG_CREATED:
		t = TagCreated
	case change.OperationTAG_DELETED:
		t = TagDeleted
	case change.OperationQUOTA_WARNING:
		t = QuotaWarning
	case change.OperationQUOTA_EXCEEDED:
		t = QuotaExceeded
	case change.OperationRETENTION_COMPLETED:
		t = RetentionCompleted
	case change.OperationGC_COMPLETED:
		t = GCCompleted
	case change.OperationSCAN_COMPLETED:
		t = ScanCompleted
	default:
		return Event{}, false
	}
	tags := c.Tags
	if tags == nil {
		tags = []string{}
	}
	return Event{
		ID: c.ID, Type: t, Project: c.Project, Repository: c.Repository, Digest: c.Digest,
		MediaType: c.MediaType, Tags: tags, Size: c.Size, Actor: c.Actor,
		OccurredAt: c.CreatedAt, Detail: c.Detail,
	}, true
}
