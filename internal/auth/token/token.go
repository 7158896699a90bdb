// Package token is berth's Docker registry token service: clients that get
// a Bearer challenge from /v2/ trade credentials (or nothing, for
// anonymous pulls) at /service/token for a signed JWT whose access claim is
// the requested scopes intersected with what the caller may do.
//
// See https://distribution.github.io/distribution/spec/auth/token/ and
// .../oauth/ for the GET and POST forms.
package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/accesstoken"
	"github.com/berth-registry/berth/ent/user"
	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// DefaultService is the service name in challenges and the token audience.
const DefaultService = "berth"

// Granter decides which actions a caller gets on a repository; the
// artifacts service implements it.
type Granter interface {
	Grant(ctx context.Context, repository string, actions []string) []string
}

// Options configures a Service.
type Options struct {
	// Keys sign and verify tokens, shared by every replica through the
	// database (see OpenKeyring). Without them Key does.
	Keys *Keyring
	// Key signs and verifies tokens when Keys is nil (see LoadOrCreateKey).
	Key *ecdsa.PrivateKey
	// Auth checks passwords and access tokens. Required.
	Auth *auth.Service
	// Client looks users up for refresh tokens. Required.
	Client *ent.Client
	// Grants intersects requested scopes with permissions. Required.
	Grants Granter
	// Service is the expected service name and token audience; "berth" by default.
	Service string
	// Issuer is the iss claim; "berth" by default.
	Issuer string
	// TTL is the lifetime of access tokens; 15 minutes by default.
	TTL time.Duration
	// RefreshTTL is the lifetime of refresh tokens; 30 days by default.
	RefreshTTL time.Duration
	// Logger gets failed-authentication and error lines.
	Logger *slog.Logger
	// Audit records token requests; nil records nothing.
	Audit *audit.Recorder
}

// Service issues and verifies registry tokens. It is an http.Handler for
// /service/token.
type Service struct {
	opts Options
	kid  string

	// verified caches tokens whose signature was checked, keyed by their
	// hash: clients send the same token on every request of a push or
	// pull, and an ECDSA verification costs more than serving a manifest.
	mu       sync.Mutex
	verified map[[32]byte]*Claims
}

