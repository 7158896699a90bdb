package token_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
)

// grantAll grants whatever is asked: these tests are about who gets a
// token, not what it allows.
type grantAll struct{}

func (grantAll) Grant(_ context.Context, _ string, actions []string) []string { return actions }

type tokenServer struct {
	*httptest.Server
	auth *auth.Service
	db   *database.DB
}

func startTokenServer(t *testing.T, db *database.DB) *tokenServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var client *ent.Client
	if db != nil {
		client = db.Client
	}
	a := auth.New(client)
	ts := httptest.NewServer(token.New(token.Options{Key: key, Auth: a, Client: client, Grants: grantAll{}}))
	t.Cleanup(ts.Close)
	return &tokenServer{Server: ts, auth: a, db: db}
}

// post sends a token request form and returns the status and response.
func (s *tokenServer) post(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	form.Set("service", "berth")
	form.Set("client_id", "test")
	resp, err := http.PostForm(s.URL, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// refreshToken signs user in with secret (password grant, or GET with
// offline_token=true) and returns the refresh token.
func (s *tokenServer) refreshToken(t *testing.T, get bool, user, secret string) string {
	t.Helper()
	var out map[string]any
	if get {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"?service=berth&offline_token=true&scope=repository:team/app:pull", nil)
		req.SetBasicAuth(user, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 200 {
			t.Fatalf("GET offline token: %d %v", resp.StatusCode, out)
		}
	} else {
		var status int
		status, out = s.post(t, url.Values{"grant_type": {"password"}, "username": {user}, "password": {secret},
			"access_type": {"offline"}, "scope": {"repository:team/app:pull"}})
		if status != 200 {
			t.Fatalf("password grant: %d %v", status, out)
		}
	}
	rt, _ := out["refresh_token"].(string)
	if rt == "" {
		t.Fatalf("no refresh token: %v", out)
	}
	return rt
}

func (s *tokenServer) refresh(t *testing.T, rt string) int {
	t.Helper()
	status, _ := s.post(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"repository:team/app:pull"}})
	return status
}

