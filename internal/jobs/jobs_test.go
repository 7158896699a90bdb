package jobs_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/jobs"
)

type echoArgs struct {
	N int `json:"n"`
}

func (echoArgs) Kind() string { return "echo" }

type echoWorker struct {
	river.WorkerDefaults[echoArgs]
	fails int
}

func (w *echoWorker) Work(ctx context.Context, job *river.Job[echoArgs]) error {
	if job.Attempt <= w.fails {
		return context.DeadlineExceeded
	}
	return nil
}

// TestJobsRetryWithBackoffAndList runs a job that fails twice and checks
// that it is retried until it completes, and that listing pages through
// the jobs newest first.
func TestJobsRetryWithBackoffAndList(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		workers := river.NewWorkers()
		river.AddWorker(workers, &echoWorker{fails: 2})
		q, err := jobs.New(ctx, jobs.Options{DB: db, Logger: slog.Default(), Workers: workers, RetryDelay: 50 * time.Millisecond, Work: true, PollInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for i := range 3 {
			j, err := q.Insert(ctx, echoArgs{N: i}, &river.InsertOpts{Queue: jobs.QueueMaintenance})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, j.ID)
		}
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		j, err := q.Wait(waitCtx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if j.State != "completed" || j.Attempt != 3 || len(j.Errors) != 2 {
			t.Fatalf("job ended %s after %d attempts with %d errors, want completed after 3 with 2", j.State, j.Attempt, len(j.Errors))
		}
		page, next, err := q.List(ctx, jobs.Filter{Kind: "echo"}, 2, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 2 || page[0].ID != ids[2] || next == "" {
			t.Fatalf("first page: %d jobs, first %d, next %q", len(page), page[0].ID, next)
		}
		page, next, err = q.List(ctx, jobs.Filter{Kind: "echo"}, 2, next)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 1 || page[0].ID != ids[0] || next != "" {
			t.Fatalf("second page: %+v, next %q", page, next)
		}
	})
}
