// Package auth decides who a caller is and what they may do: local users
// with argon2id passwords, portal sessions, access tokens, and the one
// permission check (Can) that GraphQL and the registry both use.
package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/accesstoken"
	"github.com/berth-registry/berth/ent/privacy"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/session"
	"github.com/berth-registry/berth/ent/user"
	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// AccessTokenPrefix starts every access token secret.
const AccessTokenPrefix = "berth_"

// Service authenticates callers and authorizes their actions.
type Service struct {
	client *ent.Client
	// SessionTTL is how long a portal session lasts.
	SessionTTL time.Duration
	// RobotPrefix starts every robot login name.
	RobotPrefix string
	// RobotDefaultExpiry applies to robots created without an expiry.
	RobotDefaultExpiry time.Duration
	// Audit records sign-ins; nil records nothing.
	Audit *audit.Recorder
	// PasswordPolicy, when set, may refuse a correct password (in oidc
	// mode, passwords are for local system admins only); access tokens
	// and robots are not affected.
	PasswordPolicy func(ctx context.Context, u *ent.User) error
	// FailedLogins, when set, limits failed sign-ins (Password) per client
	// address, as audit.Middleware records it; requests without an
	// address (the CLI) are not limited.
	FailedLogins *ClientLimiter

	// verified remembers recent successful argon2id checks (verifiedIdle)
	// so that clients signing in for every command do not pay for the
	// hash each time.
	verified verifiedChecks
	lockout  lockout
	// hashSlots bounds concurrent argon2id checks, each of which takes
	// argonMemory, so a burst of sign-ins cannot exhaust memory.
	hashSlots chan struct{}
	// dummyHash is verified against when there is no real hash to check,
	// so that an unknown name takes as long as a wrong password.
	dummyOnce sync.Once
	dummyHash string
	// releasing is set while a release of hash memory is scheduled.
	releasing atomic.Bool
	// recent remembers, for signInCacheFor, who a (name, secret) pair
	// signed in as, so that clients sending Basic credentials on every
	// request (zb, scripts with curl -u) cost no query per request.
	recent signInCache
	// roles remembers users' roles in projects for roleCacheFor.
	roles roleCache
	// OnRolesChanged, when set, tells the other replicas that a member
	// row changed, so that they drop their cached roles (RolesDropped).
	OnRolesChanged func()
}

// signInCacheFor is how long a successful Basic sign-in is reused: a
// disabled account, a changed password or a deleted token is refused on
// every replica within it, as project and repository changes are.
const signInCacheFor = time.Second

// signInCache maps hashes of (name, secret) to the viewer they signed in
// as. No secret is kept in memory.
type signInCache struct {
	mu      sync.Mutex
	entries map[[32]byte]signedIn
}

type signedIn struct {
	v     viewer.Viewer
	until time.Time
}

func signInKey(username, secret string) [32]byte {
	return sha256.Sum256([]byte(username + "\x00" + secret))
}

func (c *signInCache) get(key [32]byte, now time.Time) (*viewer.Viewer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	v := e.v
	return &v, true
}

