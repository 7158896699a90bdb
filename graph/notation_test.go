package graph_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/signer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/internal/server/servertest"
)

const (
	notationSignatureType = "application/vnd.cncf.notary.signature"
	notationJWS           = "application/jose+json"
	notationCOSE          = "application/cose"
	// notationThumbprints is the manifest annotation notation writes: the
	// SHA-256 of each certificate of the signing chain, leaf first.
	notationThumbprints = "io.cncf.notary.x509chain.thumbprint#S256"
)

// notationCA is an organisation's certificate authority and the
// code-signing leaf it issued, as `notation cert generate-test` makes.
type notationCA struct {
	caPEM   string
	leafKey *ecdsa.PrivateKey
	chain   []*x509.Certificate
}

func newNotationCA(t *testing.T, org string) notationCA {
	t.Helper()
	now := time.Now()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, leafKey := key(), key()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: org + " Root CA", Organization: []string{org}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: org + " release signing", Organization: []string{org}, Country: []string{"DE"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(12 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return notationCA{
		caPEM:   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})),
		leafKey: leafKey,
		chain:   []*x509.Certificate{leaf, ca},
	}
}

func (ca notationCA) signer(t *testing.T) notation.Signer {
	t.Helper()
	s, err := signer.NewGenericSigner(ca.leafKey, ca.chain)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// notationSignRemote runs what `notation sign <berth>/repo@ref` runs:
// notation.Sign with an ORAS repository on berth's /v2/, as admin. It
// resolves ref, signs the descriptor berth answers with and pushes the
// signature manifest as a referrer. It returns the signed descriptor.
func notationSignRemote(t *testing.T, s *servertest.Server, ca notationCA, repo, ref, envelopeType string) ocispec.Descriptor {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	r, err := remote.NewRepository(u.Host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	r.Client = &auth.Client{
		Client:     http.DefaultClient,
		Cache:      auth.NewCache(),
		Credential: auth.StaticCredential(u.Host, auth.Credential{Username: "admin", Password: servertest.AdminPassword}),
	}
	desc, err := notation.Sign(context.Background(), ca.signer(t), notationregistry.NewRepository(r), notation.SignOptions{
		SignerSignOptions: notation.SignerSignOptions{SignatureMediaType: envelopeType, ExpiryDuration: time.Hour},
		ArtifactReference: ref,
	})
	if err != nil {
		t.Fatalf("notation sign %s@%s: %v", repo, ref, err)
	}
	return desc
}

// notationSignByHand signs signed with ca's leaf and pushes the envelope
// by digest as a Notation signature manifest whose subject is subject,
// in the OCI 1.1 artifact form: artifactType the Notation type, the
// empty config, one layer the envelope, notation's thumbprint annotation.
// It returns the signature manifest's digest.
func notationSignByHand(t *testing.T, s *servertest.Server, ca notationCA, repo string, signed, subject ocispec.Descriptor, envelopeType string) digest.Digest {
	t.Helper()
	env, info, err := ca.signer(t).Sign(context.Background(), signed, notation.SignerSignOptions{SignatureMediaType: envelopeType, ExpiryDuration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var thumbprints []string
	for _, c := range info.CertificateChain {
		sum := sha256.Sum256(c.Raw)
		thumbprints = append(thumbprints, hex.EncodeToString(sum[:]))
	}
	tp, _ := json.Marshal(thumbprints)
	c := registryClient{t: t, base: s.URL, user: "admin", pwd: servertest.AdminPassword}
	m := ocispec.Manifest{
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: notationSignatureType,
		Config:       ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: c.blob(repo, []byte("{}")), Size: 2},
		Layers:       []ocispec.Descriptor{{MediaType: envelopeType, Digest: c.blob(repo, env), Size: int64(len(env))}},
		Subject:      &subject,
		Annotations: map[string]string{notationThumbprints: string(tp),
			ocispec.AnnotationCreated: info.SignedAttributes.SigningTime.UTC().Format(time.RFC3339)},
	}
	m.SchemaVersion = 2
	raw, _ := json.Marshal(m)
	d := digest.FromBytes(raw)
	if st, b := c.do("PUT", "/v2/"+repo+"/manifests/"+d.String(), raw, "Content-Type", ocispec.MediaTypeImageManifest); st != 201 {
		t.Fatalf("pushing the Notation signature of %s: %d %s", signed.Digest, st, b)
	}
	return d
}

// imageDescriptor is img's descriptor as berth serves it.
func imageDescriptor(t *testing.T, img v1.Image) ocispec.Descriptor {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := img.MediaType()
	return ocispec.Descriptor{MediaType: string(mt), Digest: digest.FromBytes(raw), Size: int64(len(raw))}
}

// anonymousReferrers lists GET /v2/<repo>/referrers/<subject> without
// credentials.
func anonymousReferrers(t *testing.T, s *servertest.Server, repo string, subject digest.Digest) []ocispec.Descriptor {
	t.Helper()
	resp, err := http.Get(s.URL + "/v2/" + repo + "/referrers/" + subject.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var idx ocispec.Index
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&idx) != nil {
		t.Fatalf("referrers of %s: %d", subject, resp.StatusCode)
	}
	return idx.Manifests
}

// TestNotationSignedImagesAreServedUnderRequireSignedImages: with a CA's
// certificate required, an image signed by `notation sign` (JWS, through
// notation-go and ORAS as the CLI does) or pushed in the OCI 1.1 artifact
// form with a COSE envelope is served to every principal that may pull;
// an unsigned image, one signed by another CA's leaf and one carrying a
// signature of another image are DENIED naming the policy; the signature
// manifests stay pullable and are listed as referrers;
// Artifact.signatures reports kind, verification and the leaf's subject.
func TestNotationSignedImagesAreServedUnderRequireSignedImages(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "notary", true)
		trusted, other := newNotationCA(t, "Acme"), newNotationCA(t, "Mallory")
		images := map[string]v1.Image{}
		for _, tag := range []string{"jws", "cose", "unsigned", "untrusted", "moved"} {
			images[tag] = scanImage(t, "A="+tag, scanLayer(t, [2]string{"app", tag}))
			pushRemote(t, s, "notary/app:"+tag, images[tag])
		}
		desc := func(tag string) ocispec.Descriptor { return imageDescriptor(t, images[tag]) }
		c := registryClient{t: t, base: s.URL, user: "admin", pwd: servertest.AdminPassword}

		if r := s.Do(admin, `mutation($c: [String!]) { updateProject(name: "notary", input: {requireSignature: {notationCertificates: $c}}) { requireSignature { enabled } } }`,
			map[string]any{"c": []string{trusted.caPEM}}); len(r.Errors) != 0 {
			t.Fatalf("requiring the CA: %+v", r.Errors)
		}

		// Signing after the policy is on, as a release pipeline does:
		// notation resolves the tag with HEAD, which the policy never
		// refuses.
		signed := notationSignRemote(t, s, trusted, "notary/app", "jws", notationJWS)
		if signed.Digest != desc("jws").Digest || signed.Size != desc("jws").Size || signed.MediaType != desc("jws").MediaType {
			t.Fatalf("notation signed %+v, want %+v", signed, desc("jws"))
		}
		coseSig := notationSignByHand(t, s, trusted, "notary/app", desc("cose"), desc("cose"), notationCOSE)
		notationSignRemote(t, s, other, "notary/app", desc("untrusted").Digest.String(), notationJWS)
		// A valid signature of the "jws" image hung on the "moved" image.
		movedSig := notationSignByHand(t, s, trusted, "notary/app", desc("jws"), desc("moved"), notationJWS)

		// What notation-go pushed: an OCI image manifest with the signature
		// as its one layer, listed as a referrer of the image.
		refs := anonymousReferrers(t, s, "notary/app", signed.Digest)
		if len(refs) != 1 || refs[0].ArtifactType != notationSignatureType || refs[0].MediaType != ocispec.MediaTypeImageManifest {
			t.Fatalf("referrers of the notation-signed image: %+v", refs)
		}
		jwsSig := refs[0].Digest
		var sigManifest ocispec.Manifest
		st, raw := c.do("GET", "/v2/notary/app/manifests/"+jwsSig.String(), nil, "Accept", ocispec.MediaTypeImageManifest)
		if st != 200 || json.Unmarshal(raw, &sigManifest) != nil || sigManifest.Subject == nil || sigManifest.Subject.Digest != signed.Digest ||
			len(sigManifest.Layers) != 1 || sigManifest.Layers[0].MediaType != notationJWS || sigManifest.Annotations[notationThumbprints] == "" {
			t.Fatalf("the signature manifest notation pushed: %d %s", st, raw)
		}
		if refs := referrers(t, c, "notary/app", desc("cose").Digest.String(), notationSignatureType); len(refs) != 1 || refs[0].Digest != coseSig ||
			refs[0].ArtifactType != notationSignatureType || refs[0].Annotations[notationThumbprints] == "" {
			t.Fatalf("referrers of the COSE-signed image: %+v", refs)
		}
		if refs := anonymousReferrers(t, s, "notary/app", desc("unsigned").Digest); len(refs) != 0 {
			t.Fatalf("referrers of the unsigned image: %+v", refs)
		}

		// Artifact.signatures: the leaf's subject as the signer.
		wantSigner := "CN=Acme release signing,O=Acme,C=DE"
		if got := trusted.chain[0].Subject.String(); got != wantSigner {
			t.Fatalf("the leaf's subject is %q", got)
		}
		for tag, sig := range map[string]digest.Digest{"jws": jwsSig, "cose": coseSig} {
			sigs := artifactSignatures(t, s, servertest.Creds{}, "notary/app", tag)
			if len(sigs) != 1 || sigs[0].Kind != "NOTATION" || sigs[0].Digest != sig.String() || !sigs[0].Verified ||
				sigs[0].Signer == nil || *sigs[0].Signer != wantSigner || sigs[0].Error != nil {
				t.Errorf("signatures of the %s-signed image: %+v", tag, sigs)
			}
		}
		for _, tag := range []string{"untrusted", "moved"} {
			sigs := artifactSignatures(t, s, servertest.Creds{}, "notary/app", tag)
			if len(sigs) != 1 || sigs[0].Kind != "NOTATION" || sigs[0].Verified || sigs[0].Error == nil || *sigs[0].Error == "" {
				t.Errorf("signatures of the %s image: %+v", tag, sigs)
			}
		}
		if sigs := artifactSignatures(t, s, servertest.Creds{}, "notary/app", "moved"); len(sigs) == 1 && sigs[0].Digest != movedSig.String() {
			t.Errorf("the moved signature: %+v", sigs)
		}

		s.CreateUser("dev")
		addMember(t, s, "notary", "dev", member.RoleDEVELOPER)
		var robot struct {
			CreateRobot struct{ Login, Secret string }
		}
		s.MustDo(admin, `mutation { createRobot(input: {name: "puller", project: "notary", permissions: [{resource: REPOSITORY, action: PULL}]}) { login secret } }`, nil, &robot)
		for who, c := range map[string]servertest.Creds{
			"admin": admin, "developer": servertest.Basic("dev", "dev-password"), "anonymous": {},
			"pull robot": servertest.Basic(robot.CreateRobot.Login, robot.CreateRobot.Secret),
		} {
			for _, ref := range []string{"jws", "cose", desc("jws").Digest.String(), jwsSig.String(), coseSig.String(), movedSig.String()} {
				if st, _, msg := pull(t, s, c, "GET", "notary/app", ref); st != 200 {
					t.Errorf("%s pulling %s: %d %s", who, ref, st, msg)
				}
			}
			st, code, msg := pull(t, s, c, "GET", "notary/app", "unsigned")
			if st != 403 || code != "DENIED" || !strings.Contains(msg, `project notary's policy "require signed images"`) ||
				!strings.Contains(msg, "notary/app@"+desc("unsigned").Digest.String()) || !strings.Contains(msg, "no cosign or Notation signature") {
				t.Errorf("%s pulling the unsigned image: %d %s %s", who, st, code, msg)
			}
			for _, tag := range []string{"untrusted", "moved"} {
				st, code, msg := pull(t, s, c, "GET", "notary/app", tag)
				if st != 403 || code != "DENIED" || !strings.Contains(msg, `"require signed images"`) ||
					!strings.Contains(msg, "none of its 1 signatures verifies") || !strings.Contains(msg, "notation signature") {
					t.Errorf("%s pulling the %s image: %d %s %s", who, tag, st, code, msg)
				}
			}
		}

		// Trusting the other CA as well serves its image; the list keeps order.
		s.MustDo(admin, `mutation($c: [String!]) { updateProject(name: "notary", input: {requireSignature: {notationCertificates: $c}}) { requireSignature { enabled } } }`,
			map[string]any{"c": []string{trusted.caPEM, other.caPEM}}, nil)
		if st, _, msg := pull(t, s, servertest.Creds{}, "GET", "notary/app", "untrusted"); st != 200 {
			t.Errorf("the other CA trusted too: %d %s", st, msg)
		}
		sigs := artifactSignatures(t, s, servertest.Creds{}, "notary/app", "untrusted")
		if len(sigs) != 1 || !sigs[0].Verified || sigs[0].Signer == nil || *sigs[0].Signer != "CN=Mallory release signing,O=Mallory,C=DE" {
			t.Errorf("signatures of the other CA's image, now trusted: %+v", sigs)
		}
		if st, _, _ := pull(t, s, servertest.Creds{}, "GET", "notary/app", "moved"); st != 403 {
			t.Errorf("a moved signature, any CA trusted: %d", st)
		}
	})
}
