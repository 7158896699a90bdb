package artifacts

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/internal/viewer"
)

// pullRecorder batches pull statistics in memory and writes them every
// interval, so that a pull costs no database write. Counts are added
// (pull_count = pull_count + n), so replicas flushing their own batches do
// not overwrite each other; a crash loses at most one interval of counts.
type pullRecorder struct {
	client *ent.Client
	log    *slog.Logger

	mu        sync.Mutex
	artifacts map[int]time.Time // artifact id -> last pull
	repos     map[int]int64     // repository id -> pulls
	// events are the PULL_ARTIFACT events to record: one outbox row per
	// artifact and puller per flush, with the number of pulls.
	events map[pullKey]*pullEvent
	// onFlush is called after pull events were recorded.
	onFlush func()

	// flushing is held for a whole flush, so a flush that finds nothing
	// pending still waits for one in progress: when FlushPulls returns,
	// every pull recorded before it is written.
	flushing sync.Mutex

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type pullKey struct {
	artifactID int
	actor      string
}

type pullEvent struct {
	repo, digest, mediaType string
	size                    int64
	count                   int
	at                      time.Time
}

// maxPullEvents bounds the pull events one flush keeps; pulls past it
// still count in the statistics.
const maxPullEvents = 10000

func newPullRecorder(client *ent.Client, log *slog.Logger, interval time.Duration) *pullRecorder {
	p := &pullRecorder{
		client: client, log: log,
		artifacts: map[int]time.Time{}, repos: map[int]int64{}, events: map[pullKey]*pullEvent{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go p.loop(interval)
	return p
}

func (p *pullRecorder) record(a *ent.Artifact, repo, actor string) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.artifacts[a.ID] = now
	p.repos[a.RepositoryID]++
	k := pullKey{a.ID, actor}
	if e := p.events[k]; e != nil {
		e.count++
		e.at = now
	} else if len(p.events) < maxPullEvents {
		p.events[k] = &pullEvent{repo: repo, digest: a.Digest, mediaType: a.MediaType, size: a.Size, count: 1, at: now}
	}
}

func (p *pullRecorder) loop(interval time.Duration) {
	defer close(p.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), interval*4)
			if err := p.flush(ctx); err != nil {
				p.log.Warn("flushing pull statistics", "err", err)
			}
			cancel()
		case <-p.stop:
			return
		}
	}
}

func (p *pullRecorder) flush(ctx context.Context) error {
	p.flushing.Lock()
	defer p.flushing.Unlock()
	p.mu.Lock()
	arts, repos, evs := p.artifacts, p.repos, p.events
	p.artifacts, p.repos, p.events = map[int]time.Time{}, map[int]int64{}, map[pullKey]*pullEvent{}
	p.mu.Unlock()
	if len(arts) == 0 && len(repos) == 0 {
		return nil
	}
	sys := viewer.SystemContext(ctx)
	var firstErr error
	if err := p.recordEvents(sys, evs); err != nil {
		firstErr = err
	}
	for id, at := range arts {
		// The artifact may have been deleted since; that is not an error.
		if _, err := p.client.Artifact.Update().Where(artifactIDIs(id)).SetPulledAt(at).Save(sys); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for id, n := range repos {
		if _, err := p.client.Repository.Update().Where(repositoryIDIs(id)).AddPullCount(n).Save(sys); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

func (p *pullRecorder) close() error {
	p.once.Do(func() { close(p.stop) })
	<-p.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.flush(ctx)
}

// recordEvents writes the batched PULL_ARTIFACT events to the outbox.
func (p *pullRecorder) recordEvents(ctx context.Context, evs map[pullKey]*pullEvent) error {
	if len(evs) == 0 {
		return nil
	}
	rows := make([]*ent.ChangeCreate, 0, len(evs))
	for k, e := range evs {
		rows = append(rows, p.client.Change.Create().SetOperation(change.OperationARTIFACT_PULLED).
			SetProject(ProjectName(e.repo)).SetRepository(e.repo).SetDigest(e.digest).
			SetMediaType(e.mediaType).SetSize(e.size).SetActor(clipActor(k.actor)).
			SetDetail(map[string]any{"count": e.count}).SetCreatedAt(e.at))
	}
	for chunk := range slices.Chunk(rows, 500) {
		if err := p.client.Change.CreateBulk(chunk...).Exec(ctx); err != nil {
			return err
		}
	}
	if p.onFlush != nil {
		p.onFlush()
	}
	return nil
}