// clear forgets every reused sign-in: an account, token or robot changed.
func (c *signInCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

func (c *signInCache) put(key [32]byte, v *viewer.Viewer, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= 10000 {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		if c.entries == nil || len(c.entries) >= 10000 {
			c.entries = map[[32]byte]signedIn{}
		}
	}
	c.entries[key] = signedIn{v: *v, until: now.Add(signInCacheFor)}
}

// New returns a Service over client.
func New(client *ent.Client) *Service {
	s := &Service{
		client: client, SessionTTL: 12 * time.Hour, RobotPrefix: DefaultRobotPrefix,
		RobotDefaultExpiry: 30 * 24 * time.Hour,
		hashSlots:          make(chan struct{}, max(2, runtime.GOMAXPROCS(0))),
	}
	if client != nil {
		client.Member.Use(s.forgetRolesOnChange)
	}
	return s
}

// Limits on what a sign-in may send. No username is longer (see
// ValidateUsername) and no password (ValidatePassword) or token is
// anywhere near as long, so longer ones are refused before they cost a
// hash, a lockout entry or a database query.
const (
	maxUsernameLen = 255
	maxSecretLen   = 4096
)

// ErrBadCredentials is returned for a wrong username, password or token.
var ErrBadCredentials = errdefs.Unauthenticatedf("invalid username, password or token")

func userViewer(u *ent.User) *viewer.Viewer {
	return &viewer.Viewer{Kind: viewer.User, UserID: u.ID, Username: u.Username, Admin: u.Admin, Groups: u.Groups}
}

// Password authenticates username with either the user's password or one of
// their access tokens, as docker login and HTTP Basic send them.
//
// Wrong passwords lock the account out with back-off. Robot secrets and
// access tokens are high-entropy and cannot be guessed, so wrong ones do
// not lock the name (which would let anyone lock a CI robot out); every
// failure counts against the client's address instead (FailedLogins).
func (s *Service) Password(ctx context.Context, username, secret string) (*viewer.Viewer, error) {
	now := time.Now()
	client := audit.ClientIP(ctx)
	if err := s.FailedLogins.Check(ctx, client); err != nil {
		return nil, err
	}
	if username == "" || len(username) > maxUsernameLen || len(secret) > maxSecretLen {
		s.FailedLogins.Fail(ctx, client)
		return nil, ErrBadCredentials
	}
	lockable := !strings.HasPrefix(username, s.RobotPrefix) && !tokenShaped(secret)
	if lockable {
		if err := s.lockout.check(ctx, username, now); err != nil {
			return nil, err
		}
	}
	key := signInKey(username, secret)
	if v, ok := s.recent.get(key, now); ok {
		return v, nil
	}
	v, err := s.password(ctx, username, secret)
	switch {
	case err == nil:
		if lockable {
			s.lockout.succeed(ctx, username)
		}
		s.recent.put(key, v, now)
	case errors.Is(err, errdefs.ErrUnauthenticated):
		s.FailedLogins.Fail(ctx, client)
		if lockable {
			s.lockout.fail(ctx, username, now)
		}
	}
	return v, err
}

// ShareLimits keeps the account lockouts in shared (Redis), so that they
// hold on every replica. Call it before serving.
func (s *Service) ShareLimits(shared *SharedLimits) { s.lockout.shared = shared }

// tokenShaped reports whether a secret sent as a password is an access
// token or robot secret rather than a password.
func tokenShaped(secret string) bool {
	return len(secret) > len(AccessTokenPrefix) && secret[:len(AccessTokenPrefix)] == AccessTokenPrefix
}

func (s *Service) password(ctx context.Context, username, secret string) (*viewer.Viewer, error) {
	if strings.HasPrefix(username, s.RobotPrefix) {
		v, err := s.robotBySecret(ctx, secret)
		if err != nil || v.Username != username {
			return nil, ErrBadCredentials
		}
		return v, nil
	}
	sys := viewer.SystemContext(ctx)
	u, err := s.client.User.Query().Where(user.Username(username)).Only(sys)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	// From here on an unknown, disabled or password-less account does the
	// same work as a real one, so response times do not tell which names exist.
	known := err == nil && !u.Disabled
	if tokenShaped(secret) {
		v, err := s.Bearer(ctx, secret)
		if err == nil && known && v.UserID == u.ID {
			return v, nil
		}
		return nil, ErrBadCredentials
	}
	if !known || u.PasswordHash == "" {
		s.verifyPassword(ctx, s.dummy(), secret)
		return nil, ErrBadCredentials
	}
	if !s.verifyPassword(ctx, u.PasswordHash, secret) {
		return nil, ErrBadCredentials
	}
	if s.PasswordPolicy != nil {
		if err := s.PasswordPolicy(ctx, u); err != nil {
			return nil, err
		}
	}
	return userViewer(u), nil
}

// dummy returns a hash of a random password, made once, with the current
// parameters.
func (s *Service) dummy() string {
	s.dummyOnce.Do(func() {
		h, err := HashPassword(NewSecret(""))
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		s.dummyHash = h
	})
	return s.dummyHash
}

func (s *Service) verifyPassword(ctx context.Context, hash, password string) bool {
	key := verifiedKey(hash, password)
	if s.verified.used(key, time.Now()) {
		return true
	}
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	ok := VerifyPassword(hash, password)
	<-s.hashSlots
	s.releaseHashMemory()
	if ok {
		s.verified.put(key, time.Now())
	}
	return ok
}

// releaseHashMemory returns the memory argon2id checks took (argonMemory,
// 12 MiB each) to the operating system a second after the last of a
// burst, at most once a second. The heap would otherwise keep it until its
// next collection, which on an idle registry may not come: a few sign-ins
// left it holding tens of megabytes it does not use.
func (s *Service) releaseHashMemory() {
	if !s.releasing.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(time.Second, func() {
		debug.FreeOSMemory()
		s.releasing.Store(false)
	})
}

// Bearer authenticates an access token secret.
func (s *Service) Bearer(ctx context.Context, secret string) (*viewer.Viewer, error) {
	if strings.HasPrefix(secret, RobotSecretPrefix) {
		return s.robotBySecret(ctx, secret)
	}
	sys := viewer.SystemContext(ctx)
	t, err := s.client.AccessToken.Query().
		Where(accesstoken.TokenHash(HashSecret(secret))).WithUser().Only(sys)
	if err != nil {
		if ent.IsNotFound(err) {
			return nil, ErrBadCredentials
		}
		return nil, err
	}
	now := time.Now()
	if (t.ExpiresAt != nil && now.After(*t.ExpiresAt)) || t.Edges.User.Disabled {
		return nil, ErrBadCredentials
	}
	// Recording the last use is best effort and at most once a minute.
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
		_ = s.client.AccessToken.UpdateOneID(t.ID).SetLastUsedAt(now).Exec(sys)
	}
	v := userViewer(t.Edges.User)
	v.ReadOnly = t.ReadOnly
	v.TokenID = t.ID
	return v, nil
}

