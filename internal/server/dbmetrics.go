package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/garbagecollection"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/viewer"
)

// dbMetrics reports, at each scrape, figures kept in the database and so
// the same on every replica (aggregate them with max, not sum): garbage
// collection runs and the bytes they freed, and the job queue by kind and
// state.
type dbMetrics struct {
	db                 *database.DB
	gcRuns, gcFreed    *prometheus.Desc
	jobs, scrapeErrors *prometheus.Desc
}

func newDBMetrics(db *database.DB) *dbMetrics {
	return &dbMetrics{
		db: db,
		gcRuns: prometheus.NewDesc("berth_gc_runs_total",
			"Garbage collection runs recorded, by status (the same on every replica).", []string{"status", "dry_run"}, nil),
		gcFreed: prometheus.NewDesc("berth_gc_freed_bytes_total",
			"Bytes freed by garbage collection runs that were not dry runs (the same on every replica).", nil, nil),
		jobs: prometheus.NewDesc("berth_jobs",
			"Jobs in the queue by kind and state (the same on every replica).", []string{"kind", "state"}, nil),
		scrapeErrors: prometheus.NewDesc("berth_metrics_database_errors",
			"1 when the database figures of this scrape could not be read.", nil, nil),
	}
}

func (d *dbMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- d.gcRuns
	ch <- d.gcFreed
	ch <- d.jobs
	ch <- d.scrapeErrors
}

func (d *dbMetrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(viewer.SystemContext(context.Background()), 3*time.Second)
	defer cancel()
	failed := 0.0
	if err := d.collectGC(ctx, ch); err != nil {
		failed = 1
	}
	if err := d.collectJobs(ctx, ch); err != nil {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(d.scrapeErrors, prometheus.GaugeValue, failed)
}

func (d *dbMetrics) collectGC(ctx context.Context, ch chan<- prometheus.Metric) error {
	var runs []struct {
		Status string `json:"status"`
		DryRun bool   `json:"dry_run"`
		Count  int    `json:"count"`
	}
	err := d.db.GarbageCollection.Query().
		GroupBy(garbagecollection.FieldStatus, garbagecollection.FieldDryRun).
		Aggregate(ent.Count()).Scan(ctx, &runs)
	if err != nil {
		return err
	}
	for _, r := range runs {
		dry := "false"
		if r.DryRun {
			dry = "true"
		}
		ch <- prometheus.MustNewConstMetric(d.gcRuns, prometheus.CounterValue, float64(r.Count), r.Status, dry)
	}
	freed, err := d.db.GarbageCollection.Query().
		Where(garbagecollection.DryRun(false)).Aggregate(ent.Sum(garbagecollection.FieldBytesFreed)).Int(ctx)
	if err != nil {
		// No run yet: the sum is NULL.
		freed = 0
	}
	ch <- prometheus.MustNewConstMetric(d.gcFreed, prometheus.CounterValue, float64(freed))
	return nil
}

func (d *dbMetrics) collectJobs(ctx context.Context, ch chan<- prometheus.Metric) error {
	rows, err := d.db.SQL().QueryContext(ctx, `SELECT kind, state, count(*) FROM river_job GROUP BY kind, state`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var kind, state string
		var n int64
		if err := rows.Scan(&kind, &state, &n); err != nil {
			return err
		}
		ch <- prometheus.MustNewConstMetric(d.jobs, prometheus.GaugeValue, float64(n), kind, state)
	}
	return rows.Err()
}
