package storagetest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
)

// Content returns a reader of size pseudo-random bytes determined by seed.
// The bytes are generated as they are read, so tests can stream gigabytes
// without holding them in memory, and two readers with the same seed and
// size yield the same bytes.
func Content(seed uint64, size int64) io.Reader {
	return &contentReader{state: seed, left: size}
}

// contentReader is splitmix64: fast, and good enough that a swapped or
// repeated chunk changes the digest.
type contentReader struct {
	state uint64
	left  int64
	buf   [8]byte
	avail int // unread bytes at the end of buf
}

func (c *contentReader) next() uint64 {
	c.state += 0x9e3779b97f4a7c15
	z := c.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (c *contentReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n := copy(p, c.buf[8-c.avail:])
	c.avail -= n
	for ; len(p)-n >= 8; n += 8 {
		binary.LittleEndian.PutUint64(p[n:], c.next())
	}
	if n < len(p) {
		binary.LittleEndian.PutUint64(c.buf[:], c.next())
		k := copy(p[n:], c.buf[:])
		c.avail = 8 - k
		n += k
	}
	c.left -= int64(n)
	return n, nil
}

// SHA256 returns the hex sha256 of everything r yields, streaming.
func SHA256(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.CopyBuffer(h, r, make([]byte, 1<<20)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
