package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/user"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// onboardTTL bounds how long a new user may take to choose a username.
const onboardTTL = 15 * time.Minute

// OnboardPage is the portal page where a new SSO user chooses a username.
const OnboardPage = "/onboard"

// identity is a verified person from the provider, as berth needs them.
type identity struct {
	// Subject is issuer-qualified ("https://id.example.com#248289761001"):
	// subjects are unique only within one issuer.
	Subject     string   `json:"sub"`
	Username    string   `json:"u"` // the username claim (or sub); may be invalid or taken
	Email       string   `json:"e"`
	DisplayName string   `json:"n"`
	Groups      []string `json:"g"`
	// Admin is set when an admin group is configured: whether the user is in it.
	Admin *bool `json:"a,omitempty"`
}

// pendingOnboarding is what the onboarding cookie carries to POST
// /auth/oidc/onboard when the user must choose a username.
type pendingOnboarding struct {
	Identity identity `json:"id"`
	Reason   string   `json:"why"` // "missing", "invalid" or "taken"
	ReturnTo string   `json:"r"`
}

// identityFromClaims reads the configured claims.
func identityFromClaims(st Settings, issuer, sub string, claims map[string]any) *identity {
	id := &identity{Subject: issuer + "#" + sub}
	id.Username = claimString(claims, st.UsernameClaim)
	if id.Username == "" {
		id.Username = sub
	}
	id.Email = claimString(claims, "email")
	id.DisplayName = claimString(claims, "name")
	if st.GroupsClaim != "" {
		id.Groups = claimStrings(claims, st.GroupsClaim)
	}
	if st.AdminGroup != "" {
		in := slices.Contains(id.Groups, st.AdminGroup)
		id.Admin = &in
	}
	return id
}

// claimString returns a string claim, "" when absent or not a string.
func claimString(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return strings.TrimSpace(s)
}

// claimStrings reads a claim that is an array of strings or a single
// string, as providers differ.
func claimStrings(claims map[string]any, name string) []string {
	var out []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	switch v := claims[name].(type) {
	case string:
		add(v)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				add(s)
			}
		}
	}
	return out
}

// finishSignIn signs in the user behind id: an existing account linked to
// the subject is updated from the claims; a new one is created when its
// username is free and valid; otherwise the browser goes to the portal's
// onboarding page to choose a username.
func (s *Service) finishSignIn(w http.ResponseWriter, r *http.Request, st Settings, id *identity, returnTo string) {
	ctx := r.Context()
	u, err := s.signIn(ctx, id)
	var reason string
	switch {
	case errors.Is(err, errUsernameInvalid):
		reason = "invalid"
		if id.Username == strings.TrimPrefix(id.Subject, st.Issuer+"#") {
			reason = "missing"
		}
	case errors.Is(err, errUsernameTaken):
		reason = "taken"
	case errors.Is(err, errdefs.ErrDenied):
		s.refuse(w, r, http.StatusForbidden, "this account is disabled in berth", err)
		return
	case err != nil:
		s.log.ErrorContext(ctx, "signing in an OIDC user", "err", err)
		http.Error(w, "sign-in failed; try again later", http.StatusInternalServerError)
		return
	}
	if reason != "" {
		p := pendingOnboarding{Identity: *id, Reason: reason, ReturnTo: returnTo}
		if err := s.setCookie(ctx, w, onboardCookie, p, onboardTTL); err != nil {
			s.log.ErrorContext(ctx, "sealing the onboarding cookie", "err", err)
			http.Error(w, "sign-in failed; try again later", http.StatusInternalServerError)
			return
		}
		q := url.Values{"reason": {reason}, "suggested": {suggestUsername(id.Username)}}
		http.Redirect(w, r, OnboardPage+"?"+q.Encode(), http.StatusSeeOther)
		return
	}
	if _, err := s.sessionCookies(ctx, w, u.ID); err != nil {
		s.log.ErrorContext(ctx, "opening a portal session", "err", err)
		http.Error(w, "sign-in failed; try again later", http.StatusInternalServerError)
		return
	}
	s.log.InfoContext(ctx, "OIDC sign-in", "user", u.Username, "admin", u.Admin)
	s.audit(ctx, u.Username, nil, "single sign-on")
	http.Redirect(w, r, returnTo, http.StatusSeeOther)
}

var (
	errUsernameInvalid = errors.New("the username is not valid in berth")
	errUsernameTaken   = errors.New("the username belongs to another account")
)

// signIn finds the user linked to id.Subject and refreshes them from the
// claims, or creates them under id.Username.
func (s *Service) signIn(ctx context.Context, id *identity) (*ent.User, error) {
	sys := viewer.SystemContext(ctx)
	u, err := s.client.User.Query().Where(user.OidcSubject(id.Subject)).Only(sys)
	if ent.IsNotFound(err) {
		return s.onboard(ctx, id, id.Username)
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, errdefs.Deniedf("user %q is disabled", u.Username)
	}
	upd := u.Update().SetGroups(nonNil(id.Groups))
	if id.Email != "" {
		upd.SetEmail(id.Email)
	}
	if id.DisplayName != "" {
		upd.SetDisplayName(id.DisplayName)
	}
	// The admin group is authoritative while one is configured: membership
	// grants admin, absence revokes it at the next sign-in. Only accounts
	// linked to the provider are touched, so the local admin never loses it.
	if id.Admin != nil && u.OidcSubject != nil {
		upd.SetAdmin(*id.Admin)
	}
	return upd.Save(sys)
}

