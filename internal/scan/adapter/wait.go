package adapter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ErrTimedOut: the adapter had no report before the wait's deadline. The
// error wraps the context's error too.
var ErrTimedOut = errors.New("no report in time")

// maxTransient is how many transient failures in a row polling survives.
const maxTransient = 3

// ScanAndWait sends req and polls for its report until the adapter has
// it, waiting between polls as the adapter asks (see Report), for at most
// maxWait (0: as long as ctx lasts). A few transient failures in a row
// while polling (no answer, 429, 502, 503, 504) are retried after
// Options.PollInterval; any other failure ends the wait. A report about
// another digest than req's is refused (ErrBadAnswer).
func (c *Client) ScanAndWait(ctx context.Context, req ScanRequest, maxWait time.Duration) (*Report, error) {
	if maxWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, maxWait)
		defer cancel()
	}
	start := time.Now()
	id, err := c.Scan(ctx, req)
	if err != nil {
		return nil, err
	}
	op := "report of scan " + strconv.Quote(id)
	timeout := func(polls int) error {
		return c.fail(op, 0, ErrTimedOut,
			fmt.Sprintf("still none after %s and %d polls", time.Since(start).Round(time.Millisecond), polls), ctx.Err())
	}
	transient := 0
	for polls := 1; ; polls++ {
		r, wait, err := c.Report(ctx, id)
		switch {
		case err == nil && r != nil:
			if r.Artifact.Digest != "" && r.Artifact.Digest != req.Artifact.Digest {
				return nil, c.fail(op, http.StatusOK, ErrBadAnswer,
					fmt.Sprintf("the report is about %q, not %s", clip(r.Artifact.Digest, 100), req.Artifact.Digest), nil)
			}
			return r, nil
		case err != nil && ctx.Err() != nil:
			return nil, timeout(polls)
		case err != nil && isTransient(err) && transient < maxTransient:
			transient++
			wait = c.opts.PollInterval
		case err != nil:
			return nil, err
		default:
			transient = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, timeout(polls)
		case <-t.C:
		}
	}
}

// isTransient reports whether polling again may get an answer.
func isTransient(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if e.Kind == ErrUnreachable {
		return true
	}
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}
