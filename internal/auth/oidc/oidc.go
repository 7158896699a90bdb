// Package oidc signs people in to berth through an OpenID provider: the
// authorization code flow with PKCE (S256), state and nonce, ID tokens
// verified by github.com/coreos/go-oidc/v3 (issuer, audience, expiry and
// signature against the provider's JWKS), onboarding of new users, groups
// and the admin group, RP-initiated logout, and the settings a system admin
// changes at run time.
//
// Nothing here lives only in one process's memory: the state, nonce and
// PKCE verifier of a login in flight, and the identity of a user still
// choosing a username, travel in short-lived HttpOnly cookies sealed with
// AES-GCM under a key kept in the database, so any replica can finish a
// login another one started. The only in-process state is a cache of the
// provider's discovery document, which every replica fetches for itself.
//
// Refresh tokens are not kept. A berth portal session does not depend on
// the provider once it is open (it ends after its own lifetime, or at
// logout), and CLIs use berth access tokens; storing the provider's refresh
// tokens would only add a long-lived credential to protect.
package oidc

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/egress"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/secrets"
	"github.com/berth-registry/berth/internal/viewer"
)

// The paths this package serves.
const (
	LoginPath    = "/auth/oidc/login"
	CallbackPath = "/auth/oidc/callback"
	OnboardPath  = "/auth/oidc/onboard"
	LogoutPath   = "/auth/oidc/logout"
)

// discoveryTTL is how long a provider's discovery document is reused
// before it is fetched again (key rotation is handled by go-oidc itself).
const discoveryTTL = 15 * time.Minute

// Options are what internal/server supplies.
type Options struct {
	Client *ent.Client
	Auth   *auth.Service
	// Defaults are the settings from the configuration.
	Defaults Settings
	// ExternalURL is where browsers reach berth; the redirect URI is
	// ExternalURL + /auth/oidc/callback.
	ExternalURL string
	Logger      *slog.Logger
	// AllowPrivate lets berth reach providers on loopback, link-local and
	// private addresses (--oidc-allow-private).
	AllowPrivate bool
	// HTTPClient talks to the provider; nil means an egress client with a
	// 15s timeout that refuses private addresses unless AllowPrivate.
	HTTPClient *http.Client
	// Secrets seals the client secret of the stored settings and the
	// sign-in cookie key in the database. Required.
	Secrets *secrets.Box
}

// Service is the OpenID relying party of berth.
type Service struct {
	client      *ent.Client
	auth        *auth.Service
	defaults    Settings
	externalURL string
	secure      bool
	log         *slog.Logger
	httpClient  *http.Client
	secrets     *secrets.Box

	mu        sync.Mutex
	sealer    *sealer
	providers map[string]cachedProvider
	// mode is the sign-in mode as last read, for the password policy that
	// runs on every Basic-authenticated request (logout.go).
	mode cachedMode
}

type cachedMode struct {
	mode     Mode
	provider string
	at       time.Time
}

type cachedProvider struct {
	p       *gooidc.Provider
	doc     discoveryDocument
	fetched time.Time
}