// onboard creates the user for id under username. A username that is not
// valid or belongs to another account is never linked automatically, as
// that would hand a local account to whoever the provider names so.
func (s *Service) onboard(ctx context.Context, id *identity, username string) (*ent.User, error) {
	if auth.ValidateUsername(username) != nil {
		return nil, errUsernameInvalid
	}
	sys := viewer.SystemContext(ctx)
	taken, err := s.client.User.Query().Where(user.UsernameEqualFold(username)).Exist(sys)
	if err != nil {
		return nil, err
	}
	if taken {
		return nil, errUsernameTaken
	}
	c := s.client.User.Create().SetUsername(username).SetOidcSubject(id.Subject).
		SetEmail(id.Email).SetDisplayName(id.DisplayName).SetGroups(nonNil(id.Groups))
	if id.Admin != nil {
		c.SetAdmin(*id.Admin)
	}
	u, err := c.Save(sys)
	if ent.IsConstraintError(err) {
		// Another request took the name (or linked the subject) meanwhile.
		if existing, qerr := s.client.User.Query().Where(user.OidcSubject(id.Subject)).Only(sys); qerr == nil {
			return existing, nil
		}
		return nil, errUsernameTaken
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "onboarded OIDC user", "user", u.Username, "admin", u.Admin)
	return u, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var notUsernameChars = regexp.MustCompile(`[^A-Za-z0-9._@-]+`)

// suggestUsername turns a claim into something the chooser can offer.
func suggestUsername(name string) string {
	s := strings.Trim(notUsernameChars.ReplaceAllString(name, "-"), "-._@")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// OnboardHandler serves /auth/oidc/onboard for a new user who must choose a
// username. GET answers what the portal shows: {"reason", "suggestedUsername",
// "email", "displayName"}, or 404 without a pending onboarding. POST takes
// JSON {"username"}, creates the user, opens the portal session and answers
// {"username", "csrfToken", "returnTo"}; 409 when the name is taken, 400 when
// it is invalid. The pending identity comes only from the sealed HttpOnly
// cookie the callback set, never from the request body.
func (s *Service) OnboardHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		var p pendingOnboarding
		if err := s.readCookie(r, onboardCookie, &p); err != nil {
			writeError(w, http.StatusNotFound, "NOT_FOUND", "no sign-in is waiting for a username; sign in again")
			return
		}
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, map[string]string{
				"reason": p.Reason, "suggestedUsername": suggestUsername(p.Identity.Username),
				"email": p.Identity.Email, "displayName": p.Identity.DisplayName,
			})
		case http.MethodPost:
			s.completeOnboarding(w, r, p)
		default:
			w.Header().Set("Allow", "GET, POST")
			writeError(w, http.StatusMethodNotAllowed, "BAD_USER_INPUT", "use GET or POST")
		}
	})
}

func (s *Service) completeOnboarding(w http.ResponseWriter, r *http.Request, p pendingOnboarding) {
	ctx := r.Context()
	// Requiring JSON means a cross-site form cannot post here (browsers
	// preflight JSON), on top of the SameSite=Lax cookie.
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "BAD_USER_INPUT", "send JSON {\"username\": ...}")
		return
	}
	var in struct {
		Username string `json:"username"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "BAD_USER_INPUT", "send JSON {\"username\": ...}")
		return
	}
	in.Username = strings.TrimSpace(in.Username)
	u, err := s.onboard(ctx, &p.Identity, in.Username)
	switch {
	case errors.Is(err, errUsernameInvalid):
		writeError(w, http.StatusBadRequest, "BAD_USER_INPUT", auth.ValidateUsername(in.Username).Error())
		return
	case errors.Is(err, errUsernameTaken):
		writeError(w, http.StatusConflict, "CONFLICT", fmt.Sprintf("the username %q is taken; choose another", in.Username))
		return
	case err != nil:
		s.log.ErrorContext(ctx, "onboarding an OIDC user", "err", err)
		writeError(w, http.StatusInternalServerError, "INTERNAL", "onboarding failed; try again later")
		return
	}
	csrf, err := s.sessionCookies(ctx, w, u.ID)
	if err != nil {
		s.log.ErrorContext(ctx, "opening a portal session", "err", err)
		writeError(w, http.StatusInternalServerError, "INTERNAL", "onboarding failed; try again later")
		return
	}
	s.clearCookie(w, onboardCookie)
	s.audit(ctx, u.Username, nil, "single sign-on, onboarded")
	writeJSON(w, http.StatusOK, map[string]string{"username": u.Username, "csrfToken": csrf, "returnTo": p.ReturnTo})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers in the shape of berth's other auth endpoints, which
// is the shape of GraphQL errors.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}},
	})
}
