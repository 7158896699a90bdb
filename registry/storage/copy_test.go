package storage

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// limitedWriter takes at most n bytes, then fails.
type limitedWriter struct {
	buf bytes.Buffer
	n   int
}

var errFull = errors.New("disk full")

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.n {
		k := w.n - w.buf.Len()
		w.buf.Write(p[:k])
		return k, errFull
	}
	return w.buf.Write(p)
}

// TestCopyHashingHashesExactlyWhatWasWritten: whole copies, reads that
// fail midway and writes that fail midway all leave the hash covering
// exactly the bytes the writer took.
func TestCopyHashingHashesExactlyWhatWasWritten(t *testing.T) {
	data := make([]byte, 5*pipeBufferSize+12345)
	rand.Read(data)
	errGone := errors.New("client went away")
	cases := []struct {
		name    string
		src     io.Reader
		limit   int
		wantErr error
	}{
		{"whole", bytes.NewReader(data), len(data), nil},
		{"small reads", iotest.HalfReader(bytes.NewReader(data)), len(data), nil},
		{"empty", bytes.NewReader(nil), 0, nil},
		{"read fails midway", io.MultiReader(bytes.NewReader(data[:3*pipeBufferSize+7]), iotest.ErrReader(errGone)), len(data), errGone},
		{"write fails midway", bytes.NewReader(data), 2*pipeBufferSize + 99, errFull},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := &limitedWriter{n: c.limit}
			h := sha256.New()
			n, err := CopyHashing(w, c.src, h)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if n != int64(w.buf.Len()) {
				t.Fatalf("reported %d bytes written, the writer took %d", n, w.buf.Len())
			}
			if !bytes.Equal(w.buf.Bytes(), data[:n]) {
				t.Fatal("the writer got other bytes than the source's")
			}
			if want := sha256.Sum256(data[:n]); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("the hash does not cover exactly the %d bytes written", n)
			}
		})
	}
}

func BenchmarkCopyHashing(b *testing.B) {
	data := make([]byte, 64<<20)
	rand.Read(data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		CopyHashing(io.Discard, bytes.NewReader(data), sha256.New())
	}
}

func BenchmarkCopyThenHash(b *testing.B) {
	data := make([]byte, 64<<20)
	rand.Read(data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		h := sha256.New()
		io.CopyBuffer(io.MultiWriter(io.Discard, h), bytes.NewReader(data), make([]byte, 1<<20))
	}
}
