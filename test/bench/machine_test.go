//go:build bench

package bench

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// What a push of one 256 MiB layer can reach on this machine: a registry
// that stores it reads it from the socket, hashes it (sha256) and writes
// it into the page cache, and, if it keeps what it acknowledged, waits for
// the disk. berth runs those stages side by side, so its push is bounded
// by the slowest of them; Distribution runs them one after the other.
//
// The page cache write is measured twice because on a virtual machine
// whose balloon reports free pages to the host (virtio-balloon free page
// reporting, as Firecracker offers), memory that has been free for a few
// seconds is given back to the host, and every 4 KiB page of it faults in
// the host again at its first write. A push writes into such memory; the
// same write into pages freed a moment before does not pay it.
const (
	machineRepeats = 3
	// reportDelay lets pages freed by the measurement before go back to
	// the host (the guest reports free pages two seconds after they were
	// freed).
	reportDelay = 10 * time.Second
	writeChunk  = 512 << 10 // what berth's copy writes at a time
)

// machineCeilings measures sha256, the page cache write into reclaimed and
// into just-freed memory, and the durable write (the same write followed by
// fdatasync) of a 256 MiB file in dir, each the median of a few runs, and
// returns them as a Markdown table.
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
	var hashed, cold, warm, durable []float64
	for range machineRepeats {
		start := time.Now()
		h := sha256.New()
		for n := 0; n < layerSize; n += len(buf) {
			h.Write(buf)
		}
		h.Sum(nil)
		hashed = append(hashed, layerSize/1e6/time.Since(start).Seconds())

		time.Sleep(reportDelay)
		cold = append(cold, write("cold", false))
		os.Remove(filepath.Join(dir, "cold"))
		warm = append(warm, write("warm", false))
		os.Remove(filepath.Join(dir, "warm"))
		settleDisk()
		durable = append(durable, write("durable", true))
		os.Remove(filepath.Join(dir, "durable"))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| this machine, 256 MiB (median of %d) | MB/s |\n|---|---:|\n", machineRepeats)
	for _, row := range []struct {
		label string
		v     []float64
	}{
		{"sha256", hashed},
		{"write into the page cache, memory free for 10 s", cold},
		{"write into the page cache, memory freed just before", warm},
		{"write and fdatasync, memory freed just before", durable},
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
