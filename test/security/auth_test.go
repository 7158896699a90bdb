package security_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Probes of the doors that take credentials: floods of huge usernames
// (hole 4), locking a robot out by name (hole 5) and refresh tokens that
// outlive their access token, password or account (hole 6).

// statusCount is a histogram of response statuses.
type statusCount struct {
	mu sync.Mutex
	m  map[int]int
}

func (s *statusCount) add(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[int]int{}
	}
	s.m[code]++
}

func (s *statusCount) get(code int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[code]
}

func (s *statusCount) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var codes []int
	for c := range s.m {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", s.m[c], c))
	}
	return strings.Join(parts, " ")
}

// flood sends n requests made by mk with 8 workers and counts statuses
// (0 for a transport error).
func flood(c *client, n int, mk func(i int) request) *statusCount {
	counts := &statusCount{}
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r, err := c.send(mk(i))
				if err != nil {
					counts.add(0)
					continue
				}
				counts.add(r.Status)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return counts
}

// testUsernameFloodIsBounded: 300 failed Basic sign-ins on /v2/ and 300
// each on /service/token and /auth/login, with 700 KB usernames, cost the
// server < 100 MB of RSS and the audit table < 5 MB, and the flooding
// client is answered 429 at some point.
func testUsernameFloodIsBounded(t *testing.T, f *fixture) {
	s := f.srv
	c := s.clientFrom(floodClientIP)
	// Every name is new, as in the review: a server that remembers failed
	// names keeps each one.
	huge := strings.Repeat("u", 700<<10)
	hugeName := func(i int) string { return fmt.Sprintf("%06d", i) + huge[6:] }
	hugeBasic := func(i int) credential {
		return credential{header: "Basic " + base64Std(hugeName(i)+":wrong-password")}
	}
	hugeScope := "repository:pub/" + strings.Repeat("s", 200<<10) + ":pull"

	watch := s.watchRSS(t)
	start := time.Now()
	v2 := flood(c, 300, func(i int) request {
		return request{method: http.MethodGet, path: "/v2/", cred: hugeBasic(i)}
	})
	token := flood(c, 300, func(i int) request {
		if i%2 == 1 {
			// A made-up name and a 200 KB scope.
			return request{method: http.MethodGet, path: "/service/token?service=berth&scope=" + url.QueryEscape(hugeScope),
				cred: credential{header: "Basic " + base64Std(fmt.Sprintf("nobody%d:wrong-password", i))}}
		}
		return request{method: http.MethodGet, path: "/service/token?service=berth&scope=repository:pub/x:pull", cred: hugeBasic(1000 + i)}
	})
	login := flood(c, 300, func(i int) request {
		body, _ := json.Marshal(map[string]string{"username": hugeName(2000 + i), "password": "wrong-password"})
		return request{method: http.MethodPost, path: "/auth/login", body: bytes.NewReader(body), contentType: "application/json"}
	})
	elapsed := time.Since(start)
	time.Sleep(500 * time.Millisecond)
	before, peak := watch()
	after := s.rss(t)
	audit := s.auditTextBytes(t)
	t.Logf("flood of 900 failed sign-ins with 700 KB usernames in %s: /v2/ %s; /service/token %s; /auth/login %s",
		elapsed.Round(time.Millisecond), v2, token, login)
	t.Logf("RSS %s before, %s peak, %s after; audit table holds %s of text", mb(before), mb(peak), mb(after), mb(audit))

	if after-before > 100<<20 {
		t.Errorf("the flood left the server's RSS %s higher; want under 100 MB", mb(after-before))
	}
	if audit > 5<<20 {
		t.Errorf("the audit table holds %s of text after the flood; want under 5 MB", mb(audit))
	}
	for name, counts := range map[string]*statusCount{"/v2/": v2, "/service/token": token, "/auth/login": login} {
		for code := range counts.m {
			if code < 400 || code >= 500 {
				t.Errorf("%s answered the flood with %d (%s); want only 4xx", name, code, counts)
			}
		}
	}
	if v2.get(http.StatusTooManyRequests) == 0 {
		t.Errorf("/v2/ never answered 429 to 300 failed Basic sign-ins from one client (%s)", v2)
	}
	if token.get(http.StatusTooManyRequests)+login.get(http.StatusTooManyRequests) == 0 {
		t.Errorf("/service/token and /auth/login never answered 429 to 600 failed sign-ins from one client (%s; %s)", token, login)
	}
}

