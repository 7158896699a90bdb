package artifacts_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
)

// TestDeletingAnArtifactTakesItsReferrersAndUnkeptChildren: a delete takes
// the artifact's referrers (and theirs), and an index's children that no
// tag and no other index keep; children kept by a tag or another index stay
// until those go too.
func TestDeletingAnArtifactTakesItsReferrersAndUnkeptChildren(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		svc := f.s.Artifacts
		sys := viewer.SystemContext(context.Background())
		exists := func(d string) bool {
			return db.Artifact.Query().Where(artifact.Digest(d)).ExistX(sys)
		}
		empty := f.blob(f.dev, "team/app", []byte("{}"))
		referrer := func(tag, subject, artifactType string) *artifacts.PushResult {
			body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":%q,"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],"subject":{"mediaType":%q,"digest":%q,"size":1}}`,
				ociManifest, artifactType, empty, ociManifest, subject)
			return f.manifest(f.dev, "team/app", tag, ociManifest, body)
		}
		index := func(tag string, children ...*artifacts.PushResult) *artifacts.PushResult {
			list := ""
			for i, c := range children {
				if i > 0 {
					list += ","
				}
				list += fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, ociManifest, c.Digest, len(c.Artifact.Manifest))
			}
			return f.manifest(f.dev, "team/app", tag, "application/vnd.oci.image.index.v1+json",
				`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+list+`]}`)
		}
		untag := func(tag string) {
			if err := svc.DeleteTag(f.admin, "team/app", tag); err != nil {
				t.Fatal(err)
			}
		}

		// An image with a signature and an SBOM, and the SBOM's own signature.
		img := f.image(f.dev, "team/app", "v1", "amd64")
		sig := referrer("sig", img.Digest.String(), "application/vnd.dev.cosign.artifact.sig.v1+json")
		sbom := referrer("sbom", img.Digest.String(), "application/spdx+json")
		sbomSig := referrer("sbom-sig", sbom.Digest.String(), "application/vnd.dev.cosign.artifact.sig.v1+json")
		if err := svc.DeleteArtifact(f.admin, "team/app", "v1"); err != nil {
			t.Fatal(err)
		}
		for name, r := range map[string]*artifacts.PushResult{"image": img, "signature": sig, "sbom": sbom, "sbom signature": sbomSig} {
			if exists(r.Digest.String()) {
				t.Errorf("the %s outlived the deleted image", name)
			}
		}

		// Indexes: an untagged child goes, a tagged one stays, a shared one
		// stays until its other index goes too.
		loose := f.image(f.dev, "team/app", "loose", "arm64")
		kept := f.image(f.dev, "team/app", "kept", "s390x")
		shared := f.image(f.dev, "team/app", "shared", "ppc64le")
		untag("loose")
		untag("shared")
		multi := index("multi", loose, kept, shared)
		other := index("other", shared)
		if err := svc.DeleteArtifact(f.admin, "team/app", "multi"); err != nil {
			t.Fatal(err)
		}
		if exists(multi.Digest.String()) || exists(loose.Digest.String()) {
			t.Fatal("the index or its untagged child outlived the delete")
		}
		if !exists(kept.Digest.String()) || !exists(shared.Digest.String()) {
			t.Fatal("a child kept by a tag or another index was deleted")
		}
		if err := svc.DeleteArtifact(f.admin, "team/app", other.Digest.String()); err != nil {
			t.Fatal(err)
		}
		if exists(shared.Digest.String()) {
			t.Fatal("the shared child outlived its last index")
		}
	})
}
