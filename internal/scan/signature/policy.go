package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"

	sigstore "github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/berth-registry/berth/internal/errdefs"
)

// Bounds of a policy.
const (
	// MaxPolicyEntries bounds the cosign keys, and the Notation
	// certificate entries, of one policy.
	MaxPolicyEntries = 16
	// MaxPEMSize bounds one PEM entry.
	MaxPEMSize = 16 << 10
	// maxEntryCertificates bounds the certificates in one Notation entry.
	maxEntryCertificates = 8
)

// Policy is what a project trusts to sign its images.
type Policy struct {
	// CosignPublicKeys are PEM public keys, each one "PUBLIC KEY" block
	// as `cosign generate-key-pair` writes to cosign.pub: ECDSA P-256,
	// P-384 or P-521, RSA 2048, 3072 or 4096, or Ed25519.
	CosignPublicKeys []string
	// NotationCertificates are the Notation trust store: PEM entries of
	// one or more "CERTIFICATE" blocks, each a CA certificate or a
	// self-signed signing certificate, as `notation cert add` accepts. A
	// signature verifies when its certificate chain ends in one of them.
	NotationCertificates []string
}

// cosignKey is one of the project's cosign public keys.
type cosignKey struct {
	// fingerprint is "sha256:<hex>" of the DER public key.
	fingerprint string
	// verifiers check a signature made with the key: the algorithm
	// cosign signs with for this key type, then the one `cosign verify`
	// assumes by default when it differs (SHA-256, pure Ed25519).
	verifiers []sigstore.Verifier
}

// KeyFingerprint returns the fingerprint berth names a cosign public key
// by in Signature.Signer: "sha256:" and the hex SHA-256 of the key's DER
// (PKIX) encoding, the same as `openssl pkey -pubin -outform DER | sha256sum`.
func KeyFingerprint(publicKeyPEM string) (string, error) {
	k, err := parseCosignKey(publicKeyPEM)
	if err != nil {
		return "", errdefs.Invalidf("cosign public key: %v", err)
	}
	return k.fingerprint, nil
}

func parseCosignKeys(pems []string) ([]cosignKey, error) {
	if len(pems) > MaxPolicyEntries {
		return nil, errdefs.Invalidf("%d cosign public keys, more than the %d allowed", len(pems), MaxPolicyEntries)
	}
	keys := make([]cosignKey, 0, len(pems))
	seen := map[string]bool{}
	for i, p := range pems {
		k, err := parseCosignKey(p)
		if err != nil {
			return nil, errdefs.Invalidf("cosign public key %d: %v", i+1, err)
		}
		if seen[k.fingerprint] {
			return nil, errdefs.Invalidf("cosign public key %d: the same key as an earlier one (%s)", i+1, k.fingerprint)
		}
		seen[k.fingerprint] = true
		keys = append(keys, k)
	}
	return keys, nil
}

func parseCosignKey(p string) (cosignKey, error) {
	block, err := onePEMBlock(p)
	if err != nil {
		return cosignKey{}, err
	}
	var pub crypto.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		return cosignKey{}, fmt.Errorf("is a certificate; give the public key (cosign.pub)")
	default:
		if strings.Contains(block.Type, "PRIVATE KEY") {
			return cosignKey{}, fmt.Errorf("is a private key; give the public key (cosign.pub), and treat this private key as leaked")
		}
		return cosignKey{}, fmt.Errorf("PEM block %q is not a public key", block.Type)
	}
	if err != nil {
		return cosignKey{}, fmt.Errorf("parsing the public key: %v", err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return cosignKey{}, fmt.Errorf("encoding the public key: %v", err)
	}
	sum := sha256.Sum256(der)
	k := cosignKey{fingerprint: "sha256:" + hex.EncodeToString(sum[:])}

	def, err := sigstore.LoadDefaultVerifier(pub, options.WithED25519ph())
	if err != nil {
		return cosignKey{}, fmt.Errorf("unsupported key (%T): %v", pub, err)
	}
	k.verifiers = append(k.verifiers, def)
	switch pk := pub.(type) {
	case *ecdsa.PublicKey:
		if pk.Curve.Params().BitSize != 256 {
			v, err := sigstore.LoadECDSAVerifier(pk, crypto.SHA256)
			if err != nil {
				return cosignKey{}, fmt.Errorf("unsupported key: %v", err)
			}
			k.verifiers = append(k.verifiers, v)
		}
	case ed25519.PublicKey:
		v, err := sigstore.LoadED25519Verifier(pk)
		if err != nil {
			return cosignKey{}, fmt.Errorf("unsupported key: %v", err)
		}
		k.verifiers = append(k.verifiers, v)
	}
	return k, nil
}

// parseCertificates parses one Notation trust store entry.
func parseCertificates(p string) ([]*x509.Certificate, error) {
	if len(p) > MaxPEMSize {
		return nil, fmt.Errorf("is %d bytes, over the %d-byte limit", len(p), MaxPEMSize)
	}
	var certs []*x509.Certificate
	rest := []byte(p)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			if strings.Contains(block.Type, "PRIVATE KEY") {
				return nil, fmt.Errorf("holds a private key; give only certificates, and treat this private key as leaked")
			}
			return nil, fmt.Errorf("PEM block %q is not a certificate", block.Type)
		}
		if len(certs) == maxEntryCertificates {
			return nil, fmt.Errorf("holds more than %d certificates", maxEntryCertificates)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("holds no PEM certificate")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("has text that is not PEM")
	}
	return certs, nil
}

// onePEMBlock decodes p, which must be exactly one PEM block.
func onePEMBlock(p string) (*pem.Block, error) {
	if len(p) > MaxPEMSize {
		return nil, fmt.Errorf("is %d bytes, over the %d-byte limit", len(p), MaxPEMSize)
	}
	block, rest := pem.Decode([]byte(p))
	if block == nil {
		return nil, fmt.Errorf("is not PEM")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("holds more than one PEM block")
	}
	return block, nil
}
