package auth

import (
	"errors"
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
	if until := l.m["alice"].until.Sub(now); until > lockoutMax {
		t.Fatalf("lockout %v exceeds the maximum %v", until, lockoutMax)
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
