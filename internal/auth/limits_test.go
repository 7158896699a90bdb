package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/errdefs"
)

func TestLockoutBacksOffAfterRepeatedFailures(t *testing.T) {
	ctx := context.Background()
	var l lockout
	now := time.Unix(1000, 0)
	for i := 0; i < lockoutAfter-1; i++ {
		l.fail(ctx, "alice", now)
		if err := l.check(ctx, "alice", now); err != nil {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	l.fail(ctx, "alice", now)
	if err := l.check(ctx, "alice", now); !errors.Is(err, errdefs.ErrTooManyRequests) {
		t.Fatalf("want a lockout after %d failures, got %v", lockoutAfter, err)
	}
	if err := l.check(ctx, "alice", now.Add(1100*time.Millisecond)); err != nil {
		t.Fatalf("the first lockout lasts one second: %v", err)
	}
	l.fail(ctx, "alice", now.Add(2*time.Second))
	if err := l.check(ctx, "alice", now.Add(3500*time.Millisecond)); err == nil {
		t.Fatal("the second lockout lasts two seconds")
	}
	if err := l.check(ctx, "bob", now); err != nil {
		t.Fatalf("other accounts are not locked: %v", err)
	}
	for i := 0; i < 30; i++ {
		l.fail(ctx, "alice", now)
	}
	if f, _ := l.m.Peek("alice"); f.until.Sub(now) > lockoutMax {
		t.Fatalf("lockout %v exceeds the maximum %v", f.until.Sub(now), lockoutMax)
	}
	l.succeed(ctx, "alice")
	if err := l.check(ctx, "alice", now); err != nil {
		t.Fatalf("success clears the lockout: %v", err)
	}
}

func TestClientLimiterAnswers429(t *testing.T) {
	lim := NewClientLimiter("test", 1, 3, nil)
	h := lim.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	codes := []int{}
	for i := 0; i < 5; i++ {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/auth/login", nil)
		req.RemoteAddr = "192.0.2.1:1234"
		h.ServeHTTP(rec, req)
		codes = append(codes, rec.Code)
	}
	if codes[2] != 200 || codes[3] != http.StatusTooManyRequests || codes[4] != http.StatusTooManyRequests {
		t.Fatalf("burst of 3 then 429: got %v", codes)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/auth/login", nil)
	req.RemoteAddr = "192.0.2.2:1234"
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("another client is not limited: %d", rec.Code)
	}
}

// TestLockoutRemembersABoundedNumberOfAccounts: a flood of made-up names
// cannot grow the lockout table past its cap, and the names it keeps are
// copies that do not pin the (possibly huge) strings they came from.
func TestLockoutRemembersABoundedNumberOfAccounts(t *testing.T) {
	var l lockout
	now := time.Unix(1000, 0)
	for i := 0; i < 3*maxTrackedAccounts; i++ {
		l.fail(context.Background(), fmt.Sprintf("%0255d", i), now)
	}
	if n := l.len(); n > maxTrackedAccounts {
		t.Fatalf("lockout table holds %d accounts, cap is %d", n, maxTrackedAccounts)
	}
	// The most recent failures are the ones kept.
	last := fmt.Sprintf("%0255d", 3*maxTrackedAccounts-1)
	for i := 0; i < lockoutAfter; i++ {
		l.fail(context.Background(), last, now)
	}
	if err := l.check(context.Background(), last, now); err == nil {
		t.Fatal("a recently failing account is not locked")
	}
}

// TestFailureLimiterCountsOnlyFailures: Check counts nothing, so a client
// that keeps succeeding is never limited; after burst failures the client
// gets a too-many-requests error that says when to retry, and other
// clients are not affected.
func TestFailureLimiterCountsOnlyFailures(t *testing.T) {
	for _, where := range []string{"memory", "redis"} {
		t.Run(where, func(t *testing.T) {
			ctx := context.Background()
			var shared *SharedLimits
			if where == "redis" {
				shared = NewSharedLimits(dbtest.Redis(t), "berth-test:"+t.Name()+rand.Text()+":", slog.New(slog.DiscardHandler))
			}
			lim := NewClientLimiter("test", 1, 3, shared)
			for i := 0; i < 100; i++ {
				if err := lim.Check(ctx, "192.0.2.1"); err != nil {
					t.Fatalf("check %d of a client without failures: %v", i, err)
				}
			}
			for i := 0; i < 3; i++ {
				lim.Fail(ctx, "192.0.2.1")
			}
			err := lim.Check(ctx, "192.0.2.1")
			if !errors.Is(err, errdefs.ErrTooManyRequests) || RetryAfter(err) != "1" {
				t.Fatalf("after the burst of failures: %v (Retry-After %q)", err, RetryAfter(err))
			}
			if err := lim.Check(ctx, "192.0.2.2"); err != nil {
				t.Fatalf("another client is limited: %v", err)
			}
			// One IPv6 host commonly holds a whole /64: it is one client.
			for i := 0; i < 3; i++ {
				lim.Fail(ctx, fmt.Sprintf("2001:db8::%x", i+1))
			}
			if err := lim.Check(ctx, "2001:db8::ffff"); err == nil {
				t.Fatal("an address of a limited /64 is not limited")
			}
			var nilLim *ClientLimiter
			nilLim.Fail(ctx, "192.0.2.1")
			if err := nilLim.Check(ctx, "192.0.2.1"); err != nil {
				t.Fatalf("a nil limiter limits: %v", err)
			}
		})
	}
}

// TestClientLimiterRemembersABoundedNumberOfClients: a flood of addresses
// cannot grow the table past its cap.
func TestClientLimiterRemembersABoundedNumberOfClients(t *testing.T) {
	ctx := context.Background()
	lim := NewClientLimiter("test", 1, 1, nil)
	for i := 0; i < 2*maxTrackedClients; i++ {
		lim.Fail(ctx, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if n := lim.m.Len(); n > maxTrackedClients {
		t.Fatalf("client table holds %d clients, cap is %d", n, maxTrackedClients)
	}
}

// TestSharedLockoutHoldsOnEveryReplica: two processes' lockouts on one
// Redis see each other's failures; a success on either clears the count
// for both; the back-off follows the same steps as in memory.
func TestSharedLockoutHoldsOnEveryReplica(t *testing.T) {
	ctx := context.Background()
	rdb := dbtest.Redis(t)
	prefix := "berth-test:" + rand.Text() + ":"
	log := slog.New(slog.DiscardHandler)
	a := lockout{shared: NewSharedLimits(rdb, prefix, log)}
	b := lockout{shared: NewSharedLimits(rdb, prefix, log)}
	now := time.Now()
	for i := 0; i < lockoutAfter; i++ {
		if err := b.check(ctx, "alice", now); err != nil {
			t.Fatalf("locked after %d failures", i)
		}
		[]*lockout{&a, &b}[i%2].fail(ctx, "alice", now)
	}
	err := b.check(ctx, "alice", now)
	if !errors.Is(err, errdefs.ErrTooManyRequests) || RetryAfter(err) != "1" {
		t.Fatalf("after %d failures spread over two replicas: %v (Retry-After %q)", lockoutAfter, err, RetryAfter(err))
	}
	if err := a.check(ctx, "bob", now); err != nil {
		t.Fatalf("another account is locked: %v", err)
	}
	if a.len() != 0 || b.len() != 0 {
		t.Fatal("with Redis answering, nothing is counted in the process")
	}
	a.fail(ctx, "alice", now)
	if err := a.check(ctx, "alice", now); RetryAfter(err) != "2" {
		t.Fatalf("the second lockout lasts two seconds: %v (Retry-After %q)", err, RetryAfter(err))
	}
	b.succeed(ctx, "alice")
	if err := a.check(ctx, "alice", now); err != nil {
		t.Fatalf("a success on one replica clears the lockout on the other: %v", err)
	}
	if ttl := rdb.TTL(ctx, prefix+"lockout:bob").Val(); ttl > 0 {
		t.Fatalf("a key for an account that never failed: ttl %v", ttl)
	}
	a.fail(ctx, "carol", now)
	if ttl := rdb.TTL(ctx, prefix+"lockout:carol").Val(); ttl <= 0 || ttl > lockoutKeep {
		t.Fatalf("a failure count is kept %v, want up to %v", ttl, lockoutKeep)
	}
}

// TestSharedLimitsFallBackToTheProcessWhenRedisFails: with Redis gone,
// lockouts and limits still hold, counted in the process.
func TestSharedLimitsFallBackToTheProcessWhenRedisFails(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	shared := NewSharedLimits(rdb, "berth-test:", slog.New(slog.DiscardHandler))
	l := lockout{shared: shared}
	now := time.Now()
	for i := 0; i < lockoutAfter; i++ {
		l.fail(ctx, "alice", now)
	}
	if err := l.check(ctx, "alice", now); !errors.Is(err, errdefs.ErrTooManyRequests) {
		t.Fatalf("without Redis the process's lockout still holds: %v", err)
	}
	lim := NewClientLimiter("test", 1, 2, shared)
	lim.Fail(ctx, "192.0.2.9")
	lim.Fail(ctx, "192.0.2.9")
	if err := lim.Check(ctx, "192.0.2.9"); !errors.Is(err, errdefs.ErrTooManyRequests) {
		t.Fatalf("without Redis the process's limit still holds: %v", err)
	}
}
