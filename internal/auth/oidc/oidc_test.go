package oidc_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/ent/auditlog"
	"github.com/berth-registry/berth/ent/member"
	"github.com/berth-registry/berth/ent/project"
	"github.com/berth-registry/berth/ent/user"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/testtool"
	"github.com/berth-registry/berth/internal/viewer"
)

// The people at the test provider.
var (
	alice = person{sub: "u-alice", login: "alice", groups: []string{"team-a-devs"}}
	olga  = person{sub: "u-olga", login: "olga", groups: []string{"berth-admins"}}
	// carol has no preferred_username: her subject becomes her username.
	carol = person{sub: "u-carol", login: "carol", noUsername: true}
	// dave's preferred_username belongs to a local account.
	dave = person{sub: "u-dave", login: "dave"}
	// erin has no preferred_username and a subject berth cannot use as a name.
	erin = person{sub: "auth0|erin", login: "erin", noUsername: true}
	// mallory is used for the refused sign-ins.
	mallory = person{sub: "u-mallory", login: "mallory"}
)

// env is a berth in oidc mode and its provider.
type env struct {
	berth *servertest.Server
	idp   *provider
}

func startEnv(t *testing.T, kind string) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	b := servertest.Start(t, kind, func(c *config.Config) {
		c.AuthMode, c.OIDCIssuer, c.OIDCClientID, c.OIDCClientSecret = "oidc", issuer, clientID, clientSecret
		c.OIDCScopes, c.OIDCUsernameClaim, c.OIDCGroupsClaim = "openid,profile,email", "preferred_username", "groups"
		c.OIDCAdminGroup, c.OIDCProviderName = "berth-admins", "Test IdP"
		c.OIDCAllowPrivate = "true" // the test provider listens on 127.0.0.1
	})
	p := serveProvider(t, ln, b.URL+"/auth/oidc/callback", alice, olga, carol, dave, erin, mallory)
	return &env{berth: b, idp: p}
}

// browser is a cookie-keeping HTTP client that follows redirects until it
// lands on a portal page of berth, and stops there.
type browser struct {
	t      *testing.T
	e      *env
	jar    *cookiejar.Jar
	client *http.Client
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	berthHost := strings.TrimPrefix(e.berth.URL, "http://")
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host == berthHost && !strings.HasPrefix(req.URL.Path, "/auth/oidc/") {
				return http.ErrUseLastResponse
			}
			if len(via) > 15 {
				return fmt.Errorf("too many redirects")
			}
			return nil
		}}
	return &browser{t: t, e: e, jar: jar, client: c}
}

