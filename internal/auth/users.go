package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"regexp"
	"unicode/utf8"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/session"
	"github.com/berth-registry/berth/ent/user"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,254}$`)

// MinPasswordLength is the shortest password berth accepts.
const MinPasswordLength = 8

// UserInput describes a new local user.
type UserInput struct {
	Username    string
	Password    string
	Email       string
	DisplayName string
	Admin       bool
}

// UserUpdate changes a user; nil fields stay as they are.
type UserUpdate struct {
	Email       *string
	DisplayName *string
	Admin       *bool
	Disabled    *bool
	Password    *string
}

// ValidateUsername checks the rules for login names.
func ValidateUsername(name string) error {
	if !usernamePattern.MatchString(name) {
		return errdefs.Invalidf("username %q is invalid: use 1 to 255 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
	}
	return nil
}

// ValidatePassword checks the rules for passwords.
func ValidatePassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return errdefs.Invalidf("password must be at least %d characters", MinPasswordLength)
	}
	if len(pw) > 1024 {
		return errdefs.Invalidf("password must be at most 1024 bytes")
	}
	return nil
}

// CreateUser creates a local user. Only system admins may, except that
// berth itself (the CLI, first start) acts as system.
func (s *Service) CreateUser(ctx context.Context, in UserInput) (*ent.User, error) {
	if _, err := RequireAdmin(ctx); err != nil {
		return nil, err
	}
	if err := ValidateUsername(in.Username); err != nil {
		return nil, err
	}
	if err := ValidatePassword(in.Password); err != nil {
		return nil, err
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	// A fresh stamp, so no credential of an earlier user of that name
	// (or, on SQLite, of that reused id) matches.
	u, err := s.client.User.Create().SetUsername(in.Username).SetPasswordHash(hash).SetSecurityStamp(newStamp()).
		SetEmail(in.Email).SetDisplayName(in.DisplayName).SetAdmin(in.Admin).Save(ctx)
	if ent.IsConstraintError(err) {
		return nil, errdefs.Conflictf("user %q already exists", in.Username)
	}
	return u, err
}

// UpdateUser changes a user. Admins may change anyone; users may change
// their own email and display name.
func (s *Service) UpdateUser(ctx context.Context, id int, in UserUpdate) (*ent.User, error) {
	defer s.recent.clear() // sign-ins reused from before the change must not outlive it
	v, err := RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	if v.ReadOnly {
		return nil, errdefs.Deniedf("this access token is read-only")
	}
	self := v.Kind == viewer.User && v.UserID == id
	if !v.IsAdmin() && (!self || in.Admin != nil || in.Disabled != nil || in.Password != nil) {
		return nil, errdefs.Deniedf("only system administrators may change this")
	}
	if self && ((in.Admin != nil && !*in.Admin) || (in.Disabled != nil && *in.Disabled)) {
		return nil, errdefs.Invalidf("you cannot remove your own admin rights or disable yourself")
	}
	var hash string
	if in.Password != nil {
		if err := ValidatePassword(*in.Password); err != nil {
			return nil, err
		}
		if hash, err = HashPassword(*in.Password); err != nil {
			return nil, err
		}
	}
	var u *ent.User
	err = database.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		upd := tx.User.UpdateOneID(id)
		s.applyUpdate(upd, in, hash)
		var err error
		if u, err = upd.Save(Allow(ctx)); err != nil {
			return err
		}
		if in.Password != nil || (in.Disabled != nil && *in.Disabled) {
			return endSessions(Allow(ctx), tx, id, v.SessionID)
		}
		return nil
	})
	if ent.IsNotFound(err) {
		return nil, errdefs.NotFoundf("user %d does not exist", id)
	}
	return u, err
}

// applyUpdate sets the fields of in on upd; hash is the new password's.
func (s *Service) applyUpdate(upd *ent.UserUpdateOne, in UserUpdate, hash string) {
	if in.Email != nil {
		upd.SetEmail(*in.Email)
	}
	if in.DisplayName != nil {
		upd.SetDisplayName(*in.DisplayName)
	}
	if in.Admin != nil {
		upd.SetAdmin(*in.Admin)
	}
	if in.Disabled != nil {
		upd.SetDisabled(*in.Disabled)
	}
	if hash != "" {
		upd.SetPasswordHash(hash)
	}
	// A new password or a disabled account invalidates what was issued
	// under the old one: refresh tokens carry the stamp.
	if hash != "" || (in.Disabled != nil && *in.Disabled) {
		upd.SetSecurityStamp(newStamp())
	}
}

// newStamp returns a random security stamp.
func newStamp() string { return NewSecret("") }

// endSessions signs a user out of every portal session but keep (0 for none).
func endSessions(ctx context.Context, tx *ent.Tx, userID, keep int) error {
	del := tx.Session.Delete().Where(sessionOf(userID))
	if keep != 0 {
		del.Where(session.IDNEQ(keep))
	}
	_, err := del.Exec(ctx)
	return err
}

// DeleteUser deletes a user with their memberships, sessions and tokens.
func (s *Service) DeleteUser(ctx context.Context, id int) error {
	defer s.recent.clear() // sign-ins reused from before the change must not outlive it
	v, err := RequireAdmin(ctx)
	if err != nil {
		return err
	}
	if v.Kind == viewer.User && v.UserID == id {
		return errdefs.Invalidf("you cannot delete yourself")
	}
	return database.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		u, err := tx.User.Get(ctx, id)
		if ent.IsNotFound(err) {
			return errdefs.NotFoundf("user %d does not exist", id)
		}
		if err != nil {
			return err
		}
		for _, del := range []func() error{
			func() error { _, err := tx.Member.Delete().Where(memberOf(u.ID)).Exec(ctx); return err },
			func() error { _, err := tx.Session.Delete().Where(sessionOf(u.ID)).Exec(ctx); return err },
			func() error { _, err := tx.AccessToken.Delete().Where(tokenOf(u.ID)).Exec(ctx); return err },
			func() error { return tx.User.DeleteOneID(u.ID).Exec(ctx) },
		} {
			if err := del(); err != nil {
				return err
			}
		}
		return nil
	})
}

// ChangePassword changes the caller's own password after checking the old one.
func (s *Service) ChangePassword(ctx context.Context, oldPassword, newPassword string) error {
	defer s.recent.clear() // sign-ins reused from before the change must not outlive it
	v, err := RequireUser(ctx)
	if err != nil {
		return err
	}
	if v.Kind != viewer.User || v.TokenID != 0 {
		return errdefs.Deniedf("sign in with your password to change it")
	}
	u, err := s.client.User.Get(viewer.SystemContext(ctx), v.UserID)
	if err != nil {
		return err
	}
	if u.PasswordHash == "" || !s.verifyPassword(ctx, u.PasswordHash, oldPassword) {
		return errdefs.Invalidf("the current password is wrong")
	}
	// The session the change was made in stays signed in; every other
	// session, and every refresh token, ends.
	return s.setPassword(viewer.SystemContext(ctx), u.Username, newPassword, v.SessionID)
}

// SetPassword sets a user's password, ending their portal sessions and
// refresh tokens; callers check who may (the CLI runs as system).
func (s *Service) SetPassword(ctx context.Context, username, password string) error {
	if _, err := RequireAdmin(ctx); err != nil {
		return err
	}
	return s.setPassword(ctx, username, password, 0)
}

func (s *Service) setPassword(ctx context.Context, username, password string, keepSession int) error {
	defer s.recent.clear() // sign-ins reused from before the change must not outlive it
	if err := ValidatePassword(password); err != nil {
		return err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return database.WithTx(ctx, s.client, func(tx *ent.Tx) error {
		u, err := tx.User.Query().Where(user.Username(username)).Only(ctx)
		if ent.IsNotFound(err) {
			return errdefs.NotFoundf("user %q does not exist", username)
		}
		if err != nil {
			return err
		}
		if err := tx.User.UpdateOne(u).SetPasswordHash(hash).SetSecurityStamp(newStamp()).Exec(ctx); err != nil {
			return err
		}
		return endSessions(ctx, tx, u.ID, keepSession)
	})
}

// EnsureAdmin creates the "admin" user on first start, with password or, if
// it is empty, a random one. It reports the password when it created the
// user, so the caller can print it once.
func (s *Service) EnsureAdmin(ctx context.Context, password string) (created bool, pw string, err error) {
	sys := viewer.SystemContext(ctx)
	n, err := s.client.User.Query().Where(user.Admin(true)).Count(sys)
	if err != nil || n > 0 {
		return false, "", err
	}
	if password == "" {
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			return false, "", err
		}
		password = base64.RawURLEncoding.EncodeToString(b)
	}
	if _, err := s.CreateUser(sys, UserInput{Username: "admin", Password: password, Admin: true}); err != nil {
		// Replicas starting together all find no admin; one creates it.
		if n, cerr := s.client.User.Query().Where(user.Admin(true)).Count(sys); cerr == nil && n > 0 {
			return false, "", nil
		}
		return false, "", err
	}
	return true, password, nil
}