// New returns a token Service.
func New(opts Options) *Service {
	if opts.Service == "" {
		opts.Service = DefaultService
	}
	if opts.Issuer == "" {
		opts.Issuer = DefaultService
	}
	if opts.TTL <= 0 {
		opts.TTL = 15 * time.Minute
	}
	if opts.RefreshTTL <= 0 {
		opts.RefreshTTL = 30 * 24 * time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Service{opts: opts, verified: map[[32]byte]*Claims{}}
	if opts.Key != nil {
		s.kid = keyID(&opts.Key.PublicKey)
	}
	return s
}

// signer is the key tokens are signed with now, and its id.
func (s *Service) signer() (*ecdsa.PrivateKey, string) {
	if s.opts.Keys != nil {
		return s.opts.Keys.signer()
	}
	return s.opts.Key, s.kid
}

// verifier finds the public key of a token's header.
func (s *Service) verifier(t *jwt.Token) (any, error) {
	if s.opts.Keys == nil {
		return &s.opts.Key.PublicKey, nil
	}
	kid, _ := t.Header["kid"].(string)
	if pub := s.opts.Keys.verifier(kid); pub != nil {
		return pub, nil
	}
	return nil, fmt.Errorf("unknown signing key %q", kid)
}

// ServiceName is the service name clients must send and challenges carry.
func (s *Service) ServiceName() string { return s.opts.Service }

// Access is one entry of a token's access claim.
type Access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// Identity is who a token was issued to, carried in a private claim so
// that verifying a token needs no database query.
type Identity struct {
	UserID   int  `json:"uid,omitempty"`
	Admin    bool `json:"adm,omitempty"`
	ReadOnly bool `json:"ro,omitempty"`
	TokenID  int  `json:"tid,omitempty"`
	// RobotID and Grants identify a robot account and its permissions, as
	// they stood when the token was issued (tokens live minutes).
	RobotID int            `json:"rid,omitempty"`
	Grants  []viewer.Grant `json:"grants,omitempty"`
	// Groups are the user's identity-provider groups, which may hold
	// project roles.
	Groups []string `json:"grp,omitempty"`
	// Stamp, in refresh tokens, is a digest of the user's security stamp
	// when the token was issued (see stampDigest).
	Stamp string `json:"stp,omitempty"`
	// Scanner, in tokens minted for a scanner adapter (IssueScanner), is
	// the adapter's registered name.
	Scanner string `json:"scn,omitempty"`
}

// Claims are the claims of a berth registry token.
type Claims struct {
	jwt.RegisteredClaims
	Access []Access  `json:"access"`
	Berth  *Identity `json:"berth,omitempty"`
	// Use is "refresh" for refresh tokens, empty for access tokens.
	Use string `json:"use,omitempty"`
}

// Allows reports whether the token grants action on resource typ/name.
func (c *Claims) Allows(typ, name, action string) bool {
	for _, a := range c.Access {
		if a.Type != typ || a.Name != name {
			continue
		}
		for _, x := range a.Actions {
			if x == action || x == "*" {
				return true
			}
		}
	}
	return false
}

// Viewer returns the identity the token was issued to.
func (c *Claims) Viewer() *viewer.Viewer {
	if c.Subject == "" || c.Berth == nil {
		return viewer.FromContext(context.Background())
	}
	if c.Berth.Scanner != "" {
		return &viewer.Viewer{Kind: viewer.Robot, Username: c.Subject, Grants: c.Berth.Grants, Scanner: c.Berth.Scanner}
	}
	if c.Berth.RobotID != 0 {
		return &viewer.Viewer{Kind: viewer.Robot, RobotID: c.Berth.RobotID, Username: c.Subject, Grants: c.Berth.Grants}
	}
	return &viewer.Viewer{Kind: viewer.User, UserID: c.Berth.UserID, Username: c.Subject,
		Admin: c.Berth.Admin, ReadOnly: c.Berth.ReadOnly, TokenID: c.Berth.TokenID, Groups: c.Berth.Groups}
}

// ErrInvalidToken is returned by Verify for a token berth did not issue,
// or that expired.
var ErrInvalidToken = errors.New("invalid or expired registry token")

// Verify checks the signature, issuer, audience and expiry of an access
// token and returns its claims.
func (s *Service) Verify(raw string) (*Claims, error) {
	key := sha256.Sum256([]byte(raw))
	now := time.Now()
	s.mu.Lock()
	c, ok := s.verified[key]
	s.mu.Unlock()
	if ok && c.ExpiresAt.After(now) {
		return c, nil
	}
	c, err := s.parse(raw, s.opts.Service)
	if err != nil {
		return nil, err
	}
	if c.Use != "" {
		return nil, ErrInvalidToken
	}
	s.mu.Lock()
	if len(s.verified) >= 10000 {
		for k, v := range s.verified {
			if !v.ExpiresAt.After(now) {
				delete(s.verified, k)
			}
		}
		if len(s.verified) >= 10000 {
			clear(s.verified)
		}
	}
	s.verified[key] = c
	s.mu.Unlock()
	return c, nil
}

func (s *Service) parse(raw, audience string) (*Claims, error) {
	// One signed token, one spelling: base64 decoding skips line breaks
	// and, unless strict, ignores the unused low bits of a segment's last
	// character, so without these checks other strings verify as a token
	// berth signed.
	if strings.ContainsFunc(raw, notBase64URL) {
		return nil, fmt.Errorf("%w: characters outside base64url", ErrInvalidToken)
	}
	var c Claims
	_, err := jwt.ParseWithClaims(raw, &c, s.verifier,
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}), jwt.WithStrictDecoding(),
		jwt.WithIssuer(s.opts.Issuer), jwt.WithAudience(audience),
		jwt.WithExpirationRequired(), jwt.WithLeeway(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	return &c, nil
}

// notBase64URL reports a rune that cannot appear in a compact JWS: the
// base64url alphabet and the dots between segments.
func notBase64URL(r rune) bool {
	return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
}

// Issue signs an access token for v with the given access.
func (s *Service) Issue(v *viewer.Viewer, access []Access) (string, time.Time, error) {
	now := time.Now()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.opts.Issuer, Audience: jwt.ClaimStrings{s.opts.Service},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Second)),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.opts.TTL)), ID: rand.Text(),
		},
		Access: access,
	}
	if access == nil {
		c.Access = []Access{}
	}
	if !v.IsAnonymous() {
		c.Subject = v.Username
		c.Berth = &Identity{UserID: v.UserID, Admin: v.Admin, ReadOnly: v.ReadOnly, TokenID: v.TokenID,
			RobotID: v.RobotID, Grants: v.Grants, Groups: v.Groups}
	}
	signed, err := s.sign(c)
	return signed, now, err
}

