package artifacts

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-registry/berth/ent"
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

	// flushing is held for a whole flush, so a flush that finds nothing
	// pending still waits for one in progress: when FlushPulls returns,
	// every pull recorded before it is written.
	flushing sync.Mutex

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

func newPullRecorder(client *ent.Client, log *slog.Logger, interval time.Duration) *pullRecorder {
	p := &pullRecorder{
		client: client, log: log,
		artifacts: map[int]time.Time{}, repos: map[int]int64{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go p.loop(interval)
	return p
}

func (p *pullRecorder) record(artifactID, repoID int) {
	p.mu.Lock()
	p.artifacts[artifactID] = time.Now()
	p.repos[repoID]++
	p.mu.Unlock()
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
	arts, repos := p.artifacts, p.repos
	p.artifacts, p.repos = map[int]time.Time{}, map[int]int64{}
	p.mu.Unlock()
	if len(arts) == 0 && len(repos) == 0 {
		return nil
	}
	sys := viewer.SystemContext(ctx)
	var firstErr error
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