var formID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// startSignIn opens /auth/oidc/login and returns the provider's login form
// response.
func (b *browser) startSignIn(returnTo string) *http.Response {
	b.t.Helper()
	resp, err := b.client.Get(b.e.berth.URL + "/auth/oidc/login?return_to=" + url.QueryEscape(returnTo))
	if err != nil {
		b.t.Fatalf("GET /auth/oidc/login: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), b.e.idp.URL) {
		body, _ := io.ReadAll(resp.Body)
		b.t.Fatalf("expected the provider's login form, got %d at %s: %s", resp.StatusCode, resp.Request.URL, body)
	}
	return resp
}

// signIn goes through the whole browser flow as p and returns berth's last
// answer: normally a redirect into the portal.
func (b *browser) signIn(p person, returnTo string) *http.Response {
	b.t.Helper()
	form := b.startSignIn(returnTo)
	page, _ := io.ReadAll(form.Body)
	form.Body.Close()
	m := formID.FindSubmatch(page)
	if m == nil {
		b.t.Fatalf("no auth request id in the provider's login form: %s", page)
	}
	action := form.Request.URL.ResolveReference(&url.URL{Path: "/login/username"})
	resp, err := b.client.PostForm(action.String(), url.Values{
		"id": {string(m[1])}, "username": {p.login}, "password": {userPassword}})
	if err != nil {
		b.t.Fatalf("submitting the provider's login form: %v", err)
	}
	resp.Body.Close()
	return resp
}

// cookie returns a berth cookie visible at path.
func (b *browser) cookie(path, name string) string {
	u, _ := url.Parse(b.e.berth.URL + path)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// creds are the portal session's credentials for GraphQL.
func (b *browser) creds() servertest.Creds {
	return servertest.Creds{
		Cookies: []*http.Cookie{{Name: auth.SessionCookie, Value: b.cookie("/", auth.SessionCookie)}},
		CSRF:    b.cookie("/", auth.CSRFCookie),
	}
}

type viewerInfo struct {
	Viewer *struct {
		Username    string   `json:"username"`
		Email       string   `json:"email"`
		DisplayName string   `json:"displayName"`
		Admin       bool     `json:"admin"`
		Groups      []string `json:"groups"`
		HasPassword bool     `json:"hasPassword"`
	} `json:"viewer"`
}

func (b *browser) viewer() viewerInfo {
	b.t.Helper()
	var out viewerInfo
	b.e.berth.MustDo(b.creds(), `{ viewer { username email displayName admin groups hasPassword } }`, nil, &out)
	return out
}

// signedIn checks that resp redirected into the portal at want with a
// session, and returns the viewer.
func (b *browser) signedIn(resp *http.Response, want string) viewerInfo {
	b.t.Helper()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
		b.t.Fatalf("callback answered %d Location %q, want 303 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	v := b.viewer()
	if v.Viewer == nil {
		b.t.Fatal("no viewer after signing in")
	}
	return v
}

// refused checks that berth refused the sign-in with status and opened no session.
func (b *browser) refused(resp *http.Response, status int) {
	b.t.Helper()
	if resp.StatusCode != status {
		b.t.Fatalf("callback answered %d (Location %q), want %d", resp.StatusCode, resp.Header.Get("Location"), status)
	}
	if !strings.HasPrefix(resp.Header.Get("Location"), "/login?error=") {
		b.t.Errorf("refusal points to %q, want the portal's login page with the error", resp.Header.Get("Location"))
	}
	if b.cookie("/", auth.SessionCookie) != "" {
		b.t.Fatal("a refused sign-in opened a session")
	}
}

func TestOIDCSignIn(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			e := startEnv(t, kind)
			client := e.berth.Berth.DB().Client
			ctx := viewer.SystemContext(context.Background())

			t.Run("FirstSignInOnboardsTheUserAndReturnsToThePortal", func(t *testing.T) {
				b := e.browser(t)
				v := b.signedIn(b.signIn(alice, "/projects/team-a?tab=repos"), "/projects/team-a?tab=repos")
				if v.Viewer.Username != "alice" || v.Viewer.Email != "alice@example.com" || v.Viewer.DisplayName != "alice Example" ||
					v.Viewer.Admin || v.Viewer.HasPassword || strings.Join(v.Viewer.Groups, ",") != "team-a-devs" {
					t.Fatalf("unexpected viewer %+v", *v.Viewer)
				}
				q := e.idp.lastAuthRequest()
				if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 32 ||
					len(q.Get("nonce")) < 32 || q.Get("client_id") != clientID || q.Get("redirect_uri") != e.berth.URL+"/auth/oidc/callback" ||
					q.Get("scope") != "openid profile email" {
					t.Fatalf("authorization request lacks PKCE S256, state, nonce or the configured scopes: %v", q)
				}
				u := client.User.Query().Where(user.Username("alice")).OnlyX(ctx)
				if u.OidcSubject == nil || *u.OidcSubject != e.idp.URL+"#u-alice" || u.LastLoginAt == nil {
					t.Fatalf("alice is not linked to her issuer-qualified subject: %+v", u)
				}
				// A second sign-in finds the same account.
				b2 := e.browser(t)
				b2.signedIn(b2.signIn(alice, ""), "/")
				if n := client.User.Query().Where(user.OidcSubjectNotNil(), user.UsernameHasPrefix("alice")).CountX(ctx); n != 1 {
					t.Fatalf("%d accounts for alice", n)
				}
			})

			t.Run("GroupMembershipGrantsTheProjectRole", func(t *testing.T) {
				e.berth.CreateProject(servertest.Admin, "team-a", false)
				p := client.Project.Query().Where(project.Name("team-a")).OnlyX(ctx)
				client.Member.Create().SetProjectID(p.ID).SetGroupName("team-a-devs").SetRole(member.RoleDEVELOPER).ExecX(ctx)
				query := `{ project(name: "team-a") { name viewerRole } }`
				var out struct {
					Project *struct {
						Name       string  `json:"name"`
						ViewerRole *string `json:"viewerRole"`
					} `json:"project"`
				}
				b := e.browser(t)
				b.signedIn(b.signIn(alice, ""), "/")
				e.berth.MustDo(b.creds(), query, nil, &out)
				if out.Project == nil || out.Project.ViewerRole == nil || *out.Project.ViewerRole != "DEVELOPER" {
					t.Fatalf("alice, in team-a-devs, should see team-a as a developer: %+v", out.Project)
				}
				// carol, in no group, does not see the private project.
				c := e.browser(t)
				c.signedIn(c.signIn(carol, ""), "/")
				out.Project = nil
				e.berth.MustDo(c.creds(), query, nil, &out)
				if out.Project != nil {
					t.Fatalf("carol sees private team-a: %+v", out.Project)
				}
			})

			t.Run("MissingUsernameClaimFallsBackToSubject", func(t *testing.T) {
				b := e.browser(t)
				if v := b.signedIn(b.signIn(carol, ""), "/"); v.Viewer.Username != "u-carol" {
					t.Fatalf("carol's username is %q, want her subject u-carol", v.Viewer.Username)
				}
			})

			t.Run("AdminGroupGrantsAndRevokesAdmin", func(t *testing.T) {
				b := e.browser(t)
				if v := b.signedIn(b.signIn(olga, ""), "/"); !v.Viewer.Admin {
					t.Fatal("olga, in berth-admins, is not a system admin")
				}
				e.idp.setGroups(olga.sub, "someone-else")
				b = e.browser(t)
				if v := b.signedIn(b.signIn(olga, ""), "/"); v.Viewer.Admin {
					t.Fatal("olga left berth-admins but is still a system admin")
				}
				e.idp.setGroups(olga.sub, "berth-admins")
				if !client.User.Query().Where(user.Username("admin")).OnlyX(ctx).Admin {
					t.Fatal("the local admin lost admin")
				}
			})

			t.Run("TakenUsernameGoesThroughTheChooser", func(t *testing.T) {
				e.berth.CreateUser("dave")
				b := e.browser(t)
				resp := b.signIn(dave, "/projects")
				if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/onboard?reason=taken&suggested=dave" {
					t.Fatalf("callback answered %d %q, want the onboarding page", resp.StatusCode, resp.Header.Get("Location"))
				}
				if b.cookie("/", auth.SessionCookie) != "" {
					t.Fatal("a session was opened before the user chose a username")
				}
				var pending map[string]string
				b.json(http.MethodGet, "/auth/oidc/onboard", nil, http.StatusOK, &pending)
				if pending["reason"] != "taken" || pending["suggestedUsername"] != "dave" || pending["email"] != "dave@example.com" {
					t.Fatalf("pending onboarding = %v", pending)
				}
				b.json(http.MethodPost, "/auth/oidc/onboard", map[string]string{"username": "dave"}, http.StatusConflict, nil)
				b.json(http.MethodPost, "/auth/oidc/onboard", map[string]string{"username": "-bad name"}, http.StatusBadRequest, nil)
				var done map[string]string
				b.json(http.MethodPost, "/auth/oidc/onboard", map[string]string{"username": "dave-sso"}, http.StatusOK, &done)
				if done["username"] != "dave-sso" || done["returnTo"] != "/projects" || done["csrfToken"] != b.cookie("/", auth.CSRFCookie) {
					t.Fatalf("onboarding answered %v", done)
				}
				if v := b.viewer(); v.Viewer == nil || v.Viewer.Username != "dave-sso" {
					t.Fatalf("viewer after onboarding: %+v", v.Viewer)
				}
				// The pending identity is spent, and the next sign-in is direct.
				b.json(http.MethodGet, "/auth/oidc/onboard", nil, http.StatusNotFound, nil)
				b2 := e.browser(t)
				b2.signedIn(b2.signIn(dave, ""), "/")
				if local := client.User.Query().Where(user.Username("dave")).OnlyX(ctx); local.OidcSubject != nil {
					t.Fatal("the local dave was linked to the SSO identity")
				}
			})

			t.Run("UnusableSubjectGoesThroughTheChooser", func(t *testing.T) {
				b := e.browser(t)
				resp := b.signIn(erin, "")
				if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/onboard?reason=missing&suggested=auth0-erin") {
					t.Fatalf("callback answered %d %q, want the onboarding page", resp.StatusCode, loc)
				}
				b.json(http.MethodPost, "/auth/oidc/onboard", map[string]string{"username": "erin"}, http.StatusOK, nil)
			})

			t.Run("WrongStateIsRefused", func(t *testing.T) {
				b := e.browser(t)
				b.startSignIn("").Body.Close()
				resp, err := b.client.Get(e.berth.URL + "/auth/oidc/callback?code=whatever&state=forged")
				if err != nil {
					t.Fatal(err)
				}
				b.refused(resp, http.StatusBadRequest)
				// Without the login cookie (another browser) it is refused too.
				b = e.browser(t)
				resp, err = b.client.Get(e.berth.URL + "/auth/oidc/callback?code=whatever&state=whatever")
				if err != nil {
					t.Fatal(err)
				}
				b.refused(resp, http.StatusBadRequest)
			})

			t.Run("WrongNonceIsRefused", func(t *testing.T) {
				e.idp.misbehave("a-nonce-berth-never-sent", nil)
				b := e.browser(t)
				b.refused(b.signIn(mallory, ""), http.StatusUnauthorized)
			})

			for _, tc := range []struct {
				name   string
				resign bool
				edit   func(map[string]any)
			}{
				{"TamperedIDTokenIsRefused", false, func(c map[string]any) { c["sub"] = "u-olga" }},
				{"ExpiredIDTokenIsRefused", true, func(c map[string]any) {
					c["exp"], c["iat"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-2*time.Hour).Unix()
				}},
				{"IDTokenForAnotherClientIsRefused", true, func(c map[string]any) { c["aud"] = []string{"another-client"} }},
				{"IDTokenFromAnotherIssuerIsRefused", true, func(c map[string]any) { c["iss"] = "https://evil.example.com" }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					e.idp.misbehave("", e.idp.editClaims(tc.resign, tc.edit))
					b := e.browser(t)
					b.refused(b.signIn(mallory, ""), http.StatusUnauthorized)
				})
			}
			if client.User.Query().Where(user.Username("mallory")).ExistX(ctx) {
				t.Fatal("a refused sign-in onboarded mallory")
			}

			t.Run("SignInsAndRefusalsAreAudited", func(t *testing.T) {
				logins := func(actor, result string) int {
					return client.AuditLog.Query().Where(auditlog.Operation("login"), auditlog.Actor(actor),
						auditlog.Result(result), auditlog.DetailContains("single sign-on")).CountX(ctx)
				}
				if logins("alice", "success") == 0 || logins("dave-sso", "success") == 0 || logins("anonymous", "failure") < 6 {
					t.Fatalf("audit log lacks OIDC sign-ins: alice %d, dave-sso %d, refusals %d",
						logins("alice", "success"), logins("dave-sso", "success"), logins("anonymous", "failure"))
				}
			})

			t.Run("ReturnToNeverLeavesBerth", func(t *testing.T) {
				for _, evil := range []string{"https://evil.example.com/", "//evil.example.com", "/\\evil.example.com", "evil", "/auth/oidc/logout"} {
					b := e.browser(t)
					b.signedIn(b.signIn(alice, evil), "/")
				}
			})

			t.Run("LogoutEndsTheSessionAndTheProviderSession", func(t *testing.T) {
				b := e.browser(t)
				b.signedIn(b.signIn(alice, ""), "/")
				old := b.creds()
				status, out := oidcLogout(t, e, http.MethodPost, old, old.CSRF)
				loc, _ := url.Parse(out["redirect"])
				if status != http.StatusOK || !strings.HasPrefix(loc.String(), e.idp.URL+"/") ||
					loc.Query().Get("client_id") != clientID || loc.Query().Get("post_logout_redirect_uri") != e.berth.URL+"/" {
					t.Fatalf("logout answered %d %v, want the provider's end_session_endpoint to go to", status, out)
				}
				if r := e.berth.Do(old, `{ viewer { username } }`, nil); r.Code() != "UNAUTHENTICATED" {
					t.Fatalf("the old session still works: %s %v", r.Data, r.Errors)
				}
			})

			// Any page can make a browser GET a URL, or POST to one with its
			// cookies: neither may end the session without the CSRF header.
			t.Run("LogoutNeedsPOSTAndTheCSRFHeader", func(t *testing.T) {
				b := e.browser(t)
				b.signedIn(b.signIn(alice, ""), "/")
				c := b.creds()
				for _, tc := range []struct {
					method, csrf string
					status       int
				}{
					{http.MethodGet, c.CSRF, http.StatusMethodNotAllowed},
					{http.MethodPost, "", http.StatusForbidden},
					{http.MethodPost, "c_wrong", http.StatusForbidden},
				} {
					if status, _ := oidcLogout(t, e, tc.method, c, tc.csrf); status != tc.status {
						t.Fatalf("%s with CSRF %q answered %d, want %d", tc.method, tc.csrf, status, tc.status)
					}
					if r := e.berth.Do(c, `{ viewer { username } }`, nil); r.Code() != "" {
						t.Fatalf("%s with CSRF %q ended the session: %v", tc.method, tc.csrf, r.Errors)
					}
				}
			})

			t.Run("PasswordSignInIsForLocalAdminsOnly", func(t *testing.T) {
				login := func(user, pass string) int {
					body, _ := json.Marshal(map[string]string{"username": user, "password": pass})
					resp, err := http.Post(e.berth.URL+"/auth/login", "application/json", bytes.NewReader(body))
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					return resp.StatusCode
				}
				if got := login("admin", servertest.AdminPassword); got != http.StatusOK {
					t.Fatalf("local admin password sign-in answered %d", got)
				}
				if got := login("dave", "dave-password"); got != http.StatusUnauthorized {
					t.Fatalf("local non-admin password sign-in in oidc mode answered %d, want 401", got)
				}
			})

			t.Run("AccessTokenFromSSOSessionPushesWithCrane", func(t *testing.T) {
				b := e.browser(t)
				b.signedIn(b.signIn(alice, ""), "/")
				var out struct {
					CreateAccessToken struct{ Secret string } `json:"createAccessToken"`
				}
				// A cookie session needs the CSRF header to change state.
				noCSRF := b.creds()
				noCSRF.CSRF = ""
				if r := e.berth.Do(noCSRF, `mutation { createAccessToken(input: {name: "ci"}) { secret } }`, nil); r.Status != http.StatusForbidden {
					t.Fatalf("createAccessToken without CSRF header answered %d", r.Status)
				}
				e.berth.MustDo(b.creds(), `mutation { createAccessToken(input: {name: "laptop", expiresInDays: 1}) { token { id name } secret } }`, nil, &out)
				if out.CreateAccessToken.Secret == "" {
					t.Fatal("no secret")
				}
				// The push goes to a project alice creates (and so administers):
				// registry tokens do not carry groups yet, so a role granted
				// through a group does not reach /v2/ (see the report).
				e.berth.MustDo(b.creds(), `mutation { createProject(input: {name: "alice-apps", public: false}) { id } }`, nil, nil)
				crane := craneTool(t)
				host := strings.TrimPrefix(e.berth.URL, "http://")
				dir := t.TempDir()
				env := append(os.Environ(), "DOCKER_CONFIG="+dir, "HOME="+dir)
				run(t, env, crane, "auth", "login", host, "-u", "alice", "-p", out.CreateAccessToken.Secret, "--insecure")
				run(t, env, crane, "append", "--insecure", "-f", layerTar(t, dir), "-t", host+"/alice-apps/app:v1")
				if d := strings.TrimSpace(run(t, env, crane, "digest", "--insecure", host+"/alice-apps/app:v1")); !strings.HasPrefix(d, "sha256:") {
					t.Fatalf("crane digest = %q", d)
				}
			})
		})
	}
}

