package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/berth-registry/berth/internal/events"
)

// forgets carries, through Redis, what one replica dropped from a cache
// to the others, which drop it within a round trip instead of when their
// entries expire: names dropped from the name cache (a deleted repository,
// a project made private), or that roles changed (a member row).
type forgets struct {
	rdb     *redis.Client
	channel string
	log     *slog.Logger
	// what the cache holds and how long its entries live, for the log.
	what string
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
		f.log.Warn("telling other replicas to drop "+f.what+" anyway", "err", err)
	}
}

// listen calls drop with what any replica forgets, until ctx ends. It
// returns once subscribed.
func (f *forgets) listen(ctx context.Context, drop func(names ...string)) (func(context.Context), error) {
	loop, err := events.Listen(ctx, f.rdb, f.channel)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) {
		loop(ctx, func(payload string) {
			var names []string
			if json.Unmarshal([]byte(payload), &names) == nil && len(names) <= 10000 {
				drop(names...)
			}
		})
	}, nil
}
