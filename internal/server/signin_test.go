package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/viewer"
)

// clientAt returns an HTTP client whose connections come from ip, a
// loopback address other than 127.0.0.1, so a test can play several
// clients against per-address limits.
func clientAt(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// door is one way of sending credentials to berth.
type door struct {
	name string
	req  func(base, user, secret string) *http.Request
}

func basicTo(method, path, body string) func(base, user, secret string) *http.Request {
	return func(base, user, secret string) *http.Request {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.SetBasicAuth(user, secret)
		return req
	}
}

var doors = []door{
	{"/v2/ Basic", basicTo(http.MethodGet, "/v2/", "")},
	{"/graphql Basic", basicTo(http.MethodPost, "/graphql", `{"query":"{ projects(first: 1) { totalCount } }"}`)},
	{"/service/token GET", basicTo(http.MethodGet, "/service/token?service=berth&scope=repository:team/app:pull", "")},
	{"/service/token POST", func(base, user, secret string) *http.Request {
		form := url.Values{"grant_type": {"password"}, "service": {"berth"}, "client_id": {"test"},
			"username": {user}, "password": {secret}, "scope": {"repository:team/app:pull"}}
		req, _ := http.NewRequest(http.MethodPost, base+"/service/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}},
}

func send(t *testing.T, c *http.Client, req *http.Request) *http.Response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestCredentialFloodKeepsMemoryAndAuditBounded: 2,000 failed sign-ins
// with 700 KB usernames (some with 100 KB scopes, and 60 KB usernames on
// /auth/login, whose body is capped lower) through every door leave the
// server's heap and its audit table bounded. The flood comes from 50
// addresses, each under the failed-sign-in limit, so that every request
// reaches the credential check.
func TestCredentialFloodKeepsMemoryAndAuditBounded(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind)
			pad := strings.Repeat("u", 700<<10)
			scope := "repository:team/" + strings.Repeat("s", 100<<10) + ":pull"
			floodDoors := append(doors[:len(doors):len(doors)], door{"/auth/login", func(base, user, _ string) *http.Request {
				body, _ := json.Marshal(map[string]string{"username": user[:60<<10], "password": "wrong-password"})
				req, _ := http.NewRequest(http.MethodPost, base+"/auth/login", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				return req
			}})
			before := liveHeap()
			var clients []*http.Client
			for i := 0; i < 50; i++ {
				clients = append(clients, clientAt(fmt.Sprintf("127.0.1.%d", i+1)))
			}
			peak := int64(0)
			one := func(i int) error {
				user := fmt.Sprintf("%05d%s", i, pad)
				d := floodDoors[i%len(floodDoors)]
				req := d.req(s.URL, user, "berth_not-a-real-token")
				if i%3 == 0 {
					req = d.req(s.URL, user, "wrong-password")
				}
				if d.name == "/service/token GET" && i%2 == 0 {
					req.URL.RawQuery = url.Values{"service": {"berth"}, "scope": {scope}}.Encode()
				}
				resp, err := clients[i/40].Do(req)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode < 400 || resp.StatusCode >= 500 {
					return fmt.Errorf("request %d (%s): %d", i, d.name, resp.StatusCode)
				}
				return nil
			}
			// Batches of 200 sent by 4 workers at once, the heap measured
			// after each batch.
			for batch := 0; batch < 2000; batch += 200 {
				var g errgroup.Group
				g.SetLimit(4)
				for i := batch; i < batch+200; i++ {
					g.Go(func() error { return one(i) })
				}
				if err := g.Wait(); err != nil {
					t.Fatal(err)
				}
				grown := int64(liveHeap()) - int64(before)
				peak = max(peak, grown)
				if grown > 50<<20 {
					t.Fatalf("heap grew by %d MB after %d failed sign-ins", grown>>20, batch+200)
				}
			}
			s.Berth.Audit().Flush(context.Background())
			rows, err := s.Berth.DB().AuditLog.Query().All(viewer.SystemContext(context.Background()))
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, r := range rows {
				total += len(r.Actor) + len(r.Operation) + len(r.ResourceType) + len(r.Resource) + len(r.Project) +
					len(r.ClientIP) + len(r.UserAgent) + len(r.Result) + len(r.Detail)
			}
			t.Logf("peak heap growth %.1f MB; audit: %d entries, %.1f KB", float64(peak)/(1<<20), len(rows), float64(total)/1024)
			if total > 2000*4<<10 {
				t.Fatalf("the audit table holds %d KB after the flood", total>>10)
			}
		})
	}
}

// TestFailedSignInsFromOneClientAre429: past a burst of failed sign-ins,
// a client gets 429 with Retry-After on every door, even with the right
// password, while other clients are not affected.
func TestFailedSignInsFromOneClientAre429(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind)
			flooder, other := clientAt("127.0.2.1"), clientAt("127.0.2.2")
			for _, d := range doors {
				// Wrong access tokens for made-up names: no name lockout
				// applies, only the client's. Right after a 429 the
				// client is still refused, right password or not, until
				// its allowance (10 a second) refills; a refill may land
				// between the refusal and the next request, so the check
				// gets three chances.
				refusedRight := false
				for round := 0; round < 3 && !refusedRight; round++ {
					limited := false
					for i := 0; i < 100 && !limited; i++ {
						resp := send(t, flooder, d.req(s.URL, fmt.Sprintf("nobody-%d", i), fmt.Sprintf("berth_wrong-%d", i)))
						switch resp.StatusCode {
						case http.StatusTooManyRequests:
							if resp.Header.Get("Retry-After") == "" {
								t.Fatalf("%s: 429 without Retry-After", d.name)
							}
							limited = true
						case http.StatusUnauthorized:
						default:
							t.Fatalf("%s: failure %d answered %d", d.name, i, resp.StatusCode)
						}
					}
					if !limited {
						t.Fatalf("%s: 100 rapid failures, none limited", d.name)
					}
					resp := send(t, flooder, d.req(s.URL, servertest.Admin.Username, servertest.Admin.Password))
					refusedRight = resp.StatusCode == http.StatusTooManyRequests
				}
				if !refusedRight {
					t.Errorf("%s: the right password from the limited client got through three times", d.name)
				}
				if resp := send(t, other, d.req(s.URL, servertest.Admin.Username, servertest.Admin.Password)); resp.StatusCode != http.StatusOK {
					t.Errorf("%s from another client: %d", d.name, resp.StatusCode)
				}
			}
		})
	}
}