func TestOIDCSettingsInGraphQL(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			e := startEnv(t, kind)
			s := e.berth
			anon := servertest.Creds{}

			var pub struct {
				AuthSettings struct {
					Mode             string  `json:"mode"`
					OIDCEnabled      bool    `json:"oidcEnabled"`
					OIDCProviderName *string `json:"oidcProviderName"`
					OIDCLoginURL     *string `json:"oidcLoginURL"`
				} `json:"authSettings"`
			}
			s.MustDo(anon, `{ authSettings { mode oidcEnabled oidcProviderName oidcLoginURL } }`, nil, &pub)
			if a := pub.AuthSettings; a.Mode != "OIDC" || !a.OIDCEnabled || a.OIDCProviderName == nil || *a.OIDCProviderName != "Test IdP" ||
				a.OIDCLoginURL == nil || *a.OIDCLoginURL != "/auth/oidc/login" {
				t.Fatalf("authSettings = %+v", a)
			}

			const settingsQuery = `{ oidcSettings { mode issuer clientID clientSecretSet scopes usernameClaim groupsClaim adminGroup redirectURI source updatedAt } }`
			user := s.CreateUser("nina")
			if r := s.Do(user, settingsQuery, nil); r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("in oidc mode a local non-admin's password must be refused: %s %v", r.Data, r.Errors)
			}
			s.CreateProject(servertest.Admin, "robots-home", false)
			var rb struct{ CreateRobot struct{ Secret string } }
			s.MustDo(servertest.Admin, `mutation { createRobot(input: {name: "ci", project: "robots-home", permissions: [{resource: REPOSITORY, action: PULL}]}) { secret } }`, nil, &rb)
			if r := s.Do(servertest.Creds{Bearer: rb.CreateRobot.Secret}, settingsQuery, nil); r.Code() != "FORBIDDEN" {
				t.Fatalf("a robot read oidcSettings: %s %v", r.Data, r.Errors)
			}
			if r := s.Do(anon, settingsQuery, nil); r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("anonymous read oidcSettings: %s %v", r.Data, r.Errors)
			}
			r := s.Do(servertest.Admin, settingsQuery, nil)
			if len(r.Errors) > 0 || strings.Contains(string(r.Data), clientSecret) {
				t.Fatalf("oidcSettings = %s %v", r.Data, r.Errors)
			}
			var got struct {
				OIDCSettings map[string]any `json:"oidcSettings"`
			}
			json.Unmarshal(r.Data, &got)
			if g := got.OIDCSettings; g["source"] != "CONFIGURATION" || g["clientSecretSet"] != true || g["issuer"] != e.idp.URL ||
				g["redirectURI"] != s.URL+"/auth/oidc/callback" || g["groupsClaim"] != "groups" {
				t.Fatalf("oidcSettings = %v", g)
			}

			const update = `mutation($in: UpdateOIDCSettingsInput!) { updateOIDCSettings(input: $in) { mode adminGroup scopes clientSecretSet source updatedAt } }`
			in := map[string]any{"in": map[string]any{"adminGroup": "ops", "scopes": []string{"profile", "groups"}}}
			if r := s.Do(servertest.Creds{Bearer: rb.CreateRobot.Secret}, update, in); r.Code() != "FORBIDDEN" {
				t.Fatalf("a robot changed the settings: %s %v", r.Data, r.Errors)
			}
			var upd struct {
				UpdateOIDCSettings map[string]any `json:"updateOIDCSettings"`
			}
			s.MustDo(servertest.Admin, update, in, &upd)
			if g := upd.UpdateOIDCSettings; g["source"] != "DATABASE" || g["adminGroup"] != "ops" || g["clientSecretSet"] != true ||
				fmt.Sprint(g["scopes"]) != "[openid profile groups]" || g["updatedAt"] == nil {
				t.Fatalf("updateOIDCSettings = %v", g)
			}
			if r := s.Do(servertest.Admin, update, map[string]any{"in": map[string]any{"issuer": "not a url"}}); r.Code() != "BAD_USER_INPUT" {
				t.Fatalf("a bad issuer was accepted: %s %v", r.Data, r.Errors)
			}
			// Switching to db mode turns SSO off at once.
			s.MustDo(servertest.Admin, update, map[string]any{"in": map[string]any{"mode": "DB", "clientSecret": ""}}, &upd)
			if upd.UpdateOIDCSettings["clientSecretSet"] != false {
				t.Fatalf("the client secret was not removed: %v", upd.UpdateOIDCSettings)
			}
			s.MustDo(anon, `{ authSettings { mode oidcEnabled oidcProviderName oidcLoginURL } }`, nil, &pub)
			if pub.AuthSettings.Mode != "DB" || pub.AuthSettings.OIDCEnabled {
				t.Fatalf("authSettings after switching to db = %+v", pub.AuthSettings)
			}
			if resp, err := http.Get(s.URL + "/auth/oidc/login"); err != nil || resp.StatusCode != http.StatusNotFound {
				t.Fatalf("/auth/oidc/login in db mode: %v %v", resp.Status, err)
			}
			var reset struct {
				ResetOIDCSettings map[string]any `json:"resetOIDCSettings"`
			}
			s.MustDo(servertest.Admin, `mutation { resetOIDCSettings { source mode adminGroup } }`, nil, &reset)
			if g := reset.ResetOIDCSettings; g["source"] != "CONFIGURATION" || g["mode"] != "OIDC" || g["adminGroup"] != "berth-admins" {
				t.Fatalf("resetOIDCSettings = %v", g)
			}

			const test = `mutation($i: String!) { testOIDCConnection(issuer: $i) { ok error issuer authorizationEndpoint tokenEndpoint userinfoEndpoint jwksURI endSessionEndpoint scopesSupported codeChallengeMethods } }`
			var tc struct {
				TestOIDCConnection map[string]any `json:"testOIDCConnection"`
			}
			if r := s.Do(servertest.Creds{Bearer: rb.CreateRobot.Secret}, test, map[string]any{"i": e.idp.URL}); r.Code() != "FORBIDDEN" {
				t.Fatalf("a non-admin tested a connection: %s %v", r.Data, r.Errors)
			}
			s.MustDo(servertest.Admin, test, map[string]any{"i": e.idp.URL}, &tc)
			if g := tc.TestOIDCConnection; g["ok"] != true || g["issuer"] != e.idp.URL || g["tokenEndpoint"] != e.idp.URL+"/oauth/token" ||
				g["endSessionEndpoint"] == nil || !strings.Contains(fmt.Sprint(g["codeChallengeMethods"]), "S256") {
				t.Fatalf("testOIDCConnection = %v", g)
			}
			s.MustDo(servertest.Admin, test, map[string]any{"i": s.URL}, &tc)
			if g := tc.TestOIDCConnection; g["ok"] != false || g["error"] == nil || g["tokenEndpoint"] != nil {
				t.Fatalf("testOIDCConnection of a non-provider = %v", g)
			}
		})
	}
}

