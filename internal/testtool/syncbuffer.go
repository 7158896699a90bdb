package testtool

import (
	"bytes"
	"sync"
)

// syncBufferLimit is how much of a process's output a SyncBuffer keeps.
const syncBufferLimit = 4 << 20

// SyncBuffer collects a process's output for several goroutines: the
// process's copiers (or a logger's handlers) write it while the test
// reads it. It keeps the first 4 MiB, the write that crosses that mark
// included, and drops the rest while reporting it written: the start of
// the output says why a process failed, and a process that logs without
// end neither fills the test's memory nor fails on its output.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p, unless the buffer already holds 4 MiB.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > syncBufferLimit {
		return len(p), nil
	}
	return b.buf.Write(p)
}

// String returns what was kept so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
