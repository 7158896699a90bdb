package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/setting"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// Mode is how people sign in to the portal.
type Mode string

// The authentication modes.
const (
	// ModeDB signs in local users with their passwords.
	ModeDB Mode = "db"
	// ModeOIDC signs people in through an OpenID provider; local password
	// sign-in stays open to local system admins only.
	ModeOIDC Mode = "oidc"
)

// settingsKey is the Setting row holding the settings a system admin saved.
const settingsKey = "auth.oidc"

// Settings configure single sign-on.
//
// Precedence: the configuration (file, environment, flags) gives the
// initial values. The first time a system admin saves settings in GraphQL,
// a complete copy is stored in the database; from then on that copy wins
// over the configuration for every field here, on every replica, until an
// admin resets it (which deletes the copy and returns to the configuration).
type Settings struct {
	Mode          Mode     `json:"mode"`
	ProviderName  string   `json:"provider_name"`
	Issuer        string   `json:"issuer"`
	ClientID      string   `json:"client_id"`
	ClientSecret  string   `json:"client_secret,omitempty"`
	Scopes        []string `json:"scopes"`
	UsernameClaim string   `json:"username_claim"`
	GroupsClaim   string   `json:"groups_claim"`
	AdminGroup    string   `json:"admin_group"`
}

// Source says where the effective settings come from.
type Source string

// The sources of settings.
const (
	SourceConfiguration Source = "CONFIGURATION"
	SourceDatabase      Source = "DATABASE"
)

// StoredSettings are the effective settings and where they come from.
type StoredSettings struct {
	Settings
	Source    Source
	UpdatedAt *time.Time
}

// Enabled reports whether single sign-on is usable: oidc mode with an
// issuer and a client.
func (s Settings) Enabled() bool {
	return s.Mode == ModeOIDC && s.Issuer != "" && s.ClientID != ""
}

// ParseScopes splits a comma- or space-separated scope list.
func ParseScopes(list string) []string {
	return strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' })
}

// normalize fills defaults so that the rest of the package never checks
// for empty values.
func (s Settings) normalize() Settings {
	if s.Mode == "" {
		s.Mode = ModeDB
	}
	if s.ProviderName == "" {
		s.ProviderName = "OpenID Connect"
	}
	if s.UsernameClaim == "" {
		s.UsernameClaim = "preferred_username"
	}
	if len(s.Scopes) == 0 {
		s.Scopes = []string{"openid", "profile", "email"}
	}
	if !slices.Contains(s.Scopes, "openid") {
		s.Scopes = append([]string{"openid"}, s.Scopes...)
	}
	s.Issuer = strings.TrimSpace(s.Issuer)
	return s
}

func (s Settings) validate() error {
	switch s.Mode {
	case ModeDB, ModeOIDC:
	default:
		return errdefs.Invalidf("mode %q is not db or oidc", s.Mode)
	}
	if s.Issuer != "" {
		u, err := url.Parse(s.Issuer)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errdefs.Invalidf("issuer %q is not an absolute http(s) URL", s.Issuer)
		}
	}
	if s.Mode == ModeOIDC && (s.Issuer == "" || s.ClientID == "") {
		return errdefs.Invalidf("oidc mode needs an issuer and a client ID")
	}
	return nil
}

// Settings returns the effective settings: the stored copy if a system
// admin saved one, the configuration otherwise. It reads the database on
// every call so that a change on one replica applies on all of them.
func (s *Service) Settings(ctx context.Context) (StoredSettings, error) {
	st, err := s.readSettings(ctx)
	if err == nil {
		s.mu.Lock()
		s.mode = cachedMode{mode: st.Mode, provider: st.ProviderName, at: time.Now()}
		s.mu.Unlock()
	}
	return st, err
}

