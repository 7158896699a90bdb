package signature_test

import (
	"crypto/elliptic"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/scan/signature"
)

// TestSignatureMadeByTheCosignCLIIsVerified signs an image with the real
// cosign CLI (`cosign sign --key --tlog-upload=false`, the offline
// key-based case) in a local registry, copies what cosign wrote into a
// store and verifies it. It runs where cosign is on PATH (go install
// github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5) and is skipped
// elsewhere.
func TestSignatureMadeByTheCosignCLIIsVerified(t *testing.T) {
	cosign, err := exec.LookPath("cosign")
	if err != nil {
		t.Skip("cosign is not on PATH")
	}
	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(cosign, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=test", "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"), "COSIGN_EXPERIMENTAL=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("generate-key-pair")
	pub, err := os.ReadFile(filepath.Join(dir, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	v := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{string(pub)}})

	for _, tc := range []struct {
		name string
		mode []string
	}{
		{"SigTag", nil},
		{"Referrer", []string{"--registry-referrers-mode=oci-1-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo, err := name.NewRepository(host+"/team/"+strings.ToLower(tc.name), name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			img, err := random.Image(512, 1)
			if err != nil {
				t.Fatal(err)
			}
			d, err := img.Digest()
			if err != nil {
				t.Fatal(err)
			}
			ref := repo.Digest(d.String())
			if err := remote.Write(ref, img); err != nil {
				t.Fatal(err)
			}
			run(append([]string{"sign", "--key", "cosign.key", "--tlog-upload=false", "--allow-http-registry", "--yes"}, append(tc.mode, ref.String())...)...)

			store := newStore()
			subject := copyRepository(t, store, repo, ref)
			got := one(t, verify(t, v, store, subject), signature.Cosign)
			if !got.Verified || got.Signer != fingerprint(t, string(pub)) {
				t.Errorf("got %+v, want verified by cosign.pub", got)
			}

			other := newCosignKey(t, newECDSAKey(t, elliptic.P256()))
			stranger := mustVerifier(t, signature.Policy{CosignPublicKeys: []string{other.publicPEM}})
			if got := one(t, verify(t, stranger, store, subject), signature.Cosign); got.Verified {
				t.Errorf("got %+v with another key, want not verified", got)
			}
		})
	}
}

// copyRepository copies the image ref, its cosign .sig tag and its
// referrers from the registry into store, and returns the image's
// descriptor.
func copyRepository(t *testing.T, store *memStore, repo name.Repository, ref name.Digest) ocispec.Descriptor {
	t.Helper()
	subject := copyManifest(t, store, ref)
	if d, err := remote.Get(repo.Tag(signature.CosignTag(subject.Digest))); err == nil {
		store.tags[signature.CosignTag(subject.Digest)] = digest.Digest(d.Digest.String())
		copyManifest(t, store, repo.Digest(d.Digest.String()))
	}
	h, err := v1.NewHash(subject.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Referrers(repo.Digest(h.String()))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		copyManifest(t, store, repo.Digest(m.Digest.String()))
	}
	return subject
}

// copyManifest copies the manifest ref and its config and layer blobs into
// store and returns its descriptor.
func copyManifest(t *testing.T, store *memStore, ref name.Digest) ocispec.Descriptor {
	t.Helper()
	img, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	store.storeImage(t, img)
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		store.putBlob(b)
	}
	return store.putManifest(t, raw)
}
