package graph

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"

	"github.com/berth-registry/berth/graph/generated"
	"github.com/berth-registry/berth/test/portaldocs"
)

// portalDocuments returns the GraphQL documents of the portal.
func portalDocuments(t *testing.T) []string {
	t.Helper()
	docs, err := portaldocs.All()
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

// TestPortalDocumentsFitTheLimits runs every operation of the portal,
// with its largest page (first: 100), through the limits of NewHandler:
// a weight or a cap that would refuse one of the portal's pages fails here
// rather than in a browser.
func TestPortalDocumentsFitTheLimits(t *testing.T) {
	es := generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{}, Complexity: complexityFuncs()})
	for _, doc := range portalDocuments(t) {
		q, errs := gqlparser.LoadQuery(es.Schema(), doc)
		if errs != nil {
			t.Fatalf("portal document no longer validates: %v\n%s", errs, doc)
		}
		for _, op := range q.Operations {
			vars := map[string]any{}
			for _, v := range op.VariableDefinitions {
				if v.Variable == "first" {
					vars["first"] = int64(maxPageSize)
				}
			}
			oc := &graphql.OperationContext{Doc: q, Operation: op, OperationName: op.Name, Variables: vars}
			ctx := context.Background()
			for _, ext := range []graphql.OperationContextMutator{depthLimit{max: MaxDepth}, pageLimit{}, readFieldLimit{max: MaxReadFields}} {
				if err := ext.MutateOperationContext(ctx, oc); err != nil {
					t.Errorf("%s: %v", op.Name, err)
				}
			}
			if c := complexity.Calculate(ctx, es, op, vars); c > MaxComplexity {
				t.Errorf("%s: complexity %d over %d", op.Name, c, MaxComplexity)
			} else {
				t.Logf("%s: complexity %d", op.Name, c)
			}
		}
	}
}
