package oidc

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/berth-registry/berth/ent/setting"
	"github.com/berth-registry/berth/internal/viewer"
)

// cookieKeySetting is the Setting row holding the key that seals the
// sign-in cookies. It lives in the database so that a login started on one
// replica can finish on another.
const cookieKeySetting = "auth.oidc.cookie_key"

// Cookie names. Both are HttpOnly and scoped to /auth/oidc/.
const (
	loginCookie   = "berth_oidc_login"
	onboardCookie = "berth_oidc_onboard"
	cookiePath    = "/auth/oidc/"
)

// errBadCookie covers a missing, expired, forged or unreadable cookie.
var errBadCookie = errors.New("sign-in cookie missing, expired or invalid")

// sealer encrypts and authenticates cookie values with AES-256-GCM, so the
// browser can neither read (the PKCE verifier, the nonce, the pending
// identity) nor alter them.
type sealer struct {
	aead cipher.AEAD
}

// cookieSealer returns the sealer, creating the shared key on first use.
func (s *Service) cookieSealer(ctx context.Context) (*sealer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealer != nil {
		return s.sealer, nil
	}
	sys := viewer.SystemContext(ctx)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	// Two replicas may race to create the key: the loser's insert is ignored
	// and both read back the one that won.
	err := s.client.Setting.Create().SetKey(cookieKeySetting).
		SetValue(s.secrets.Seal(base64.RawStdEncoding.EncodeToString(key), cookieKeyAD)).
		OnConflictColumns(setting.FieldKey).DoNothing().Exec(sys)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("creating the sign-in cookie key: %w", err)
	}
	row, err := s.client.Setting.Query().Where(setting.Key(cookieKeySetting)).Only(sys)
	if err != nil {
		return nil, fmt.Errorf("reading the sign-in cookie key: %w", err)
	}
	value, err := s.secrets.Open(row.Value, cookieKeyAD)
	if err != nil {
		return nil, fmt.Errorf("the sign-in cookie key: %w", err)
	}
	key, err = base64.RawStdEncoding.DecodeString(value)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("the stored sign-in cookie key is malformed")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s.sealer = &sealer{aead: aead}
	return s.sealer, nil
}

// sealed wraps a payload with its expiry.
type sealed struct {
	Expires int64           `json:"exp"`
	Data    json.RawMessage `json:"d"`
}

// seal encrypts v for the cookie name; the name is authenticated data, so
// one cookie's value cannot be replayed as another's.
func (z *sealer) seal(name string, v any, ttl time.Duration) (string, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(sealed{Expires: time.Now().Add(ttl).Unix(), Data: data})
	if err != nil {
		return "", err
	}
	nonce := make([]byte, z.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(z.aead.Seal(nonce, nonce, plain, []byte(name))), nil
}

// open decrypts a value sealed for name into v, refusing expired ones.
func (z *sealer) open(name, value string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < z.aead.NonceSize() {
		return errBadCookie
	}
	plain, err := z.aead.Open(nil, raw[:z.aead.NonceSize()], raw[z.aead.NonceSize():], []byte(name))
	if err != nil {
		return errBadCookie
	}
	var env sealed
	if err := json.Unmarshal(plain, &env); err != nil || time.Now().Unix() > env.Expires {
		return errBadCookie
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		return errBadCookie
	}
	return nil
}

// setCookie seals v into the cookie name for ttl.
func (s *Service) setCookie(ctx context.Context, w http.ResponseWriter, name string, v any, ttl time.Duration) error {
	z, err := s.cookieSealer(ctx)
	if err != nil {
		return err
	}
	value, err := z.seal(name, v, ttl)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: cookiePath, MaxAge: int(ttl.Seconds()),
		Expires: time.Now().Add(ttl), HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	return nil
}

// readCookie opens the cookie name into v.
func (s *Service) readCookie(r *http.Request, name string, v any) error {
	c, err := r.Cookie(name)
	if err != nil || c.Value == "" {
		return errBadCookie
	}
	z, err := s.cookieSealer(r.Context())
	if err != nil {
		return err
	}
	return z.open(name, c.Value, v)
}

// clearCookie removes the cookie name.
func (s *Service) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: cookiePath, MaxAge: -1,
		Expires: time.Unix(0, 0), HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}
