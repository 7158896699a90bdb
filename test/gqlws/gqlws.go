// Package gqlws is a graphql-transport-ws client for tests: a
// subscription to berth's /graphql as scripts and the portal make one.
package gqlws

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Subscription receives the data of each "next" message: the value of
// the subscription's one field (for events(...), one event).
type Subscription struct {
	Events chan map[string]any
	// Errs receives why the subscription ended: a read error, or an
	// "error", "complete" or erroneous "next" message.
	Errs chan error
}

// Subscribe dials baseURL's /graphql with the handshake header, sends
// connection_init with payload (for scripts, {"Authorization": "Bearer
// <token>"}), waits for the ack and subscribes to query. It fails the
// test when the connection is refused.
func Subscribe(t testing.TB, baseURL string, header http.Header, payload map[string]any, query string) *Subscription {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(baseURL, "http")+"/graphql",
		&websocket.DialOptions{HTTPHeader: header, Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatalf("dialing the subscription: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	send := func(v any) {
		raw, _ := json.Marshal(v)
		if err := c.Write(ctx, websocket.MessageText, raw); err != nil {
			t.Fatalf("writing to the subscription: %v", err)
		}
	}
	send(map[string]any{"type": "connection_init", "payload": payload})
	_, raw, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(raw), `"connection_ack"`) {
		t.Fatalf("connection_init answered %s, %v", raw, err)
	}
	send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": query}})
	sub := &Subscription{Events: make(chan map[string]any, 100), Errs: make(chan error, 1)}
	go func() {
		for {
			_, raw, err := c.Read(ctx)
			if err != nil {
				sub.Errs <- err
				return
			}
			var m struct {
				Type    string
				Payload struct {
					Data   map[string]map[string]any
					Errors []any
				}
			}
			json.Unmarshal(raw, &m)
			switch m.Type {
			case "next":
				if m.Payload.Errors != nil {
					sub.Errs <- &json.UnsupportedValueError{Str: string(raw)}
					return
				}
				for _, v := range m.Payload.Data {
					sub.Events <- v
				}
			case "error", "complete":
				sub.Errs <- &json.UnsupportedValueError{Str: string(raw)}
				return
			}
		}
	}()
	// The server registers the subscription after it has read the
	// subscribe message; give it a moment before anything is pushed.
	time.Sleep(200 * time.Millisecond)
	return sub
}

// Next returns the next event, failing the test when the subscription
// ends or nothing comes within the given time.
func (s *Subscription) Next(t testing.TB, within time.Duration) map[string]any {
	t.Helper()
	select {
	case e := <-s.Events:
		return e
	case err := <-s.Errs:
		t.Fatalf("subscription ended: %v", err)
	case <-time.After(within):
		t.Fatalf("no event within %s", within)
	}
	return nil
}
