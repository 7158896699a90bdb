package artifacts_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/auditlog"
	"github.com/berth-registry/berth/ent/change"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/tag"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// TestEveryChangeRecordsOneOutboxRow: each change of registry content
// leaves exactly its change record (operation, project, repository,
// digest, tags, actor), committed with it; a refused change leaves none
// (but a quota refusal its event).
func TestEveryChangeRecordsOneOutboxRow(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		svc := f.s.Artifacts
		sys := viewer.SystemContext(t.Context())
		seen := 0
		// next returns the records written since the last call, as
		// "OPERATION project repository tags actor" lines.
		next := func() []string {
			t.Helper()
			rows, err := db.Change.Query().Order(ent.Asc(change.FieldID)).Offset(seen).All(sys)
			if err != nil {
				t.Fatal(err)
			}
			seen += len(rows)
			var out []string
			for _, r := range rows {
				if r.Digest == "" && !strings.HasSuffix(string(r.Operation), "_DELETED") && !strings.HasPrefix(string(r.Operation), "QUOTA_") {
					t.Errorf("%s record without a digest", r.Operation)
				}
				out = append(out, fmt.Sprintf("%s %s %s %s %s", r.Operation, r.Project, r.Repository, strings.Join(r.Tags, ","), r.Actor))
			}
			return out
		}
		expect := func(what string, want ...string) {
			t.Helper()
			if got := next(); !slices.Equal(got, want) {
				t.Fatalf("%s recorded\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		}

		img := f.image(f.dev, "team/app", "v1", "amd64")
		expect("a push",
			"BLOB_LINKED team team/app  dev", "BLOB_LINKED team team/app  dev",
			"ARTIFACT_PUSHED team team/app v1 dev")
		if _, err := svc.CreateTag(f.dev, "team/app", "v1", "stable"); err != nil {
			t.Fatal(err)
		}
		expect("a tag", "TAG_CREATED team team/app stable dev")
		if err := svc.DeleteTag(f.admin, "team/app", "stable"); err != nil {
			t.Fatal(err)
		}
		expect("a tag deletion", "TAG_DELETED team team/app stable admin")
		r, _ := svc.Access(f.admin, "other/app", auth.RepositoryPush)
		layers, _ := svc.Layers(f.admin, img.Artifact)
		if _, ok, err := svc.MountBlob(f.admin, r, "team/app", digestOf(layers[0].Digest)); err != nil || !ok {
			t.Fatalf("mount: %v %v", ok, err)
		}
		expect("a mount", "BLOB_MOUNTED other other/app  admin")
		if _, err := svc.CopyArtifact(f.admin, "team/app", "v1", "other/copy", "c1"); err != nil {
			t.Fatal(err)
		}
		expect("a copy", "ARTIFACT_COPIED other other/copy c1 admin")

		// Refused changes record nothing of the change; a refusal for
		// the quota records the QUOTA_EXCEEDED event.
		if err := svc.DeleteTag(f.dev, "team/app", "v1"); !errors.Is(err, errdefs.ErrDenied) {
			t.Fatalf("developer deleting a tag: %v", err)
		}
		db.Project.Update().Where(project.Name("team")).SetQuotaBytes(1).ExecX(sys)
		if _, err := svc.CopyArtifact(f.admin, "other/copy", "c1", "team/app2", "x"); !errors.Is(err, errdefs.ErrDenied) {
			t.Fatalf("copy over quota: %v", err)
		}
		db.Project.Update().Where(project.Name("team")).SetQuotaBytes(-1).ExecX(sys)
		expect("refused changes", "QUOTA_EXCEEDED team   admin")

		if err := svc.DeleteArtifact(f.admin, "team/app", "v1"); err != nil {
			t.Fatal(err)
		}
		expect("an artifact deletion", "ARTIFACT_DELETED team team/app v1 admin")
		if err := svc.DeleteRepository(f.admin, "other/copy"); err != nil {
			t.Fatal(err)
		}
		expect("a repository deletion", "REPOSITORY_DELETED other other/copy  admin")
		p := db.Project.Query().Where(project.Name("other")).OnlyX(sys)
		if err := svc.DeleteProject(f.admin, p, true); err != nil {
			t.Fatal(err)
		}
		expect("a project deletion", "PROJECT_DELETED other   admin")
	})
}

func digestOf(s string) digest.Digest { return digest.Digest(s) }

// TestAPushWritesItsAuditEntryWithTheChange: a manifest push's audit entry
// commits in the push's transaction, so a push has its success entry
// exactly when it is stored; a push refused after it wrote its rows (over
// the quota) leaves a failure entry and no success.
func TestAPushWritesItsAuditEntryWithTheChange(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		sys := viewer.SystemContext(t.Context())
		entries := func() []string {
			t.Helper()
			f.s.Audit.Flush(t.Context())
			rows, err := db.AuditLog.Query().Where(auditlog.Operation("push")).Order(ent.Asc(auditlog.FieldID)).All(sys)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range rows {
				out = append(out, fmt.Sprintf("%s %s %s %s", r.Actor, r.Resource, r.Project, r.Result))
			}
			return out
		}
		f.image(f.dev, "team/app", "v1", "amd64")
		want := []string{"dev team/app:v1 team success"}
		if got := entries(); !slices.Equal(got, want) {
			t.Fatalf("after a push: %q, want %q", got, want)
		}

		// Blobs stored, then a quota the manifest's bytes exceed.
		cfg := []byte(`{"architecture":"arm64","os":"linux"}`)
		cd := f.blob(f.dev, "team/app", cfg)
		body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`, ociManifest, cd, len(cfg))
		p := db.Project.Query().Where(project.Name("team")).OnlyX(sys)
		db.Project.UpdateOne(p).SetQuotaBytes(p.UsedBytes + 1).ExecX(sys)
		_, err := f.s.Artifacts.PutManifest(f.dev, "team/app", "v2", ociManifest, strings.NewReader(body), nil)
		if !errors.Is(err, errdefs.ErrDenied) {
			t.Fatalf("push over the quota: %v", err)
		}
		got := entries()
		if len(got) != 2 || !strings.HasPrefix(got[1], "dev team/app:v2 team failure") {
			t.Fatalf("after a refused push: %q", got)
		}
		if n := db.Tag.Query().Where(tag.Name("v2")).CountX(sys); n != 0 {
			t.Fatalf("the refused push left %d tags", n)
		}
	})
}
