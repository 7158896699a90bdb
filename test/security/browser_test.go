package security_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Probes of what browsers rely on: hardening headers, GraphiQL without a
// CDN, /metrics off the public port, and CSRF through form logins, logout
// links and websockets (hole 9).

// testSecurityHeaders: the portal, GraphiQL and /v2/ carry the hardening
// headers; GraphiQL loads nothing from another origin; /metrics is on its
// own listener only.
func testSecurityHeaders(t *testing.T, f *fixture) {
	pages := []struct {
		name   string
		path   string
		accept string
		html   bool
	}{
		{"Portal", "/", "text/html", true},
		{"GraphiQL", "/graphql", "text/html", true},
		{"Registry", "/v2/", "", false},
	}
	for _, p := range pages {
		t.Run(p.name+"CarriesHardeningHeaders", func(t *testing.T) {
			hdr := map[string]string{}
			if p.accept != "" {
				hdr["Accept"] = p.accept
			}
			r := f.main.do(t, request{method: http.MethodGet, path: p.path, header: hdr})
			h := r.Header
			if p.html {
				if r.Status != http.StatusOK || !strings.Contains(h.Get("Content-Type"), "text/html") {
					t.Fatalf("GET %s: %s (Content-Type %q); want an HTML page", p.path, r, h.Get("Content-Type"))
				}
				if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
					t.Errorf("GET %s: Content-Security-Policy %q lacks frame-ancestors 'none'", p.path, csp)
				}
			}
			if v := h.Get("X-Frame-Options"); !strings.EqualFold(v, "DENY") {
				t.Errorf("GET %s: X-Frame-Options %q; want DENY", p.path, v)
			}
			if v := h.Get("X-Content-Type-Options"); !strings.EqualFold(v, "nosniff") {
				t.Errorf("GET %s: X-Content-Type-Options %q; want nosniff", p.path, v)
			}
			if v := h.Get("Referrer-Policy"); v == "" {
				t.Errorf("GET %s: no Referrer-Policy", p.path)
			}
		})
	}

	t.Run("GraphiQLLoadsNoScriptOrStylesheetFromAnotherOrigin", func(t *testing.T) {
		r := f.main.do(t, request{method: http.MethodGet, path: "/graphql", header: map[string]string{"Accept": "text/html"}})
		refs := htmlResources(string(r.Body))
		if len(refs) == 0 {
			t.Fatalf("GraphiQL's page references no script or stylesheet: %s", r)
		}
		t.Logf("GraphiQL loads %s", strings.Join(refs, ", "))
		base, _ := url.Parse(f.srv.URL + "/graphql")
		for _, ref := range refs {
			u, err := base.Parse(ref)
			if err != nil {
				t.Errorf("GraphiQL references %q, which does not parse: %v", ref, err)
				continue
			}
			if u.Host != f.srv.Host {
				t.Errorf("GraphiQL loads %s from another origin", ref)
				continue
			}
			res := f.main.do(t, request{method: http.MethodGet, path: u.RequestURI()})
			if res.Status != http.StatusOK || len(res.Body) == 0 {
				t.Errorf("GraphiQL's %s is not served by berth: %d", ref, res.Status)
			}
		}
	})

	t.Run("MetricsOnlyOnMetricsAddr", func(t *testing.T) {
		if r := f.main.do(t, request{method: http.MethodGet, path: "/metrics"}); r.Status != http.StatusNotFound {
			t.Errorf("GET /metrics on the main port with --metrics-addr set: %s; want 404", r)
		}
		r := f.main.do(t, request{method: http.MethodGet, path: f.srv.MetricsURL + "/metrics"})
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "# TYPE") {
			t.Errorf("GET /metrics on --metrics-addr: %s; want Prometheus metrics", r)
		}
	})
}

