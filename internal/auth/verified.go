package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedIdle is how long a successful password check is reused after its
// last use. Clients sign in again for every pull and push (docker, crane
// and helm fetch a token per command), and an argon2id check costs tens
// of milliseconds and 12 MiB here: a CI runner pulling every few minutes
// with one password paid it on most pulls when an entry lasted a minute
// from the first check. An entry proves only that a password matches a
// stored hash; the account is read on every sign-in that the one-second
// sign-in cache does not answer, so a disabled account is refused as
// before, and a changed password has a new hash and so a new key.
const verifiedIdle = 5 * time.Minute

// maxVerified bounds the entries kept; a full cache forgets entries at
// random to make room, which only costs their owners a hash.
const maxVerified = 10000

// verifiedChecks remembers recent successful argon2id checks by a hash of
// (stored hash, password), so no password is kept in memory.
type verifiedChecks struct {
	mu      sync.Mutex
	entries map[[32]byte]time.Time // key -> last use
}

func verifiedKey(hash, password string) [32]byte {
	return sha256.Sum256([]byte(hash + "\x00" + password))
}

// used reports whether key was verified and used within verifiedIdle
// before now, and if so counts now as a use.
func (c *verifiedChecks) used(key [32]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	last, ok := c.entries[key]
	if !ok || now.Sub(last) >= verifiedIdle {
		return false
	}
	c.entries[key] = now
	return true
}

// put records key as verified at now.
func (c *verifiedChecks) put(key [32]byte, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[[32]byte]time.Time{}
	}
	if len(c.entries) >= maxVerified {
		for k, last := range c.entries {
			if now.Sub(last) >= verifiedIdle {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < maxVerified {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = now
}
