package artifacts

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/internal/errdefs"
)

// ReadLimits bound what one request may read and answer of the bytes
// behind artifacts: manifests, their annotations and config blobs.
type ReadLimits struct {
	// Read caps the bytes loaded from the database and the blob store.
	Read int64
	// Answer caps the bytes of manifest, annotation, layer, platform and
	// config data handed back for the answer (an estimate of their size in
	// the JSON answer, counted again for every field that returns them).
	Answer int64
	// Concurrent caps the reads in flight at once: gqlgen resolves list
	// items and fields concurrently, and each read may be a 4 MiB manifest
	// or a 16 MiB config.
	Concurrent int
}

// DefaultReadLimits are the limits of a GraphQL request: an artifact page
// of a 4 MiB manifest with a large config fits, a hundred copies do not.
var DefaultReadLimits = ReadLimits{Read: 32 << 20, Answer: 16 << 20, Concurrent: 2}

// Reads is one request's reads of artifact bytes. It caches them, so that
// the fields of one artifact (and aliases of it) read and parse its
// manifest and config once, and it charges them to the request's budgets,
// so that no request holds more than the limits in memory. graph/ puts one
// on the context of every GraphQL operation; a context without one gets a
// fresh Reads per call.
type Reads struct {
	limits ReadLimits
	sem    chan struct{}

	mu          sync.Mutex
	read        int64
	answered    int64
	manifests   map[int]*entry[*manifestData]
	annotations map[int]*entry[map[string]string]
	configs     map[string]*entry[*configData]
}

// NewReads returns an empty Reads with the given limits.
func NewReads(limits ReadLimits) *Reads {
	if limits.Concurrent < 1 {
		limits.Concurrent = 1
	}
	return &Reads{
		limits:      limits,
		sem:         make(chan struct{}, limits.Concurrent),
		manifests:   map[int]*entry[*manifestData]{},
		annotations: map[int]*entry[map[string]string]{},
		configs:     map[string]*entry[*configData]{},
	}
}

type readsKey struct{}

// WithReads returns ctx carrying r.
func WithReads(ctx context.Context, r *Reads) context.Context {
	return context.WithValue(ctx, readsKey{}, r)
}

func readsFrom(ctx context.Context) *Reads {
	if r, ok := ctx.Value(readsKey{}).(*Reads); ok {
		return r
	}
	return NewReads(DefaultReadLimits)
}

// entry is one cached value; done closes when it is loaded, so that
// concurrent resolvers asking for the same value wait for one load.
type entry[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// cached returns the value of key in m, loading it with fetch the first
// time. A failed load is cached too: the request would fail the same way.
func cached[K comparable, T any](ctx context.Context, r *Reads, m map[K]*entry[T], key K, fetch func() (T, error)) (T, error) {
	r.mu.Lock()
	e, ok := m[key]
	if !ok {
		e = &entry[T]{done: make(chan struct{})}
		m[key] = e
	}
	r.mu.Unlock()
	if ok {
		select {
		case <-e.done:
			return e.val, e.err
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
	e.val, e.err = fetch()
	close(e.done)
	return e.val, e.err
}

// load runs fn, a read from the database or the blob store that returns
// the number of bytes it read, with at most limits.Concurrent of them in
// flight, and charges those bytes to the read budget. expect is the size
// known before reading (a descriptor's), or 0.
func (r *Reads) load(ctx context.Context, expect int64, fn func() (int64, error)) error {
	if err := r.check(&r.read, expect, r.limits.Read, "read"); err != nil {
		return err // would not fit: do not even read
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	n, err := fn()
	<-r.sem
	if err != nil {
		return err
	}
	return r.charge(&r.read, n, r.limits.Read, "read")
}

// answer charges n bytes handed back for the answer.
func (r *Reads) answer(n int64) error {
	return r.charge(&r.answered, n, r.limits.Answer, "answer")
}

// check reports whether n more bytes would exceed limit, without charging them.
func (r *Reads) check(counter *int64, n, limit int64, what string) error {
	r.mu.Lock()
	over := *counter+n > limit
	r.mu.Unlock()
	if over {
		return tooLarge(limit, what)
	}
	return nil
}

// charge adds n bytes to counter, or fails when that exceeds limit.
func (r *Reads) charge(counter *int64, n, limit int64, what string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if *counter+n > limit {
		*counter = limit + 1 // later charges fail at once
		return tooLarge(limit, what)
	}
	*counter += n
	return nil
}

func tooLarge(limit int64, what string) error {
	if what == "read" {
		return errdefs.TooLargef("this request reads more than %d MiB of manifests and configs: ask for fewer artifacts or fewer of their details", limit>>20)
	}
	return errdefs.TooLargef("the answer would carry more than %d MiB of manifests and configs: ask for fewer artifacts or fewer of their details", limit>>20)
}

// manifestData is a manifest as stored, parsed on first use.
type manifestData struct {
	raw       []byte
	mediaType string
	once      sync.Once
	parsed    *Manifest
	err       error
}

func (d *manifestData) manifest() (*Manifest, error) {
	d.once.Do(func() { d.parsed, d.err = ParseManifest(d.mediaType, d.raw) })
	return d.parsed, d.err
}

// configData is a config blob, parsed as an image config on first use.
type configData struct {
	raw   []byte
	once  sync.Once
	image *ImageConfig
	err   error
}

// ReadCounts counts what a Service read for GraphQL since it started.
type ReadCounts struct {
	// Manifests loaded from the database (not those that came with the row).
	Manifests int64
	// Configs read from the blob store.
	Configs int64
}

type readCounters struct{ manifests, configs atomic.Int64 }

// ReadCounts returns how many manifests and config blobs the service has
// read for GraphQL fields; tests use it to check caching.
func (s *Service) ReadCounts() ReadCounts {
	return ReadCounts{Manifests: s.readCounts.manifests.Load(), Configs: s.readCounts.configs.Load()}
}

// summaryColumns are the artifact columns without the large ones
// (manifest, annotations: up to 4 MiB each), for rows whose large columns
// are loaded on demand through Manifest and Annotations.
var summaryColumns = func() []string {
	var out []string
	for _, c := range artifact.Columns {
		if c != artifact.FieldManifest && c != artifact.FieldAnnotations {
			out = append(out, c)
		}
	}
	return out
}()