// testRobotCannotBeLockedOutByName: 20 wrong secrets for a robot's
// predictable name, from one client, leave the right secret working
// from another client on /v2/ and /service/token.
func testRobotCannotBeLockedOutByName(t *testing.T, f *fixture) {
	s := f.srv
	login, secret := f.robot(t, "ci", "builder", "PULL")
	attacker := s.clientFrom(robotAttackerIP)
	v2, token := &statusCount{}, &statusCount{}
	for i := range 20 {
		wrong := "berth_robot_" + randomText(32)
		if i%2 == 1 {
			wrong = "guess-" + randomText(8)
		}
		cred := credential{header: "Basic " + base64Std(login+":"+wrong)}
		v2.add(attacker.do(t, request{method: http.MethodGet, path: "/v2/", cred: cred}).Status)
		token.add(attacker.do(t, request{method: http.MethodGet, path: "/service/token?service=berth&scope=repository:ci/app:pull", cred: cred}).Status)
	}
	right := attacker.do(t, request{method: http.MethodGet, path: "/v2/", cred: s.basic(login, secret)})
	t.Logf("20 wrong secrets for %s: /v2/ %s; /service/token %s; then the right secret from the same client: %s",
		login, v2, token, right)

	genuine := s.clientFrom(bystanderIP)
	cred := s.basic(login, secret)
	if r := genuine.do(t, request{method: http.MethodGet, path: "/v2/", cred: cred}); r.Status != http.StatusOK {
		t.Errorf("after 20 wrong secrets from another client, GET /v2/ with the robot's right secret got %s; want 200", r)
	}
	r := genuine.do(t, request{method: http.MethodGet, path: "/service/token?service=berth&scope=repository:ci/app:pull", cred: cred})
	var ans tokenAnswer
	json.Unmarshal(r.Body, &ans)
	s.secrets.add(ans.Token, ans.AccessToken)
	if r.Status != http.StatusOK || ans.Token == "" {
		t.Errorf("after 20 wrong secrets from another client, /service/token with the robot's right secret got %s; want a token", r)
	}
	r, ans = genuine.serviceToken(t, url.Values{"grant_type": {"password"}, "username": {login}, "password": {secret},
		"service": {"berth"}, "scope": {"repository:ci/app:pull"}})
	if r.Status != http.StatusOK || ans.Token == "" {
		t.Errorf("after 20 wrong secrets from another client, POST /service/token with the robot's right secret got %s; want a token", r)
	}
}

