package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Limits that keep one query from exhausting the server. The README's API
// section documents them.
const (
	// MaxDepth is how deeply selections may nest.
	MaxDepth = 12
	// MaxComplexity bounds gqlgen's complexity score of an operation: each
	// field counts 1, a field that reads an artifact's bytes readCost, and
	// a connection's children count once per item requested with
	// first/last (see complexity.go).
	MaxComplexity = 5000
	// MaxReadFields bounds how many times an operation may name a field of
	// readFields, counting aliases and every spread of a fragment: the
	// portal's artifact page names seven.
	MaxReadFields = 10
	// MaxRequestBytes bounds the body of a POST and the query string of a
	// GET to /graphql.
	MaxRequestBytes = 1 << 20
	// maxPageSize is the largest first/last a list accepts; defaultPageSize
	// applies when neither is given.
	maxPageSize     = 100
	defaultPageSize = 20
)

// pageArgs checks first/last and defaults first when neither is set, so no
// list ever returns unbounded rows.
func pageArgs(first, last *int) (*int, error) {
	for _, n := range []*int{first, last} {
		if n != nil && (*n < 0 || *n > maxPageSize) {
			return nil, badInput("first and last must be between 0 and %d", maxPageSize)
		}
	}
	if first == nil && last == nil {
		n := defaultPageSize
		return &n, nil
	}
	return first, nil
}

// depthLimit refuses operations nested deeper than max.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, oc.Doc.Fragments, 0); depth > d.max {
		return &gqlerror.Error{
			Message:    "query is nested too deeply",
			Extensions: map[string]any{"code": "QUERY_TOO_DEEP", "depth": depth, "max": d.max},
		}
	}
	return nil
}

func selectionDepth(set ast.SelectionSet, frags ast.FragmentDefinitionList, seen int) int {
	if seen > 64 { // fragment cycles are rejected by validation; stay safe anyway
		return seen
	}
	max := seen
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				// Introspection follows ofType as deep as types wrap, past
				// any sensible depth; gqlparser's validation bounds it
				// instead ("Maximum introspection depth exceeded": at most
				// three nested fields/interfaces/possibleTypes lists).
				continue
			}
			if len(s.SelectionSet) == 0 {
				d = seen + 1
			} else {
				d = selectionDepth(s.SelectionSet, frags, seen+1)
			}
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, frags, seen)
		case *ast.FragmentSpread:
			if f := frags.ForName(s.Name); f != nil {
				d = selectionDepth(f.SelectionSet, frags, seen)
			}
		}
		if d > max {
			max = d
		}
	}
	return max
}

// readFieldLimit refuses operations that name more than max fields of
// readFields. The complexity limit already prices them; this is the plain
// rule a caller can read in an error: aliases of an expensive field do not
// multiply what one request may read.
type readFieldLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = readFieldLimit{}

func (readFieldLimit) ExtensionName() string                   { return "ReadFieldLimit" }
func (readFieldLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (l readFieldLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	n := 0
	walkFields(oc.Operation.SelectionSet, 0, func(f *ast.Field) {
		if f.ObjectDefinition != nil && readFields[f.ObjectDefinition.Name+"."+f.Name] {
			n++
		}
	})
	if n > l.max {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("operation asks for %d fields that read manifests, configs or annotations (manifest, layers, config, children, chart, annotations, referrers, pullCommand); at most %d are allowed, aliases and fragments included", n, l.max),
			Extensions: map[string]any{"code": CodeTooManyReadFields, "count": n, "max": l.max},
		}
	}
	return nil
}

// pageLimit checks first and last of every connection before anything
// runs: at most maxPageSize. A connection below the top level that lists
// edges must say how many: ent loads such edges for all parents at once,
// before any resolver could apply a default, so without first or last it
// would load every row.
type pageLimit struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = pageLimit{}

func (pageLimit) ExtensionName() string                   { return "PageLimit" }
func (pageLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (pageLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	var bad *gqlerror.Error
	walkFields(oc.Operation.SelectionSet, 0, func(f *ast.Field) {
		if bad != nil || f.Definition == nil || f.Definition.Arguments.ForName("first") == nil {
			return
		}
		args := f.ArgumentMap(oc.Variables)
		given := false
		for _, name := range []string{"first", "last"} {
			n, ok := intArg(args[name])
			if !ok {
				continue
			}
			given = true
			if n < 0 || n > maxPageSize {
				bad = &gqlerror.Error{
					Message:    fmt.Sprintf("%s.%s: %s must be between 0 and %d", f.ObjectDefinition.Name, f.Name, name, maxPageSize),
					Extensions: map[string]any{"code": CodeBadUserInput},
				}
				return
			}
		}
		if !given && f.ObjectDefinition.Name != "Query" && listsEdges(f) {
			bad = &gqlerror.Error{
				Message:    fmt.Sprintf("%s.%s: give first or last (at most %d) to list its edges", f.ObjectDefinition.Name, f.Name, maxPageSize),
				Extensions: map[string]any{"code": CodeBadUserInput},
			}
		}
	})
	return bad
}

// listsEdges reports whether a connection field selects its edges (not
// only totalCount or pageInfo).
func listsEdges(f *ast.Field) bool {
	var shallow func(set ast.SelectionSet, depth int) bool
	shallow = func(set ast.SelectionSet, depth int) bool {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if s.Name == "edges" {
					return true
				}
			case *ast.InlineFragment:
				if depth < 64 && shallow(s.SelectionSet, depth+1) {
					return true
				}
			case *ast.FragmentSpread:
				if s.Definition != nil && depth < 64 && shallow(s.Definition.SelectionSet, depth+1) {
					return true
				}
			}
		}
		return false
	}
	return shallow(f.SelectionSet, 0)
}

func intArg(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case float64:
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// walkFields calls fn for every field of set and its children, expanding
// fragments every time they are spread.
func walkFields(set ast.SelectionSet, depth int, fn func(*ast.Field)) {
	if depth > 64 { // fragment cycles are rejected by validation; stay safe anyway
		return
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			fn(s)
			walkFields(s.SelectionSet, depth+1, fn)
		case *ast.InlineFragment:
			walkFields(s.SelectionSet, depth+1, fn)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				walkFields(s.Definition.SelectionSet, depth+1, fn)
			}
		}
	}
}

// limitRequestSize refuses, with 413 (414 for a GET's query string) and a
// GraphQL error body, requests larger than MaxRequestBytes, before gqlgen
// reads them: it would otherwise read any body whole into memory. The
// server's header limit (http.Server.MaxHeaderBytes, 1 MiB by default)
// bounds a query string already; this says so in GraphQL's terms.
func limitRequestSize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.RawQuery) > MaxRequestBytes {
			requestTooLarge(w, http.StatusRequestURITooLong, "the query string")
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			if r.ContentLength > MaxRequestBytes {
				requestTooLarge(w, http.StatusRequestEntityTooLarge, "the request body")
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
			if errors.As(err, new(*http.MaxBytesError)) {
				requestTooLarge(w, http.StatusRequestEntityTooLarge, "the request body")
				return
			}
			if err != nil {
				return // the client went away
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

func requestTooLarge(w http.ResponseWriter, status int, what string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close") // do not read the rest of a huge body
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{
		"message":    fmt.Sprintf("%s is larger than %d KiB", what, MaxRequestBytes>>10),
		"extensions": map[string]any{"code": CodeRequestTooLarge},
	}}})
}