// TestRefreshTokenEndsWithWhatIssuedIt: a refresh token stops working when
// the access token it was obtained with is revoked or expires, when its
// user is disabled (and stays dead when re-enabled), and when the user's
// password is changed or reset; a fresh one keeps working. Both ways of
// getting one (POST password grant, GET offline_token) are covered.
func TestRefreshTokenEndsWithWhatIssuedIt(t *testing.T) {
	const password = "alice-password-1"
	type fixture struct {
		s     *tokenServer
		alice *ent.User
		// secret is what the refresh token is obtained with: the password,
		// or an access token's secret.
		secret  string
		tokenID int
	}
	sys := viewer.SystemContext(context.Background())
	asUser := func(u *ent.User) context.Context {
		return viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.User, UserID: u.ID, Username: u.Username})
	}
	cases := []struct {
		name      string
		withToken bool
		// tokenTTL, if set, is the access token's lifetime (default 30 days).
		tokenTTL time.Duration
		// change is what happens after the refresh token is issued.
		change func(t *testing.T, f *fixture)
		works  bool
	}{
		{name: "fresh, from a password", works: true, change: func(*testing.T, *fixture) {}},
		{name: "fresh, from an access token", withToken: true, works: true, change: func(*testing.T, *fixture) {}},
		{name: "access token revoked", withToken: true, change: func(t *testing.T, f *fixture) {
			if err := f.s.auth.RevokeAccessToken(asUser(f.alice), f.tokenID); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "access token expired", withToken: true, tokenTTL: 2 * time.Second, change: func(t *testing.T, f *fixture) {
			tok, err := f.s.db.Client.AccessToken.Get(sys, f.tokenID)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Until(*tok.ExpiresAt) + 10*time.Millisecond)
		}},
		{name: "password reset by an admin", change: func(t *testing.T, f *fixture) {
			if err := f.s.auth.SetPassword(sys, f.alice.Username, "reset-password-1"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "password reset through updateUser", withToken: true, change: func(t *testing.T, f *fixture) {
			pw := "reset-password-1"
			if _, err := f.s.auth.UpdateUser(sys, f.alice.ID, auth.UserUpdate{Password: &pw}); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "password changed by the user", change: func(t *testing.T, f *fixture) {
			if err := f.s.auth.ChangePassword(asUser(f.alice), password, "changed-password-1"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "user disabled and enabled again", change: func(t *testing.T, f *fixture) {
			for _, d := range []bool{true, false} {
				if _, err := f.s.auth.UpdateUser(sys, f.alice.ID, auth.UserUpdate{Disabled: &d}); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		users := 0
		for _, get := range []bool{false, true} {
			for _, c := range cases {
				t.Run(fmt.Sprintf("%s/get=%t", c.name, get), func(t *testing.T) {
					f := &fixture{s: startTokenServer(t, db), secret: password}
					users++
					// Created as before security stamps existed (an empty
					// stamp), which must keep working until it changes.
					h, _ := auth.HashPassword(password)
					var err error
					f.alice, err = db.Client.User.Create().SetUsername(fmt.Sprintf("alice-%d", users)).SetPasswordHash(h).Save(sys)
					if err != nil {
						t.Fatal(err)
					}
					if c.withToken {
						ttl := c.tokenTTL
						if ttl == 0 {
							ttl = 30 * 24 * time.Hour
						}
						// Made directly, since the API's shortest lifetime is a day.
						f.secret = auth.NewSecret(auth.AccessTokenPrefix)
						tok, err := db.Client.AccessToken.Create().SetName("ci").SetUserID(f.alice.ID).
							SetTokenHash(auth.HashSecret(f.secret)).SetExpiresAt(time.Now().Add(ttl)).Save(sys)
						if err != nil {
							t.Fatal(err)
						}
						f.tokenID = tok.ID
					}
					rt := f.s.refreshToken(t, get, f.alice.Username, f.secret)
					if status := f.s.refresh(t, rt); status != 200 {
						t.Fatalf("refresh before the change: %d", status)
					}
					c.change(t, f)
					want := http.StatusUnauthorized
					if c.works {
						want = http.StatusOK
					}
					if status := f.s.refresh(t, rt); status != want {
						t.Fatalf("refresh after %s: got %d, want %d", c.name, status, want)
					}
				})
			}
		}
	})
}

// TestTokenRequestScopesAreCapped: at most 32 scopes and 4 KiB of them per
// request; beyond that the request is refused with 400 invalid_request
// before any credential is checked or anything is recorded.
func TestTokenRequestScopesAreCapped(t *testing.T) {
	s := startTokenServer(t, nil)
	scopes := func(n int) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, fmt.Sprintf("repository:team/app%d:pull", i))
		}
		return out
	}
	long := "repository:team/" + strings.Repeat("a", 5<<10) + ":pull"
	cases := []struct {
		name   string
		scopes []string
		want   int
	}{
		{"32 scopes", scopes(32), 200},
		{"33 scopes", scopes(33), 400},
		{"33 scopes in one parameter", []string{strings.Join(scopes(33), " ")}, 400},
		{"a 5 KiB scope", []string{long}, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := url.Values{"service": {"berth"}, "scope": c.scopes}
			resp, err := http.Get(s.URL + "?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("GET: %d, want %d", resp.StatusCode, c.want)
			}
			if c.want != 400 {
				return
			}
			status, out := s.post(t, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"x"}, "scope": c.scopes})
			if status != 400 || out["error"] != "invalid_request" {
				t.Fatalf("POST: %d %v", status, out)
			}
		})
	}
	body := url.Values{"grant_type": {"password"}, "username": {strings.Repeat("a", 100<<10)}, "password": {"x"}}
	if status, _ := s.post(t, body); status != 400 {
		t.Fatalf("a 100 KiB form: %d, want 400", status)
	}
}
