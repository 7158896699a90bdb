package testtool

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// ErrPortTaken is WaitListening's report that berth exited because an
// address it was given was in use: start it again on another port.
var ErrPortTaken = errors.New("berth exited: an address it was given was taken before it could listen on it")

// WaitListening waits until `berth serve` says it listens (" listening
// on ", which it prints once all its listeners are bound), polling its
// output so far with output. A harness picks a free port by listening on
// 127.0.0.1:0 and closing the listener, then passes the port to berth:
// another test's process may take it in between, and a readiness probe
// sent before berth says it listens could reach that process instead.
//
// exited must be closed once the process has exited and all its output
// is written (after cmd.Wait returns). If it exits before it listens,
// WaitListening returns ErrPortTaken when the output says an address was
// in use, and another error otherwise; it also fails after timeout. The
// errors do not hold the output: the caller shows it.
func WaitListening(output func() string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(output(), " listening on ") {
			return nil
		}
		select {
		case <-exited:
			out := output()
			if strings.Contains(out, " listening on ") {
				return nil // the readiness probe finds it gone
			}
			if strings.Contains(out, "address already in use") {
				return ErrPortTaken
			}
			return errors.New("berth exited before it listened")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("berth did not listen within %s", timeout)
		}
	}
}

// StartAgainWhilePortTaken calls start, which starts `berth serve` once and
// reports whether it lost its port (WaitListening's ErrPortTaken), until
// berth keeps one, at most five times.
func StartAgainWhilePortTaken[T any](t testing.TB, start func() (T, bool)) T {
	t.Helper()
	var v T
	err := StartAgain(func() error {
		var taken bool
		if v, taken = start(); taken {
			t.Logf("berth's port was taken before it could bind it; starting again on another")
			return ErrPortTaken
		}
		return nil
	})
	if err != nil {
		t.Fatal("berth found its port taken five times running")
	}
	return v
}

// StartAgain is StartAgainWhilePortTaken for a start that returns its
// errors (one running on a goroutine of its own, which cannot fail the
// test): it calls start again while it returns ErrPortTaken, at most five
// times in all, and returns its last error.
func StartAgain(start func() error) error {
	for attempt := 1; ; attempt++ {
		err := start()
		if !errors.Is(err, ErrPortTaken) || attempt == 5 {
			return err
		}
	}
}
