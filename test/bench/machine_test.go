//go:build bench

package bench

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// What a push of one 256 MiB layer can reach on this machine: a registry
// that stores it reads it from the socket, hashes it (sha256) and writes
// it into the page cache, and, if it keeps what it acknowledged, waits for
// the disk. berth runs those stages side by side, so its push is bounded
// by the slowest of them; Distribution runs them one after the other.
//
// On a virtual machine whose balloon reports free pages to the host
// (virtio-balloon free page reporting, as Firecracker offers), memory that
// stays free a few seconds in blocks of 2 MiB or more goes back to the
// host, and every 4 KiB page of it faults in the host again at its first
// write: a page cache write into it ran at 0.5 to 1 GB/s here, against 4
// to 6 GB/s into pages freed a moment before. Which of the two a push
// gets depends on how fragmented free memory is at that moment, so the
// benchmark measures pushes both ways (the warm push follows
// freeTouchedMemory) and the table below with memory freed just before.
const (
	// warmBytes is what freeTouchedMemory frees before a warm push: the
	// layer's page cache and crane's heap are taken from them only when
	// they are most of the free memory that is backed (freeing 320 MiB
	// made no difference).
	warmBytes = 1 << 30
	// reclaimDelay is how long the push waits for memory freed just
	// before it to go back to the host (the guest reports free pages two
	// seconds after they were freed).
	reclaimDelay = 3 * time.Second
	// coldDelay is how long machineCeilings waits before it writes into
	// new pages, for the host to take back all it freed before (a few
	// hundred MiB are reported every two seconds).
	coldDelay      = 10 * time.Second
	machineRepeats = 3
	writeChunk     = 512 << 10 // what berth's copy writes at a time
)

// machineCeilings measures sha256, a page cache write and a durable write
// (the same write followed by fdatasync) of 256 MiB in dir, writing into
// memory freed just before, and the page cache write into new pages
// (the earlier writes kept, the first coldDelay after anything was
// freed), as the benchmark's first push meets the machine; each the
// median of a few runs, as a Markdown table.
func machineCeilings(t *testing.T, dir string) string {
	t.Helper()
	buf := make([]byte, writeChunk)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(buf)
	write := func(name string, sync bool) float64 {
		path := filepath.Join(dir, name)
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		start := time.Now()
		for n := 0; n < layerSize; n += len(buf) {
			if _, err := f.Write(buf); err != nil {
				t.Fatal(err)
			}
		}
		if sync {
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
		}
		return layerSize / 1e6 / time.Since(start).Seconds()
	}
	var hashed, written, durable, cold []float64
	for range machineRepeats {
		start := time.Now()
		h := sha256.New()
		for n := 0; n < layerSize; n += len(buf) {
			h.Write(buf)
		}
		h.Sum(nil)
		hashed = append(hashed, layerSize/1e6/time.Since(start).Seconds())

		if err := freeTouchedMemory(warmBytes); err != nil {
			t.Fatal(err)
		}
		written = append(written, write("written", false))
		os.Remove(filepath.Join(dir, "written"))
		settleDisk()
		durable = append(durable, write("durable", true))
		os.Remove(filepath.Join(dir, "durable"))
	}
	// Kept until all are written, as a registry keeps what it stored:
	// each takes pages no write here freed, after the host took back
	// what was freed before (the guest reports a few hundred MiB of free
	// memory every two seconds).
	time.Sleep(coldDelay)
	for i := range machineRepeats {
		settleDisk()
		cold = append(cold, write(fmt.Sprintf("kept-%d", i), false))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| this machine, 256 MiB (median of %d) | MB/s |\n|---|---:|\n", machineRepeats)
	for _, row := range []struct {
		label string
		v     []float64
	}{
		{"sha256", hashed},
		{"write into the page cache, memory freed just before", written},
		{"write and fdatasync, memory freed just before", durable},
		{"write into the page cache, the earlier writes kept (as a registry keeps what it stored)", cold},
	} {
		fmt.Fprintf(&b, "| %s | %.0f |\n", row.label, median(row.v))
	}
	return b.String()
}

// TestMachineCeilings prints machineCeilings alone, for a quick look at a
// machine before a run of TestBenchmarkAgainstDistribution.
func TestMachineCeilings(t *testing.T) {
	table := machineCeilings(t, t.TempDir())
	t.Log(table)
	fmt.Print(table)
}

// freeTouchedMemory maps n bytes, writes every page of them and unmaps
// them: the pages go back to the kernel's free lists backed by the host,
// and what is allocated next (a push's page cache) is taken from them, as
// on a machine whose host does not take free memory back.
func freeTouchedMemory(n int) error {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return err
	}
	for i := 0; i < n; i += os.Getpagesize() {
		b[i] = 1
	}
	return syscall.Munmap(b)
}
