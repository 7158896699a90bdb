package security_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Probes of /graphql: a read-only token against every mutation in the
// schema (hole 2), aliases of expensive fields on a 4 MB manifest and a
// 200 MB body (hole 3).

// typeRef is an introspected type reference, unwrapped four levels deep.
type typeRef struct {
	Kind   string   `json:"kind"`
	Name   string   `json:"name"`
	OfType *typeRef `json:"ofType"`
}

// named is the named type under NON_NULL and LIST wrappers.
func (r *typeRef) named() *typeRef {
	for r != nil && r.OfType != nil && (r.Kind == "NON_NULL" || r.Kind == "LIST") {
		r = r.OfType
	}
	return r
}

type inputValue struct {
	Name         string  `json:"name"`
	Type         typeRef `json:"type"`
	DefaultValue *string `json:"defaultValue"`
}

type schemaType struct {
	Name        string       `json:"name"`
	Kind        string       `json:"kind"`
	InputFields []inputValue `json:"inputFields"`
	EnumValues  []struct {
		Name string `json:"name"`
	} `json:"enumValues"`
}

type mutationField struct {
	Name string       `json:"name"`
	Args []inputValue `json:"args"`
	Type typeRef      `json:"type"`
}

const introspectMutations = `query {
  __schema {
    mutationType { fields { name args { name defaultValue type { ...T } } type { ...T } } }
    types { name kind inputFields { name defaultValue type { ...T } } enumValues { name } }
  }
}
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }`

// literal makes up a GraphQL literal of type r: the first enum value,
// input objects with their required fields, "x", 1, false, "1" for IDs.
func literal(r *typeRef, types map[string]schemaType, depth int) string {
	switch r.Kind {
	case "NON_NULL":
		return literal(r.OfType, types, depth)
	case "LIST":
		return "[" + literal(r.OfType, types, depth) + "]"
	}
	t := types[r.Name]
	switch t.Kind {
	case "ENUM":
		if len(t.EnumValues) > 0 {
			return t.EnumValues[0].Name
		}
	case "INPUT_OBJECT":
		var fields []string
		for _, f := range t.InputFields {
			if f.Type.Kind == "NON_NULL" && f.DefaultValue == nil && depth < 6 {
				fields = append(fields, f.Name+": "+literal(&f.Type, types, depth+1))
			}
		}
		return "{" + strings.Join(fields, ", ") + "}"
	}
	switch r.Name {
	case "Int", "Int64", "Uint64":
		return "1"
	case "Float":
		return "1.5"
	case "Boolean":
		return "false"
	case "ID":
		return `"1"`
	case "Time":
		return `"2030-01-01T00:00:00Z"`
	case "Map":
		return "{}"
	}
	return `"x"`
}

// testReadOnlyTokenChangesNothing: a read-only token of a system admin
// calls every mutation the schema has and each is FORBIDDEN; on /v2/ it
// cannot start an upload, and /service/token grants it pull only.
func testReadOnlyTokenChangesNothing(t *testing.T, f *fixture) {
	_, secret := f.accessToken(t, f.admin, "read-only-matrix", true)
	ro := f.srv.bearer(secret)

	var schema struct {
		Schema struct {
			MutationType struct{ Fields []mutationField }
			Types        []schemaType
		} `json:"__schema"`
	}
	f.main.mustGQL(t, ro, introspectMutations, nil, &schema)
	types := map[string]schemaType{}
	for _, ty := range schema.Schema.Types {
		types[ty.Name] = ty
	}
	mutations := schema.Schema.MutationType.Fields
	if len(mutations) < 20 {
		t.Fatalf("introspection found only %d mutations", len(mutations))
	}
	t.Logf("calling %d mutations with a read-only admin token", len(mutations))
	var allowed []string
	for _, m := range mutations {
		var args []string
		for _, a := range m.Args {
			if a.Type.Kind == "NON_NULL" && a.DefaultValue == nil {
				args = append(args, a.Name+": "+literal(&a.Type, types, 0))
			}
		}
		call := m.Name
		if len(args) > 0 {
			call += "(" + strings.Join(args, ", ") + ")"
		}
		switch types[m.Type.named().Name].Kind {
		case "OBJECT", "INTERFACE", "UNION":
			call += " { __typename }"
		}
		q := "mutation { " + call + " }"
		g := f.main.gql(t, ro, q, nil)
		if g.firstCode() != "FORBIDDEN" {
			allowed = append(allowed, m.Name)
			t.Errorf("read-only token: %s answered %s; want extensions.code FORBIDDEN", q, g)
		}
	}
	if len(allowed) > 0 {
		t.Logf("mutations not refused as FORBIDDEN: %s", strings.Join(allowed, ", "))
	}

	t.Run("CannotStartBlobUploadOnV2", func(t *testing.T) {
		cred := f.srv.basic(adminUser, secret)
		r := f.main.do(t, request{method: http.MethodPost, path: "/v2/p/x/blobs/uploads/", cred: cred})
		if r.Status != http.StatusForbidden {
			t.Errorf("POST /v2/p/x/blobs/uploads/ with Basic admin:<read-only token> got %s; want 403", r)
		}
	})
	t.Run("ServiceTokenGrantsPullOnly", func(t *testing.T) {
		scope := "repository:p/x:pull,push,delete"
		check := func(how string, r *response, ans tokenAnswer) {
			if r.Status != http.StatusOK || ans.Token == "" {
				t.Errorf("%s: /service/token got %s; want 200 with a token", how, r)
				return
			}
			access := jwtAccess(t, ans.Token)
			if len(access) != 1 || access[0].Name != "p/x" || !slices.Equal(access[0].Actions, []string{"pull"}) {
				t.Errorf("%s: a read-only token was granted %+v for %s; want pull only", how, access, scope)
			}
		}
		cred := f.srv.basic(adminUser, secret)
		r := f.main.do(t, request{method: http.MethodGet, path: "/service/token?service=berth&scope=" + url.QueryEscape(scope), cred: cred})
		var ans tokenAnswer
		json.Unmarshal(r.Body, &ans)
		f.srv.secrets.add(ans.Token, ans.AccessToken)
		check("GET with Basic", r, ans)
		r, ans = f.main.serviceToken(t, url.Values{"grant_type": {"password"}, "username": {adminUser},
			"password": {secret}, "service": {"berth"}, "scope": {scope}})
		check("POST grant_type=password", r, ans)
	})
}

