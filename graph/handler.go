package graph

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/berth-registry/berth/graph/generated"
	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/portal"
)

// NewHandler returns the /graphql endpoint: POST and GET for operations,
// and GraphiQL for a browser asking for HTML. The extensions (tracing)
// come first, around everything else.
func NewHandler(r *Resolver, log *slog.Logger, extensions ...graphql.HandlerExtension) http.Handler {
	srv := handler.New(generated.NewExecutableSchema(generated.Config{Resolvers: r, Complexity: complexityFuncs()}))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.AddTransport(websocketTransport(r, transport.Websocket{KeepAlivePingInterval: 10 * time.Second}))
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	for _, e := range extensions {
		srv.Use(e)
	}
	srv.Use(extension.Introspection{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	// The cheap, specific refusals first: depth and page sizes, then the
	// complexity score, then the count of fields that read artifact bytes.
	srv.Use(depthLimit{max: MaxDepth})
	srv.Use(pageLimit{})
	srv.Use(extension.FixedComplexityLimit(MaxComplexity))
	srv.Use(readFieldLimit{max: MaxReadFields})
	// Every response (every event of a subscription) reads manifests and
	// configs through its own cache and budget.
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		ctx = artifacts.WithReads(ctx, artifacts.NewReads(artifacts.DefaultReadLimits))
		if r.Retention != nil {
			// Tag.immutable reads each project's rules once per response.
			ctx = context.WithValue(ctx, immutableRulesKey{}, r.Retention.NewImmutableRules())
		}
		return next(ctx)
	})
	srv.AroundFields(markResolverErrors)
	srv.AroundFields(auditMutations(r.Audit))
	srv.AroundFields(refuseReadOnlyMutations)
	srv.SetErrorPresenter(presentError(log))
	srv.SetRecoverFunc(recoverPanic(log))

	// GraphiQL is built with the portal and embedded with it: no CDN.
	graphiql := portal.GraphiQL()
	limited := limitRequestSize(srv)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet && req.URL.RawQuery == "" && strings.Contains(req.Header.Get("Accept"), "text/html") {
			graphiql.ServeHTTP(w, req)
			return
		}
		limited.ServeHTTP(w, req)
	})
}
