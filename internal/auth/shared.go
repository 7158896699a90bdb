package auth

import (
	"context"
	"crypto/rand"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// SharedLimits keeps the counts behind rate limits and account lockouts
// in Redis, so that every replica sees every failure: five wrong
// passwords through a load balancer lock the account on all replicas,
// and a client's budget is one budget, not one per replica. Times come
// from the Redis server's clock, which replicas share.
//
// When Redis fails, each process falls back to its own counts (and says
// so in its log) rather than letting everybody in or nobody.
type SharedLimits struct {
	rdb    *redis.Client
	rate   *redis_rate.Limiter
	prefix string
	log    *slog.Logger
	warned atomic.Int64 // unix seconds of the last fallback warning
}

// NewSharedLimits keeps its counts in rdb under keys starting with prefix
// (one per installation, so installations sharing a Redis do not mix).
func NewSharedLimits(rdb *redis.Client, prefix string, log *slog.Logger) *SharedLimits {
	return &SharedLimits{rdb: rdb, rate: redis_rate.NewLimiter(rdb), prefix: prefix, log: log}
}

// redisTimeout bounds a Redis round trip on a sign-in: past it, the
// process's own counts decide.
const redisTimeout = 2 * time.Second

// lockoutKeep is how long Redis remembers an account's failures after
// the last one (the in-process table remembers until it is full).
const lockoutKeep = 24 * time.Hour

// fallback logs, at most every ten seconds, that Redis failed and the
// process's own counts apply.
func (s *SharedLimits) fallback(err error) {
	now := time.Now().Unix()
	if last := s.warned.Load(); now-last >= 10 && s.warned.CompareAndSwap(last, now) {
		s.log.Warn("Redis failed: rate limits and lockouts use this process's counts until it answers", "err", err)
	}
}

// failScript counts one failure of an account and, from the lockoutAfter-th
// on, locks it for 1s, 2s, 4s... up to lockoutMax (as lockout.fail does).
var failScript = redis.NewScript(`
if redis.call("HGET", KEYS[1], "nonce") == ARGV[4] then
  return tonumber(redis.call("HGET", KEYS[1], "count"))
end
redis.call("HSET", KEYS[1], "nonce", ARGV[4])
local t = redis.call("TIME")
-- Whole microseconds (exact in a double until the year 2255): a time
-- written with tostring's 14 digits could be rounded up by 50 µs and make
-- a 2 s lockout answer "try again in 3 seconds".
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local after = tonumber(ARGV[1])
local count = redis.call("HINCRBY", KEYS[1], "count", 1)
if count >= after then
  local d = math.min(2 ^ math.min(count - after, 9), tonumber(ARGV[2]))
  redis.call("HSET", KEYS[1], "until_us", string.format("%d", now + d * 1000000))
end
redis.call("EXPIRE", KEYS[1], ARGV[3])
return count
`)

// waitScript returns how many seconds an account stays locked (0: not).
var waitScript = redis.NewScript(`
local u = redis.call("HGET", KEYS[1], "until_us")
if not u then return "0" end
local t = redis.call("TIME")
local wait = tonumber(u) - (tonumber(t[1]) * 1000000 + tonumber(t[2]))
if wait <= 0 then return "0" end
return string.format("%.6f", wait / 1000000)
`)

func (s *SharedLimits) lockoutKey(account string) string { return s.prefix + "lockout:" + account }

// lockedFor returns how long account stays locked out.
func (s *SharedLimits) lockedFor(ctx context.Context, account string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	v, err := waitScript.Run(ctx, s.rdb, []string{s.lockoutKey(account)}).Text()
	if err != nil {
		return 0, err
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(secs * float64(time.Second)), nil
}

func (s *SharedLimits) fail(ctx context.Context, account string) error {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	// The nonce makes a retried run (go-redis retries a command whose
	// reply timed out) count the failure once.
	return failScript.Run(ctx, s.rdb, []string{s.lockoutKey(account)},
		lockoutAfter, int(lockoutMax/time.Second), int(lockoutKeep/time.Second), rand.Text()).Err()
}

func (s *SharedLimits) succeed(ctx context.Context, account string) error {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	return s.rdb.Del(ctx, s.lockoutKey(account)).Err()
}

// take spends cost (0 or 1) of client's budget in limiter name and returns
// the tokens left before it (cost 0 only looks) and whether it was allowed.
func (s *SharedLimits) take(ctx context.Context, name, client string, limit redis_rate.Limit, cost int) (*redis_rate.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	return s.rate.AllowN(ctx, s.prefix+"rate:"+name+":"+client, limit, cost)
}
