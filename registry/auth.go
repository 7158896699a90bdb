package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/viewer"
)

type infoKey struct{}

// reqInfo is what authentication found out about a request.
type reqInfo struct {
	viewer *viewer.Viewer
	// claims is set when the caller sent a registry JWT; its access claim
	// limits the request even where the caller's role would allow more.
	claims *token.Claims
}

func requestInfo(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(infoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{viewer: viewer.FromContext(r.Context())}
}

// authenticate reads the Authorization header: Basic credentials (password
// or access token), a registry JWT, or a berth access token as Bearer.
// Without the header the request is anonymous. Bad credentials end the
// request with 401.
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	ctx := r.Context()
	info := &reqInfo{viewer: viewer.FromContext(ctx)}
	header := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(header, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case header == "":
	case strings.EqualFold(scheme, "Basic"):
		user, pass, ok := r.BasicAuth()
		if !ok {
			h.challengeError(w, r, "", "invalid Basic credentials")
			return nil, false
		}
		v, err := h.auth.Password(ctx, user, pass)
		if err != nil {
			if errors.Is(err, auth.ErrBadCredentials) {
				h.challengeError(w, r, "", "invalid username, password or token")
				return nil, false
			}
			if after := auth.RetryAfter(err); after != "" {
				w.Header().Set("Retry-After", after)
			}
			h.writeError(w, r, err)
			return nil, false
		}
		info.viewer = v
	case strings.EqualFold(scheme, "Bearer") && strings.HasPrefix(cred, auth.AccessTokenPrefix):
		v, err := h.auth.Bearer(ctx, cred)
		if err != nil {
			if errors.Is(err, auth.ErrBadCredentials) {
				h.challengeError(w, r, "", "invalid access token")
				return nil, false
			}
			h.writeError(w, r, err)
			return nil, false
		}
		info.viewer = v
	case strings.EqualFold(scheme, "Bearer"):
		c, err := h.tokens.Verify(cred)
		if err != nil {
			h.challengeError(w, r, "", "invalid or expired token: sign in again")
			return nil, false
		}
		info.viewer, info.claims = c.Viewer(), c
		ctx = auth.WithTokenScopes(ctx, func(repo string, a auth.Action) bool {
			return c.Allows("repository", repo, scopeAction(a))
		})
	default:
		h.challengeError(w, r, "", "unsupported authorization scheme")
		return nil, false
	}
	ctx = viewer.NewContext(ctx, info.viewer)
	ctx = context.WithValue(ctx, infoKey{}, info)
	return r.WithContext(ctx), true
}

// scopeAction is the Docker token action an auth.Action needs.
func scopeAction(a auth.Action) string {
	switch a {
	case auth.RepositoryPull:
		return "pull"
	case auth.RepositoryPush:
		return "push"
	default:
		return "delete"
	}
}

// scopeFor is the scope a challenge asks for to perform action on name.
func scopeFor(name string, a auth.Action) string {
	switch a {
	case auth.RepositoryPull:
		return "repository:" + name + ":pull"
	case auth.RepositoryPush:
		return "repository:" + name + ":pull,push"
	default:
		return "repository:" + name + ":delete"
	}
}

// scopeOK checks a JWT's access claim before the request goes on to the
// service (which checks the caller's role). A token that lacks the scope
// gets a 401 asking for it when the caller could have it, and the
// service's own refusal (403 with its message, 404) when not. It reports
// whether the request may go on.
func (h *handler) scopeOK(w http.ResponseWriter, r *http.Request, name string, a auth.Action, extraScopes ...string) bool {
	info := requestInfo(r)
	if info.claims == nil || info.claims.Allows("repository", name, scopeAction(a)) {
		return true
	}
	if _, err := h.art.Access(r.Context(), name, a); err != nil {
		h.art.RecordRefusal(r.Context(), a, name, err)
		h.writeError(w, r, err, withScope(scopeFor(name, a)))
		return false
	}
	h.challenge(w, r, strings.Join(append([]string{scopeFor(name, a)}, extraScopes...), " "), "insufficient_scope")
	return false
}

// realm is the token endpoint clients are sent to: under --external-url
// when it is set. Without it the Host header is used only when it names
// this machine's loopback (localhost:8080, the laptop case); any other
// Host is the caller's word, and a client sent to a realm on a host an
// attacker chose would hand its password there, so the realm is then the
// address the connection actually reached.
func (h *handler) realm(r *http.Request) string {
	if h.extURL != "" {
		return h.extURL + "/service/token"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if !loopbackHost(host) {
		if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			host = addr.String()
		}
	}
	return scheme + "://" + host + "/service/token"
}

// loopbackHost reports whether host[:port] names the loopback interface.
func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// challenge answers 401 with a Bearer challenge for scope.
func (h *handler) challenge(w http.ResponseWriter, r *http.Request, scope, tokenErr string) {
	msg := "authentication required"
	if tokenErr == "insufficient_scope" {
		msg = "the token does not grant " + scope + ": request a new one"
	}
	h.challengeError(w, r, scope, msg, tokenErr)
}

func (h *handler) challengeError(w http.ResponseWriter, r *http.Request, scope, msg string, tokenErr ...string) {
	service := token.DefaultService
	if h.tokens != nil {
		service = h.tokens.ServiceName()
	}
	c := fmt.Sprintf(`Bearer realm=%q,service=%q`, h.realm(r), service)
	if scope != "" {
		c += fmt.Sprintf(`,scope=%q`, scope)
	}
	if len(tokenErr) > 0 && tokenErr[0] != "" {
		c += fmt.Sprintf(`,error=%q`, tokenErr[0])
	}
	w.Header().Set("WWW-Authenticate", c)
	writeOCIError(w, r, http.StatusUnauthorized, "UNAUTHORIZED", msg, nil)
}
