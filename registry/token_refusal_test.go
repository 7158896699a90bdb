package registry_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	regtoken "github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
)

// TestBadTokensAre401WithAChallenge: an expired, tampered, wrong-audience,
// wrong-issuer or foreign-key token is refused with 401 UNAUTHORIZED and a
// Bearer challenge that sends the client back to the token service.
func TestBadTokensAre401WithAChallenge(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		e := newEnv(t, db)
		key, err := regtoken.LoadOrCreateKey(filepath.Join(e.Dir, "token-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		other, err := regtoken.LoadOrCreateKey(filepath.Join(t.TempDir(), "other.pem"))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		claims := func(aud, iss string, exp time.Time) *regtoken.Claims {
			return &regtoken.Claims{
				RegisteredClaims: jwt.RegisteredClaims{Issuer: iss, Audience: jwt.ClaimStrings{aud}, Subject: "dev",
					IssuedAt: jwt.NewNumericDate(now.Add(-time.Hour)), ExpiresAt: jwt.NewNumericDate(exp), ID: "jti-1"},
				Access: []regtoken.Access{{Type: "repository", Name: "team/app", Actions: []string{"pull"}}},
				Berth:  &regtoken.Identity{UserID: 1},
			}
		}
		sign := func(c *regtoken.Claims, k any) string {
			s, err := jwt.NewWithClaims(jwt.SigningMethodES256, c).SignedString(k)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		valid := sign(claims("berth", "berth", now.Add(time.Hour)), key)
		cases := map[string]string{
			"expired":        sign(claims("berth", "berth", now.Add(-time.Hour)), key),
			"wrong audience": sign(claims("someone-else", "berth", now.Add(time.Hour)), key),
			"wrong issuer":   sign(claims("berth", "evil", now.Add(time.Hour)), key),
			"foreign key":    sign(claims("berth", "berth", now.Add(time.Hour)), other),
			"tampered":       valid[:strings.LastIndex(valid, ".")] + ".AAAA" + valid[strings.LastIndex(valid, ".")+5:],
		}
		for name, tok := range cases {
			t.Run(name, func(t *testing.T) {
				resp := e.do(req{method: "GET", path: "/v2/team/app/tags/list", bearer: tok})
				expect(t, resp, 401, "UNAUTHORIZED")
				ch := resp.Header.Get("WWW-Authenticate")
				if !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `realm="`) || !strings.Contains(ch, `service="berth"`) {
					t.Fatalf("challenge = %q", ch)
				}
			})
		}
	})
}

// TestRepeatedWrongPasswordsLockTheAccountOut: docker login with a wrong
// password five times locks the account with back-off; the token service
// says so with 429 instead of checking more guesses.
func TestRepeatedWrongPasswordsLockTheAccountOut(t *testing.T) {
	e := newEnv(t, dbtest.Open(t, "sqlite"))
	wrong := map[string]string{"Authorization": "Basic ZGV2Ondyb25n"} // dev:wrong
	for i := 0; i < 5; i++ {
		expect(t, e.do(req{method: "GET", path: "/service/token?service=berth&scope=repository:team/app:pull", header: wrong}), 401, "")
	}
	expect(t, e.do(req{method: "GET", path: "/service/token?service=berth&scope=repository:team/app:pull", header: wrong}), 429, "")
	// The right password is refused too while the lockout lasts.
	expect(t, e.do(req{method: "GET", path: "/service/token?service=berth&scope=repository:team/app:pull", user: "dev"}), 429, "")
}
