package graph

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/viewer"
)

// closeForbidden is the graphql-transport-ws close code for a refused
// connection_init.
const closeForbidden = 4403

// websocketTransport is the websocket transport of /graphql (subscriptions,
// and any operation a graphql-transport-ws client sends).
//
// A browser sends its cookies with a websocket handshake whatever page
// opened it, and the handshake cannot carry the X-Berth-CSRF header, so a
// connection authenticated by the portal's session cookie alone would let
// any page a signed-in user visits run mutations as them. So when the
// upgrade request was authenticated by the session cookie, the
// connection_init payload must carry the session's CSRF token
// ({"csrfToken": "..."} or {"X-Berth-CSRF": "..."}) and the Origin must be
// berth's own (its external URL's host, or the Host the request came to).
// Scripts authenticate with {"Authorization": "Bearer <access token>"} in
// the payload, or with an Authorization header on the upgrade request.
func websocketTransport(r *Resolver, ws transport.Websocket) graphql.Transport {
	var origins []string
	if r.Info.RegistryHost != "" {
		origins = []string{r.Info.RegistryHost}
	}
	ws.Implementation = transport.CoderWebsocketImplementation{
		AcceptOptions: coderws.AcceptOptions{OriginPatterns: origins},
	}
	ws.InitFunc = func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		return r.websocketInit(ctx, p)
	}
	return upgradeRecorder{ws}
}

// upgrade is what the init function needs to know of the upgrade request.
type upgrade struct {
	origin, host string
	// session is the session cookie when it authenticated the request.
	session string
}

type upgradeKey struct{}

// upgradeRecorder puts the upgrade request's facts on the context, which
// is all gqlgen hands to the init function.
type upgradeRecorder struct{ transport.Websocket }

func (t upgradeRecorder) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	up := upgrade{origin: r.Header.Get("Origin"), host: r.Host}
	// auth.Middleware reads the Authorization header first and the cookie
	// only without one: the same order decides who authenticated here.
	if r.Header.Get("Authorization") == "" {
		if c, err := r.Cookie(auth.SessionCookie); err == nil {
			up.session = c.Value
		}
	}
	t.Websocket.Do(w, r.WithContext(context.WithValue(r.Context(), upgradeKey{}, up)), exec)
}

func (r *Resolver) websocketInit(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	refuse := func(msg string) (context.Context, *transport.InitPayload, error) {
		return transport.WithWebsocketCloseCode(ctx, closeForbidden), nil, errors.New(msg)
	}
	if authz := p.Authorization(); authz != "" {
		secret, ok := strings.CutPrefix(authz, "Bearer ")
		if !ok {
			return refuse(`the connection_init Authorization must be "Bearer <access token>"`)
		}
		v, err := r.Auth.Bearer(ctx, strings.TrimSpace(secret))
		if err != nil {
			if !errors.Is(err, errdefs.ErrUnauthenticated) && !errors.Is(err, errdefs.ErrDenied) && !errors.Is(err, errdefs.ErrTooManyRequests) {
				err = errors.New("could not check credentials")
			}
			return refuse(err.Error())
		}
		return viewer.NewContext(ctx, v), nil, nil
	}
	up, _ := ctx.Value(upgradeKey{}).(upgrade)
	if up.session == "" {
		return ctx, nil, nil
	}
	if !r.ownOrigin(up) {
		return refuse("a websocket signed in with the portal's session cookie must come from berth's own pages")
	}
	_, csrf, err := r.Auth.Session(ctx, up.session)
	if err != nil {
		return refuse("session expired or signed out")
	}
	token := p.GetString("csrfToken")
	if token == "" {
		token = p.GetString(auth.CSRFHeader)
	}
	if !auth.CSRFMatches(token, csrf) {
		return refuse(`a websocket signed in with the portal's session cookie needs its CSRF token in the connection_init payload ({"csrfToken": "..."})`)
	}
	return ctx, nil, nil
}

// ownOrigin reports whether the upgrade came from a page of berth: its
// Origin's host is the external URL's or the one the request was sent to.
func (r *Resolver) ownOrigin(up upgrade) bool {
	u, err := url.Parse(up.origin)
	if up.origin == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, up.host) || (r.Info.RegistryHost != "" && strings.EqualFold(u.Host, r.Info.RegistryHost))
}