func (s *Service) readSettings(ctx context.Context) (StoredSettings, error) {
	row, err := s.client.Setting.Query().Where(setting.Key(settingsKey)).Only(viewer.SystemContext(ctx))
	if ent.IsNotFound(err) {
		return StoredSettings{Settings: s.defaults, Source: SourceConfiguration}, nil
	}
	if err != nil {
		return StoredSettings{}, fmt.Errorf("reading the OIDC settings: %w", err)
	}
	var st Settings
	if err := json.Unmarshal([]byte(row.Value), &st); err != nil {
		return StoredSettings{}, fmt.Errorf("decoding the stored OIDC settings: %w", err)
	}
	if st.ClientSecret, err = s.secrets.Open(st.ClientSecret, clientSecretAD); err != nil {
		return StoredSettings{}, fmt.Errorf("the client secret of the stored OIDC settings: %w", err)
	}
	updated := row.UpdatedAt
	return StoredSettings{Settings: st.normalize(), Source: SourceDatabase, UpdatedAt: &updated}, nil
}

// Update changes settings; nil fields keep their effective value. A nil
// ClientSecret keeps the secret, an empty one removes it.
type Update struct {
	Mode          *Mode
	ProviderName  *string
	Issuer        *string
	ClientID      *string
	ClientSecret  *string
	Scopes        []string
	UsernameClaim *string
	GroupsClaim   *string
	AdminGroup    *string
}

// UpdateSettings applies u on the effective settings and stores the result
// in the database, where it overrides the configuration. System admins only.
func (s *Service) UpdateSettings(ctx context.Context, u Update) (StoredSettings, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return StoredSettings{}, err
	}
	cur, err := s.Settings(ctx)
	if err != nil {
		return StoredSettings{}, err
	}
	st := cur.Settings
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	if u.Mode != nil {
		st.Mode = Mode(strings.ToLower(string(*u.Mode)))
	}
	set(&st.ProviderName, u.ProviderName)
	set(&st.Issuer, u.Issuer)
	set(&st.ClientID, u.ClientID)
	set(&st.ClientSecret, u.ClientSecret)
	set(&st.UsernameClaim, u.UsernameClaim)
	set(&st.GroupsClaim, u.GroupsClaim)
	set(&st.AdminGroup, u.AdminGroup)
	if u.Scopes != nil {
		st.Scopes = nil
		for _, sc := range u.Scopes {
			st.Scopes = append(st.Scopes, ParseScopes(sc)...)
		}
	}
	st = st.normalize()
	if err := st.validate(); err != nil {
		return StoredSettings{}, err
	}
	stored := st
	if stored.ClientSecret != "" {
		stored.ClientSecret = s.secrets.Seal(stored.ClientSecret, clientSecretAD)
	}
	raw, err := json.Marshal(stored)
	if err != nil {
		return StoredSettings{}, err
	}
	sys := viewer.SystemContext(ctx)
	err = s.client.Setting.Create().SetKey(settingsKey).SetValue(string(raw)).
		OnConflictColumns(setting.FieldKey).UpdateValue().UpdateUpdatedAt().Exec(sys)
	if err != nil {
		return StoredSettings{}, fmt.Errorf("storing the OIDC settings: %w", err)
	}
	s.log.InfoContext(ctx, "OIDC settings changed", "user", viewer.FromContext(ctx).Name(),
		"mode", st.Mode, "issuer", st.Issuer)
	return s.Settings(ctx)
}

// ResetSettings deletes the stored settings, so that the configuration
// applies again. System admins only.
func (s *Service) ResetSettings(ctx context.Context) (StoredSettings, error) {
	if _, err := auth.RequireAdmin(ctx); err != nil {
		return StoredSettings{}, err
	}
	if _, err := s.client.Setting.Delete().Where(setting.Key(settingsKey)).Exec(viewer.SystemContext(ctx)); err != nil {
		return StoredSettings{}, fmt.Errorf("deleting the OIDC settings: %w", err)
	}
	s.log.InfoContext(ctx, "OIDC settings reset to the configuration", "user", viewer.FromContext(ctx).Name())
	return s.Settings(ctx)
}

// AdminSettings returns the effective settings for a system admin.
func (s *Service) AdminSettings(ctx context.Context) (StoredSettings, error) {
	if _, err := auth.RequireAdminRead(ctx); err != nil {
		return StoredSettings{}, err
	}
	return s.Settings(ctx)
}

// RedirectURL is where the provider sends the browser back to; it must be
// registered at the provider.
func (s *Service) RedirectURL() string { return s.externalURL + CallbackPath }