// IssueScanner signs an access token for the scanner adapter registered
// as scanner to pull one repository of project, and nothing else: its
// access claim names only that repository's pull, and its identity is a
// robot whose one grant is pulling from the project, marked with the
// adapter's name (viewer.Viewer.Scanner). It lives as long as other
// access tokens.
func (s *Service) IssueScanner(scanner, project, repository string) (string, error) {
	now := time.Now()
	return s.sign(Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.opts.Issuer, Audience: jwt.ClaimStrings{s.opts.Service}, Subject: "scanner$" + scanner,
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Second)),
			ExpiresAt: jwt.NewNumericDate(now.Add(s.opts.TTL)), ID: rand.Text(),
		},
		Access: []Access{{Type: "repository", Name: repository, Actions: []string{"pull"}}},
		Berth:  &Identity{Scanner: scanner, Grants: []viewer.Grant{{Project: project, Action: "repository:pull"}}},
	})
}

func (s *Service) sign(c Claims) (string, error) {
	key, kid := s.signer()
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = kid
	return t.SignedString(key)
}

// issueRefresh signs a refresh token ("identity token" to docker) for v.
func (s *Service) issueRefresh(ctx context.Context, v *viewer.Viewer) (string, error) {
	u, err := s.opts.Client.User.Get(viewer.SystemContext(ctx), v.UserID)
	if err != nil {
		return "", err
	}
	now := time.Now()
	return s.sign(Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.opts.Issuer, Audience: jwt.ClaimStrings{s.opts.Service + "-refresh"}, Subject: v.Username,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(s.opts.RefreshTTL)), ID: rand.Text(),
		},
		Berth: &Identity{UserID: v.UserID, ReadOnly: v.ReadOnly, TokenID: v.TokenID, Stamp: stampDigest(u.SecurityStamp)},
		Use:   "refresh",
	})
}

// stampDigest is what a refresh token carries of a security stamp: a
// digest, since token claims are readable by whoever holds the token. An
// empty stamp (a user whose password has not changed since stamps were
// introduced) stays empty, so refresh tokens issued before then keep
// working until the stamp first changes.
func stampDigest(stamp string) string {
	if stamp == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("berth refresh stamp\x00" + stamp))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// refreshViewer checks a refresh token and returns the current state of
// its user. A refresh token ends with what it was issued under: the user's
// password and enabled state (the security stamp changes with both), and
// the access token it was obtained with, if any.
func (s *Service) refreshViewer(ctx context.Context, raw string) (*viewer.Viewer, error) {
	c, err := s.parse(raw, s.opts.Service+"-refresh")
	if err != nil || c.Use != "refresh" || c.Berth == nil {
		return nil, auth.ErrBadCredentials
	}
	sys := viewer.SystemContext(ctx)
	u, err := s.opts.Client.User.Query().Where(user.ID(c.Berth.UserID)).Only(sys)
	if err != nil || u.Disabled || u.Username != c.Subject ||
		subtle.ConstantTimeCompare([]byte(stampDigest(u.SecurityStamp)), []byte(c.Berth.Stamp)) != 1 {
		return nil, auth.ErrBadCredentials
	}
	v := &viewer.Viewer{Kind: viewer.User, UserID: u.ID, Username: u.Username, Admin: u.Admin,
		ReadOnly: c.Berth.ReadOnly, TokenID: c.Berth.TokenID}
	if c.Berth.TokenID != 0 {
		t, err := s.opts.Client.AccessToken.Query().
			Where(accesstoken.ID(c.Berth.TokenID), accesstoken.UserID(u.ID)).Only(sys)
		if err != nil || (t.ExpiresAt != nil && time.Now().After(*t.ExpiresAt)) {
			return nil, auth.ErrBadCredentials
		}
		v.ReadOnly = v.ReadOnly || t.ReadOnly
	}
	return v, nil
}

