package scanner

import (
	"context"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/predicate"
	"github.com/berth-registry/berth/ent/scanreport"
	"github.com/berth-registry/berth/ent/schedule"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/viewer"
)

// StalePass is how often every process's leader looks for reports made
// against an older state of the vulnerability database, to scan them again.
const StalePass = time.Hour

// allBatch is how many artifacts scan-all reads at a time.
const allBatch = 500

// ScanAllArgs is the scan-all job: it enqueues a scan of every image and
// image index whose report is not a success against the vulnerability
// database as it is now (never scanned, failed, or made before the
// database changed). With StaleOnly it enqueues only the successful
// reports the database has changed under: what the hourly pass does, so
// that an import reaches every report scanned before it.
type ScanAllArgs struct {
	StaleOnly bool `json:"stale_only,omitempty"`
}

// Kind is the job kind.
func (ScanAllArgs) Kind() string { return "scan_all" }

// InsertOpts: one scan-all of each sort waits or runs at a time.
func (ScanAllArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       jobs.QueueScan,
		MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		}},
	}
}

// Schedule makes the SCAN_ALL schedule start scan-all, and runs the
// stale pass every StalePass. Call it before the queue starts.
func (s *Service) Schedule(q *jobs.Service) {
	q.Register(string(schedule.KindSCAN_ALL), func(int) river.JobArgs { return ScanAllArgs{} })
	q.Every(StalePass, func() river.JobArgs { return ScanAllArgs{StaleOnly: true} })
}

// AllWorker is the job worker of ScanAllArgs.
func (s *Service) AllWorker() river.Worker[ScanAllArgs] { return &allWorker{s: s} }

type allWorker struct {
	river.WorkerDefaults[ScanAllArgs]
	s *Service
}

// Work enqueues the scans, images before indexes (so that an index's
// scan finds its images' reports current), by artifact id.
func (w *allWorker) Work(ctx context.Context, job *river.Job[ScanAllArgs]) error {
	s := w.s
	sys := viewer.SystemContext(ctx)
	state, err := s.databaseState(sys)
	if err != nil {
		return err
	}
	by := "berth (scan all)"
	want := needsScan(state.key)
	if job.Args.StaleOnly {
		by, want = "berth (vulnerability database changed)", staleReport(state.key)
	}
	enqueued := 0
	for _, typ := range []artifact.ArtifactType{artifact.ArtifactTypeIMAGE, artifact.ArtifactTypeIMAGE_INDEX} {
		last := 0
		for {
			ids, err := s.opts.Client.Artifact.Query().
				Where(artifact.IDGT(last), artifact.ArtifactTypeEQ(typ), want).
				Order(ent.Asc(artifact.FieldID)).Limit(allBatch).IDs(sys)
			if err != nil {
				return err
			}
			for _, id := range ids {
				if _, err := s.Jobs.Insert(ctx, ScanArgs{ArtifactID: id, RequestedBy: by}, nil); err != nil {
					return err
				}
			}
			enqueued += len(ids)
			if len(ids) < allBatch {
				break
			}
			last = ids[len(ids)-1]
		}
	}
	if enqueued > 0 {
		s.opts.Logger.Info("scan-all enqueued scans", "scans", enqueued, "stale_only", job.Args.StaleOnly, "job", job.ID)
	}
	return nil
}

// needsScan matches artifacts without a successful report made against
// database state key.
func needsScan(key string) predicate.Artifact {
	return func(s *entsql.Selector) {
		t := entsql.Table(scanreport.Table)
		s.Where(entsql.Not(entsql.Exists(entsql.Select(t.C(scanreport.FieldID)).From(t).Where(entsql.And(
			entsql.ColumnsEQ(t.C(scanreport.FieldArtifactID), s.C(artifact.FieldID)),
			entsql.EQ(t.C(scanreport.FieldStatus), scanreport.StatusSUCCESS.String()),
			entsql.EQ(t.C(scanreport.FieldDbState), key),
		)))))
	}
}

// staleReport matches artifacts whose successful report was made against
// another database state than key, except the reports of scanner
// adapters: berth cannot tell when an adapter's database changes, so
// they would be scanned again every hour (adapter.go).
func staleReport(key string) predicate.Artifact {
	return func(s *entsql.Selector) {
		t := entsql.Table(scanreport.Table)
		s.Where(entsql.Exists(entsql.Select(t.C(scanreport.FieldID)).From(t).Where(entsql.And(
			entsql.ColumnsEQ(t.C(scanreport.FieldArtifactID), s.C(artifact.FieldID)),
			entsql.EQ(t.C(scanreport.FieldStatus), scanreport.StatusSUCCESS.String()),
			entsql.NEQ(t.C(scanreport.FieldDbState), key),
			entsql.Not(entsql.HasPrefix(t.C(scanreport.FieldDbState), adapterKeyPrefix)),
		))))
	}
}
