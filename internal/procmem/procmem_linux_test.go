package procmem

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestCodeMappingsAreTheExecutablesReadOnlyPrivateOnes(t *testing.T) {
	maps := []byte(`00400000-02601000 r-xp 00000000 fd:01 123 /usr/bin/berth
02601000-048f0000 r--p 02201000 fd:01 123 /usr/bin/berth
048f0000-0499c000 rw-p 044f0000 fd:01 123 /usr/bin/berth
0499c000-04a00000 rw-p 00000000 00:00 0
7f00000000-7f00001000 r--s 00000000 fd:01 456 /usr/bin/berth
7f10000000-7f10001000 r-xp 00000000 fd:01 789 /usr/lib/other.so
7f20000000-7f20001000 r--p 00000000 fd:01 124 /usr/bin/berth (deleted)
`)
	got := codeMappings(maps, "/usr/bin/berth")
	want := []mapping{{0x400000, 0x2601000}, {0x2601000, 0x48f0000}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("mappings = %x, want %x (the writable, shared and other files' mappings left alone)", got, want)
	}
}

func TestReleaseStartupUnmapsCodeThatStillRunsAfterwards(t *testing.T) {
	want := fmt.Sprintf("%x", sha256.Sum256([]byte("berth")))
	before := rssFile(t)
	released := ReleaseStartup()
	after := rssFile(t)
	if released <= 0 {
		t.Fatalf("released %d bytes of code mappings", released)
	}
	if after >= before {
		t.Fatalf("RssFile %d KiB before, %d KiB after releasing %d bytes", before, after, released)
	}
	// The code it unmapped runs again (the pages fault back in), and gives
	// the same answers.
	if got := fmt.Sprintf("%x", sha256.Sum256([]byte("berth"))); got != want || got[:8] != "5c2f64c7" {
		t.Fatalf("sha256 after release = %s, before %s", got, want)
	}
	t.Logf("RssFile %d KiB -> %d KiB (released %d KiB of mappings)", before, after, released>>10)
}

// rssFile reads RssFile (KiB) from /proc/self/status.
func rssFile(t *testing.T) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("RssFile:")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// grow makes the heap hold n bytes of touched garbage.
func grow(n int) {
	b := make([]byte, n)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	sink = b
	sink = nil
}

var sink []byte

func TestIdleReleasesGrowthOnlyOnceNoRequestIsInFlight(t *testing.T) {
	type release struct{ before, after int64 }
	releases := make(chan release, 4)
	idle := &Idle{Quiet: 100 * time.Millisecond, Growth: 16 << 20, MinInterval: 100 * time.Millisecond,
		OnRelease: func(before, after int64) { releases <- release{before, after} }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go idle.Run(ctx)

	unblock := make(chan struct{})
	srv := httptest.NewServer(idle.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		grow(64 << 20)
		<-unblock
	})))
	defer srv.Close()
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(srv.URL)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case r := <-releases:
		t.Fatalf("released %+v while a request was in flight", r)
	case <-time.After(time.Second):
	}
	close(unblock)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-releases:
		if r.before-r.after < 32<<20 {
			t.Fatalf("the release took the resident set from %d to %d bytes; 64 MiB of garbage should have gone", r.before, r.after)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no release once the request ended")
	}
	// Without new growth, nothing more happens.
	select {
	case r := <-releases:
		t.Fatalf("released again without growth: %+v", r)
	case <-time.After(500 * time.Millisecond):
	}
}
