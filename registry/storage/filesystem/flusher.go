package filesystem

import "os"

// flushEvery is how many bytes a writer writes between background flushes
// of its file to stable storage.
const flushEvery = 32 << 20

// flusher makes a file's bytes durable in the background while the file is
// still being written, so that the fsync that commits it finds almost
// nothing left to do. Starting writeback early (startWriteback) is not
// enough: the data then sits in the disk's write cache (on a virtual
// machine, the host's page cache), and the commit's flush waits for all of
// it, about 170 ms for a 256 MiB blob on the machine berth is benchmarked
// on; flushed every 32 MiB while the blob streams in, the commit's fsync
// takes no measurable time and the push as a whole a third less.
//
// A flush's error is kept and reported by stop: Linux reports a failed
// writeback to one fsync only, so the commit must not believe a later,
// successful one.
type flusher struct {
	kick chan struct{}
	done chan struct{}
	err  error // the first flush's error; written by the goroutine only, read after done
}

func startFlusher(f *os.File) *flusher {
	fl := &flusher{kick: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(fl.done)
		for range fl.kick {
			if err := datasync(f); err != nil && fl.err == nil {
				fl.err = err
			}
		}
	}()
	return fl
}

// poke asks for a flush; one already asked for and not yet begun covers it.
func (fl *flusher) poke() {
	select {
	case fl.kick <- struct{}{}:
	default:
	}
}

// stop waits for the flush under way, ends the goroutine and returns the
// first flush's error.
func (fl *flusher) stop() error {
	close(fl.kick)
	<-fl.done
	return fl.err
}