// ParseScope parses one Docker scope, "repository:team/app:pull,push"
// (the name may itself contain colons, for a registry host with a port).
func ParseScope(scope string) (Access, bool) {
	typ, rest, ok := strings.Cut(scope, ":")
	i := strings.LastIndex(rest, ":")
	if !ok || i <= 0 {
		return Access{}, false
	}
	name, actions := rest[:i], rest[i+1:]
	// "repository(plugin)" style resource classes are accepted and ignored.
	if j := strings.IndexByte(typ, '('); j > 0 {
		typ = typ[:j]
	}
	return Access{Type: typ, Name: name, Actions: strings.Split(actions, ",")}, true
}

// Limits on a token request: no client asks for more than a few scopes
// (docker asks for two when mounting across repositories), and the scopes
// end up in the audit log and the token.
const (
	maxScopes     = 32
	maxScopeBytes = 4 << 10
	maxFormBytes  = 64 << 10
)

// checkScopes refuses too many or too long scope parameters.
func checkScopes(scopes []string) error {
	size, n := 0, 0
	for _, raw := range scopes {
		size += len(raw)
		if size > maxScopeBytes {
			return fmt.Errorf("scopes exceed %d bytes", maxScopeBytes)
		}
		n += len(strings.Fields(raw))
	}
	if n > maxScopes {
		return fmt.Errorf("at most %d scopes per request", maxScopes)
	}
	return nil
}

// grant intersects the requested scopes with what v may do.
func (s *Service) grant(ctx context.Context, scopes []string) []Access {
	var out []Access
	for _, raw := range scopes {
		for _, one := range strings.Fields(raw) {
			req, ok := ParseScope(one)
			if !ok {
				continue
			}
			var actions []string
			switch req.Type {
			case "repository":
				actions = s.opts.Grants.Grant(ctx, req.Name, req.Actions)
			case "registry":
				// The catalog is filtered to what the caller may see anyway.
				if req.Name == "catalog" {
					actions = []string{"*"}
				}
			}
			if len(actions) > 0 {
				out = mergeAccess(out, Access{Type: req.Type, Name: req.Name, Actions: actions})
			}
		}
	}
	return out
}

