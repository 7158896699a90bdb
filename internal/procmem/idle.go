package procmem

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"
)

// Idle releases memory again whenever berth has gone quiet after work
// grew its resident set: no request in flight for Quiet, and the resident
// set at least Growth above what the last release left. Start-up is not
// the only time berth runs code and builds heaps it then does not need
// for a long while: the job queue's first jobs, a garbage collection, a
// scan or a burst of pushes do too, and a registry spends most of its
// life waiting. Releasing costs a garbage collection and, on the next
// request, minor page faults for the code it runs; MinInterval bounds how
// often that happens while background work keeps growing the heap.
type Idle struct {
	// Quiet is how long no request may have been in flight (2 s when 0).
	Quiet time.Duration
	// Growth is how far the resident set must have grown since the last
	// release (8 MiB when 0).
	Growth int64
	// MinInterval is the least time between two releases (10 s when 0).
	MinInterval time.Duration
	// OnRelease, when set, is told each release's resident set before and
	// after.
	OnRelease func(before, after int64)

	active atomic.Int64
	last   atomic.Int64 // when the last request ended, UnixNano
}

// Wrap counts next's requests in flight.
func (i *Idle) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i.active.Add(1)
		defer func() {
			i.last.Store(time.Now().UnixNano())
			i.active.Add(-1)
		}()
		next.ServeHTTP(w, r)
	})
}

// Run checks every second (or every Quiet/2 when that is shorter) until
// ctx ends; it does nothing where the resident set cannot be read.
func (i *Idle) Run(ctx context.Context) {
	quiet, growth, minInterval := i.Quiet, i.Growth, i.MinInterval
	if quiet <= 0 {
		quiet = 2 * time.Second
	}
	if growth <= 0 {
		growth = 8 << 20
	}
	if minInterval <= 0 {
		minInterval = 10 * time.Second
	}
	baseline := residentBytes()
	if baseline <= 0 {
		return
	}
	released := time.Now()
	tick := time.NewTicker(min(time.Second, quiet/2))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if i.active.Load() > 0 || now.Sub(time.Unix(0, i.last.Load())) < quiet || now.Sub(released) < minInterval {
				continue
			}
			before := residentBytes()
			if before-baseline < growth {
				continue
			}
			ReleaseStartup()
			baseline, released = residentBytes(), time.Now()
			if i.OnRelease != nil {
				i.OnRelease(before, baseline)
			}
		}
	}
}
