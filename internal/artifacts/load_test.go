package artifacts_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/repository"
	"github.com/berth-registry/berth/ent/tag"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// TestPutManifestsStoresABatchAsOneChangeOrNothing: the bulk loader
// stores every manifest with its tags, references and one change record
// each, counts usage as single pushes would, and keeps nothing of a batch
// with one bad manifest, an unknown blob, or a caller who may not push.
func TestPutManifestsStoresABatchAsOneChangeOrNothing(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		svc := f.s.Artifacts
		sys := viewer.SystemContext(t.Context())
		img := f.image(f.dev, "team/base", "v1", "amd64")
		base, err := artifacts.ParseManifest(ociManifest, img.Artifact.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, layer := base.Config, base.Layers[0]
		manifest := func(i int) artifacts.LoadManifest {
			raw := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}],"annotations":{"n":"%d"}}`,
				ociManifest, cfg.Digest, cfg.Size, layer.Digest, layer.Size, i)
			return artifacts.LoadManifest{MediaType: ociManifest, Raw: []byte(raw), Tags: []string{fmt.Sprintf("v%d", i)}}
		}
		usage := func() int64 {
			return db.Project.Query().Where(project.Name("team")).OnlyX(sys).UsedBytes
		}
		before := usage()
		changes := db.Change.Query().CountX(sys)

		batch := []artifacts.LoadManifest{manifest(1), manifest(2), manifest(3)}
		digests, err := svc.PutManifests(f.dev, "team/bulk", batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(digests) != 3 {
			t.Fatalf("digests = %v", digests)
		}
		for i, d := range digests {
			a, err := svc.Resolve(f.dev, "team/bulk", fmt.Sprintf("v%d", i+1))
			if err != nil || a.Digest != d.String() {
				t.Fatalf("v%d resolves to %v (%v), want %s", i+1, a, err, d)
			}
		}
		pushed := db.Change.Query().Where(change.OperationEQ(change.OperationARTIFACT_PUSHED), change.Repository("team/bulk")).CountX(sys)
		if got := db.Change.Query().CountX(sys) - changes; pushed != 3 || got < 3 {
			t.Fatalf("%d change records, %d of them pushes; want a push record per manifest", got, pushed)
		}
		// The blobs were already counted for the project; only the three
		// manifests are new bytes.
		var manifests int64
		for _, m := range batch {
			manifests += int64(len(m.Raw))
		}
		if got := usage() - before; got != manifests {
			t.Fatalf("usage grew by %d, want %d (the manifests)", got, manifests)
		}

		// One refused manifest keeps the whole batch out.
		bad := manifest(5)
		bad.Raw = []byte(strings.Replace(string(bad.Raw), layer.Digest.String(), "sha256:"+strings.Repeat("0", 64), 1))
		for name, c := range map[string]struct {
			batch []artifacts.LoadManifest
			want  error
		}{
			"UnknownBlob": {[]artifacts.LoadManifest{manifest(4), bad}, artifacts.ErrManifestBlobUnknown},
			"BadTag":      {[]artifacts.LoadManifest{manifest(4), {MediaType: ociManifest, Raw: manifest(6).Raw, Tags: []string{"-no"}}}, artifacts.ErrTagInvalid},
			"TooMany":     {make([]artifacts.LoadManifest, artifacts.MaxLoadBatch+1), errdefs.ErrInvalid},
		} {
			if _, err := svc.PutManifests(f.dev, "team/bulk", c.batch); !errors.Is(err, c.want) {
				t.Fatalf("%s: err = %v, want %v", name, err, c.want)
			}
		}
		if _, err := svc.PutManifests(f.guest, "team/bulk", []artifacts.LoadManifest{manifest(7)}); !errors.Is(err, errdefs.ErrDenied) {
			t.Fatalf("guest: err = %v, want denied", err)
		}
		n := db.Artifact.Query().Where(artifact.HasRepositoryWith(repository.Name("team/bulk"))).CountX(sys)
		tags := db.Tag.Query().Where(tag.HasRepositoryWith(repository.Name("team/bulk"))).CountX(sys)
		if n != 3 || tags != 3 {
			t.Fatalf("after refused batches: %d artifacts, %d tags; want 3 and 3", n, tags)
		}
	})
}

// TestRepositoriesKeepTheirArtifactCounts: every change of the write path
// (push, bulk load, copy with an index's children, delete, repository
// delete) keeps each repository's artifact count equal to its artifacts;
// counts from before are filled in at start-up and repaired by a recount.
func TestRepositoriesKeepTheirArtifactCounts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		svc := f.s.Artifacts
		sys := viewer.SystemContext(t.Context())
		check := func(when string) {
			t.Helper()
			for _, r := range db.Repository.Query().AllX(sys) {
				if n := db.Artifact.Query().Where(artifact.RepositoryID(r.ID)).CountX(sys); int64(n) != r.ArtifactCount {
					t.Fatalf("after %s, %s keeps %d artifacts, has %d", when, r.Name, r.ArtifactCount, n)
				}
			}
		}
		amd := f.image(f.dev, "team/app", "amd64", "amd64")
		arm := f.image(f.dev, "team/app", "arm64", "arm64")
		f.image(f.dev, "team/app", "amd64-again", "amd64") // the same digest again
		check("pushes")
		idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":%q,"digest":%q,"size":%d},{"mediaType":%q,"digest":%q,"size":%d}]}`,
			ociManifest, amd.Digest, len(amd.Artifact.Manifest), ociManifest, arm.Digest, len(arm.Artifact.Manifest))
		f.manifest(f.dev, "team/app", "multi", "application/vnd.oci.image.index.v1+json", idx)
		if _, err := svc.CopyArtifact(f.admin, "team/app", "multi", "other/copy", "multi"); err != nil {
			t.Fatal(err)
		}
		check("an index and its copy")
		base, _ := artifacts.ParseManifest(ociManifest, amd.Artifact.Manifest)
		var batch []artifacts.LoadManifest
		for i := 0; i < 3; i++ {
			raw := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[],"annotations":{"n":"%d"}}`,
				ociManifest, base.Config.Digest, base.Config.Size, i)
			batch = append(batch, artifacts.LoadManifest{MediaType: ociManifest, Raw: []byte(raw)})
		}
		batch = append(batch, batch[0]) // a digest twice in one batch
		if _, err := svc.PutManifests(f.dev, "team/app", batch); err != nil {
			t.Fatal(err)
		}
		check("a bulk load")
		if err := svc.DeleteArtifact(f.admin, "team/app", "multi"); err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteArtifact(f.admin, "team/app", "arm64"); err != nil {
			t.Fatal(err)
		}
		check("deletes")
		if err := svc.DeleteRepository(f.admin, "other/copy"); err != nil {
			t.Fatal(err)
		}
		check("a repository delete")

		// Counts from before they were kept, and counts gone wrong.
		db.Repository.Update().SetArtifactCount(-1).ExecX(sys)
		if n, err := artifacts.FillArtifactCounts(t.Context(), db.SQL()); err != nil || n == 0 {
			t.Fatalf("filling counts = %d, %v", n, err)
		}
		check("filling counts at start-up")
		db.Repository.Update().SetArtifactCount(42).ExecX(sys)
		if _, err := svc.RecalculateUsage(f.admin, "team"); err != nil {
			t.Fatal(err)
		}
		check("a recount")
	})
}

// TestConcurrentPushesIntoNewRepositoriesDoNotWaitOnThePool: a manifest
// whose blobs are linked only elsewhere is checked for the caller inside
// its write. That check used a second connection: on SQLite, with every
// other connection of the small pool held by pushes queueing for the
// write lock, the push holding the lock waited on the pool and the others
// failed with SQLITE_BUSY after the busy timeout.
func TestConcurrentPushesIntoNewRepositoriesDoNotWaitOnThePool(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		img := f.image(f.dev, "team/base", "v1", "amd64")
		base, err := artifacts.ParseManifest(ociManifest, img.Artifact.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 24)
		for i := 0; i < 24; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				raw := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`,
					ociManifest, base.Config.Digest, base.Config.Size, base.Layers[0].Digest, base.Layers[0].Size)
				if _, err := f.s.Artifacts.PutManifest(f.dev, fmt.Sprintf("team/new-%d", i), "v1", ociManifest, strings.NewReader(raw), nil); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("24 pushes took %v: they waited on each other", d)
		}
	})
}