var (
	scriptSrc = regexp.MustCompile(`(?is)<script\b[^>]*\bsrc\s*=\s*["']?([^"'\s>]+)`)
	linkTag   = regexp.MustCompile(`(?is)<link\b[^>]*>`)
	hrefAttr  = regexp.MustCompile(`(?is)\bhref\s*=\s*["']?([^"'\s>]+)`)
	relStyle  = regexp.MustCompile(`(?is)\brel\s*=\s*["']?[^"'>]*\b(stylesheet|modulepreload|preload)\b`)
	importURL = regexp.MustCompile(`(?is)\bimport\s*(?:[^'"]*from\s*)?["'](https?:)?//[^"']+["']`)
)

// htmlResources lists the scripts and stylesheets an HTML page loads,
// including absolute ES module imports in inline scripts.
func htmlResources(page string) []string {
	var refs []string
	for _, m := range scriptSrc.FindAllStringSubmatch(page, -1) {
		refs = append(refs, m[1])
	}
	for _, tag := range linkTag.FindAllString(page, -1) {
		if relStyle.MatchString(tag) {
			if m := hrefAttr.FindStringSubmatch(tag); m != nil {
				refs = append(refs, m[1])
			}
		}
	}
	for _, m := range importURL.FindAllString(page, -1) {
		i := strings.IndexAny(m, `"'`)
		refs = append(refs, strings.Trim(m[i:], `"'`))
	}
	return refs
}

// testCSRFDefences: a form-encoded login is refused and sets no cookie;
// GET logout links end no session; a websocket that brings only the
// session cookie runs nothing as the user.
func testCSRFDefences(t *testing.T, f *fixture) {
	t.Run("LoginRefusesFormAndTextBodiesAndSetsNoCookie", func(t *testing.T) {
		bodies := []struct{ contentType, body string }{
			{"application/x-www-form-urlencoded", url.Values{"username": {"alice"}, "password": {f.passwords["alice"]}}.Encode()},
			{"text/plain", `{"username":"alice","password":"` + f.passwords["alice"] + `"}`},
		}
		for _, b := range bodies {
			r := f.main.do(t, request{method: http.MethodPost, path: "/auth/login", body: strings.NewReader(b.body), contentType: b.contentType})
			if r.Status < 400 || r.Status >= 500 {
				t.Errorf("POST /auth/login with a %s body got %s; want 4xx", b.contentType, r)
			}
			for _, c := range r.Cookies {
				if c.Name == "berth_session" && c.Value != "" {
					f.srv.secrets.add(c.Value)
					t.Errorf("POST /auth/login with a %s body set a session cookie", b.contentType)
				}
			}
		}
	})

	sess := f.login(t, f.main, "alice")
	t.Run("LogoutWithoutCSRFHeaderEndsNoSession", func(t *testing.T) {
		attempts := []struct{ method, path string }{
			{http.MethodGet, "/auth/oidc/logout"},
			{http.MethodGet, "/auth/logout"},
			{http.MethodPost, "/auth/oidc/logout"},
			{http.MethodPost, "/auth/logout"},
		}
		for _, a := range attempts {
			// The cookie alone, as a link or a form on another site sends it.
			r := f.main.do(t, request{method: a.method, path: a.path, cred: credential{cookie: sess.cookie}})
			if who := f.viewer(t, f.main, sess); who != "alice" {
				t.Errorf("%s %s with only the session cookie (answered %s) ended the session (viewer %q)", a.method, a.path, r, who)
				sess = f.login(t, f.main, "alice")
			}
		}
	})

	t.Run("WebsocketWithSessionCookieButNoCSRFTokenRunsNothingAsUser", func(t *testing.T) {
		for _, origin := range []string{f.srv.URL, "http://attacker.example"} {
			res := websocketProbe(t, f, sess, origin, map[string]any{})
			if res.viewer == "alice" {
				t.Errorf("a websocket from origin %s with only the session cookie ran a query as alice: %s", origin, res.log)
			}
			if res.tokenCreated {
				t.Errorf("a websocket from origin %s with only the session cookie ran createAccessToken as alice: %s", origin, res.log)
			}
			t.Logf("origin %s: %s", origin, res.log)
		}
		g := f.main.gql(t, f.user("alice"), `{ accessTokens(first: 100) { edges { node { name } } } }`, nil)
		if strings.Contains(string(g.HTTP.Body), "websocket-csrf-probe") {
			t.Errorf("alice holds an access token created over a cookie-only websocket: %s", g)
		}
	})

	t.Run("WebsocketWithSessionCSRFTokenRunsAsUser", func(t *testing.T) {
		// The other side of the rule: the portal's own websocket works.
		res := websocketProbe(t, f, sess, f.srv.URL, map[string]any{"csrfToken": sess.csrf})
		if res.viewer != "alice" {
			t.Errorf("a websocket with the session cookie and its CSRF token is not alice: %s", res.log)
		}
	})
}

