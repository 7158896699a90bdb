package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	coderws "github.com/coder/websocket"

	"github.com/berth-registry/berth/internal/server/servertest"
)

// wsAnswer is how a graphql-transport-ws exchange ended.
type wsAnswer struct {
	// refused is set when berth closed the connection or refused the
	// handshake instead of acknowledging connection_init.
	refused bool
	detail  string
	next    json.RawMessage
}

// wsOperation opens a graphql-transport-ws connection to /graphql with the
// given handshake headers and connection_init payload, and runs one
// operation on it, the way graphql-ws clients do.
func wsOperation(t *testing.T, s *servertest.Server, header http.Header, initPayload map[string]any, query string) wsAnswer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, resp, err := coderws.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/graphql", &coderws.DialOptions{
		HTTPHeader: header, Subprotocols: []string{"graphql-transport-ws"},
	})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusForbidden {
			return wsAnswer{refused: true, detail: "handshake refused: " + err.Error()}
		}
		t.Fatalf("dialing: %v", err)
	}
	defer c.CloseNow()
	send := func(v any) {
		raw, _ := json.Marshal(v)
		if err := c.Write(ctx, coderws.MessageText, raw); err != nil {
			t.Fatalf("writing: %v", err)
		}
	}
	read := func() (map[string]json.RawMessage, error) {
		for {
			_, raw, err := c.Read(ctx)
			if err != nil {
				return nil, err
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("not JSON: %s", raw)
			}
			if typ := string(m["type"]); typ != `"ping"` && typ != `"pong"` && typ != `"ka"` {
				return m, nil
			}
		}
	}
	send(map[string]any{"type": "connection_init", "payload": initPayload})
	m, err := read()
	if err != nil {
		if coderws.CloseStatus(err) == 4403 {
			return wsAnswer{refused: true, detail: err.Error()}
		}
		t.Fatalf("reading the answer to connection_init: %v", err)
	}
	if string(m["type"]) != `"connection_ack"` {
		t.Fatalf("answer to connection_init: %v", m)
	}
	send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query}})
	m, err = read()
	if err != nil {
		t.Fatalf("reading the operation's answer: %v", err)
	}
	if string(m["type"]) != `"next"` {
		t.Fatalf("operation answered %v", m)
	}
	return wsAnswer{next: m["payload"]}
}

// TestCookieAloneRunsNoOperationOverAWebsocket opens websockets as a
// signed-in portal user would, and as another site the user visits would:
// the session cookie travels with every handshake, so only the CSRF token
// in connection_init (and an Origin of berth's) may let a mutation through.
func TestCookieAloneRunsNoOperationOverAWebsocket(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		sess := s.Session("admin", servertest.AdminPassword)
		var tok struct{ CreateAccessToken struct{ Secret string } }
		s.MustDo(admin, `mutation { createAccessToken(input: {name: "ws-script"}) { secret } }`, nil, &tok)

		withCookie := func(origin string) http.Header {
			h := http.Header{}
			for _, c := range sess.Cookies {
				h.Add("Cookie", c.Name+"="+c.Value)
			}
			if origin != "" {
				h.Set("Origin", origin)
			}
			return h
		}
		for i, tc := range []struct {
			name    string
			header  http.Header
			payload map[string]any
			runs    bool
		}{
			{"CookieWithoutCSRFTokenIsRefused", withCookie(s.URL), nil, false},
			{"CookieWithWrongCSRFTokenIsRefused", withCookie(s.URL), map[string]any{"csrfToken": "c_wrong"}, false},
			{"CookieWithCSRFTokenFromAnotherSiteIsRefused", withCookie("http://evil.example"), map[string]any{"csrfToken": sess.CSRF}, false},
			{"CookieWithCSRFTokenAndNoOriginIsRefused", withCookie(""), map[string]any{"csrfToken": sess.CSRF}, false},
			{"CookieWithCSRFTokenRuns", withCookie(s.URL), map[string]any{"csrfToken": sess.CSRF}, true},
			{"CookieWithCSRFHeaderNameRuns", withCookie(s.URL), map[string]any{"X-Berth-CSRF": sess.CSRF}, true},
			{"BearerTokenInPayloadRuns", http.Header{}, map[string]any{"Authorization": "Bearer " + tok.CreateAccessToken.Secret}, true},
			{"WrongBearerTokenInPayloadIsRefused", http.Header{}, map[string]any{"Authorization": "Bearer not-a-token"}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				name := fmt.Sprintf("ws-%d", i)
				got := wsOperation(t, s, tc.header, tc.payload,
					fmt.Sprintf(`mutation { createProject(input: {name: %q}) { name } }`, name))
				var exists struct{ Project *struct{ Name string } }
				s.MustDo(admin, `query($n: String!) { project(name: $n) { name } }`, map[string]any{"n": name}, &exists)
				if tc.runs {
					if got.refused || exists.Project == nil {
						t.Fatalf("the mutation did not run: refused=%v %s, answer %s", got.refused, got.detail, got.next)
					}
					return
				}
				if !got.refused {
					t.Fatalf("the connection was not refused; the operation answered %s", got.next)
				}
				if exists.Project != nil {
					t.Fatal("the mutation ran")
				}
			})
		}
	})
}
