package graph_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/berth-registry/berth/graph/generated"
	"github.com/berth-registry/berth/internal/server/servertest"
)

// TestReadOnlyTokenOfAnAdminCanRunNoMutation runs every mutation in the
// schema (enumerated from it, so a mutation added later is covered
// without touching this test) with a read-only access token of a system
// admin, and expects FORBIDDEN from each, with nothing changed. The token
// still reads, and on /v2/ and /service/token it pulls but never pushes.
func TestReadOnlyTokenOfAnAdminCanRunNoMutation(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "ro-team", false)
		var tok struct{ CreateAccessToken struct{ Secret string } }
		s.MustDo(admin, `mutation { createAccessToken(input: {name: "ro", readOnly: true}) { secret } }`, nil, &tok)
		ro := servertest.Creds{Bearer: tok.CreateAccessToken.Secret}

		schema := generated.NewExecutableSchema(generated.Config{}).Schema()
		fields := schema.Mutation.Fields
		names := make([]string, 0, len(fields))
		for _, f := range fields {
			if !strings.HasPrefix(f.Name, "__") {
				names = append(names, f.Name)
			}
		}
		sort.Strings(names)
		if len(names) < 20 {
			t.Fatalf("only %d mutations found in the schema", len(names))
		}
		before := counts(t, s)
		for _, name := range names {
			f := fields.ForName(name)
			op := mutationFor(schema, f)
			r := s.Do(ro, op, nil)
			if r.Code() != "FORBIDDEN" {
				t.Errorf("%s with a read-only admin token: code %q (errors %+v), want FORBIDDEN\n%s", name, r.Code(), r.Errors, op)
			}
		}
		if after := counts(t, s); after != before {
			t.Fatalf("read-only mutations changed state: before %s, after %s", before, after)
		}
		// Reads still work.
		var v struct{ Viewer struct{ Username string } }
		s.MustDo(ro, `{ viewer { username } }`, nil, &v)
		if v.Viewer.Username != "admin" {
			t.Fatalf("viewer: %+v", v)
		}
		s.MustDo(ro, `{ users(first: 5) { totalCount } }`, nil, nil)

		// /v2/: pull yes, push and delete no, with Basic or a registry token.
		req, _ := http.NewRequest("POST", s.URL+"/v2/ro-team/app/blobs/uploads/", nil)
		req.SetBasicAuth("admin", tok.CreateAccessToken.Secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("push with a read-only token: %d, want 403", resp.StatusCode)
		}
		req, _ = http.NewRequest("GET", s.URL+"/service/token?service=berth&scope=repository:ro-team/app:pull,push,delete&scope=registry:catalog:*", nil)
		req.SetBasicAuth("admin", tok.CreateAccessToken.Secret)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		claims := decodeTokenAccess(t, resp)
		if got := claims["repository:ro-team/app"]; got != "pull" {
			t.Fatalf("registry token for a read-only token grants %q on the repository, want pull", got)
		}
	})
}

// counts summarises what a mutation could have changed.
func counts(t *testing.T, s *servertest.Server) string {
	t.Helper()
	var c struct {
		Users        struct{ TotalCount int }
		Projects     struct{ TotalCount int }
		Labels       struct{ TotalCount int }
		Robots       []struct{ ID string }
		OidcSettings struct{ Issuer, ProviderName string }
	}
	s.MustDo(admin, `{ users { totalCount } projects { totalCount } labels { totalCount } robots { id } oidcSettings { issuer providerName } }`, nil, &c)
	return fmt.Sprintf("%+v", c)
}

// mutationFor writes an operation calling f with made-up values for its
// required arguments and the smallest selection its type allows.
func mutationFor(schema *ast.Schema, f *ast.FieldDefinition) string {
	var args []string
	for _, a := range f.Arguments {
		if a.Type.NonNull && a.DefaultValue == nil {
			args = append(args, a.Name+": "+valueFor(schema, a.Type, 0))
		}
	}
	call := f.Name
	if len(args) > 0 {
		call += "(" + strings.Join(args, ", ") + ")"
	}
	if def := schema.Types[f.Type.Name()]; def != nil && def.Kind != ast.Scalar && def.Kind != ast.Enum {
		call += " { __typename }"
	}
	return "mutation { " + call + " }"
}

func valueFor(schema *ast.Schema, typ *ast.Type, depth int) string {
	if typ.Elem != nil {
		return "[" + valueFor(schema, typ.Elem, depth) + "]"
	}
	def := schema.Types[typ.Name()]
	switch {
	case def == nil:
		return `"x"`
	case def.Kind == ast.Enum:
		return def.EnumValues[0].Name
	case def.Kind == ast.InputObject:
		var fs []string
		for _, f := range def.Fields {
			if f.Type.NonNull && f.DefaultValue == nil && depth < 5 {
				fs = append(fs, f.Name+": "+valueFor(schema, f.Type, depth+1))
			}
		}
		return "{" + strings.Join(fs, ", ") + "}"
	}
	switch typ.Name() {
	case "Int", "Int64":
		return "1"
	case "Float":
		return "1.5"
	case "Boolean":
		return "false"
	case "ID":
		return `"1"`
	case "Time":
		return `"2030-01-01T00:00:00Z"`
	}
	return `"ro-probe"`
}

// decodeTokenAccess reads the access claim of the registry token in a
// /service/token response: "type:name" -> "action,action".
func decodeTokenAccess(t *testing.T, resp *http.Response) map[string]string {
	t.Helper()
	var body struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" {
		t.Fatalf("token response %d: %v", resp.StatusCode, err)
	}
	parts := strings.Split(body.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", body.Token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Access []struct {
			Type, Name string
			Actions    []string
		}
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, a := range claims.Access {
		out[a.Type+":"+a.Name] = strings.Join(a.Actions, ",")
	}
	return out
}
