package artifacts_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry/registrytest"
)

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

func TestClassifyFromMediaTypes(t *testing.T) {
	d := digest.FromString("x")
	img := func(configType, extra string) string {
		return fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":1},"layers":[]%s}`, ociManifest, configType, d, extra)
	}
	cases := []struct {
		name, mediaType, body string
		want                  artifact.ArtifactType
	}{
		{"OCIImage", ociManifest, img("application/vnd.oci.image.config.v1+json", ""), artifact.ArtifactTypeIMAGE},
		{"DockerImage", "application/vnd.docker.distribution.manifest.v2+json", `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"` + d.String() + `","size":1},"layers":[]}`, artifact.ArtifactTypeIMAGE},
		{"Index", "application/vnd.oci.image.index.v1+json", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`, artifact.ArtifactTypeIMAGE_INDEX},
		{"DockerList", "application/vnd.docker.distribution.manifest.list.v2+json", `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}`, artifact.ArtifactTypeIMAGE_INDEX},
		{"HelmChart", ociManifest, img("application/vnd.cncf.helm.config.v1+json", ""), artifact.ArtifactTypeCHART},
		{"CosignSignatureArtifact", ociManifest, img("application/vnd.oci.empty.v1+json", `,"artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json"`), artifact.ArtifactTypeSIGNATURE},
		{"CosignSimpleSigning", ociManifest, fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":1},"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":%q,"size":1}]}`, ociManifest, d, d), artifact.ArtifactTypeSIGNATURE},
		{"NotationSignature", ociManifest, img("application/vnd.oci.empty.v1+json", `,"artifactType":"application/vnd.cncf.notary.signature"`), artifact.ArtifactTypeSIGNATURE},
		{"SPDXSBOM", ociManifest, img("application/vnd.oci.empty.v1+json", `,"artifactType":"application/spdx+json"`), artifact.ArtifactTypeSBOM},
		{"CycloneDXSBOM", ociManifest, img("application/vnd.cyclonedx+json", ""), artifact.ArtifactTypeSBOM},
		{"InTotoAttestation", ociManifest, img("application/vnd.oci.empty.v1+json", `,"artifactType":"application/vnd.in-toto+json"`), artifact.ArtifactTypeATTESTATION},
		{"Other", ociManifest, img("application/vnd.example.thing", ""), artifact.ArtifactTypeOTHER},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := artifacts.ParseManifest(c.mediaType, []byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != c.want {
				t.Fatalf("kind = %s, want %s", m.Kind, c.want)
			}
		})
	}
}