// testRefreshTokenEndsWithWhatIssuedIt: a refresh token stops working once
// its access token is revoked, once an admin changes the user's password,
// and once the user is disabled; sessions end with the password change.
func testRefreshTokenEndsWithWhatIssuedIt(t *testing.T, f *fixture) {
	s := f.srv
	c := s.clientFrom(refreshClientIP)
	const scope = "repository:ci/app:pull"
	offline := func(t *testing.T, user, password string) string {
		t.Helper()
		r, ans := c.serviceToken(t, url.Values{"grant_type": {"password"}, "access_type": {"offline"}, "username": {user},
			"password": {password}, "service": {"berth"}, "scope": {scope}})
		if r.Status != http.StatusOK || ans.RefreshToken == "" {
			t.Fatalf("an offline token for %s: %s", user, r)
		}
		return ans.RefreshToken
	}
	refresh := func(t *testing.T, rt string) *response {
		t.Helper()
		r, _ := c.serviceToken(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
			"service": {"berth"}, "scope": {scope}})
		return r
	}

	t.Run("RefreshRefusedAfterAccessTokenRevoked", func(t *testing.T) {
		bob := f.user("bob")
		id, secret := f.accessToken(t, bob, "offline-cli", false)
		rt := offline(t, "bob", secret)
		if r := refresh(t, rt); r.Status != http.StatusOK {
			t.Fatalf("refreshing before the revoke: %s", r)
		}
		f.main.mustGQL(t, bob, `mutation($id: ID!) { revokeAccessToken(id: $id) }`, map[string]any{"id": id}, nil)
		if r := refresh(t, rt); r.Status != http.StatusUnauthorized {
			t.Errorf("refreshing with the token of a revoked access token got %s; want 401", r)
		}
	})

	t.Run("RefreshAndSessionRefusedAfterAdminChangesPassword", func(t *testing.T) {
		rt := offline(t, "carol", f.passwords["carol"])
		if r := refresh(t, rt); r.Status != http.StatusOK {
			t.Fatalf("refreshing before the password change: %s", r)
		}
		sess := f.login(t, c, "carol")
		newPassword := "Pw-carol-new-" + randomText(20)
		s.secrets.add(newPassword)
		f.main.mustGQL(t, f.admin, `mutation($id: ID!, $p: String!) { updateUser(id: $id, input: {password: $p}) { id } }`,
			map[string]any{"id": f.userIDs["carol"], "p": newPassword}, nil)
		f.passwords["carol"] = newPassword
		if r := refresh(t, rt); r.Status != http.StatusUnauthorized {
			t.Errorf("refreshing after an admin changed the password got %s; want 401", r)
		}
		if who := f.viewer(t, c, sess); who != "" {
			t.Errorf("the portal session of carol still signs her in as %q after an admin changed her password", who)
		}
	})

	t.Run("RefreshRefusedAfterUserDisabled", func(t *testing.T) {
		rt := offline(t, "carol", f.passwords["carol"])
		if r := refresh(t, rt); r.Status != http.StatusOK {
			t.Fatalf("refreshing before disabling the user: %s", r)
		}
		f.main.mustGQL(t, f.admin, `mutation($id: ID!) { updateUser(id: $id, input: {disabled: true}) { id } }`,
			map[string]any{"id": f.userIDs["carol"]}, nil)
		if r := refresh(t, rt); r.Status != http.StatusUnauthorized {
			t.Errorf("refreshing after the user was disabled got %s; want 401", r)
		}
	})
}

// session is a signed-in portal session.
type session struct {
	cookie *http.Cookie
	csrf   string
}

func (s session) cred() credential { return credential{cookie: s.cookie, csrf: s.csrf} }

// login signs user in to the portal with a JSON POST /auth/login.
func (f *fixture) login(t *testing.T, c *client, user string) session {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": f.passwords[user]})
	r := c.do(t, request{method: http.MethodPost, path: "/auth/login", body: bytes.NewReader(body), contentType: "application/json"})
	if r.Status != http.StatusOK {
		t.Fatalf("signing in as %s: %s", user, r)
	}
	var out struct{ CSRFToken string }
	json.Unmarshal(r.Body, &out)
	var sess session
	for _, ck := range r.Cookies {
		if ck.Name == "berth_session" && ck.Value != "" {
			sess.cookie = &http.Cookie{Name: ck.Name, Value: ck.Value}
		}
	}
	sess.csrf = out.CSRFToken
	if sess.cookie == nil || sess.csrf == "" {
		t.Fatalf("signing in as %s set no session cookie or CSRF token: %s", user, r)
	}
	f.srv.secrets.add(sess.cookie.Value, sess.csrf, "berth_session="+sess.cookie.Value)
	return sess
}

// viewer is who the session is to GraphQL ("" for nobody or an error).
func (f *fixture) viewer(t *testing.T, c *client, s session) string {
	t.Helper()
	g := c.gql(t, s.cred(), `{ viewer { username } }`, nil)
	var out struct{ Viewer *struct{ Username string } }
	if json.Unmarshal(g.Data, &out) != nil || out.Viewer == nil {
		return ""
	}
	return out.Viewer.Username
}