// wsResult is what a websocket probe achieved.
type wsResult struct {
	viewer       string
	tokenCreated bool
	log          string
}

// websocketProbe opens a graphql-transport-ws connection to /graphql with
// the session cookie, sends connection_init with payload, then asks for
// the viewer and tries to create an access token.
func websocketProbe(t *testing.T, f *fixture, sess session, origin string, payload map[string]any) (res wsResult) {
	t.Helper()
	var log []string
	note := func(s string) { log = append(log, s) }
	defer func() { res.log = strings.Join(log, "; ") }()

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Cookie", sess.cookie.Name+"="+sess.cookie.Value)
	h.Set("Origin", origin)
	wsURL := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/graphql"
	conn, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{
		HTTPClient: &http.Client{Transport: f.srv.clientFrom(websocketAttackIP).hc.Transport}, HTTPHeader: h, Subprotocols: []string{"graphql-transport-ws"},
	})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		note("handshake refused: " + err.Error() + " (HTTP " + strconv.Itoa(status) + ")")
		return res
	}
	defer conn.CloseNow()
	if csrf, ok := payload["csrfToken"].(string); ok {
		f.srv.secrets.add(csrf)
	}
	send := func(msg map[string]any) error {
		b, _ := json.Marshal(msg)
		return conn.Write(ctx, websocket.MessageText, b)
	}
	// read returns the next message of id (or the ack), or "" when the
	// connection ends.
	read := func() (map[string]json.RawMessage, bool) {
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					note("closed " + strconv.Itoa(int(ce.Code)) + " " + ce.Reason)
				} else {
					note("read: " + err.Error())
				}
				return nil, false
			}
			var m map[string]json.RawMessage
			json.Unmarshal(b, &m)
			var typ string
			json.Unmarshal(m["type"], &typ)
			if typ == "ping" {
				send(map[string]any{"type": "pong"})
				continue
			}
			s := string(b)
			if len(s) > 300 {
				s = s[:300] + "…"
			}
			note(s)
			return m, true
		}
	}
	if err := send(map[string]any{"type": "connection_init", "payload": payload}); err != nil {
		note("init: " + err.Error())
		return res
	}
	m, ok := read()
	if !ok {
		return res
	}
	if string(m["type"]) != `"connection_ack"` {
		return res
	}
	run := func(id, query string) json.RawMessage {
		if err := send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": query}}); err != nil {
			note("subscribe: " + err.Error())
			return nil
		}
		for {
			m, ok := read()
			if !ok {
				return nil
			}
			switch string(m["type"]) {
			case `"next"`:
				var p struct{ Data json.RawMessage }
				json.Unmarshal(m["payload"], &p)
				return p.Data
			case `"error"`, `"complete"`:
				return nil
			}
		}
	}
	if data := run("1", `{ viewer { username } }`); data != nil {
		var out struct{ Viewer *struct{ Username string } }
		json.Unmarshal(data, &out)
		if out.Viewer != nil {
			res.viewer = out.Viewer.Username
		}
	}
	if data := run("2", `mutation { createAccessToken(input: {name: "websocket-csrf-probe"}) { secret } }`); data != nil {
		var out struct{ CreateAccessToken *struct{ Secret string } }
		json.Unmarshal(data, &out)
		if out.CreateAccessToken != nil && out.CreateAccessToken.Secret != "" {
			f.srv.secrets.add(out.CreateAccessToken.Secret)
			res.tokenCreated = true
		}
	}
	conn.Close(websocket.StatusNormalClosure, "")
	return res
}