func TestParseManifestRefusesSchemaOneAndMismatchedContentType(t *testing.T) {
	for name, c := range map[string]struct{ ct, body string }{
		"SchemaOne":        {"application/vnd.docker.distribution.manifest.v1+prettyjws", `{"schemaVersion":1,"fsLayers":[]}`},
		"MismatchedType":   {"application/vnd.oci.image.index.v1+json", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"` + digest.FromString("x").String() + `","size":1},"layers":[]}`},
		"ImageWithoutConf": {ociManifest, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := artifacts.ParseManifest(c.ct, []byte(c.body))
			if !errors.Is(err, artifacts.ErrManifestInvalid) || !errors.Is(err, errdefs.ErrInvalid) {
				t.Fatalf("err = %v, want MANIFEST_INVALID", err)
			}
		})
	}
}

type fixture struct {
	t     *testing.T
	s     *registrytest.Server
	admin context.Context
	guest context.Context
	dev   context.Context
}

func newFixture(t *testing.T, db *database.DB) *fixture {
	s := registrytest.Start(t, db, "")
	admin := s.CreateUser(t, "admin", "pw-Admin-1", true)
	dev := s.CreateUser(t, "dev", "pw-Dev-1", false)
	guest := s.CreateUser(t, "guest", "pw-Guest-1", false)
	s.CreateProject(t, "team", false)
	s.CreateProject(t, "other", false)
	s.AddMember(t, "team", dev, member.RoleDEVELOPER)
	s.AddMember(t, "team", guest, member.RoleGUEST)
	ctx := func(u *ent.User) context.Context {
		return viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.User, UserID: u.ID, Username: u.Username, Admin: u.Admin})
	}
	return &fixture{t: t, s: s, admin: ctx(admin), dev: ctx(dev), guest: ctx(guest)}
}

// blob stores content and links it into repo.
func (f *fixture) blob(ctx context.Context, repo string, content []byte) digest.Digest {
	f.t.Helper()
	d := digest.FromBytes(content)
	r, err := f.s.Artifacts.Access(ctx, repo, auth.RepositoryPush)
	if err != nil {
		f.t.Fatal(err)
	}
	err = f.s.Artifacts.CommitBlob(ctx, r, d, int64(len(content)), func(ctx context.Context) error {
		_, err := f.s.Blobs.Put(ctx, d, bytes.NewReader(content))
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

func (f *fixture) manifest(ctx context.Context, repo, ref, mediaType, body string) *artifacts.PushResult {
	f.t.Helper()
	res, err := f.s.Artifacts.PutManifest(ctx, repo, ref, mediaType, bytes.NewReader([]byte(body)), nil)
	if err != nil {
		f.t.Fatalf("PutManifest %s:%s: %v", repo, ref, err)
	}
	return res
}

func (f *fixture) image(ctx context.Context, repo, tag, arch string) *artifacts.PushResult {
	cfg := fmt.Sprintf(`{"architecture":%q,"os":"linux","created":"2024-05-01T10:00:00Z","config":{"Env":["PATH=/bin"],"Entrypoint":["/entry"],"Cmd":["serve"],"Labels":{"team":"a"}},"rootfs":{"type":"layers","diff_ids":[]},"history":[{"created_by":"COPY app /app"}]}`, arch)
	cd := f.blob(ctx, repo, []byte(cfg))
	layer := []byte("layer of " + arch)
	ld := f.blob(ctx, repo, layer)
	body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`,
		ociManifest, cd, len(cfg), ld, len(layer))
	return f.manifest(ctx, repo, tag, ociManifest, body)
}

