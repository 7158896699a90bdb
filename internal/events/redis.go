package events

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Listen subscribes to a Redis pub/sub channel and returns, once
// subscribed, a loop that hands each message's payload to handle until
// ctx ends or the connection closes.
func Listen(ctx context.Context, rdb *redis.Client, channel string) (func(ctx context.Context, handle func(payload string)), error) {
	ps := rdb.Subscribe(ctx, channel)
	if _, err := ps.Receive(ctx); err != nil {
		ps.Close()
		return nil, err
	}
	return func(ctx context.Context, handle func(string)) {
		defer ps.Close()
		ch := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				handle(m.Payload)
			}
		}
	}, nil
}
