package auth

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/errdefs"
)

// Lockout after repeated failures: from the fifth consecutive wrong
// password an account is locked for 1s, then 2s, 4s... up to five minutes.
// Any success clears the count. With Redis (SharedLimits) lockouts and
// rate limits hold across replicas; without it each process keeps its own.
const (
	lockoutAfter = 5
	lockoutMax   = 5 * time.Minute
)

// Hard caps on what failed sign-ins may make a process remember, so that a
// flood of made-up names or addresses costs bounded memory (a few MB each:
// names are at most maxUsernameLen bytes). The least recently failing
// entries are forgotten first; an attacker who floods names to evict an
// account's count is held back by the per-client failure limit.
const (
	maxTrackedAccounts = 1 << 14
	maxTrackedClients  = 1 << 15
)

type failures struct {
	count int
	until time.Time
}

// lockout tracks failed sign-ins per account: in shared when set and
// answering, in this process otherwise.
type lockout struct {
	shared *SharedLimits
	mu     sync.Mutex
	m      *simplelru.LRU[string, *failures]
}

func lockedOut(account string, wait time.Duration) error {
	return retryAfter(errdefs.TooManyRequestsf("too many failed sign-ins for %q; try again in %d seconds",
		account, int(math.Ceil(wait.Seconds()))), wait)
}

func (l *lockout) check(ctx context.Context, account string, now time.Time) error {
	if l.shared != nil {
		wait, err := l.shared.lockedFor(ctx, account)
		if err == nil {
			if wait > 0 {
				return lockedOut(account, wait)
			}
			return nil
		}
		l.shared.fallback(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		return nil
	}
	if f, ok := l.m.Peek(account); ok && now.Before(f.until) {
		return lockedOut(account, f.until.Sub(now))
	}
	return nil
}

func (l *lockout) fail(ctx context.Context, account string, now time.Time) {
	if l.shared != nil {
		err := l.shared.fail(ctx, account)
		if err == nil {
			return
		}
		l.shared.fallback(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m, _ = simplelru.NewLRU[string, *failures](maxTrackedAccounts, nil)
	}
	f, ok := l.m.Get(account)
	if !ok {
		f = &failures{}
		// A clone, so the key does not pin the request's credentials
		// string it was cut from.
		l.m.Add(strings.Clone(account), f)
	}
	f.count++
	if f.count >= lockoutAfter {
		d := time.Second << min(f.count-lockoutAfter, 9)
		f.until = now.Add(min(d, lockoutMax))
	}
}

func (l *lockout) succeed(ctx context.Context, account string) {
	if l.shared != nil {
		if err := l.shared.succeed(ctx, account); err != nil {
			l.shared.fallback(err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m != nil {
		l.m.Remove(account)
	}
}

func (l *lockout) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		return 0
	}
	return l.m.Len()
}

// ClientLimiter limits clients by address with a token bucket each. It
// works in one of two ways: Allow and Middleware count every request, for
// the doors where credentials are guessed (sign-in and token issue); Check
// and Fail count only failures, for doors that honest clients call all the
// time (Basic credentials on every /v2/ request). With SharedLimits the
// buckets live in Redis (GCRA, redis_rate) and hold across replicas.
type ClientLimiter struct {
	name   string
	limit  redis_rate.Limit
	shared *SharedLimits
	mu     sync.Mutex
	m      *simplelru.LRU[string, *rate.Limiter]
}

// NewClientLimiter allows perSecond requests (or failures) a second per
// client, with bursts of burst; name tells its buckets in Redis apart from
// other limiters'. shared may be nil (counts in this process).
func NewClientLimiter(name string, perSecond, burst int, shared *SharedLimits) *ClientLimiter {
	m, _ := simplelru.NewLRU[string, *rate.Limiter](maxTrackedClients, nil)
	return &ClientLimiter{name: name, limit: redis_rate.Limit{Rate: perSecond, Burst: burst, Period: time.Second}, shared: shared, m: m}
}

func (c *ClientLimiter) bucket(client string, create bool) *rate.Limiter {
	lim, ok := c.m.Get(client)
	if !ok && create {
		lim = rate.NewLimiter(rate.Limit(c.limit.Rate), c.limit.Burst)
		c.m.Add(strings.Clone(client), lim)
	}
	return lim
}

// Allow reports whether a request from client may go ahead now, and counts it.
func (c *ClientLimiter) Allow(ctx context.Context, client string) bool {
	key := ClientKey(client)
	if c.shared != nil {
		res, err := c.shared.take(ctx, c.name, key, c.limit, 1)
		if err == nil {
			return res.Allowed > 0
		}
		c.shared.fallback(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bucket(key, true).Allow()
}

// Check returns a too-many-requests error, saying when to retry, if client
// has used up its failures; it counts nothing. A nil limiter, or an unknown
// client (""), is never limited.
func (c *ClientLimiter) Check(ctx context.Context, client string) error {
	if c == nil || client == "" {
		return nil
	}
	tokens := c.tokens(ctx, ClientKey(client))
	if tokens < 1 {
		wait := time.Duration((1 - tokens) / float64(c.limit.Rate) * float64(time.Second))
		return retryAfter(errdefs.TooManyRequestsf("too many failed sign-ins from your address; slow down"), wait)
	}
	return nil
}

// tokens returns what is left of the bucket of key, counting nothing; a
// client never seen has a full one.
func (c *ClientLimiter) tokens(ctx context.Context, key string) float64 {
	if c.shared != nil {
		res, err := c.shared.take(ctx, c.name, key, c.limit, 0)
		if err == nil {
			return float64(res.Remaining)
		}
		c.shared.fallback(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if lim := c.bucket(key, false); lim != nil {
		return lim.TokensAt(time.Now())
	}
	return float64(c.limit.Burst)
}

// Fail counts one failure of client.
func (c *ClientLimiter) Fail(ctx context.Context, client string) {
	if c == nil || client == "" {
		return
	}
	c.Allow(ctx, client)
}

// ClientKey is the key a client address is limited by: the address
// itself, or its /64 network for IPv6, where one host commonly holds a
// whole /64 and could otherwise rotate through fresh buckets.
func ClientKey(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil || ip.To4() != nil {
		return addr
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// Middleware answers 429 with Retry-After to clients over their limit.
func (c *ClientLimiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := audit.ClientIP(r.Context())
		if client == "" { // not behind audit.Middleware, as in unit tests
			client = r.RemoteAddr
			if host, _, err := net.SplitHostPort(client); err == nil {
				client = host
			}
		}
		if !c.Allow(r.Context(), client) {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			json.NewEncoder(w).Encode(map[string]any{
				// Both shapes in one: OCI clients read code, GraphQL clients extensions.code.
				"errors": []map[string]any{{"code": "TOOMANYREQUESTS", "message": "too many requests; slow down", "extensions": map[string]any{"code": "TOO_MANY_REQUESTS"}}},
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// retryError is a too-many-requests error that knows when to retry.
type retryError struct {
	error
	wait time.Duration
}

func (e *retryError) Unwrap() error { return e.error }

func retryAfter(err error, wait time.Duration) error { return &retryError{error: err, wait: wait} }

// RetryAfter returns the value of a Retry-After header (whole seconds, at
// least 1) for a too-many-requests error, or "" for any other error.
func RetryAfter(err error) string {
	if !errors.Is(err, errdefs.ErrTooManyRequests) {
		return ""
	}
	secs := 1
	var re *retryError
	if errors.As(err, &re) {
		secs = max(1, int(math.Ceil(re.wait.Seconds())))
	}
	return strconv.Itoa(secs)
}
