package storage

import (
	"hash"
	"io"
	"sync"
	"sync/atomic"
)

// Buffers of the overlapped copy: four of 512 KiB keep the reader, the
// writer and the hasher busy at once (a push is bounded by the slowest of
// the three instead of their sum) for 2 MiB per upload in flight.
const (
	pipeBuffers    = 4
	pipeBufferSize = 512 << 10
)

var pipePool = sync.Pool{New: func() any { b := make([]byte, pipeBufferSize); return &b }}

// CopyHashing copies src to dst as io.Copy does and writes to h exactly
// the bytes dst accepted, in order. Reading, writing and hashing run in
// three goroutines on successive buffers: sha256 runs at about the speed
// of a disk write, so doing them one after the other, as an
// io.MultiWriter does, costs nearly twice the time of either.
//
// Bytes go to the hasher only after dst took them, so whatever happens
// (the client goes away, the disk fills up) h covers the first n bytes of
// the copy and nothing more. It returns the bytes written and the first
// read (other than io.EOF) or write error.
func CopyHashing(dst io.Writer, src io.Reader, h hash.Hash) (int64, error) {
	free := make(chan *[]byte, pipeBuffers)
	for range pipeBuffers {
		free <- pipePool.Get().(*[]byte)
	}
	type chunk struct {
		buf *[]byte
		n   int
	}
	toWrite := make(chan chunk, pipeBuffers)
	toHash := make(chan chunk, pipeBuffers)
	var (
		written int64
		werr    error
		failed  atomic.Bool
		done    = make(chan struct{})
	)
	go func() { // writer
		defer close(toHash)
		for c := range toWrite {
			if werr != nil {
				free <- c.buf
				continue
			}
			n, err := dst.Write((*c.buf)[:c.n])
			if err == nil && n < c.n {
				err = io.ErrShortWrite
			}
			written += int64(n)
			if err != nil {
				werr = err
				failed.Store(true)
			}
			if n > 0 {
				toHash <- chunk{c.buf, n}
			} else {
				free <- c.buf
			}
		}
	}()
	go func() { // hasher
		for c := range toHash {
			h.Write((*c.buf)[:c.n])
			free <- c.buf
		}
		close(done)
	}()
	var rerr error
	for !failed.Load() {
		buf := <-free
		n, err := io.ReadFull(src, *buf)
		if n > 0 {
			toWrite <- chunk{buf, n}
		} else {
			free <- buf
		}
		if err != nil {
			if err != io.EOF && err != io.ErrUnexpectedEOF {
				rerr = err
			}
			break
		}
	}
	close(toWrite)
	<-done
	for range pipeBuffers {
		pipePool.Put(<-free)
	}
	if werr != nil {
		return written, werr
	}
	return written, rerr
}
