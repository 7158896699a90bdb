// Package vulndb is berth's offline vulnerability database: OSV records
// (ossf.github.io/osv-schema) imported from JSON files, directories of
// them and the per-ecosystem all.zip exports, on disk or at http(s) URLs
// (refreshed periodically by a job, refresh.go), into berth's own
// database, and the matching of installed packages against them.
package vulndb

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/osvaffected"
	"github.com/berth-registry/berth/ent/osvecosystem"
	"github.com/berth-registry/berth/ent/osvrecord"
	"github.com/berth-registry/berth/ent/schema/osvrange"
	"github.com/berth-registry/berth/internal/database"
)

// BatchSize is how many records one import transaction writes.
const BatchSize = 500

// maxArchiveRead bounds the bytes an import inflates from one zip.
const maxArchiveRead = 16 << 30

// affectedChunk is how many affected rows one INSERT writes, well under
// the bind-parameter limits of SQLite (32766) and PostgreSQL (65535).
const affectedChunk = 1000

// Result counts what an import did.
type Result struct {
	Read      int // records read from the sources
	Added     int // records new to the database
	Updated   int // records replaced by a newer modified time
	Unchanged int // records skipped: the stored one is as new or newer
	Withdrawn int // withdrawn records: removed if stored, else ignored
}

// Import reads OSV records from each source, a JSON file, a directory
// (every *.json below it), a zip export (all.zip) or an http(s) URL of a
// JSON file or a zip export (downloaded whole first, see download.go),
// and upserts them by OSV id: a record replaces the stored one only with
// a newer modified time, a withdrawn record removes it. Records are
// written BatchSize per transaction. A zip is checked whole (its
// directory, every entry's size and checksum) before any of it is
// written, so a truncated or damaged one, like a failed download, writes
// nothing. The first bad record (unreadable, not OSV JSON, larger than
// MaxRecordSize) stops the import with an error that names its file and
// says how many records were committed before it; the batch it was in is
// not written. ctx must carry a viewer allowed to write the database: a
// system admin or berth itself (viewer.SystemContext).
func Import(ctx context.Context, client *ent.Client, sources ...string) (Result, error) {
	res, _, err := importFrom(ctx, client, importOptions{}, sources)
	return res, err
}

// importFrom is Import with options; changed reports whether the import
// changed what any ecosystem holds (and so the scanner's database state).
func importFrom(ctx context.Context, client *ent.Client, opts importOptions, sources []string) (res Result, changed bool, err error) {
	im := &importer{client: client, opts: opts, touched: map[string]time.Time{}}
	for _, src := range sources {
		if IsURL(src) {
			err = im.url(ctx, src)
		} else {
			err = im.source(ctx, src)
		}
		if err != nil {
			break
		}
	}
	if err == nil {
		err = im.flush(ctx)
	}
	if err != nil {
		err = fmt.Errorf("%w (%d records were committed before this error, the records read after them were not)", err, im.committed)
	}
	// Keep the per-ecosystem figures true to what was committed, even
	// when the import stopped half-way.
	if uerr := im.updateEcosystems(context.WithoutCancel(ctx)); uerr != nil {
		err = errors.Join(err, uerr)
	}
	return im.res, len(im.touched) > 0, err
}

type importer struct {
	client    *ent.Client
	opts      importOptions
	res       Result
	pending   []*prepared
	committed int
	// touched maps the ecosystems (without release) an import changed to
	// the newest modified time it wrote in them.
	touched map[string]time.Time
}

// prepared is a record ready to be written.
type prepared struct {
	where    string // the file (and zip entry) it came from
	rec      *osvRecord
	modified time.Time
	rating   rating
	affected []affectedRow
}

type affectedRow struct {
	ecosystem, base, name, key string
	ranges                     []osvrange.Range
	versions, fixed            []string
	rating                     rating
}

// source imports one path: a directory, a zip or a JSON file.
func (im *importer) source(ctx context.Context, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if info.IsDir() {
		return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("reading %s: %w", p, err)
			}
			if d.Type().IsRegular() && strings.EqualFold(filepath.Ext(p), ".json") {
				return im.file(ctx, p, p)
			}
			return nil
		})
	}
	if isZip(path) {
		return im.archive(ctx, path, path)
	}
	return im.file(ctx, path, path)
}