func TestReadHelpersDescribeImagesIndexesChartsAndReferrers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		svc := f.s.Artifacts
		amd := f.image(f.dev, "team/app", "amd64", "amd64")
		arm := f.image(f.dev, "team/app", "arm64", "arm64")
		idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":"linux","architecture":"amd64"}},{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}`,
			ociManifest, amd.Digest, len(amd.Artifact.Manifest), ociManifest, arm.Digest, len(arm.Artifact.Manifest))
		f.manifest(f.dev, "team/app", "v1", "application/vnd.oci.image.index.v1+json", idx)

		a, err := svc.Resolve(f.guest, "team/app", "v1")
		if err != nil {
			t.Fatal(err)
		}
		if a.ArtifactType != artifact.ArtifactTypeIMAGE_INDEX || a.Size != int64(len(idx))+amd.Artifact.Size+arm.Artifact.Size {
			t.Fatalf("index artifact: type %s size %d", a.ArtifactType, a.Size)
		}
		children, err := svc.Children(f.guest, a)
		if err != nil || len(children) != 2 || children[1].Platform.Architecture != "arm64" || children[1].Platform.Variant != "v8" || children[1].Artifact == nil {
			t.Fatalf("children = %+v, %v", children, err)
		}
		img, err := svc.Resolve(f.guest, "team/app", "amd64")
		if err != nil {
			t.Fatal(err)
		}
		layers, err := svc.Layers(f.guest, img)
		if err != nil || len(layers) != 1 || layers[0].Size != int64(len("layer of amd64")) {
			t.Fatalf("layers = %+v, %v", layers, err)
		}
		cfg, err := svc.ImageConfig(f.guest, img)
		if err != nil || cfg.OS != "linux" || cfg.Architecture != "amd64" || cfg.Cmd[0] != "serve" || cfg.Entrypoint[0] != "/entry" ||
			cfg.Labels["team"] != "a" || cfg.Env[0] != "PATH=/bin" || len(cfg.History) != 1 || cfg.Created == nil {
			t.Fatalf("config = %+v, %v", cfg, err)
		}
		if pc, _ := svc.PullCommand(f.guest, img, ""); pc != "/team/app@"+img.Digest && pc[len(pc)-len(img.Digest):] != img.Digest {
			t.Fatalf("pull command = %q", pc)
		}
		if artifacts.PullReference("reg.example", "team/app", img.Digest, "v1") != "reg.example/team/app:v1" {
			t.Fatal("PullReference with a tag")
		}

		// A chart.
		chartCfg := `{"name":"mychart","version":"0.1.0","appVersion":"1.16.0","description":"A Helm chart","apiVersion":"v2"}`
		ccd := f.blob(f.dev, "team/charts/mychart", []byte(chartCfg))
		cl := f.blob(f.dev, "team/charts/mychart", []byte("chart tgz"))
		chart := f.manifest(f.dev, "team/charts/mychart", "0.1.0", ociManifest, fmt.Sprintf(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip","digest":%q,"size":9}]}`, ccd, len(chartCfg), cl))
		if chart.Artifact.ArtifactType != artifact.ArtifactTypeCHART {
			t.Fatalf("chart classified %s", chart.Artifact.ArtifactType)
		}
		meta, err := svc.Chart(f.guest, chart.Artifact)
		if err != nil || meta.Name != "mychart" || meta.Version != "0.1.0" || meta.AppVersion != "1.16.0" || meta.Description != "A Helm chart" {
			t.Fatalf("chart = %+v, %v", meta, err)
		}
		if m, err := svc.Chart(f.guest, img); m != nil || err != nil {
			t.Fatalf("Chart of an image = %+v, %v", m, err)
		}

		// Referrers: a signature and an SBOM of the index.
		empty := f.blob(f.dev, "team/app", []byte("{}"))
		for _, at := range []string{"application/vnd.dev.cosign.artifact.sig.v1+json", "application/spdx+json"} {
			body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":%q,"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.index.v1+json","digest":%q,"size":%d}}`,
				ociManifest, at, empty, a.Digest, len(idx))
			f.manifest(f.dev, "team/app", digest.FromString(body).String(), ociManifest, body)
		}
		refs, err := svc.Referrers(f.guest, a, "")
		if err != nil || len(refs) != 2 || refs[0].ArtifactType != artifact.ArtifactTypeSIGNATURE || refs[1].ArtifactType != artifact.ArtifactTypeSBOM {
			t.Fatalf("referrers = %v, %v", refs, err)
		}
		refs, err = svc.Referrers(f.guest, a, "application/spdx+json")
		if err != nil || len(refs) != 1 {
			t.Fatalf("filtered referrers = %v, %v", refs, err)
		}
	})
}

