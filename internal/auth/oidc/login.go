package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/berth-registry/berth/internal/auth"
)

// loginTTL bounds how long a user may spend at the provider.
const loginTTL = 10 * time.Minute

// loginState is what the login cookie carries from /auth/oidc/login to the
// callback.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r"`
	Issuer   string `json:"i"`
}

// oauthConfig builds the OAuth client of the effective settings.
func (s *Service) oauthConfig(st Settings, p *gooidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: st.ClientID, ClientSecret: st.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: s.RedirectURL(), Scopes: st.Scopes,
	}
}

// enabledSettings returns the effective settings, or writes 404 when SSO
// is off.
func (s *Service) enabledSettings(w http.ResponseWriter, r *http.Request) (Settings, bool) {
	st, err := s.Settings(r.Context())
	if err != nil {
		s.log.ErrorContext(r.Context(), "reading the OIDC settings", "err", err)
		http.Error(w, "single sign-on is unavailable", http.StatusInternalServerError)
		return Settings{}, false
	}
	if !st.Enabled() {
		http.Error(w, "single sign-on is not enabled", http.StatusNotFound)
		return Settings{}, false
	}
	return st.Settings, true
}

// LoginHandler serves GET /auth/oidc/login[?return_to=/path]: it remembers
// state, nonce and PKCE verifier in the sealed login cookie and redirects
// to the provider.
func (s *Service) LoginHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		st, ok := s.enabledSettings(w, r)
		if !ok {
			return
		}
		p, _, err := s.provider(r.Context(), st.Issuer)
		if err != nil {
			s.log.ErrorContext(r.Context(), "OpenID provider unreachable", "err", err)
			http.Error(w, "the identity provider cannot be reached; try again later", http.StatusBadGateway)
			return
		}
		ls := loginState{
			State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(),
			ReturnTo: safeReturnTo(r.URL.Query().Get("return_to")), Issuer: st.Issuer,
		}
		if err := s.setCookie(r.Context(), w, loginCookie, ls, loginTTL); err != nil {
			s.log.ErrorContext(r.Context(), "sealing the login cookie", "err", err)
			http.Error(w, "single sign-on is unavailable", http.StatusInternalServerError)
			return
		}
		target := s.oauthConfig(st, p).AuthCodeURL(ls.State, gooidc.Nonce(ls.Nonce), oauth2.S256ChallengeOption(ls.Verifier))
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, target, http.StatusFound)
	})
}

// CallbackHandler serves GET /auth/oidc/callback: it checks state, trades
// the code (with the PKCE verifier) for tokens, verifies the ID token and
// its nonce, signs the user in (onboarding them if new) and redirects to
// the portal.
func (s *Service) CallbackHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		ctx := r.Context()
		var ls loginState
		err := s.readCookie(r, loginCookie, &ls)
		// The cookie is single use, whatever happens next.
		s.clearCookie(w, loginCookie)
		q := r.URL.Query()
		switch {
		case err != nil:
			s.refuse(w, r, http.StatusBadRequest, "the sign-in took too long or was started in another browser; try again", err)
			return
		case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(ls.State)) != 1:
			s.refuse(w, r, http.StatusBadRequest, "the sign-in state does not match; try again", errors.New("state mismatch"))
			return
		case q.Get("error") != "":
			msg := q.Get("error")
			if d := q.Get("error_description"); d != "" {
				msg += ": " + d
			}
			s.refuse(w, r, http.StatusUnauthorized, "the identity provider refused the sign-in ("+truncate(msg, 200)+")", errors.New(msg))
			return
		case q.Get("code") == "":
			s.refuse(w, r, http.StatusBadRequest, "the identity provider sent no authorization code", errors.New("no code"))
			return
		}
		st, ok := s.enabledSettings(w, r)
		if !ok {
			return
		}
		if st.Issuer != ls.Issuer {
			s.refuse(w, r, http.StatusBadRequest, "the single sign-on settings changed during the sign-in; try again", errors.New("issuer changed"))
			return
		}
		id, err := s.exchange(ctx, st, q.Get("code"), ls)
		if err != nil {
			s.refuse(w, r, http.StatusUnauthorized, "the identity provider's answer could not be verified", err)
			return
		}
		s.finishSignIn(w, r, st, id, ls.ReturnTo)
	})
}

// exchange redeems the code and returns the verified identity.
func (s *Service) exchange(ctx context.Context, st Settings, code string, ls loginState) (*identity, error) {
	p, _, err := s.provider(ctx, st.Issuer)
	if err != nil {
		return nil, err
	}
	hctx := gooidc.ClientContext(ctx, s.httpClient)
	tok, err := s.oauthConfig(st, p).Exchange(hctx, code, oauth2.VerifierOption(ls.Verifier))
	if err != nil {
		return nil, fmt.Errorf("redeeming the authorization code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("the token response has no id_token")
	}
	// Verify checks the signature against the provider's JWKS, the issuer,
	// the audience (our client ID) and the expiry.
	idt, err := p.Verifier(&gooidc.Config{ClientID: st.ClientID}).Verify(hctx, raw)
	if err != nil {
		return nil, fmt.Errorf("verifying the ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(ls.Nonce)) != 1 {
		return nil, errors.New("the ID token's nonce does not match the one sent")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("decoding the ID token's claims: %w", err)
	}
	// Many providers put profile and group claims only in the userinfo
	// answer; it fills in what the ID token lacks, never overrides it.
	if ui, err := p.UserInfo(hctx, oauth2.StaticTokenSource(tok)); err == nil {
		if ui.Subject != idt.Subject {
			return nil, errors.New("the userinfo subject differs from the ID token's")
		}
		extra := map[string]any{}
		if err := ui.Claims(&extra); err == nil {
			for k, v := range extra {
				if _, ok := claims[k]; !ok {
					claims[k] = v
				}
			}
		}
	} else if !strings.Contains(err.Error(), "not supported") {
		s.log.WarnContext(ctx, "fetching OIDC userinfo failed; using the ID token's claims only", "err", err)
	}
	return identityFromClaims(st, idt.Issuer, idt.Subject, claims), nil
}

// refuse answers a failed sign-in: the browser is sent to the portal's
// login page with the reason, and the status code tells scripts and tests
// what went wrong. The cause goes to the log, never to the page.
func (s *Service) refuse(w http.ResponseWriter, r *http.Request, status int, msg string, cause error) {
	s.log.WarnContext(r.Context(), "OIDC sign-in refused", "reason", msg, "err", cause)
	s.audit(r.Context(), "", errors.New(msg), "single sign-on")
	w.Header().Set("Location", "/login?error="+url.QueryEscape(msg))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "sign-in failed: %s\n", msg)
}

// safeReturnTo keeps a return path only if it stays on berth: an absolute
// path, not a scheme-relative URL nor anything a browser would read as
// another host.
func safeReturnTo(p string) string {
	if p == "" || len(p) > 2048 || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") ||
		strings.ContainsAny(p, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	// The auth endpoints themselves are no place to land.
	if strings.HasPrefix(u.Path, "/auth/") {
		return "/"
	}
	return p
}

func randomString() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// sessionCookies opens a portal session for userID and sets its cookies.
func (s *Service) sessionCookies(ctx context.Context, w http.ResponseWriter, userID int) (csrf string, err error) {
	secret, csrf, expires, err := s.auth.StartSession(ctx, userID)
	if err != nil {
		return "", err
	}
	auth.SetSessionCookies(w, secret, csrf, expires, s.secure)
	return csrf, nil
}
