package auth

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// Cookie and header names of portal sessions.
const (
	SessionCookie = "berth_session"
	// CSRFCookie is readable by the portal's JavaScript, which echoes it in
	// CSRFHeader on every state-changing request (double submit).
	CSRFCookie = "berth_csrf"
	CSRFHeader = "X-Berth-CSRF"
)

// Middleware puts the caller's viewer on the request context. It accepts
// HTTP Basic (password or access token), Bearer access tokens and the portal
// session cookie; a request with none of them is anonymous. Bad credentials
// are refused with 401 rather than downgraded to anonymous, and a
// cookie-authenticated request that changes state must carry the CSRF header.
func (s *Service) Middleware(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v, err := s.fromRequest(r)
			if err != nil {
				if !errors.Is(err, errdefs.ErrUnauthenticated) && !errors.Is(err, errdefs.ErrDenied) && !errors.Is(err, errdefs.ErrTooManyRequests) {
					log.ErrorContext(r.Context(), "authenticating request", "err", err)
					err = errdefs.Unauthenticatedf("could not check credentials")
				}
				// Only a request that sent Basic credentials is challenged for
				// them again: a browser answers the challenge with its own
				// password prompt, which the portal must never trigger.
				_, _, basic := r.BasicAuth()
				writeJSONError(w, err, basic)
				return
			}
			if v != nil {
				r = r.WithContext(viewer.NewContext(r.Context(), v))
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (s *Service) fromRequest(r *http.Request) (*viewer.Viewer, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		if user, pass, ok := r.BasicAuth(); ok {
			return s.Password(ctx, user, pass)
		}
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			return s.Bearer(ctx, strings.TrimSpace(tok))
		}
		return nil, errdefs.Unauthenticatedf("unsupported Authorization scheme; use Basic or Bearer")
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	v, csrf, err := s.Session(ctx, c.Value)
	if err != nil {
		return nil, err
	}
	if !safeMethod(r.Method) && !CSRFMatches(r.Header.Get(CSRFHeader), csrf) {
		return nil, errdefs.Deniedf("missing or wrong %s header", CSRFHeader)
	}
	return v, nil
}

// CSRFMatches reports whether got, the token a request echoed, is the
// session's CSRF token want. It compares in constant time, so the answer's
// timing says nothing about how much of a guess was right.
func CSRFMatches(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// writeJSONError answers in the shape GraphQL clients read, so a script
// sending a wrong password sees extensions.code like any other error.
func writeJSONError(w http.ResponseWriter, err error, challenge bool) {
	code, status := "UNAUTHENTICATED", http.StatusUnauthorized
	switch {
	case errors.Is(err, errdefs.ErrDenied):
		code, status = "FORBIDDEN", http.StatusForbidden
	case errors.Is(err, errdefs.ErrTooManyRequests):
		code, status = "TOO_MANY_REQUESTS", http.StatusTooManyRequests
		w.Header().Set("Retry-After", RetryAfter(err))
	}
	if status == http.StatusUnauthorized && challenge {
		w.Header().Set("WWW-Authenticate", `Basic realm="berth"`)
	}
	writeJSONStatus(w, status, code, err.Error())
}

// writeJSONStatus answers status with one error in the GraphQL shape.
func writeJSONStatus(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}},
	})
}

// LoginHandler serves POST /auth/login with a JSON body of username and
// password. On success it sets the session and CSRF cookies and answers
// {"username": ..., "csrfToken": ...}.
//
// Only JSON is accepted (415 otherwise): an HTML form on another site can
// post form-encoded or text/plain bodies without the browser asking
// anyone, and would sign the visitor in to an account of the attacker's
// choosing (login CSRF); a cross-site request with a JSON content type
// needs a CORS preflight, which berth never grants.
func (s *Service) LoginHandler(secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !postOnly(w, r) {
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			writeJSONStatus(w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE",
				"the body must be JSON with username and password (Content-Type: application/json)")
			return
		}
		var in struct{ Username, Password string }
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			writeJSONError(w, errdefs.Unauthenticatedf("the body must be JSON with username and password"), false)
			return
		}
		secret, csrf, expires, err := s.Login(r.Context(), in.Username, in.Password)
		entry := audit.Entry{Operation: "login", ResourceType: "user", Resource: in.Username, Actor: in.Username, Result: audit.Success}
		if err != nil {
			entry.Result, entry.Detail = audit.Failure, err.Error()
		}
		s.Audit.Record(r.Context(), entry)
		if err != nil {
			if !errors.Is(err, errdefs.ErrUnauthenticated) && !errors.Is(err, errdefs.ErrTooManyRequests) {
				err = errdefs.Unauthenticatedf("sign-in failed")
			}
			writeJSONError(w, err, false)
			return
		}
		SetSessionCookies(w, secret, csrf, expires, secure)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"username": in.Username, "csrfToken": csrf})
	})
}

// LogoutHandler serves POST /auth/logout: it ends the session and clears
// the cookies (see EndSession), answering 204, or 403 without the CSRF header.
func (s *Service) LogoutHandler(secure bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !postOnly(w, r) {
			return
		}
		if err := s.EndSession(w, r, secure); err != nil {
			WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// EndSession ends the portal session of a sign-out request and clears its
// cookies. A request that carries the cookie of a live session must carry
// that session's CSRF token in X-Berth-CSRF (ErrDenied otherwise, and the
// session stays), so that another site cannot sign people out; a dead or
// unknown cookie has no session to protect and is simply cleared.
func (s *Service) EndSession(w http.ResponseWriter, r *http.Request, secure bool) error {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		_, csrf, err := s.Session(r.Context(), c.Value)
		switch {
		case err == nil:
			if !CSRFMatches(r.Header.Get(CSRFHeader), csrf) {
				return errdefs.Deniedf("missing or wrong %s header", CSRFHeader)
			}
			if err := s.Logout(r.Context(), c.Value); err != nil {
				return fmt.Errorf("ending the session: %w", err)
			}
		case errors.Is(err, errdefs.ErrUnauthenticated):
		default:
			return fmt.Errorf("reading the session: %w", err)
		}
	}
	SetSessionCookies(w, "", "", time.Unix(0, 0), secure)
	return nil
}

// WriteError answers err in the JSON shape GraphQL clients read: 403
// FORBIDDEN for ErrDenied, 401 UNAUTHENTICATED for ErrUnauthenticated, 500
// INTERNAL_SERVER_ERROR (with a generic message) for anything else.
func WriteError(w http.ResponseWriter, err error) {
	if errors.Is(err, errdefs.ErrDenied) || errors.Is(err, errdefs.ErrUnauthenticated) || errors.Is(err, errdefs.ErrTooManyRequests) {
		writeJSONError(w, err, false)
		return
	}
	writeJSONStatus(w, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "internal error")
}

// postOnly answers 405 to anything but POST and reports whether to go on.
func postOnly(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodPost {
		return true
	}
	w.Header().Set("Allow", http.MethodPost)
	http.Error(w, "use POST", http.StatusMethodNotAllowed)
	return false
}

// SetSessionCookies sets (or, with an empty secret, clears) the session and
// CSRF cookies of a portal session.
func SetSessionCookies(w http.ResponseWriter, secret, csrf string, expires time.Time, secure bool) {
	maxAge := int(time.Until(expires).Seconds())
	if secret == "" {
		maxAge = -1
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", Expires: expires, MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: CSRFCookie, Value: csrf, Path: "/", Expires: expires, MaxAge: maxAge,
		Secure: secure, SameSite: http.SameSiteLaxMode})
}
