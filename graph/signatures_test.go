package graph_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	sigstore "github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"

	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/scan/signature"
	"github.com/berth-registry/berth/internal/server/servertest"
)

// cosignKeyPair is an ECDSA P-256 key as `cosign generate-key-pair` makes.
type cosignKeyPair struct {
	signer    sigstore.SignerVerifier
	publicPEM string
}

func newCosignKeyPair(t *testing.T) cosignKeyPair {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := sigstore.LoadDefaultSignerVerifier(priv)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(priv.Public())
	return cosignKeyPair{signer: sv, publicPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
}

// cosignSignature is the signature manifest `cosign sign --key` pushes
// for repo@subject under the tag sha256-<hex>.sig: an OCI image whose one
// layer is the simple-signing payload, signed in the layer's annotation.
func cosignSignature(t *testing.T, key cosignKeyPair, repo string, subject v1.Hash) v1.Image {
	t.Helper()
	ref, err := name.NewDigest("127.0.0.1/" + repo + "@" + subject.String())
	if err != nil {
		t.Fatal(err)
	}
	body, err := payload.Cosign{Image: ref}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := key.signer.SignMessage(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:       static.NewLayer(body, "application/vnd.dev.cosign.simplesigning.v1+json"),
		Annotations: map[string]string{"dev.cosignproject.cosign/signature": base64.StdEncoding.EncodeToString(sig)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

type signatureResult struct {
	Kind     string
	Digest   string
	Verified bool
	Signer   *string
	Error    *string
}

func artifactSignatures(t *testing.T, s *servertest.Server, c servertest.Creds, repo, ref string) []signatureResult {
	t.Helper()
	var out struct {
		Artifact *struct{ Signatures []signatureResult }
	}
	s.MustDo(c, `query($r: String!, $ref: String!) { artifact(repository: $r, reference: $ref) { signatures { kind digest verified signer error } } }`,
		map[string]any{"r": repo, "ref": ref}, &out)
	if out.Artifact == nil {
		return nil
	}
	return out.Artifact.Signatures
}

// TestRequireSignedImages: with a cosign public key required, an image
// signed with that key is served, an unsigned one and one signed with
// another key are DENIED naming the policy and the artifact, for every
// principal that may pull; the signature artifacts themselves stay
// pullable; Artifact.signatures reports each signature and its signer.
func TestRequireSignedImages(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "signed", true)
		trusted, other := newCosignKeyPair(t), newCosignKeyPair(t)
		signedImg := scanImage(t, "A=signed", scanLayer(t, [2]string{"app", "signed"}))
		unsigned := scanImage(t, "A=unsigned", scanLayer(t, [2]string{"app", "unsigned"}))
		forged := scanImage(t, "A=forged", scanLayer(t, [2]string{"app", "forged"}))
		pushRemote(t, s, "signed/app:1", signedImg)
		pushRemote(t, s, "signed/app:2", unsigned)
		pushRemote(t, s, "signed/app:3", forged)
		d1, _ := signedImg.Digest()
		d3, _ := forged.Digest()
		sigTag := signature.CosignTag(digestOf(d1))
		pushRemote(t, s, "signed/app:"+sigTag, cosignSignature(t, trusted, "signed/app", d1))
		pushRemote(t, s, "signed/app:"+signature.CosignTag(digestOf(d3)), cosignSignature(t, other, "signed/app", d3))

		// Without keys, the signatures are listed, unverified.
		if sigs := artifactSignatures(t, s, admin, "signed/app", "1"); len(sigs) != 1 || sigs[0].Kind != "COSIGN" || sigs[0].Verified || sigs[0].Error == nil {
			t.Fatalf("signatures without keys: %+v", sigs)
		}

		s.MustDo(admin, `mutation($k: [String!]) { updateProject(name: "signed", input: {requireSignature: {cosignPublicKeys: $k}}) { requireSignature { enabled } } }`,
			map[string]any{"k": []string{trusted.publicPEM}}, nil)
		fingerprint, err := signature.KeyFingerprint(trusted.publicPEM)
		if err != nil {
			t.Fatal(err)
		}
		sigs := artifactSignatures(t, s, servertest.Creds{}, "signed/app", "1")
		if len(sigs) != 1 || !sigs[0].Verified || sigs[0].Signer == nil || *sigs[0].Signer != fingerprint || sigs[0].Error != nil {
			t.Fatalf("signatures of the signed image: %+v", sigs)
		}
		if sigs := artifactSignatures(t, s, servertest.Creds{}, "signed/app", "2"); len(sigs) != 0 {
			t.Fatalf("signatures of the unsigned image: %+v", sigs)
		}
		if sigs := artifactSignatures(t, s, servertest.Creds{}, "signed/app", "3"); len(sigs) != 1 || sigs[0].Verified || sigs[0].Error == nil {
			t.Fatalf("signatures of the image signed with another key: %+v", sigs)
		}

		s.CreateUser("dev")
		addMember(t, s, "signed", "dev", member.RoleDEVELOPER)
		var robot struct {
			CreateRobot struct{ Login, Secret string }
		}
		s.MustDo(admin, `mutation { createRobot(input: {name: "puller", project: "signed", permissions: [{resource: REPOSITORY, action: PULL}]}) { login secret } }`, nil, &robot)
		for who, c := range map[string]servertest.Creds{
			"admin": admin, "developer": servertest.Basic("dev", "dev-password"), "anonymous": {},
			"pull robot": servertest.Basic(robot.CreateRobot.Login, robot.CreateRobot.Secret),
		} {
			if st, _, msg := pull(t, s, c, "GET", "signed/app", "1"); st != 200 {
				t.Errorf("%s pulling the signed image: %d %s", who, st, msg)
			}
			if st, _, msg := pull(t, s, c, "GET", "signed/app", sigTag); st != 200 {
				t.Errorf("%s pulling the signature: %d %s", who, st, msg)
			}
			st, code, msg := pull(t, s, c, "GET", "signed/app", "2")
			if st != 403 || code != "DENIED" || !strings.Contains(msg, `project signed's policy "require signed images"`) ||
				!strings.Contains(msg, "signed/app@") || !strings.Contains(msg, "no cosign or Notation signature") {
				t.Errorf("%s pulling the unsigned image: %d %s %s", who, st, code, msg)
			}
			st, code, msg = pull(t, s, c, "GET", "signed/app", "3")
			if st != 403 || code != "DENIED" || !strings.Contains(msg, "none of its 1 signatures verifies") {
				t.Errorf("%s pulling the image signed with another key: %d %s %s", who, st, code, msg)
			}
		}
		// An image listed by a signed index counts as signed: clients pull
		// the index, then the image by digest.
		child := scanImage(t, "A=child", scanLayer(t, [2]string{"app", "child"}))
		index := mutate.IndexMediaType(mutate.AppendManifests(empty.Index,
			mutate.IndexAddendum{Add: child, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}}), types.OCIImageIndex)
		pushRemote(t, s, "signed/multi:1", index)
		childDigest, _ := child.Digest()
		if st, _, msg := pull(t, s, servertest.Creds{}, "GET", "signed/multi", childDigest.String()); st != 403 || !strings.Contains(msg, "no cosign or Notation signature") {
			t.Fatalf("image of an unsigned index: %d %s", st, msg)
		}
		indexDigest, _ := index.Digest()
		pushRemote(t, s, "signed/multi:"+signature.CosignTag(digestOf(indexDigest)), cosignSignature(t, trusted, "signed/multi", indexDigest))
		for _, ref := range []string{"1", childDigest.String()} {
			if st, _, msg := pull(t, s, servertest.Creds{}, "GET", "signed/multi", ref); st != 200 {
				t.Errorf("signed index, pulling %s: %d %s", ref, st, msg)
			}
		}

		// Turning the requirement off serves everything again.
		s.MustDo(admin, `mutation { updateProject(name: "signed", input: {requireSignature: {cosignPublicKeys: []}}) { requireSignature { enabled } } }`, nil, nil)
		if st, _, msg := pull(t, s, servertest.Creds{}, "GET", "signed/app", "2"); st != 200 {
			t.Fatalf("requirement off: %d %s", st, msg)
		}
	})
}

func digestOf(h v1.Hash) digest.Digest { return digest.Digest(h.String()) }
