package artifacts

import (
	"context"
	"database/sql"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/artifactblob"
	"github.com/berth-registry/berth/ent/blob"
	"github.com/berth-registry/berth/internal/viewer"
)

// Every manifest's references to its config and layers are rows
// (ArtifactBlob), written in the transaction that records the artifact and
// removed with it by the database (ON DELETE CASCADE). Garbage collection
// and quotas read them; nothing has to parse manifests again.

// referenceBlobs records that each of artifacts, of project projectID (0
// when the caller does not know it: FillReferenceProjects fills it in),
// needs its blobs. Recording a reference twice is harmless.
func referenceBlobs(ctx context.Context, client *ent.Client, projectID int, artifacts ...artifactRefs) error {
	var creates []*ent.ArtifactBlobCreate
	// One statement may not name a row twice (PostgreSQL's upsert
	// refuses): an artifact listed twice, or a blob twice in one manifest.
	seen := map[[2]int]bool{}
	for _, a := range artifacts {
		for _, id := range a.blobs {
			if seen[[2]int{a.artifact, id}] {
				continue
			}
			seen[[2]int{a.artifact, id}] = true
			c := client.ArtifactBlob.Create().SetArtifactID(a.artifact).SetBlobID(id)
			if projectID != 0 {
				c.SetProjectID(projectID)
			}
			creates = append(creates, c)
		}
	}
	if len(creates) == 0 {
		return nil
	}
	err := client.ArtifactBlob.CreateBulk(creates...).
		OnConflictColumns(artifactblob.FieldArtifactID, artifactblob.FieldBlobID).Ignore().
		Exec(viewer.SystemContext(ctx))
	if err != nil {
		return wrapf(err, "recording the blobs of %d artifacts", len(artifacts))
	}
	return nil
}

// blobDigests lists the blobs a parsed manifest needs: its config and its
// layers, less foreign layers (which no registry stores).
func blobDigests(m *Manifest) []string {
	var ds []string
	if m.Config != nil {
		ds = append(ds, m.Config.Digest.String())
	}
	for _, l := range m.Layers {
		if !Foreign(l) {
			ds = append(ds, l.Digest.String())
		}
	}
	return ds
}

// backfillBatch is how many artifacts BackfillReferences reads at a time.
const backfillBatch = 500

// BackfillReferences records the blob references of artifacts pushed
// before references were rows, by parsing their stored manifests once. It
// returns how many artifacts it completed; run at start-up, it costs one
// query when there is nothing to do. Artifacts whose blobs have no rows
// (which a push never leaves) are skipped and counted out.
func BackfillReferences(ctx context.Context, client *ent.Client) (int, error) {
	sys := viewer.SystemContext(ctx)
	done, lastID := 0, 0
	for {
		batch, err := client.Artifact.Query().
			Where(artifact.IDGT(lastID), artifact.Not(artifact.HasBlobRefs()),
				artifact.ArtifactTypeNEQ(artifact.ArtifactTypeIMAGE_INDEX)).
			Order(ent.Asc(artifact.FieldID)).Limit(backfillBatch).
			Select(artifact.FieldID, artifact.FieldMediaType, artifact.FieldManifest).All(sys)
		if err != nil {
			return done, wrapf(err, "finding artifacts without references")
		}
		for _, a := range batch {
			lastID = a.ID
			m, err := ParseManifest(a.MediaType, a.Manifest)
			if err != nil {
				continue // stored before a stricter parser; nothing to reference
			}
			ds := blobDigests(m)
			if len(ds) == 0 {
				continue
			}
			ids, err := client.Blob.Query().Where(blob.DigestIn(ds...)).IDs(sys)
			if err != nil {
				return done, err
			}
			if err := referenceBlobs(ctx, client, 0, artifactRefs{a.ID, ids}); err != nil {
				return done, err
			}
			done++
		}
		if len(batch) < backfillBatch {
			return done, nil
		}
	}
}

// FillReferenceProjects copies each reference's project from its artifact
// where it is missing: references recorded before they carried it, or by
// BackfillReferences. It runs at start-up: one statement, which reads the
// references once when there is nothing to fill.
func FillReferenceProjects(ctx context.Context, db *sql.DB) (int64, error) {
	res, err := db.ExecContext(ctx, `UPDATE artifact_blobs SET project_id = (
		SELECT repositories.project_id FROM artifacts JOIN repositories ON repositories.id = artifacts.repository_id
		WHERE artifacts.id = artifact_blobs.artifact_id) WHERE project_id IS NULL`)
	if err != nil {
		return 0, wrapf(err, "filling in the projects of blob references")
	}
	return res.RowsAffected()
}

// FillArtifactCounts counts the artifacts of each repository whose count
// is not kept yet (-1: rows from before the count). It runs at start-up:
// one statement over the repositories when there is nothing to count.
func FillArtifactCounts(ctx context.Context, db *sql.DB) (int64, error) {
	res, err := db.ExecContext(ctx, `UPDATE repositories SET artifact_count = (
		SELECT COUNT(*) FROM artifacts WHERE artifacts.repository_id = repositories.id) WHERE artifact_count < 0`)
	if err != nil {
		return 0, wrapf(err, "counting the artifacts of repositories")
	}
	return res.RowsAffected()
}
