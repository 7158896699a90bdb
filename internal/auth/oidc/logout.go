package oidc

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
)

// LogoutHandler serves GET /auth/oidc/logout: it ends the berth session
// like POST /auth/logout, then sends the browser to the provider's
// end_session_endpoint (RP-initiated logout) when SSO is on and discovery
// advertises one, and to the portal otherwise. The provider is asked to
// come back to <external-url>/, which operators register as a post-logout
// redirect URI.
func (s *Service) LogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		ctx := r.Context()
		if c, err := r.Cookie(auth.SessionCookie); err == nil && c.Value != "" {
			_ = s.auth.Logout(ctx, c.Value)
		}
		auth.SetSessionCookies(w, "", "", time.Unix(0, 0), s.secure)
		w.Header().Set("Cache-Control", "no-store")
		target := "/"
		if st, err := s.Settings(ctx); err == nil && st.Enabled() {
			if _, meta, err := s.provider(ctx, st.Issuer); err == nil && meta.EndSessionEndpoint != "" {
				if u, err := url.Parse(meta.EndSessionEndpoint); err == nil {
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
		http.Redirect(w, r, target, http.StatusFound)
	})
}

// LocalPasswordPolicy is auth.Service's PasswordPolicy: in oidc mode only
// local system admins (accounts not linked to the provider) may use a
// password, on /auth/login and as Basic credentials, so that the
// installation stays reachable when the provider is down or misconfigured.
// Everyone else signs in with single sign-on and uses access tokens for
// docker and scripts. In db mode it allows everything.
func (s *Service) LocalPasswordPolicy(ctx context.Context, u *ent.User) error {
	st, err := s.Settings(ctx)
	if err != nil {
		return err
	}
	if st.Mode != ModeOIDC || (u.Admin && u.OidcSubject == nil) {
		return nil
	}
	return errdefs.Unauthenticatedf("sign in with %s at %s; password sign-in is reserved for local system administrators (use an access token for docker and scripts)", st.ProviderName, LoginPath)
}
