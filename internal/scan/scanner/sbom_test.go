package scanner_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/artifact"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/scan/sbom"
	"github.com/berth-registry/berth/internal/scan/scanner"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/testtool"
	"github.com/berth-registry/berth/internal/viewer"
)

// alpineImage is a small Alpine-like image: an os-release and an apk
// database of two packages.
func alpineImage(t *testing.T) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range [][2]string{
		{"etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n"},
		{"lib/apk/db/installed", "P:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n\nP:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\n\n"},
	} {
		tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)})
		io.WriteString(tw, f[1])
	}
	tw.Close()
	raw := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: "amd64", Created: v1.Time{Time: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestScansRacingOnOneImageLeaveOneSBOM: scans of one image at once, which
// make the same document, all succeed and leave one SBOM; scans racing
// with different documents (berth versions) never leave none, and the
// next scan leaves one.
func TestScansRacingOnOneImageLeaveOneSBOM(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind)
			s.CreateProject(servertest.Admin, "team", false)
			host := strings.TrimPrefix(s.URL, "http://")
			ref, err := name.ParseReference(host+"/team/alpine:1", name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			img := alpineImage(t)
			if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "admin", Password: servertest.AdminPassword})); err != nil {
				t.Fatal(err)
			}
			d, _ := img.Digest()
			sys := viewer.SystemContext(context.Background())
			client := s.Berth.DB().Client
			image := client.Artifact.Query().Where(artifact.Digest(d.String())).OnlyX(sys)
			var logs testtool.SyncBuffer
			scannerOf := func(version string) *scanner.Service {
				svc, err := scanner.New(scanner.Options{Client: client, Blobs: s.Berth.Blobs(), ExternalURL: s.URL,
					ToolVersion: version, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
				if err != nil {
					t.Fatal(err)
				}
				svc.Content = s.Berth.Artifacts()
				return svc
			}
			berthSBOMs := func() []*ent.Artifact {
				var out []*ent.Artifact
				for _, a := range client.Artifact.Query().Where(artifact.SubjectDigest(d.String())).AllX(sys) {
					if a.Annotations[sbom.AnnotationGenerator] == "berth" && a.OciArtifactType == sbom.MediaTypeSPDX {
						out = append(out, a)
					}
				}
				return out
			}
			race := func(versions ...string) {
				var wg sync.WaitGroup
				for _, v := range versions {
					svc := scannerOf(v)
					wg.Go(func() {
						if err := svc.ScanImage(sys, image); err != nil {
							t.Error(err)
						}
					})
				}
				wg.Wait()
				if strings.Contains(logs.String(), "level=WARN") {
					t.Fatalf("scans racing logged:\n%s", logs.String())
				}
			}

			race("1.0", "1.0", "1.0", "1.0", "1.0", "1.0")
			first := berthSBOMs()
			if len(first) != 1 {
				t.Fatalf("%d SBOMs after scans that made one document", len(first))
			}

			race("2.0", "3.0", "2.0", "3.0")
			if got := berthSBOMs(); len(got) == 0 || got[0].Digest == first[0].Digest {
				t.Fatalf("SBOMs after scans of two versions: %d, the first one still there", len(got))
			}
			race("3.0")
			if got := berthSBOMs(); len(got) != 1 {
				t.Fatalf("%d SBOMs after the next scan", len(got))
			}
		})
	}
}
