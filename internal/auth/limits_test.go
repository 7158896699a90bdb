package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/errdefs"
)

func TestLockoutBacksOffAfterRepeatedFailures(t *testing.T) {
	var l lockout
	now := time.Unix(1000, 0)
	for i := 0; i < lockoutAfter-1; i++ {
		l.fail("alice", now)
		if err := l.check("alice", now); err != nil {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	l.fail("alice", now)
	if err := l.check("alice", now); !errors.Is(err, errdefs.ErrTooManyRequests) {
		t.Fatalf("want a lockout after %d failures, got %v", lockoutAfter, err)
	}
	if err := l.check("alice", now.Add(1100*time.Millisecond)); err != nil {
		t.Fatalf("the first lockout lasts one second: %v", err)
	}
	l.fail("alice", now.Add(2*time.Second))
	if err := l.check("alice", now.Add(3500*time.Millisecond)); err == nil {
		t.Fatal("the second lockout lasts two seconds")
	}
	if err := l.check("bob", now); err != nil {
		t.Fatalf("other accounts are not locked: %v", err)
	}
	for i := 0; i < 30; i++ {
		l.fail("alice", now)
	}
	if f, _ := l.m.Peek("alice"); f.until.Sub(now) > lockoutMax {
		t.Fatalf("lockout %v exceeds the maximum %v", f.until.Sub(now), lockoutMax)
	}
	l.succeed("alice")
	if err := l.check("alice", now); err != nil {
		t.Fatalf("success clears the lockout: %v", err)
	}
}

func TestClientLimiterAnswers429(t *testing.T) {
	lim := NewClientLimiter(1, 3)
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
		l.fail(fmt.Sprintf("%0255d", i), now)
	}
	if n := l.len(); n > maxTrackedAccounts {
		t.Fatalf("lockout table holds %d accounts, cap is %d", n, maxTrackedAccounts)
	}
	// The most recent failures are the ones kept.
	last := fmt.Sprintf("%0255d", 3*maxTrackedAccounts-1)
	for i := 0; i < lockoutAfter; i++ {
		l.fail(last, now)
	}
	if err := l.check(last, now); err == nil {
		t.Fatal("a recently failing account is not locked")
	}
}

// TestFailureLimiterCountsOnlyFailures: Check counts nothing, so a client
// that keeps succeeding is never limited; after burst failures the client
// gets a too-many-requests error that says when to retry, and other
// clients are not affected.
func TestFailureLimiterCountsOnlyFailures(t *testing.T) {
	lim := NewClientLimiter(1, 3)
	for i := 0; i < 100; i++ {
		if err := lim.Check("192.0.2.1"); err != nil {
			t.Fatalf("check %d of a client without failures: %v", i, err)
		}
	}
	for i := 0; i < 3; i++ {
		lim.Fail("192.0.2.1")
	}
	err := lim.Check("192.0.2.1")
	if !errors.Is(err, errdefs.ErrTooManyRequests) || RetryAfter(err) != "1" {
		t.Fatalf("after the burst of failures: %v (Retry-After %q)", err, RetryAfter(err))
	}
	if err := lim.Check("192.0.2.2"); err != nil {
		t.Fatalf("another client is limited: %v", err)
	}
	// One IPv6 host commonly holds a whole /64: it is one client.
	for i := 0; i < 3; i++ {
		lim.Fail(fmt.Sprintf("2001:db8::%x", i+1))
	}
	if err := lim.Check("2001:db8::ffff"); err == nil {
		t.Fatal("an address of a limited /64 is not limited")
	}
	var nilLim *ClientLimiter
	nilLim.Fail("192.0.2.1")
	if err := nilLim.Check("192.0.2.1"); err != nil {
		t.Fatalf("a nil limiter limits: %v", err)
	}
}

// TestClientLimiterRemembersABoundedNumberOfClients: a flood of addresses
// cannot grow the table past its cap.
func TestClientLimiterRemembersABoundedNumberOfClients(t *testing.T) {
	lim := NewClientLimiter(1, 1)
	for i := 0; i < 2*maxTrackedClients; i++ {
		lim.Fail(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if n := lim.m.Len(); n > maxTrackedClients {
		t.Fatalf("client table holds %d clients, cap is %d", n, maxTrackedClients)
	}
}