// New returns the relying party.
func New(opts Options) *Service {
	hc := opts.HTTPClient
	if hc == nil {
		hc = egress.NewClient(egress.Options{AllowPrivate: opts.AllowPrivate, Timeout: 15 * time.Second})
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	ext := strings.TrimRight(opts.ExternalURL, "/")
	return &Service{
		client: opts.Client, auth: opts.Auth, defaults: opts.Defaults.normalize(),
		externalURL: ext, secure: strings.HasPrefix(ext, "https://"), log: log, httpClient: hc,
		secrets: opts.Secrets, providers: map[string]cachedProvider{},
	}
}

// provider returns the discovered provider of issuer, from the cache when fresh.
func (s *Service) provider(ctx context.Context, issuer string) (*gooidc.Provider, discoveryDocument, error) {
	s.mu.Lock()
	c, ok := s.providers[issuer]
	s.mu.Unlock()
	if ok && time.Since(c.fetched) < discoveryTTL {
		return c.p, c.doc, nil
	}
	p, doc, err := s.discover(ctx, issuer)
	if err != nil {
		return nil, discoveryDocument{}, err
	}
	s.mu.Lock()
	s.providers[issuer] = cachedProvider{p: p, doc: doc, fetched: time.Now()}
	s.mu.Unlock()
	return p, doc, nil
}

// ConnectionTest is the outcome of TestConnection.
type ConnectionTest struct {
	OK                    bool
	Error                 string
	Issuer                string
	AuthorizationEndpoint string
	TokenEndpoint         string
	UserinfoEndpoint      string
	JWKSURI               string
	EndSessionEndpoint    string
	ScopesSupported       []string
	PKCEMethods           []string
}

// TestConnection fetches the discovery document of issuer and reports its
// endpoints, or why it could not. System admins only.
//
// The issuer is any URL an admin types, so this is a request berth makes on
// someone's behalf: the answer says what went wrong in a few words (a
// status code, "not an OpenID discovery document", "connection refused")
// and never carries anything the server sent, and private addresses are
// refused unless --oidc-allow-private is set.
func (s *Service) TestConnection(ctx context.Context, issuer string) (*ConnectionTest, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	issuer = strings.TrimSpace(issuer)
	if err := (Settings{Mode: ModeDB, Issuer: issuer}).validate(); err != nil || issuer == "" {
		return nil, errdefs.Invalidf("issuer %q is not an absolute http(s) URL", issuer)
	}
	_, doc, err := s.discover(ctx, issuer)
	if err != nil {
		s.log.InfoContext(ctx, "OIDC connection test failed", "user", viewer.FromContext(ctx).Name(), "issuer", issuer, "err", err)
		return &ConnectionTest{Issuer: issuer, Error: discoveryReason(err)}, nil
	}
	return &ConnectionTest{
		OK: true, Issuer: doc.Issuer, AuthorizationEndpoint: doc.AuthURL, TokenEndpoint: doc.TokenURL,
		UserinfoEndpoint: doc.UserInfoURL, JWKSURI: doc.JWKSURI, EndSessionEndpoint: doc.EndSessionEndpoint,
		ScopesSupported: doc.ScopesSupported, PKCEMethods: doc.CodeChallenge,
	}, nil
}

// PublicInfo is what the login page needs to know, readable by anyone.
type PublicInfo struct {
	Mode         Mode
	OIDCEnabled  bool
	ProviderName string
}

// PublicInfo returns the authentication mode and whether SSO is offered.
func (s *Service) PublicInfo(ctx context.Context) (PublicInfo, error) {
	st, err := s.Settings(ctx)
	if err != nil {
		return PublicInfo{}, err
	}
	return PublicInfo{Mode: st.Mode, OIDCEnabled: st.Enabled(), ProviderName: st.ProviderName}, nil
}

// SettingsFromConfig returns the settings the configuration gives.
func SettingsFromConfig(c *config.Config) Settings {
	return Settings{
		Mode: Mode(c.AuthMode), ProviderName: c.OIDCProviderName, Issuer: c.OIDCIssuer,
		ClientID: c.OIDCClientID, ClientSecret: c.OIDCClientSecret, Scopes: ParseScopes(c.OIDCScopes),
		UsernameClaim: c.OIDCUsernameClaim, GroupsClaim: c.OIDCGroupsClaim, AdminGroup: c.OIDCAdminGroup,
	}.normalize()
}

// Mount serves the sign-in endpoints on mux: GET /auth/oidc/login,
// GET /auth/oidc/callback, GET and POST /auth/oidc/onboard and
// POST /auth/oidc/logout, each wrapped in wrap (a rate limiter, say).
func (s *Service) Mount(mux *http.ServeMux, wrap ...func(http.Handler) http.Handler) {
	for path, h := range map[string]http.Handler{
		LoginPath: s.LoginHandler(), CallbackPath: s.CallbackHandler(),
		OnboardPath: s.OnboardHandler(), LogoutPath: s.LogoutHandler(),
	} {
		for _, w := range wrap {
			h = w(h)
		}
		mux.Handle(path, h)
	}
}

// audit records a sign-in through the provider, or its refusal, in the
// audit log with the other logins.
func (s *Service) audit(ctx context.Context, username string, err error, detail string) {
	e := audit.Entry{Operation: "login", ResourceType: "user", Resource: username, Actor: username,
		Result: audit.Success, Detail: detail}
	if err != nil {
		e.Result, e.Detail = audit.Failure, detail+": "+err.Error()
	}
	s.auth.Audit.Record(ctx, e)
}