// testAliasBombIsBounded: anonymous callers ask for 150 (and 10) aliases
// of an expensive field of a ~4 MB manifest in a public project; the
// answer (refusal or data) comes within 5 s and costs the server < 150 MB.
func testAliasBombIsBounded(t *testing.T, f *fixture) {
	// Annotations of ~4 MB, under the 4 MiB manifest cap.
	bomb := map[string]string{"org.example.padding": strings.Repeat("berth-alias-bomb ", 4_000_000/17)}
	f.pushImage(t, f.admin, "pub/bomb", "v1", randomBytes(1024), bomb)
	// 150 aliases is the review's bomb; 10 is as many as an operation may
	// name, which the response cap must still bound.
	type bombCase struct {
		aliases int
		field   string
	}
	var cases []bombCase
	for _, field := range []string{"manifest", "layers { digest size }", "config { env }", "annotations"} {
		cases = append(cases, bombCase{150, field})
	}
	cases = append(cases, bombCase{10, "manifest"}, bombCase{10, "annotations"})
	for _, c := range cases {
		field := c.field
		name := strings.Fields(field)[0]
		t.Run(fmt.Sprintf("%dAliasesOf%s%s", c.aliases, strings.ToUpper(name[:1]), name[1:]), func(t *testing.T) {
			var q strings.Builder
			q.WriteString("query {")
			for i := range c.aliases {
				fmt.Fprintf(&q, ` a%d: artifact(repository: "pub/bomb", reference: "v1") { %s }`, i, field)
			}
			q.WriteString(" }")
			body, _ := json.Marshal(map[string]string{"query": q.String()})
			watch := f.srv.watchRSS(t)
			var r *response
			var err error
			elapsed := within(func() {
				r, err = f.main.send(request{method: http.MethodPost, path: "/graphql", body: bytes.NewReader(body),
					contentType: "application/json", timeout: 30 * time.Second})
			})
			before, peak := watch()
			if err != nil {
				t.Errorf("the alias bomb got no answer in %s: %v (RSS %s -> peak %s)", elapsed.Round(time.Millisecond), err, mb(before), mb(peak))
				return
			}
			g := &gqlResponse{HTTP: r}
			json.Unmarshal(r.Body, g)
			t.Logf("%d aliases of %s: HTTP %d, %d response bytes, first error %q, %s, RSS %s -> peak %s",
				c.aliases, field, r.Status, len(r.Body), g.firstCode(), elapsed.Round(time.Millisecond), mb(before), mb(peak))
			if elapsed > 5*time.Second {
				t.Errorf("the alias bomb took %s; want under 5s", elapsed)
			}
			if peak-before > 150<<20 {
				t.Errorf("the alias bomb grew the server's RSS by %s; want under 150 MB", mb(peak-before))
			}
		})
	}
}

// bodyReader yields n bytes of a JSON string's content without holding
// them.
type bodyReader struct{ n int64 }

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	for i := range p {
		p[i] = 'a'
	}
	b.n -= int64(len(p))
	return len(p), nil
}

// testBigGraphQLBodyIs413: a 200 MB POST to /graphql is refused with 413
// quickly, without the server holding it.
func testBigGraphQLBodyIs413(t *testing.T, f *fixture) {
	const size = 200 << 20
	head, tail := `{"query":"`, `"}`
	body := io.MultiReader(strings.NewReader(head), &bodyReader{n: size}, strings.NewReader(tail))
	watch := f.srv.watchRSS(t)
	var r *response
	var err error
	elapsed := within(func() {
		r, err = f.main.send(request{method: http.MethodPost, path: "/graphql", body: body,
			contentType: "application/json", contentLength: int64(len(head) + size + len(tail)), timeout: 30 * time.Second})
	})
	before, peak := watch()
	if err != nil {
		t.Fatalf("POST of a 200 MB body: %v (after %s)", err, elapsed)
	}
	t.Logf("200 MB body: %s in %s, RSS %s -> peak %s", r, elapsed.Round(time.Millisecond), mb(before), mb(peak))
	if r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 200 MB body got %s; want 413", r)
	}
	if elapsed > 5*time.Second {
		t.Errorf("refusing a 200 MB body took %s; want under 5s", elapsed)
	}
	if peak-before > 64<<20 {
		t.Errorf("a 200 MB body grew the server's RSS by %s; want under 64 MB", mb(peak-before))
	}
}
