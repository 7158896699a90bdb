package testtool_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/testtool"
)

func TestSyncBufferKeepsTheFirstFourMiB(t *testing.T) {
	var b testtool.SyncBuffer
	line := bytes.Repeat([]byte("x"), 1<<10)
	line[len(line)-1] = '\n'
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 1 << 10 { // 8 MiB in all
				if n, err := b.Write(line); n != len(line) || err != nil {
					t.Errorf("Write: %d, %v", n, err)
					return
				}
				if i%128 == 0 {
					_ = b.String() // a reader while they write
				}
			}
		})
	}
	wg.Wait()
	out := b.String()
	if len(out) < 4<<20 || len(out) > 4<<20+len(line) {
		t.Fatalf("kept %d bytes, want the first 4 MiB and at most the write that crossed it", len(out))
	}
	if strings.Count(out, "\n") != len(out)/len(line) {
		t.Fatal("writes were interleaved")
	}
}

func TestWaitListeningTellsATakenPortFromOtherEnds(t *testing.T) {
	closed := make(chan struct{})
	close(closed)
	running := make(chan struct{})
	for _, tc := range []struct {
		name    string
		output  string
		exited  chan struct{}
		want    error  // compared with errors.Is
		wantMsg string // or a part of the message
	}{
		{"listening", "berth dev listening on 127.0.0.1:5000 (http://127.0.0.1:5000)\n", running, nil, ""},
		{"listening and gone", "berth dev listening on 127.0.0.1:5000 (http://127.0.0.1:5000)\n", closed, nil, ""},
		{"port taken", "berth: --addr (BERTH_ADDR): listen tcp 127.0.0.1:5000: bind: address already in use\n", closed, testtool.ErrPortTaken, ""},
		{"exited otherwise", "berth: --database-url: connection refused\n", closed, nil, "exited before it listened"},
		{"silent", "", running, nil, "did not listen within"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := testtool.WaitListening(func() string { return tc.output }, tc.exited, 100*time.Millisecond)
			switch {
			case tc.wantMsg != "":
				if err == nil || errors.Is(err, testtool.ErrPortTaken) || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("got %v, want an error saying %q", err, tc.wantMsg)
				}
			case !errors.Is(err, tc.want):
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestStartAgainWhilePortTakenStartsUntilBerthKeepsItsPort(t *testing.T) {
	starts := 0
	got := testtool.StartAgainWhilePortTaken(t, func() (int, bool) {
		starts++
		return starts, starts < 3 // taken twice, then kept
	})
	if got != 3 || starts != 3 {
		t.Fatalf("returned start %d after %d starts, want the third of 3", got, starts)
	}
}