// url downloads a URL and imports it as a zip or a JSON file, whichever
// its first bytes say it is; errors name the URL.
func (im *importer) url(ctx context.Context, rawURL string) error {
	path, err := download(ctx, im.opts, rawURL)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	if isZip(path) {
		return im.archive(ctx, path, Redact(rawURL))
	}
	return im.file(ctx, path, Redact(rawURL))
}

// isZip tells a zip by its first bytes (a local file header, or the end
// of an empty archive), whatever its name.
func isZip(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil {
		return false
	}
	return string(magic) == "PK\x03\x04" || string(magic) == "PK\x05\x06"
}

// file imports the JSON record at path; name is what errors call it.
func (im *importer) file(ctx context.Context, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > MaxRecordSize {
		return fmt.Errorf("%s: larger than %d bytes, the most one OSV record may be", name, MaxRecordSize)
	}
	rec, err := decodeRecord(f)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return im.add(ctx, name, rec)
}

// archive imports every *.json entry of the zip at path, one entry in
// memory at a time, after checking all of them; name is what errors call
// it.
func (im *importer) archive(ctx context.Context, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	if info.Size() > MaxArchiveSize {
		return fmt.Errorf("%s: larger than %d bytes, the most a zip export may be", name, int64(MaxArchiveSize))
	}
	// A zip cut short has no central directory: NewReader fails here.
	zr, err := zip.NewReader(f, info.Size())
	if err != nil {
		return fmt.Errorf("%s: not a readable zip: %w", name, err)
	}
	if len(zr.File) > MaxArchiveEntries {
		return fmt.Errorf("%s: more than %d files", name, MaxArchiveEntries)
	}
	entries, err := checkArchive(ctx, zr, name)
	if err != nil {
		return err
	}
	for _, zf := range entries {
		where := name + ":" + zf.Name
		rc, err := zf.Open()
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		rec, err := decodeRecord(rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if err := im.add(ctx, where, rec); err != nil {
			return err
		}
	}
	return nil
}

// checkArchive returns the *.json entries of a zip after reading each to
// its end, which verifies its checksum: a damaged entry anywhere fails the
// import before any of the zip's records are written, rather than after
// the batches before it were committed. Bounds are checked on the way.
func checkArchive(ctx context.Context, zr *zip.Reader, name string) ([]*zip.File, error) {
	var entries []*zip.File
	var inflated uint64
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() || !strings.EqualFold(filepath.Ext(zf.Name), ".json") {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		where := name + ":" + zf.Name
		// The header's size may lie; at most one byte more than the bound
		// is read whatever it says, here and by decodeRecord.
		if zf.UncompressedSize64 > MaxRecordSize {
			return nil, fmt.Errorf("%s: larger than %d bytes, the most one OSV record may be", where, MaxRecordSize)
		}
		if inflated += zf.UncompressedSize64; inflated > maxArchiveRead {
			return nil, fmt.Errorf("%s: more than %d bytes uncompressed", name, uint64(maxArchiveRead))
		}
		rc, err := zf.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		n, err := io.Copy(io.Discard, io.LimitReader(rc, MaxRecordSize+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: damaged: %w", where, err)
		}
		if n > MaxRecordSize {
			return nil, fmt.Errorf("%s: larger than %d bytes, the most one OSV record may be", where, MaxRecordSize)
		}
		entries = append(entries, zf)
	}
	return entries, nil
}

// add queues a record, writing the queue when it holds a batch.
func (im *importer) add(ctx context.Context, where string, rec *osvRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	im.res.Read++
	im.pending = append(im.pending, prepare(where, rec))
	if len(im.pending) >= BatchSize {
		return im.flush(ctx)
	}
	return nil
}

// prepare turns a decoded record into rows: the text bounded, the ranges
// that can be matched kept, the severities rated.
func prepare(where string, rec *osvRecord) *prepared {
	p := &prepared{
		where:    where,
		rec:      rec,
		modified: rec.Modified.UTC().Truncate(time.Microsecond),
		rating:   rate(rec.Severity, rec.DatabaseSpecific),
	}
	for _, a := range rec.Affected {
		eco, name := strings.TrimSpace(a.Package.Ecosystem), strings.TrimSpace(a.Package.Name)
		if eco == "" || name == "" {
			continue // a GIT-only entry: nothing to match a package against
		}
		row := affectedRow{ecosystem: eco, base: ecosystemBase(eco), name: name, key: nameKey(eco, name), versions: a.Versions}
		for _, r := range a.Ranges {
			if r.Type != osvrange.SemVer && r.Type != osvrange.Ecosystem {
				continue
			}
			row.ranges = append(row.ranges, osvrange.Range{Type: r.Type, Events: r.Events})
			for _, e := range r.Events {
				if e.Fixed != "" {
					row.fixed = append(row.fixed, e.Fixed)
				}
			}
		}
		// The package's own CVSS, else the record's; without either, the
		// package's own rating word, else the record's.
		own := rate(a.Severity, a.EcosystemSpecific, a.DatabaseSpecific)
		switch {
		case own.Vector != "":
			row.rating = own
		case p.rating.Vector != "" || own.Level == Unknown:
			row.rating = p.rating
		default:
			row.rating = own
		}
		p.affected = append(p.affected, row)
	}
	return p
}

// flush writes the queued records in one transaction.
func (im *importer) flush(ctx context.Context) error {
	if len(im.pending) == 0 {
		return nil
	}
	batch := im.pending
	im.pending = nil
	// The same id twice in a batch: the newer one stands, the other
	// counts as unchanged.
	var res Result
	latest := map[string]*prepared{}
	var ids []string
	for _, p := range batch {
		old, ok := latest[p.rec.ID]
		if !ok {
			ids = append(ids, p.rec.ID)
		} else {
			res.Unchanged++
		}
		if !ok || !p.modified.Before(old.modified) {
			latest[p.rec.ID] = p
		}
	}
	touched := map[string]time.Time{}
	err := database.WithTx(ctx, im.client, func(tx *ent.Tx) error {
		stored, err := tx.OSVRecord.Query().Where(osvrecord.OsvIDIn(ids...)).
			Select(osvrecord.FieldID, osvrecord.FieldOsvID, osvrecord.FieldModified).All(ctx)
		if err != nil {
			return err
		}
		existing := make(map[string]*ent.OSVRecord, len(stored))
		for _, r := range stored {
			existing[r.OsvID] = r
		}
		var remove []int
		var write []*prepared
		for _, id := range ids {
			p, old := latest[id], existing[id]
			switch {
			case p.rec.Withdrawn != nil:
				res.Withdrawn++
				if old == nil {
					continue
				}
				remove = append(remove, old.ID)
			case old != nil && !p.modified.After(old.Modified):
				res.Unchanged++
				continue
			case old != nil:
				res.Updated++
				remove = append(remove, old.ID)
				write = append(write, p)
			default:
				res.Added++
				write = append(write, p)
			}
			for _, a := range p.affected {
				if p.modified.After(touched[a.base]) {
					touched[a.base] = p.modified
				}
			}
		}
		if len(remove) > 0 {
			// A replaced or withdrawn record leaves the ecosystems it was
			// in, whether or not its new version names them.
			bases, err := tx.OSVAffected.Query().Where(osvaffected.RecordIDIn(remove...)).
				Unique(true).Select(osvaffected.FieldEcosystemBase).Strings(ctx)
			if err != nil {
				return err
			}
			for _, b := range bases {
				if _, ok := touched[b]; !ok {
					touched[b] = time.Time{}
				}
			}
			if _, err := tx.OSVAffected.Delete().Where(osvaffected.RecordIDIn(remove...)).Exec(ctx); err != nil {
				return err
			}
			if _, err := tx.OSVRecord.Delete().Where(osvrecord.IDIn(remove...)).Exec(ctx); err != nil {
				return err
			}
		}
		return writeRecords(ctx, tx, write)
	})
	if err != nil {
		return fmt.Errorf("writing the records of %s to %s: %w", batch[0].where, batch[len(batch)-1].where, err)
	}
	im.committed += len(batch)
	im.res.Added += res.Added
	im.res.Updated += res.Updated
	im.res.Unchanged += res.Unchanged
	im.res.Withdrawn += res.Withdrawn
	for base, t := range touched {
		if old, ok := im.touched[base]; !ok || t.After(old) {
			im.touched[base] = t
		}
	}
	return nil
}

func writeRecords(ctx context.Context, tx *ent.Tx, write []*prepared) error {
	if len(write) == 0 {
		return nil
	}
	now := time.Now()
	creates := make([]*ent.OSVRecordCreate, len(write))
	for i, p := range write {
		r := p.rec
		var published *time.Time
		if r.Published != nil {
			t := r.Published.UTC().Truncate(time.Microsecond)
			published = &t
		}
		var links []string
		for _, ref := range r.References {
			links = append(links, ref.URL)
		}
		creates[i] = tx.OSVRecord.Create().
			SetOsvID(r.ID).
			SetAliases(bounded(r.Aliases, maxAliases, maxIDLen)).
			SetModified(p.modified).
			SetNillablePublished(published).
			SetSummary(text(r.Summary, MaxSummary)).
			SetDetails(text(r.Details, MaxDetails)).
			SetSeverity(osvrecord.Severity(p.rating.Level)).
			SetCvssVector(p.rating.Vector).
			SetCvssScore(p.rating.Score).
			SetReferences(bounded(links, maxReferences, maxURLLen)).
			SetImportedAt(now)
	}
	records, err := tx.OSVRecord.CreateBulk(creates...).Save(ctx)
	if err != nil {
		return err
	}
	var rows []*ent.OSVAffectedCreate
	for i, p := range write {
		for _, a := range p.affected {
			rows = append(rows, tx.OSVAffected.Create().
				SetRecordID(records[i].ID).
				SetEcosystem(a.ecosystem).
				SetEcosystemBase(a.base).
				SetName(a.name).
				SetNameKey(a.key).
				SetRanges(a.ranges).
				SetVersions(a.versions).
				SetFixed(a.fixed).
				SetSeverity(osvaffected.Severity(a.rating.Level)).
				SetCvssVector(a.rating.Vector).
				SetCvssScore(a.rating.Score))
		}
	}
	for len(rows) > 0 {
		n := min(len(rows), affectedChunk)
		if err := tx.OSVAffected.CreateBulk(rows[:n]...).Exec(ctx); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// updateEcosystems recounts the records of the ecosystems the import
// changed.
func (im *importer) updateEcosystems(ctx context.Context) error {
	if len(im.touched) == 0 {
		return nil
	}
	bases := make([]string, 0, len(im.touched))
	for b := range im.touched {
		bases = append(bases, b)
	}
	err := database.WithTx(ctx, im.client, func(tx *ent.Tx) error {
		var counts []struct {
			Base    string `json:"ecosystem_base"`
			Records int    `json:"records"`
		}
		err := tx.OSVAffected.Query().Where(osvaffected.EcosystemBaseIn(bases...)).
			GroupBy(osvaffected.FieldEcosystemBase).
			Aggregate(func(s *entsql.Selector) string {
				return entsql.As(entsql.Count(entsql.Distinct(s.C(osvaffected.FieldRecordID))), "records")
			}).Scan(ctx, &counts)
		if err != nil {
			return err
		}
		records := map[string]int{}
		for _, c := range counts {
			records[c.Base] = c.Records
		}
		now := time.Now()
		for _, base := range bases {
			newest := im.touched[base]
			old, err := tx.OSVEcosystem.Query().Where(osvecosystem.Name(base)).Only(ctx)
			switch {
			case ent.IsNotFound(err):
				if records[base] == 0 {
					continue
				}
				create := tx.OSVEcosystem.Create().SetName(base).SetRecords(records[base]).SetUpdatedAt(now)
				if !newest.IsZero() {
					create.SetLastModified(newest)
				}
				err = create.Exec(ctx)
			case err != nil:
			case records[base] == 0:
				err = tx.OSVEcosystem.DeleteOne(old).Exec(ctx)
			default:
				if old.LastModified != nil && old.LastModified.After(newest) {
					newest = *old.LastModified
				}
				update := old.Update().SetRecords(records[base]).SetUpdatedAt(now)
				if !newest.IsZero() {
					update.SetLastModified(newest)
				}
				err = update.Exec(ctx)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recounting the records of %s: %w", strings.Join(bases, ", "), err)
	}
	return nil
}

// EcosystemStatus is what the database holds of one ecosystem.
type EcosystemStatus struct {
	Ecosystem    string    // without release: "Debian", "Go", "npm"
	Records      int       // records with a package in it
	LastModified time.Time // the newest modified time imported
	UpdatedAt    time.Time // when an import last changed its records
}

// Status lists the ecosystems of the database by name.
func Status(ctx context.Context, client *ent.Client) ([]EcosystemStatus, error) {
	rows, err := client.OSVEcosystem.Query().Order(osvecosystem.ByName()).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the vulnerability database's ecosystems: %w", err)
	}
	out := make([]EcosystemStatus, len(rows))
	for i, r := range rows {
		out[i] = EcosystemStatus{Ecosystem: r.Name, Records: r.Records, UpdatedAt: r.UpdatedAt}
		if r.LastModified != nil {
			out[i].LastModified = *r.LastModified
		}
	}
	return out, nil
}
