package events

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

// subscriberBuffer is how many events a slow subscriber may fall behind
// before it misses some.
const subscriberBuffer = 256

// Bus hands events to this process's subscribers. With Redis, Publish
// goes through Redis, so every berth process's subscribers get every
// event whichever process dispatched it.
type Bus struct {
	redis   *redis.Client
	channel string
	log     *slog.Logger

	mu   sync.RWMutex
	subs map[*subscription]struct{}

	stop context.CancelFunc
	done chan struct{}
}

type subscription struct {
	ch     chan Event
	accept func(Event) bool
	missed int
}

// NewBus returns a bus; rdb may be nil for an in-process one. With Redis
// it listens on channel (one per installation: processes of another berth
// sharing the Redis use another) until Close, and returns once subscribed.
func NewBus(ctx context.Context, rdb *redis.Client, channel string, log *slog.Logger) (*Bus, error) {
	b := &Bus{redis: rdb, channel: channel, log: log, subs: map[*subscription]struct{}{}}
	if rdb == nil {
		return b, nil
	}
	loop, err := Listen(ctx, rdb, channel)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.stop, b.done = cancel, make(chan struct{})
	go func() {
		defer close(b.done)
		loop(ctx, func(payload string) {
			var batch []Event
			if err := json.Unmarshal([]byte(payload), &batch); err != nil {
				b.log.Warn("dropping an undecodable event message from Redis", "err", err)
				return
			}
			b.deliver(batch)
		})
	}()
	return b, nil
}

// Publish hands events to every subscriber of every process.
func (b *Bus) Publish(ctx context.Context, evs []Event) {
	if len(evs) == 0 {
		return
	}
	if b.redis == nil {
		b.deliver(evs)
		return
	}
	data, err := json.Marshal(evs)
	if err == nil {
		err = b.redis.Publish(ctx, b.channel, data).Err()
	}
	if err != nil {
		// Subscribers of this process still get them.
		b.log.Warn("publishing events to Redis; only this process's subscribers get them", "err", err)
		b.deliver(evs)
	}
}

func (b *Bus) deliver(evs []Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for s := range b.subs {
		for _, e := range evs {
			if !s.accept(e) {
				continue
			}
			select {
			case s.ch <- e:
			default:
				s.missed++
			}
		}
	}
}

// Subscribe returns the events accept lets through until ctx ends, when
// the channel is closed. A subscriber that falls more than a few hundred
// events behind misses events rather than slowing the bus.
func (b *Bus) Subscribe(ctx context.Context, accept func(Event) bool) <-chan Event {
	s := &subscription{ch: make(chan Event, subscriberBuffer), accept: accept}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		close(s.ch)
	}()
	return s.ch
}

// Close stops listening on Redis.
func (b *Bus) Close() error {
	if b.stop != nil {
		b.stop()
		<-b.done
	}
	return nil
}