// TestWrongSecretsDoNotLockRobotsOrTokensOut: anyone can guess a robot's
// name, but robot secrets and access tokens cannot be guessed, so wrong
// ones do not lock the name: after 20 wrong secrets for a robot and for a
// user's access tokens, the right ones still work on every door.
func TestWrongSecretsDoNotLockRobotsOrTokensOut(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			s := servertest.Start(t, kind)
			var robot struct {
				CreateRobot struct {
					Robot  struct{ Login string }
					Secret string
				}
			}
			s.MustDo(servertest.Admin, `mutation { createRobot(input: {name: "ci", permissions: [{project: "*", resource: REPOSITORY, action: PULL}], expiresInDays: 30}) { robot { login } secret } }`, nil, &robot)
			var token struct{ CreateAccessToken struct{ Secret string } }
			s.MustDo(servertest.Admin, `mutation { createAccessToken(input: {name: "ci"}) { secret } }`, nil, &token)
			right := map[string]string{
				robot.CreateRobot.Robot.Login: robot.CreateRobot.Secret,
				servertest.Admin.Username:     token.CreateAccessToken.Secret,
			}
			for i, d := range doors {
				// Each door from its own address, so the client limit (50
				// failures) stays out of the way of the 40 failures here.
				c := clientAt(fmt.Sprintf("127.0.3.%d", i+1))
				for j := 0; j < 20; j++ {
					for _, wrong := range [][2]string{
						{robot.CreateRobot.Robot.Login, fmt.Sprintf("berth_robot_wrong-%d", j)},
						{servertest.Admin.Username, fmt.Sprintf("berth_wrong-%d", j)},
					} {
						if resp := send(t, c, d.req(s.URL, wrong[0], wrong[1])); resp.StatusCode != http.StatusUnauthorized {
							t.Fatalf("%s: wrong secret %d for %s: %d", d.name, j, wrong[0], resp.StatusCode)
						}
					}
				}
				for user, secret := range right {
					if resp := send(t, c, d.req(s.URL, user, secret)); resp.StatusCode != http.StatusOK {
						t.Errorf("%s: the right secret for %s after 20 wrong ones: %d", d.name, user, resp.StatusCode)
					}
				}
			}
		})
	}
}

