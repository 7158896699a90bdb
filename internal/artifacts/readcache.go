package artifacts

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/berth-registry/berth/ent"
)

// readCache keeps what this process read recently for pulls: manifests by
// repository and reference, and blob sizes by repository and digest, so
// that a hot manifest or layer (the one a CI fleet pulls a thousand times
// a minute) is served without a database round trip.
//
// Staleness is bounded two ways. Every change of a project's content
// committed by this process bumps the project's generation, and an entry
// filled under an older generation is never served: read-your-writes on
// one replica. A change committed by another replica is seen when the
// entry expires, after manifestTTL, and a deletion there sooner (its
// cache invalidation arrives through Redis and drops the project's
// entries here too): a tag moved anywhere is seen everywhere within a
// second, without a message per push.
type readCache struct {
	mu    sync.Mutex
	lru   *simplelru.LRU[string, *cachedManifest]
	bytes int
	sizes *simplelru.LRU[string, cachedSize]
	// gens are the projects' generations, bumped by every change of their
	// content; absent is zero.
	gens map[string]uint64
}

type cachedSize struct {
	size int64
	gen  uint64
	at   time.Time
}

type cachedManifest struct {
	a       *ent.Artifact
	project string
	gen     uint64
	at      time.Time
}

const (
	// manifestTTL bounds how long another replica's change may go unseen.
	manifestTTL = time.Second
	// A few thousand manifests of at most 64 KiB, at most 8 MiB in all:
	// real manifests are a few KiB, and the few huge ones are cold.
	readCacheEntries  = 4096
	readCacheBytes    = 8 << 20
	maxCachedManifest = 64 << 10
	blobSizeEntries   = 16384
)

func newReadCache() *readCache {
	c := &readCache{gens: map[string]uint64{}}
	c.lru, _ = simplelru.NewLRU[string, *cachedManifest](readCacheEntries, func(_ string, m *cachedManifest) {
		c.bytes -= len(m.a.Manifest)
	})
	c.sizes, _ = simplelru.NewLRU[string, cachedSize](blobSizeEntries, nil)
	return c
}

func manifestKey(repo, reference string) string { return repo + "\x00" + reference }

// generation returns project's generation, to be read before the database
// is: an entry filled from a read that a change overtook is then stale.
func (c *readCache) generation(project string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gens[project]
}

// get returns the cached artifact of repo and reference of project, or nil.
// The artifact is shared: callers must not change it.
func (c *readCache) get(project, repo, reference string) *ent.Artifact {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := manifestKey(repo, reference)
	m, ok := c.lru.Get(key)
	if !ok {
		return nil
	}
	if m.gen != c.gens[project] || time.Since(m.at) > manifestTTL {
		c.lru.Remove(key)
		return nil
	}
	return m.a
}

// put caches a, read for repo and reference after generation returned gen.
func (c *readCache) put(project, repo, reference string, gen uint64, a *ent.Artifact) {
	if len(a.Manifest) > maxCachedManifest {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gens[project] {
		return // a change committed meanwhile
	}
	key := manifestKey(repo, reference)
	c.lru.Remove(key)
	c.lru.Add(key, &cachedManifest{a: a, project: project, gen: gen, at: time.Now()})
	c.bytes += len(a.Manifest)
	for c.bytes > readCacheBytes {
		c.lru.RemoveOldest()
	}
}

// blobSize returns the cached size of blob key (repository and digest) of
// project, if any.
func (c *readCache) blobSize(project, key string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.sizes.Get(key)
	if !ok {
		return 0, false
	}
	if e.gen != c.gens[project] || time.Since(e.at) > manifestTTL {
		c.sizes.Remove(key)
		return 0, false
	}
	return e.size, true
}

// putBlobSize caches a blob's size, read after generation returned gen.
func (c *readCache) putBlobSize(project, key string, gen uint64, size int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gens[project] {
		c.sizes.Add(key, cachedSize{size: size, gen: gen, at: time.Now()})
	}
}

// invalidate makes everything cached of the projects stale.
func (c *readCache) invalidate(projects ...string) {
	if len(projects) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range projects {
		c.gens[p]++
	}
}