// Login checks a password and opens a portal session. It returns the
// session secret (for the cookie) and its CSRF token.
func (s *Service) Login(ctx context.Context, username, password string) (secret, csrf string, expires time.Time, err error) {
	v, err := s.Password(ctx, username, password)
	if err != nil {
		return "", "", time.Time{}, err
	}
	if v.TokenID != 0 || v.Kind != viewer.User {
		// Access tokens and robots are for CLIs and scripts, not for the portal.
		return "", "", time.Time{}, ErrBadCredentials
	}
	return s.StartSession(ctx, v.UserID)
}

// StartSession opens a portal session for a user who has just proven who
// they are (a password, or an OIDC sign-in). It returns the session secret
// (for the cookie), its CSRF token and its expiry.
func (s *Service) StartSession(ctx context.Context, userID int) (secret, csrf string, expires time.Time, err error) {
	sys := viewer.SystemContext(ctx)
	secret, csrf = NewSecret("s_"), NewSecret("c_")
	expires = time.Now().Add(s.SessionTTL)
	if err := s.client.Session.Create().SetUserID(userID).SetTokenHash(HashSecret(secret)).
		SetCsrfToken(csrf).SetExpiresAt(expires).Exec(sys); err != nil {
		return "", "", time.Time{}, err
	}
	_ = s.client.User.UpdateOneID(userID).SetLastLoginAt(time.Now()).Exec(sys)
	return secret, csrf, expires, nil
}

// Session returns the viewer of a portal session and its CSRF token.
func (s *Service) Session(ctx context.Context, secret string) (*viewer.Viewer, string, error) {
	sys := viewer.SystemContext(ctx)
	sess, err := s.client.Session.Query().Where(session.TokenHash(HashSecret(secret))).WithUser().Only(sys)
	if err != nil {
		if ent.IsNotFound(err) {
			return nil, "", errdefs.Unauthenticatedf("session expired or signed out")
		}
		return nil, "", err
	}
	if time.Now().After(sess.ExpiresAt) || sess.Edges.User.Disabled {
		_ = s.client.Session.DeleteOneID(sess.ID).Exec(sys)
		return nil, "", errdefs.Unauthenticatedf("session expired or signed out")
	}
	v := userViewer(sess.Edges.User)
	v.SessionID = sess.ID
	return v, sess.CsrfToken, nil
}

