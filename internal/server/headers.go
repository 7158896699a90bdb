package server

import (
	"fmt"
	"net/http"
	"strings"
)

// contentSecurityPolicy is the policy of every response. The portal is
// Vite's build: same-origin module scripts and no inline script; Mantine
// injects <style> elements and style attributes, hence 'unsafe-inline' for
// styles only; its icons and checkmarks are data: images.
//
// GraphiQL (GET /graphql with Accept: text/html) gets the same policy: its
// JavaScript and CSS must be served by berth itself ('self'), with no
// inline script and no CDN. Websockets (subscriptions) go back to the same
// host; CSP Level 3 browsers read 'self' as allowing that, older ones need
// the ws:// and wss:// sources added per request.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'%s; object-src 'none'; " +
	"frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

// securityHeaders sets the browser hardening headers on every response,
// before the handler runs (a handler may still replace them): the CSP
// above, no framing (clickjacking), no MIME sniffing, no Referer leaving
// berth. They are harmless for API clients, which ignore them.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", fmt.Sprintf(contentSecurityPolicy, sameHostWebsocket(r.Host)))
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// sameHostWebsocket returns " ws://host wss://host" for the request's
// host, or "" when the Host header holds anything but a plain host[:port]
// (it is copied into a header, so it must not be able to add directives).
func sameHostWebsocket(host string) string {
	if host == "" || len(host) > 255 {
		return ""
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return ""
		}
	}
	return " ws://" + host + " wss://" + host
}
