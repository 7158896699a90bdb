package artifacts_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/artifactblob"
	"github.com/berth-registry/berth/ent/blob"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
)

// referenced returns the digests of the blobs artifact id references.
func referenced(t *testing.T, db *database.DB, id int) []string {
	t.Helper()
	ds, err := db.Blob.Query().Where(blob.HasRefsWith(artifactblob.ArtifactID(id))).
		Select(blob.FieldDigest).Strings(viewer.SystemContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ds)
	return ds
}

// TestManifestsReferenceTheirConfigAndLayers: a push records references to
// the config and layers (an index none), a copy records its own, a delete
// removes the artifact's references but not the blobs, and artifacts
// pushed before references existed get them from the backfill.
func TestManifestsReferenceTheirConfigAndLayers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		svc := f.s.Artifacts
		sys := viewer.SystemContext(context.Background())
		img := f.image(f.dev, "team/app", "v1", "amd64")
		idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
			ociManifest, img.Digest, len(img.Artifact.Manifest))
		index := f.manifest(f.dev, "team/app", "multi", "application/vnd.oci.image.index.v1+json", idx)

		m, err := artifacts.ParseManifest(ociManifest, img.Artifact.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{m.Config.Digest.String(), m.Layers[0].Digest.String()}
		slices.Sort(want)
		if got := referenced(t, db, img.Artifact.ID); !slices.Equal(got, want) {
			t.Fatalf("image references %v, want %v", got, want)
		}
		if got := referenced(t, db, index.Artifact.ID); len(got) != 0 {
			t.Fatalf("index references blobs: %v", got)
		}

		copied, err := svc.CopyArtifact(f.admin, "team/app", "v1", "other/app", "v1")
		if err != nil {
			t.Fatal(err)
		}
		if got := referenced(t, db, copied.ID); !slices.Equal(got, want) {
			t.Fatalf("copy references %v, want %v", got, want)
		}
		if err := svc.DeleteArtifact(f.admin, "other/app", "v1"); err != nil {
			t.Fatal(err)
		}
		if n := db.ArtifactBlob.Query().Where(artifactblob.ArtifactID(copied.ID)).CountX(sys); n != 0 {
			t.Fatalf("%d references left after the copy was deleted", n)
		}
		if n := db.Blob.Query().Where(blob.DigestIn(want...)).CountX(sys); n != 2 {
			t.Fatalf("deleting an artifact removed blob rows: %d left", n)
		}

		// An artifact from before references were rows gets them at start-up.
		db.ArtifactBlob.Delete().ExecX(sys)
		n, err := artifacts.BackfillReferences(context.Background(), db.Client)
		if err != nil || n != 1 {
			t.Fatalf("backfill = %d, %v; want 1 artifact", n, err)
		}
		if got := referenced(t, db, img.Artifact.ID); !slices.Equal(got, want) {
			t.Fatalf("after backfill the image references %v, want %v", got, want)
		}
		// They carry their project once it is filled in, as pushes record it.
		if n, err := artifacts.FillReferenceProjects(context.Background(), db.SQL()); err != nil || n != 2 {
			t.Fatalf("filling projects = %d, %v; want 2 references", n, err)
		}
		team := db.Repository.GetX(sys, img.Artifact.RepositoryID).ProjectID
		if n := db.ArtifactBlob.Query().Where(artifactblob.ProjectID(team)).CountX(sys); n != 2 {
			t.Fatalf("%d references carry the project, want 2", n)
		}
		if n, err := artifacts.FillReferenceProjects(context.Background(), db.SQL()); err != nil || n != 0 {
			t.Fatalf("filling again = %d, %v; want nothing to do", n, err)
		}
		if n, err := artifacts.BackfillReferences(context.Background(), db.Client); err != nil || n != 0 {
			t.Fatalf("second backfill = %d, %v; want nothing to do", n, err)
		}
		if db.Artifact.Query().Where(artifact.ArtifactTypeEQ(artifact.ArtifactTypeIMAGE_INDEX)).CountX(sys) != 1 {
			t.Fatal("the index went missing")
		}
	})
}