func mergeAccess(list []Access, a Access) []Access {
	for i := range list {
		if list[i].Type == a.Type && list[i].Name == a.Name {
			for _, x := range a.Actions {
				if !containsString(list[i].Actions, x) {
					list[i].Actions = append(list[i].Actions, x)
				}
			}
			return list
		}
	}
	return append(list, a)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type tokenResponse struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	IssuedAt     string `json:"issued_at"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// ServeHTTP answers GET (Basic credentials or anonymous; offline_token=true
// adds a refresh token) and POST (OAuth2 form: grant_type=password or
// refresh_token) token requests.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var (
		v       *viewer.Viewer
		err     error
		scopes  []string
		refresh bool
		oauth   bool
	)
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		scopes = q["scope"]
		if err := checkScopes(scopes); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
			return
		}
		refresh = q.Get("offline_token") == "true"
		if q.Get("service") != "" && q.Get("service") != s.opts.Service {
			writeError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("unknown service %q", q.Get("service")))
			return
		}
		if user, pass, ok := r.BasicAuth(); ok {
			v, err = s.opts.Auth.Password(ctx, user, pass)
		} else {
			v = viewer.FromContext(context.Background())
		}
	case http.MethodPost:
		oauth = true
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "cannot parse form")
			return
		}
		scopes = r.PostForm["scope"]
		if err := checkScopes(scopes); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
			return
		}
		if svc := r.PostForm.Get("service"); svc != "" && svc != s.opts.Service {
			writeError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("unknown service %q", svc))
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "password":
			v, err = s.opts.Auth.Password(ctx, r.PostForm.Get("username"), r.PostForm.Get("password"))
			refresh = r.PostForm.Get("access_type") == "offline"
		case "refresh_token":
			v, err = s.refreshViewer(ctx, r.PostForm.Get("refresh_token"))
		default:
			writeError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be password or refresh_token")
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, "invalid_request", "use GET or POST")
		return
	}
	if err != nil {
		account := r.PostForm.Get("username")
		if user, _, ok := r.BasicAuth(); ok {
			account = user
		}
		switch {
		case errors.Is(err, auth.ErrBadCredentials):
			s.record(ctx, account, scopes, err)
			s.opts.Logger.Info("registry token refused", "err", err, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", `Basic realm="berth"`)
			writeError(w, http.StatusUnauthorized, "invalid_grant", "invalid username, password or token")
			return
		case errors.Is(err, errdefs.ErrTooManyRequests):
			s.record(ctx, account, scopes, err)
			w.Header().Set("Retry-After", auth.RetryAfter(err))
			writeError(w, http.StatusTooManyRequests, "invalid_grant", err.Error())
			return
		case errors.Is(err, errdefs.ErrUnauthenticated), errors.Is(err, errdefs.ErrDenied):
			// A refusal with a reason (a password that oidc mode does not
			// accept here, a disabled account): say why.
			s.record(ctx, account, scopes, err)
			w.Header().Set("WWW-Authenticate", `Basic realm="berth"`)
			writeError(w, http.StatusUnauthorized, "invalid_grant", err.Error())
			return
		}
		s.opts.Logger.Error("registry token", "err", err)
		writeError(w, http.StatusInternalServerError, "server_error", "internal error")
		return
	}
	vctx := viewer.NewContext(ctx, v)
	access := s.grant(vctx, scopes)
	if !v.IsAnonymous() {
		s.record(vctx, "", scopes, nil)
	}
	signed, issued, err := s.Issue(v, access)
	if err != nil {
		s.opts.Logger.Error("signing registry token", "err", err)
		writeError(w, http.StatusInternalServerError, "server_error", "internal error")
		return
	}
	resp := tokenResponse{Token: signed, AccessToken: signed, ExpiresIn: int(s.opts.TTL.Seconds()), IssuedAt: issued.UTC().Format(time.RFC3339)}
	if oauth {
		var granted []string
		for _, a := range access {
			granted = append(granted, a.Type+":"+a.Name+":"+strings.Join(a.Actions, ","))
		}
		resp.Scope = strings.Join(granted, " ")
	}
	// Robots sign in with their secret every time; only people get
	// refresh tokens, which are checked against their account on use.
	if refresh && v.Kind == viewer.User {
		if resp.RefreshToken, err = s.issueRefresh(ctx, v); err != nil {
			writeError(w, http.StatusInternalServerError, "server_error", "internal error")
			return
		}
	} else if r.Method == http.MethodPost && r.PostForm.Get("grant_type") == "refresh_token" {
		resp.RefreshToken = r.PostForm.Get("refresh_token")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(resp)
}

// record writes a token request to the audit log: a sign-in of docker,
// helm and the like. Anonymous requests (public pulls) are not recorded.
func (s *Service) record(ctx context.Context, account string, scopes []string, err error) {
	e := audit.Entry{Operation: "token", ResourceType: "registry-token", Resource: strings.Join(scopes, " "),
		Actor: account, Result: audit.Success}
	// The project is that of the first repository asked for, so the entry
	// shows in that project's log.
	for _, sc := range scopes {
		if typ, rest, ok := strings.Cut(sc, ":"); ok && typ == "repository" {
			e.Project, _, _ = strings.Cut(rest, "/")
			break
		}
	}
	if err != nil {
		e.Result, e.Detail = audit.Failure, err.Error()
	}
	s.opts.Audit.Record(ctx, e)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"error": code, "error_description": msg,
		"errors": []map[string]string{{"code": "UNAUTHORIZED", "message": msg}},
	})
}
