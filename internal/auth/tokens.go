package auth

import (
	"context"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/accesstoken"
	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/ent/predicate"
	"github.com/berth-registry/berth/ent/session"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

func memberOf(userID int) predicate.Member   { return member.UserID(userID) }
func sessionOf(userID int) predicate.Session { return session.UserID(userID) }
func tokenOf(userID int) predicate.AccessToken {
	return accesstoken.UserID(userID)
}

// TokenInput describes a new access token.
type TokenInput struct {
	Name          string
	ExpiresInDays *int
	ReadOnly      bool
}

// CreateAccessToken mints a token for the caller and returns it with its
// secret; only the secret's hash is stored, so this is the one time it is seen.
func (s *Service) CreateAccessToken(ctx context.Context, in TokenInput) (*ent.AccessToken, string, error) {
	v, err := RequireUser(ctx)
	if err != nil {
		return nil, "", err
	}
	if v.Kind != viewer.User {
		return nil, "", errdefs.Deniedf("only users may create access tokens")
	}
	if v.ReadOnly {
		return nil, "", errdefs.Deniedf("a read-only token cannot mint tokens")
	}
	if in.Name == "" || len(in.Name) > 128 {
		return nil, "", errdefs.Invalidf("token name must be 1 to 128 characters")
	}
	secret := NewSecret(AccessTokenPrefix)
	create := s.client.AccessToken.Create().SetName(in.Name).SetUserID(v.UserID).
		SetTokenHash(HashSecret(secret)).SetReadOnly(in.ReadOnly)
	if in.ExpiresInDays != nil {
		if *in.ExpiresInDays < 1 || *in.ExpiresInDays > 3650 {
			return nil, "", errdefs.Invalidf("expiresInDays must be between 1 and 3650, or omitted for no expiry")
		}
		create.SetExpiresAt(time.Now().Add(time.Duration(*in.ExpiresInDays) * 24 * time.Hour))
	}
	t, err := create.Save(Allow(ctx))
	if err != nil {
		return nil, "", err
	}
	return t, secret, nil
}

// RevokeAccessToken deletes one of the caller's tokens (admins: anyone's).
func (s *Service) RevokeAccessToken(ctx context.Context, id int) error {
	defer s.recent.clear() // sign-ins reused from before the change must not outlive it
	if _, err := RequireUser(ctx); err != nil {
		return err
	}
	// The privacy rule limits the query to the caller's own tokens.
	t, err := s.client.AccessToken.Get(ctx, id)
	if ent.IsNotFound(err) {
		return errdefs.NotFoundf("access token %d does not exist", id)
	}
	if err != nil {
		return err
	}
	return s.client.AccessToken.DeleteOneID(t.ID).Exec(Allow(ctx))
}
