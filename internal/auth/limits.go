package auth

import (
	"encoding/json"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/berth-registry/berth/internal/errdefs"
)

// Lockout after repeated failures: from the fifth consecutive wrong
// password an account is locked for 1s, then 2s, 4s... up to five minutes.
// Any success clears the count. Lockouts and rate limits are kept per
// process: with several replicas each enforces its own, which bounds an
// attacker by replicas x limit.
const (
	lockoutAfter = 5
	lockoutMax   = 5 * time.Minute
)

type failures struct {
	count int
	until time.Time
	last  time.Time
}

// lockout tracks failed sign-ins per account.
type lockout struct {
	mu sync.Mutex
	m  map[string]*failures
}

func (l *lockout) check(account string, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.m[account]; f != nil && now.Before(f.until) {
		wait := int(math.Ceil(f.until.Sub(now).Seconds()))
		return errdefs.TooManyRequestsf("too many failed sign-ins for %q; try again in %d seconds", account, wait)
	}
	return nil
}

func (l *lockout) fail(account string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*failures{}
	}
	if len(l.m) > 100000 {
		for k, f := range l.m {
			if now.Sub(f.last) > lockoutMax {
				delete(l.m, k)
			}
		}
	}
	f := l.m[account]
	if f == nil {
		f = &failures{}
		l.m[account] = f
	}
	f.count++
	f.last = now
	if f.count >= lockoutAfter {
		d := time.Second << min(f.count-lockoutAfter, 9)
		f.until = now.Add(min(d, lockoutMax))
	}
}

func (l *lockout) succeed(account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, account)
}

// ClientLimiter limits requests per client address with a token bucket,
// for the doors where credentials are guessed: sign-in and token issue.
type ClientLimiter struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*clientBucket
}

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewClientLimiter allows perSecond requests a second per client, with bursts of burst.
func NewClientLimiter(perSecond float64, burst int) *ClientLimiter {
	return &ClientLimiter{rate: rate.Limit(perSecond), burst: burst, m: map[string]*clientBucket{}}
}

// Allow reports whether a request from client may go ahead now.
func (c *ClientLimiter) Allow(client string) bool {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 100000 {
		for k, b := range c.m {
			if now.Sub(b.seen) > time.Minute {
				delete(c.m, k)
			}
		}
	}
	b := c.m[client]
	if b == nil {
		b = &clientBucket{lim: rate.NewLimiter(c.rate, c.burst)}
		c.m[client] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// Middleware answers 429 with Retry-After to clients over their limit.
func (c *ClientLimiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if !c.Allow(host) {
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
