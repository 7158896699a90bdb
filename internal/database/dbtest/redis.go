package dbtest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisURL returns the Redis server tests use (BERTH_TEST_REDIS_URL, or
// the local server's database 0), skipping the test when it does not
// answer unless services are required.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("BERTH_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("BERTH_TEST_REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		if RequireServices() {
			t.Fatalf("Redis unreachable at %s: %v", u, err)
		}
		t.Skipf("Redis unreachable (%v); set BERTH_TEST_REDIS_URL or BERTH_TEST_REQUIRE_SERVICES=1", err)
	}
	return u
}

// Redis returns a client of the test Redis, closed when the test ends.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opts, _ := redis.ParseURL(RedisURL(t))
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
