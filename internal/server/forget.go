package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/events"
)

// forgets carries, through Redis, the names one replica dropped from its
// name cache (a deleted repository, a project made private) to the others,
// which drop them within a round trip instead of when their entries
// expire.
type forgets struct {
	rdb     *redis.Client
	channel string
	log     *slog.Logger
}

// publish tells every replica to drop names.
func (f *forgets) publish(names []string) {
	data, err := json.Marshal(names)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = f.rdb.Publish(ctx, f.channel, data).Err()
		cancel()
	}
	if err != nil {
		f.log.Warn("telling other replicas to drop cached names; they expire within 2 seconds anyway", "err", err)
	}
}

// listen drops from content's cache what any replica forgets, until ctx
// ends. It returns once subscribed.
func (f *forgets) listen(ctx context.Context, content *artifacts.Service) (func(context.Context), error) {
	loop, err := events.Listen(ctx, f.rdb, f.channel)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) {
		loop(ctx, func(payload string) {
			var names []string
			if json.Unmarshal([]byte(payload), &names) == nil && len(names) <= 10000 {
				content.Dropped(names...)
			}
		})
	}, nil
}