func TestWriteOperationsCheckPermissionsAndKeepTheModelTrue(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		svc := f.s.Artifacts
		img := f.image(f.dev, "team/app", "v1", "amd64")
		idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":%q,"digest":%q,"size":%d,"platform":{"os":"linux","architecture":"amd64"}}]}`,
			ociManifest, img.Digest, len(img.Artifact.Manifest))
		f.manifest(f.dev, "team/app", "multi", "application/vnd.oci.image.index.v1+json", idx)

		if _, err := svc.CreateTag(f.guest, "team/app", "v1", "stable"); !errors.Is(err, errdefs.ErrDenied) {
			t.Fatalf("guest CreateTag err = %v, want denied", err)
		}
		tag, err := svc.CreateTag(f.dev, "team/app", img.Digest.String(), "stable")
		if err != nil || tag.Name != "stable" {
			t.Fatalf("CreateTag = %v, %v", tag, err)
		}
		// Retag stable onto the index.
		if _, err := svc.CreateTag(f.dev, "team/app", "multi", "stable"); err != nil {
			t.Fatal(err)
		}
		if a, _ := svc.Resolve(f.dev, "team/app", "stable"); a.ArtifactType != artifact.ArtifactTypeIMAGE_INDEX {
			t.Fatalf("stable points at %s after retag", a.ArtifactType)
		}
		if err := svc.DeleteTag(f.dev, "team/app", "stable"); !errors.Is(err, errdefs.ErrDenied) {
			t.Fatalf("developer DeleteTag err = %v, want denied", err)
		}
		if err := svc.DeleteTag(f.admin, "team/app", "stable"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Resolve(f.dev, "team/app", "stable"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("deleted tag still resolves: %v", err)
		}

		// Copy the index (and its child) into another project.
		copied, err := svc.CopyArtifact(f.admin, "team/app", "multi", "other/mirror", "m1")
		if err != nil || copied.Digest != digest.FromString(idx).String() {
			t.Fatalf("CopyArtifact = %v, %v", copied, err)
		}
		child, err := svc.Resolve(f.admin, "other/mirror", img.Digest.String())
		if err != nil {
			t.Fatalf("child not copied: %v", err)
		}
		r, _ := svc.Access(f.admin, "other/mirror", auth.RepositoryPull)
		layers, _ := svc.Layers(f.admin, child)
		if _, err := svc.BlobSize(f.admin, r, digest.Digest(layers[0].Digest)); err != nil {
			t.Fatalf("layer not linked into the copy: %v", err)
		}
		// other is private and dev no member: it is as if it did not exist.
		if _, err := svc.CopyArtifact(f.dev, "team/app", "multi", "other/mirror", "m2"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("developer of team copying into other: %v, want not found", err)
		}

		// DeleteArtifact by tag deletes the artifact and all its tags.
		if err := svc.DeleteArtifact(f.admin, "team/app", "v1"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Resolve(f.dev, "team/app", img.Digest.String()); !errors.Is(err, artifacts.ErrManifestUnknown) {
			t.Fatalf("deleted artifact still resolves: %v", err)
		}
		if a, err := svc.Resolve(f.dev, "team/app", "multi"); err != nil || a == nil {
			t.Fatalf("the index must survive the deletion of its child: %v", err)
		}
	})
}

// TestAPushLearnsTheRepositoryItsFirstBlobCreated: a push into a new
// repository looks the name up once; the blob commit that creates the
// repository hands the row to the name cache, so the push's next
// requests (Access within the cache's second) carry it, and a commit
// that fails teaches the cache nothing.
func TestAPushLearnsTheRepositoryItsFirstBlobCreated(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		r, err := f.s.Artifacts.Access(f.dev, "team/fresh", auth.RepositoryPush)
		if err != nil || r.Repository != nil {
			t.Fatalf("before the push: %+v, %v", r, err)
		}
		content := []byte("config of a new repository")
		d := digest.FromBytes(content)
		failed := errors.New("placing the bytes failed")
		err = f.s.Artifacts.CommitBlob(f.dev, r, d, int64(len(content)), func(context.Context) error { return failed })
		if !errors.Is(err, failed) {
			t.Fatalf("commit = %v, want the placing error", err)
		}
		if again, err := f.s.Artifacts.Access(f.dev, "team/fresh", auth.RepositoryPush); err != nil || again.Repository != nil {
			t.Fatalf("after a failed commit the cache names a repository: %+v, %v", again, err)
		}
		f.blob(f.dev, "team/fresh", content)
		again, err := f.s.Artifacts.Access(f.dev, "team/fresh", auth.RepositoryPush)
		if err != nil || again.Repository == nil || again.Repository.Name != "team/fresh" {
			t.Fatalf("after the commit: %+v, %v", again, err)
		}
		stored, err := db.Repository.Get(viewer.SystemContext(t.Context()), again.Repository.ID)
		if err != nil || stored.Name != "team/fresh" {
			t.Fatalf("the cached repository is not the stored one: %v, %v", stored, err)
		}
	})
}
