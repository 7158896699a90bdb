package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
)

// LogoutHandler serves POST /auth/oidc/logout: it ends the berth session
// like POST /auth/logout (the CSRF header is required when a session cookie
// is present), then answers {"redirect": url} with where the portal sends
// the browser next: the provider's end_session_endpoint (RP-initiated
// logout) when SSO is on and discovery advertises one, the portal
// otherwise. The provider is asked to come back to <external-url>/, which
// operators register as a post-logout redirect URI.
//
// It is not a GET link: a GET can be triggered by any page (an image tag
// will do), and must not end anyone's session.
func (s *Service) LogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		ctx := r.Context()
		w.Header().Set("Cache-Control", "no-store")
		if err := s.auth.EndSession(w, r, s.secure); err != nil {
			if !errors.Is(err, errdefs.ErrDenied) {
				s.log.ErrorContext(ctx, "signing out", "err", err)
			}
			auth.WriteError(w, err)
			return
		}
		target := "/"
		if st, err := s.Settings(ctx); err == nil && st.Enabled() {
			if _, doc, err := s.provider(ctx, st.Issuer); err == nil && doc.EndSessionEndpoint != "" {
				if u, err := url.Parse(doc.EndSessionEndpoint); err == nil && (u.Scheme == "https" || u.Scheme == "http") {
					q := u.Query()
					q.Set("client_id", st.ClientID)
					q.Set("post_logout_redirect_uri", s.externalURL+"/")
					u.RawQuery = q.Encode()
					target = u.String()
				}
			} else if err != nil {
				s.log.WarnContext(ctx, "OpenID provider unreachable at logout", "err", err)
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"redirect": target})
	})
}

// LocalPasswordPolicy is auth.Service's PasswordPolicy: in oidc mode only
// local system admins (accounts not linked to the provider) may use a
// password, on /auth/login and as Basic credentials, so that the
// installation stays reachable when the provider is down or misconfigured.
// Everyone else signs in with single sign-on and uses access tokens for
// docker and scripts. In db mode it allows everything.
//
// The mode is read at most once a second (Settings refreshes it, and an
// update through this process at once): a change made through another
// replica applies here within that second.
func (s *Service) LocalPasswordPolicy(ctx context.Context, u *ent.User) error {
	s.mu.Lock()
	m := s.mode
	s.mu.Unlock()
	if time.Since(m.at) > modeTTL {
		st, err := s.Settings(ctx)
		if err != nil {
			return err
		}
		m = cachedMode{mode: st.Mode, provider: st.ProviderName}
	}
	if m.mode != ModeOIDC || (u.Admin && u.OidcSubject == nil) {
		return nil
	}
	return errdefs.Unauthenticatedf("sign in with %s at %s; password sign-in is reserved for local system administrators (use an access token for docker and scripts)", m.provider, LoginPath)
}

// modeTTL bounds how long the password policy uses a mode it read.
const modeTTL = time.Second
