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
	"fmt"
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
	"github.com/berth-registry/berth/internal/errdefs"
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
	// HTTPClient talks to the provider; nil means one with a 15s timeout.
	HTTPClient *http.Client
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

	mu        sync.Mutex
	sealer    *sealer
	providers map[string]cachedProvider
}

type cachedProvider struct {
	p       *gooidc.Provider
	meta    providerMetadata
	fetched time.Time
}

// providerMetadata holds the discovery fields go-oidc does not expose.
type providerMetadata struct {
	EndSessionEndpoint string   `json:"end_session_endpoint"`
	ScopesSupported    []string `json:"scopes_supported"`
	CodeChallenge      []string `json:"code_challenge_methods_supported"`
}

// New returns the relying party.
func New(opts Options) *Service {
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	ext := strings.TrimRight(opts.ExternalURL, "/")
	return &Service{
		client: opts.Client, auth: opts.Auth, defaults: opts.Defaults.normalize(),
		externalURL: ext, secure: strings.HasPrefix(ext, "https://"), log: log, httpClient: hc,
		providers: map[string]cachedProvider{},
	}
}

// provider returns the discovered provider of issuer, from the cache when fresh.
func (s *Service) provider(ctx context.Context, issuer string) (*gooidc.Provider, providerMetadata, error) {
	s.mu.Lock()
	c, ok := s.providers[issuer]
	s.mu.Unlock()
	if ok && time.Since(c.fetched) < discoveryTTL {
		return c.p, c.meta, nil
	}
	p, meta, err := s.discover(ctx, issuer)
	if err != nil {
		return nil, providerMetadata{}, err
	}
	s.mu.Lock()
	s.providers[issuer] = cachedProvider{p: p, meta: meta, fetched: time.Now()}
	s.mu.Unlock()
	return p, meta, nil
}

func (s *Service) discover(ctx context.Context, issuer string) (*gooidc.Provider, providerMetadata, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// go-oidc keeps only the HTTP client of this context for its later
	// JWKS fetches, not the context itself.
	p, err := gooidc.NewProvider(gooidc.ClientContext(ctx, s.httpClient), issuer)
	if err != nil {
		return nil, providerMetadata{}, fmt.Errorf("discovering the OpenID provider %s: %w", issuer, err)
	}
	var meta providerMetadata
	if err := p.Claims(&meta); err != nil {
		return nil, providerMetadata{}, fmt.Errorf("reading the discovery document of %s: %w", issuer, err)
	}
	return p, meta, nil
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
func (s *Service) TestConnection(ctx context.Context, issuer string) (*ConnectionTest, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return nil, err
	}
	issuer = strings.TrimSpace(issuer)
	if err := (Settings{Mode: ModeDB, Issuer: issuer}).validate(); err != nil || issuer == "" {
		return nil, errdefs.Invalidf("issuer %q is not an absolute http(s) URL", issuer)
	}
	p, meta, err := s.discover(ctx, issuer)
	if err != nil {
		return &ConnectionTest{Issuer: issuer, Error: err.Error()}, nil
	}
	var doc struct {
		Issuer   string `json:"issuer"`
		JWKSURI  string `json:"jwks_uri"`
		UserInfo string `json:"userinfo_endpoint"`
	}
	_ = p.Claims(&doc)
	ep := p.Endpoint()
	return &ConnectionTest{
		OK: true, Issuer: doc.Issuer, AuthorizationEndpoint: ep.AuthURL, TokenEndpoint: ep.TokenURL,
		UserinfoEndpoint: doc.UserInfo, JWKSURI: doc.JWKSURI, EndSessionEndpoint: meta.EndSessionEndpoint,
		ScopesSupported: meta.ScopesSupported, PKCEMethods: meta.CodeChallenge,
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
// GET /auth/oidc/logout, each wrapped in wrap (a rate limiter, say).
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
