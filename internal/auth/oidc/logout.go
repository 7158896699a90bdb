package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berth-registry/berth/ent/user"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/viewer"
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

// GuardLocalLogin wraps POST /auth/login: in oidc mode only local system
// admins (accounts not linked to the provider) may sign in with a password
// there, so that the installation stays reachable when the provider is
// down or misconfigured. Everyone else is told to use single sign-on. In
// db mode it changes nothing.
func (s *Service) GuardLocalLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		st, err := s.Settings(r.Context())
		if err != nil || st.Mode != ModeOIDC {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			writeError(w, http.StatusBadRequest, "BAD_USER_INPUT", "could not read the request body")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var username string
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			var in struct{ Username string }
			_ = json.Unmarshal(body, &in)
			username = in.Username
		} else if form, err := url.ParseQuery(string(body)); err == nil {
			username = form.Get("username")
		}
		ok, err := s.client.User.Query().
			Where(user.Username(username), user.Admin(true), user.OidcSubjectIsNil()).
			Exist(viewer.SystemContext(r.Context()))
		if err != nil || !ok {
			s.audit(r.Context(), username, errors.New("password sign-in is reserved for local system admins in oidc mode"), "password")
			w.Header().Set("WWW-Authenticate", `Basic realm="berth"`)
			writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED",
				"sign in with "+st.ProviderName+" at "+LoginPath+"; password sign-in is reserved for local system administrators")
			return
		}
		next.ServeHTTP(w, r)
	})
}