// json sends a JSON request to berth with the browser's cookies and
// checks the status.
func (b *browser) json(method, path string, body any, status int, out any) {
	b.t.Helper()
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, b.e.berth.URL+path, r)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		b.t.Fatalf("%s %s answered %d, want %d: %s", method, path, resp.StatusCode, status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			b.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// oidcLogout sends method /auth/oidc/logout with c's cookies and the CSRF
// header csrf, and returns the status and the JSON answer.
func oidcLogout(t *testing.T, e *env, method string, c servertest.Creds, csrf string) (int, map[string]string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.berth.URL+"/auth/oidc/logout", nil)
	if csrf != "" {
		req.Header.Set(auth.CSRFHeader, csrf)
	}
	resp, err := (&http.Transport{}).RoundTrip(withCookies(req, c))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("logout answer: %v", err)
		}
	}
	return resp.StatusCode, out
}

func withCookies(req *http.Request, c servertest.Creds) *http.Request {
	for _, ck := range c.Cookies {
		req.AddCookie(ck)
	}
	return req
}

// craneTool finds crane in .tools/bin or PATH; without it the crane step
// skips, unless BERTH_TEST_REQUIRE_SERVICES=1.
func craneTool(t *testing.T) string {
	t.Helper()
	return testtool.Path(t, "crane")
}

func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// layerTar writes a one-file layer for crane append.
func layerTar(t *testing.T, dir string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	content := []byte("hello from an SSO user\n")
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)})
	tw.Write(content)
	tw.Close()
	p := filepath.Join(dir, "layer.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