// TestForwardedForNamesTheClientOnlyBehindTrustedProxies: behind a proxy
// in --trusted-proxies, failed sign-ins count against the address the
// proxy names, so one client behind it is limited and another is not,
// and the audit log records that address; from any other peer the header
// is ignored, so rotating it does not escape the limit.
func TestForwardedForNamesTheClientOnlyBehindTrustedProxies(t *testing.T) {
	s := servertest.Start(t, "sqlite", func(c *config.Config) { c.TrustedProxies = "127.0.3.1/32, ::1" })
	proxy, direct := clientAt("127.0.3.1"), clientAt("127.0.3.2")
	fail := func(c *http.Client, forwarded string, i int) int {
		req := basicTo(http.MethodGet, "/v2/", "")(s.URL, fmt.Sprintf("nobody-%d", i), "berth_wrong")
		req.Header.Set("X-Forwarded-For", forwarded)
		return send(t, c, req).StatusCode
	}
	limitedAt := func(c *http.Client, forwarded func(i int) string) int {
		for i := 0; i < 100; i++ {
			if fail(c, forwarded(i), i) == http.StatusTooManyRequests {
				return i
			}
		}
		return -1
	}
	if n := limitedAt(proxy, func(int) string { return "6.6.6.6, 198.51.100.1" }); n < 0 {
		t.Fatal("a client behind the trusted proxy is never limited")
	}
	req := basicTo(http.MethodGet, "/v2/", "")(s.URL, servertest.Admin.Username, servertest.Admin.Password)
	req.Header.Set("X-Forwarded-For", "198.51.100.2")
	if st := send(t, proxy, req).StatusCode; st != http.StatusOK {
		t.Fatalf("another client behind the same proxy: %d", st)
	}
	if n := limitedAt(direct, func(i int) string { return fmt.Sprintf("198.51.100.%d", 10+i) }); n < 0 {
		t.Fatal("a peer that is not a trusted proxy escaped the limit by rotating X-Forwarded-For")
	}
	// Portal sign-ins are audited with the client's address.
	login := func(c *http.Client, forwarded string) {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/auth/login", strings.NewReader(`{"username":"admin","password":"wrong-password"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", forwarded)
		if st := send(t, c, req).StatusCode; st != http.StatusUnauthorized {
			t.Fatalf("wrong password at /auth/login: %d", st)
		}
	}
	login(clientAt("127.0.3.1"), "6.6.6.6, 198.51.100.3") // an address not limited above
	login(clientAt("127.0.3.3"), "198.51.100.10")
	s.Berth.Audit().Flush(context.Background())
	var logs struct {
		AuditLogs struct {
			Edges []struct {
				Node struct{ ClientIP, Result string }
			}
		}
	}
	s.MustDo(servertest.Admin, `{ auditLogs(first: 100, where: {clientIPIn: ["198.51.100.3", "127.0.3.3", "6.6.6.6", "127.0.3.1", "198.51.100.10"]}) {
		edges { node { clientIP result } } } }`, nil, &logs)
	seen := map[string]bool{}
	for _, e := range logs.AuditLogs.Edges {
		seen[e.Node.ClientIP] = true
	}
	if !seen["198.51.100.3"] || !seen["127.0.3.3"] || seen["6.6.6.6"] || seen["127.0.3.1"] || seen["198.51.100.10"] {
		t.Errorf("audit client addresses: %v; want the forwarded one behind the proxy and the peer otherwise", seen)
	}
}
