package oidc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/berth-registry/berth/internal/egress"
)

// maxDiscoveryDocument bounds what berth reads of a discovery document;
// real ones are a few kilobytes.
const maxDiscoveryDocument = 512 << 10

// discoveryDocument is what berth reads of a provider's discovery document
// (OpenID Connect Discovery 1.0, section 3).
type discoveryDocument struct {
	Issuer             string   `json:"issuer"`
	AuthURL            string   `json:"authorization_endpoint"`
	TokenURL           string   `json:"token_endpoint"`
	UserInfoURL        string   `json:"userinfo_endpoint"`
	JWKSURI            string   `json:"jwks_uri"`
	EndSessionEndpoint string   `json:"end_session_endpoint"`
	ScopesSupported    []string `json:"scopes_supported"`
	CodeChallenge      []string `json:"code_challenge_methods_supported"`
	Algorithms         []string `json:"id_token_signing_alg_values_supported"`
}

// signingAlgorithms are the ID token algorithms go-oidc verifies; a
// provider's list is cut down to these, as go-oidc's own discovery does.
var signingAlgorithms = map[string]bool{
	gooidc.RS256: true, gooidc.RS384: true, gooidc.RS512: true,
	gooidc.ES256: true, gooidc.ES384: true, gooidc.ES512: true,
	gooidc.PS256: true, gooidc.PS384: true, gooidc.PS512: true,
	gooidc.EdDSA: true,
}

// discoveryError is a failed discovery. Its reason is short and made by
// berth, never copied from what the server sent; the cause (a network
// error, say) goes to the log only.
type discoveryError struct {
	reason string
	cause  error
}

func (e *discoveryError) Error() string {
	if e.cause != nil {
		return e.reason + ": " + e.cause.Error()
	}
	return e.reason
}

func (e *discoveryError) Unwrap() error { return e.cause }

// discoveryReason is the part of a discovery error that may be shown to
// the admin who asked.
func discoveryReason(err error) string {
	var de *discoveryError
	if errors.As(err, &de) {
		return de.reason
	}
	return "the discovery document could not be read"
}

// discover reads issuer's discovery document itself, rather than through
// gooidc.NewProvider, whose errors carry the body of whatever answered.
func (s *Service) discover(ctx context.Context, issuer string) (*gooidc.Provider, discoveryDocument, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	wellKnown := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wellKnown, nil)
	if err != nil {
		return nil, discoveryDocument{}, &discoveryError{reason: "the issuer is not a usable URL"}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.httpClient.Do(req)
	if err != nil {
		return nil, discoveryDocument{}, &discoveryError{reason: connectionReason(err), cause: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, discoveryDocument{}, &discoveryError{reason: fmt.Sprintf("the issuer answered HTTP %d", resp.StatusCode)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoveryDocument+1))
	if err != nil {
		return nil, discoveryDocument{}, &discoveryError{reason: connectionReason(err), cause: err}
	}
	notDiscovery := &discoveryError{reason: "not an OpenID discovery document"}
	if len(body) > maxDiscoveryDocument {
		return nil, discoveryDocument{}, notDiscovery
	}
	var doc discoveryDocument
	if err := json.Unmarshal(body, &doc); err != nil || doc.Issuer == "" || doc.AuthURL == "" || doc.TokenURL == "" || doc.JWKSURI == "" {
		return nil, discoveryDocument{}, notDiscovery
	}
	// The issuer must match exactly (trailing slash included), since ID
	// tokens are checked against it (Discovery 1.0, section 4.3).
	if doc.Issuer != issuer {
		return nil, discoveryDocument{}, &discoveryError{reason: "the discovery document names another issuer; the issuer URL must match it exactly, trailing slash included"}
	}
	var algs []string
	for _, a := range doc.Algorithms {
		if signingAlgorithms[a] {
			algs = append(algs, a)
		}
	}
	cfg := &gooidc.ProviderConfig{IssuerURL: doc.Issuer, AuthURL: doc.AuthURL, TokenURL: doc.TokenURL,
		UserInfoURL: doc.UserInfoURL, JWKSURL: doc.JWKSURI, Algorithms: algs}
	// go-oidc keeps only the HTTP client of this context, for its later
	// JWKS and userinfo requests.
	return cfg.NewProvider(gooidc.ClientContext(context.Background(), s.httpClient)), doc, nil
}

// connectionReason names why a request to a provider failed, in words
// that reveal nothing about what answered beyond the kind of failure.
func connectionReason(err error) string {
	var (
		dnsErr    *net.DNSError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		certErr   x509.CertificateInvalidError
		verifyErr *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
		alertErr  tls.AlertError
		netErr    net.Error
	)
	switch {
	case errors.Is(err, egress.ErrPrivateAddress):
		return "the issuer's address is loopback, link-local, private or otherwise not public; start berth with --oidc-allow-private to allow it"
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "the issuer's host name does not resolve"
	case errors.As(err, &dnsErr):
		return "the issuer's host name could not be resolved"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timed out"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the connection was closed before an answer"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "the issuer's host is unreachable"
	case errors.As(err, &unknownCA):
		return "TLS error: the certificate is not signed by a trusted authority"
	case errors.As(err, &hostErr):
		return "TLS error: the certificate is not valid for this host name"
	case errors.As(err, &certErr):
		return "TLS error: the certificate is invalid or expired"
	case errors.As(err, &verifyErr), errors.As(err, &recordErr), errors.As(err, &alertErr):
		return "TLS error"
	}
	return "the connection failed"
}
