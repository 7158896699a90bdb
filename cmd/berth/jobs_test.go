package main_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
)

type jobNode struct {
	ID        string
	Kind      string
	State     string
	Attempt   int
	CreatedAt time.Time
}

// jobList lists the jobs of a kind, newest first.
func jobList(t *testing.T, base, kind string) []jobNode {
	t.Helper()
	out := graphql(t, base, "admin", gcAdminPassword,
		fmt.Sprintf(`{ jobs(first: 100, where: {kind: %q}) { edges { node { id kind state attempt createdAt } } } }`, kind))
	if out["errors"] != nil {
		t.Fatalf("jobs: %v", out["errors"])
	}
	raw, _ := json.Marshal(out["data"].(map[string]any)["jobs"].(map[string]any)["edges"])
	var edges []struct{ Node jobNode }
	if err := json.Unmarshal(raw, &edges); err != nil {
		t.Fatal(err)
	}
	nodes := make([]jobNode, len(edges))
	for i, e := range edges {
		nodes[i] = e.Node
	}
	return nodes
}

// writeOrphans puts n files with no row into the blob store, which a
// garbage collection sweeps one transaction each: enough of them make a
// run last long enough to be killed in the middle.
func writeOrphans(t *testing.T, dataDir string, n int) []string {
	t.Helper()
	paths := make([]string, n)
	for i := range paths {
		content := fmt.Appendf(nil, "orphan %d of a job test\n", i)
		hex := fmt.Sprintf("%x", sha256.Sum256(content))
		dir := filepath.Join(dataDir, "storage", "blobs", "sha256", hex[:2], hex)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		paths[i] = filepath.Join(dir, "data")
		if err := os.WriteFile(paths[i], content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

// TestJobKilledMidRunFinishesOnceAfterRestart kills `berth serve` with
// SIGKILL while a garbage collection job runs, starts it again on the same
// database and store, and checks that the job is picked up again at once
// (its process is gone), completes exactly once, and did its work.
func TestJobKilledMidRunFinishesOnceAfterRestart(t *testing.T) {
	bin := buildBerth(t)
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			dataDir, dbURL := t.TempDir(), dbtest.URL(t, kind)
			first := startServeWith(t, bin, dataDir, dbURL, "--gc-grace-period", "0s", "--gc-workers", "1")
			base := first.url
			orphans := writeOrphans(t, dataDir, 2000)
			// The mutation is sent from another goroutine while this one
			// watches: on SQLite the sweep can be a thousand orphans in
			// before the mutation's response arrives, and on a fast machine
			// done.
			started := make(chan error, 1)
			go func() {
				out, err := postGraphQL(base, "admin", gcAdminPassword, `mutation { runGarbageCollection(input: {}) { id status } }`)
				if err == nil && out["errors"] != nil {
					err = fmt.Errorf("runGarbageCollection: %v", out["errors"])
				}
				started <- err
			}()
			// Kill it as soon as it has swept its first orphan. The store is
			// walked in lexical order, so that is the lexically first path:
			// watching it alone reacts within a millisecond.
			firstOrphan := slices.Min(orphans)
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
				if _, err := os.Stat(firstOrphan); err != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the garbage collection job did not start sweeping (mutation: %v)", <-started)
				}
			}
			if err := first.kill(); err != nil {
				t.Fatal(err)
			}
			// The kill may have cut the mutation's response off; any other
			// failure is the test's.
			if err := <-started; err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatal(err)
			}
			swept := gcMissing(orphans)
			if swept == len(orphans) {
				t.Fatal("the run finished before it was killed; make it longer")
			}
			t.Logf("killed after %d of %d orphans", swept, len(orphans))

			// berth comes back on another port; base follows it.
			base = startServeWith(t, bin, dataDir, dbURL, "--gc-grace-period", "0s", "--gc-workers", "1").url
			var jobs []jobNode
			for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				jobs = jobList(t, base, "garbage_collection")
				if len(jobs) == 1 && jobs[0].State == "COMPLETED" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the job did not complete after the restart: %+v", jobs)
				}
			}
			if jobs[0].Attempt != 2 {
				t.Errorf("the job completed on attempt %d, want 2 (killed once)", jobs[0].Attempt)
			}
			if n := gcMissing(orphans); n != len(orphans) {
				t.Errorf("%d of %d orphans left after the job completed", len(orphans)-n, len(orphans))
			}
			runs := gcRuns(t, base)
			var statuses []string
			for _, r := range runs {
				statuses = append(statuses, r.Status)
			}
			// Newest first: the run that finished, then the interrupted one.
			if !slices.Equal(statuses, []string{"SUCCEEDED", "FAILED"}) {
				t.Fatalf("runs %v, want one SUCCEEDED after the interrupted one", statuses)
			}
			if full := gcRun(t, base, runs[1].ID); !strings.Contains(full.Log, "interrupted") {
				t.Errorf("the killed run's log does not say it was interrupted:\n%s", full.Log)
			}
		})
	}
}

// TestScheduledJobRunsOncePerTickAcrossProcesses starts two berth
// processes on one PostgreSQL, schedules garbage collection every two
// seconds through one of them, and checks that each tick made one job, not
// one per process.
func TestScheduledJobRunsOncePerTickAcrossProcesses(t *testing.T) {
	dataDir, dbURL := t.TempDir(), dbtest.URL(t, database.Postgres)
	bin := buildBerth(t)
	a := startServeWith(t, bin, dataDir, dbURL).url
	b := startServeWith(t, bin, dataDir, dbURL).url
	out := graphql(t, b, "admin", gcAdminPassword,
		`mutation { updateSchedule(input: {kind: GARBAGE_COLLECTION, cron: "@every 2s", enabled: true}) { cron enabled nextRunAt } }`)
	if out["errors"] != nil {
		t.Fatalf("updateSchedule: %v", out["errors"])
	}
	// Whichever process leads picks the schedule up within its next tick
	// (10 s at most), then enqueues one job every 2 s.
	var jobs []jobNode
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		jobs = jobList(t, a, "garbage_collection")
		if len(jobs) >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d scheduled jobs in a minute", len(jobs))
		}
	}
	out = graphql(t, a, "admin", gcAdminPassword,
		`mutation { updateSchedule(input: {kind: GARBAGE_COLLECTION, cron: "@every 2s", enabled: false}) { enabled } }`)
	if out["errors"] != nil {
		t.Fatalf("updateSchedule: %v", out["errors"])
	}
	slices.SortFunc(jobs, func(x, y jobNode) int { return x.CreatedAt.Compare(y.CreatedAt) })
	for i := 1; i < len(jobs); i++ {
		if gap := jobs[i].CreatedAt.Sub(jobs[i-1].CreatedAt); gap < time.Second {
			t.Errorf("jobs %s and %s were enqueued %s apart: one tick made two jobs", jobs[i-1].ID, jobs[i].ID, gap)
		}
	}
	for _, j := range jobs {
		if j.State == "CANCELLED" || j.State == "DISCARDED" {
			t.Errorf("job %s ended %s", j.ID, j.State)
		}
	}
}
