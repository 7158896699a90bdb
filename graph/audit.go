package graph

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/99designs/gqlgen/graphql"

	"github.com/berth-registry/berth/internal/audit"
)

// auditMutations records every mutation in the audit log: its name, the
// resource its arguments name, the project, and whether it succeeded.
// Only well-known argument names are read, so no secret ends up there.
func auditMutations(rec *audit.Recorder) graphql.FieldMiddleware {
	return func(ctx context.Context, next graphql.Resolver) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		if fc == nil || fc.Object != "Mutation" || rec == nil {
			return next(ctx)
		}
		res, err := next(ctx)
		e := describeMutation(fc.Field.Name, fc.Args)
		e.Result = audit.Success
		if err != nil {
			e.Result, e.Detail = audit.Failure, err.Error()
		}
		rec.Record(ctx, e)
		return res, err
	}
}

// describeMutation derives the audited resource from a mutation's name and arguments.
func describeMutation(name string, args map[string]any) audit.Entry {
	e := audit.Entry{Operation: name, ResourceType: resourceType(name)}
	get := func(key string) string {
		if v, ok := args[key]; ok && v != nil {
			return deepString(v)
		}
		if in, ok := args["input"]; ok {
			if v := field(in, key); v != "" {
				return v
			}
		}
		return ""
	}
	switch {
	case get("repository") != "":
		repo := get("repository")
		e.Resource = repo
		if ref := get("reference"); ref != "" {
			e.Resource = joinRef(repo, ref)
		}
		if tag := get("name"); tag != "" && strings.Contains(name, "Tag") {
			e.Resource = repo + ":" + tag
		}
		e.Project, _, _ = strings.Cut(repo, "/")
	case e.ResourceType == "project":
		e.Resource, e.Project = get("name"), get("name")
	case e.ResourceType == "repository":
		e.Resource = get("name")
		e.Project, _, _ = strings.Cut(e.Resource, "/")
	default:
		e.Project = get("project")
		for _, key := range []string{"username", "group", "name", "id"} {
			if v := get(key); v != "" {
				e.Resource = v
				break
			}
		}
	}
	return e
}

func joinRef(repo, ref string) string {
	if strings.Contains(ref, ":") {
		return repo + "@" + ref
	}
	return repo + ":" + ref
}

// resourceType turns createProject into "project", addProjectMember into "project-member".
func resourceType(mutation string) string {
	rest := strings.TrimLeftFunc(mutation, unicode.IsLower)
	var b strings.Builder
	for i, r := range rest {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// field reads a named field of a gqlgen input value (a map or a struct pointer).
func field(v any, key string) string {
	if m, ok := v.(map[string]any); ok {
		if x, ok := m[key]; ok && x != nil {
			return deepString(x)
		}
		return ""
	}
	return structField(v, key)
}

func deepString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case *string:
		if x == nil {
			return ""
		}
		return *x
	case int, int64:
		return fmt.Sprint(x)
	case *int:
		if x == nil {
			return ""
		}
		return fmt.Sprint(*x)
	}
	return ""
}