// Logout ends a portal session.
func (s *Service) Logout(ctx context.Context, secret string) error {
	_, err := s.client.Session.Delete().Where(session.TokenHash(HashSecret(secret))).Exec(viewer.SystemContext(ctx))
	return err
}

// PurgeExpiredSessions deletes sessions past their expiry.
func (s *Service) PurgeExpiredSessions(ctx context.Context) (int, error) {
	return s.client.Session.Delete().Where(session.ExpiresAtLT(time.Now())).Exec(viewer.SystemContext(ctx))
}

// Can reports whether the viewer of ctx may perform action on project p: nil
// if allowed, an ErrUnauthenticated error for anonymous callers who need to
// sign in, an ErrDenied error otherwise.
func (s *Service) Can(ctx context.Context, action Action, p *ent.Project) error {
	v := viewer.FromContext(ctx)
	if v.ReadOnly && !readActions[action] {
		return errdefs.Deniedf("this access token is read-only")
	}
	if v.IsAdmin() {
		return nil
	}
	if p.Public && publicActions[action] {
		return nil
	}
	if v.IsAnonymous() {
		return errdefs.Unauthenticatedf("sign in to %s in project %q", describe(action), p.Name)
	}
	if v.Kind == viewer.Robot {
		for _, g := range v.Grants {
			// Reading a project's page takes a pull grant, as seeing it in
			// queries does (the privacy rules); push or delete alone do not.
			if (g.Project == p.Name || g.Project == "*") && (Action(g.Action) == action || action == ProjectRead && Action(g.Action) == RepositoryPull) {
				return nil
			}
		}
		return errdefs.Deniedf("robot %q may not %s in project %q", v.Username, describe(action), p.Name)
	}
	role, ok, err := s.Role(ctx, p.ID)
	if err != nil {
		return err
	}
	if ok && RoleAllows(role, action) {
		return nil
	}
	return errdefs.Deniedf("you may not %s in project %q", describe(action), p.Name)
}

// ProjectCan returns the project named name if the viewer of ctx may
// perform action in it. A project the viewer may not see is not found, as
// in queries.
func (s *Service) ProjectCan(ctx context.Context, name string, action Action) (*ent.Project, error) {
	p, err := s.client.Project.Query().Where(project.Name(name)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, errdefs.NotFoundf("project %q does not exist", name)
	}
	if err != nil {
		return nil, err
	}
	return p, s.Can(ctx, action, p)
}

func describe(a Action) string {
	switch a {
	case RepositoryPull:
		return "pull"
	case RepositoryPush:
		return "push"
	default:
		return fmt.Sprintf("do %s", a)
	}
}

// Allow returns ctx with ent's privacy rules opened, for a service that has
// just checked Can and now writes on the caller's behalf.
func Allow(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}

// RequireUser returns the signed-in viewer, or an error for anonymous callers.
func RequireUser(ctx context.Context) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if v.IsAnonymous() {
		return nil, errdefs.Unauthenticatedf("sign in first")
	}
	return v, nil
}

// RequireAdmin returns the viewer if they are a system admin who may
// change things: a read-only access token of an admin is refused.
func RequireAdmin(ctx context.Context) (*viewer.Viewer, error) {
	v, err := RequireAdminRead(ctx)
	if err != nil {
		return nil, err
	}
	if v.ReadOnly {
		return nil, errdefs.Deniedf("this access token is read-only")
	}
	return v, nil
}

// RequireAdminRead returns the viewer if they are a system admin, for
// reads that only admins may make; read-only tokens pass.
func RequireAdminRead(ctx context.Context) (*viewer.Viewer, error) {
	v, err := RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	if !v.IsAdmin() {
		return nil, errdefs.Deniedf("only system administrators may do this")
	}
	return v, nil
}
