package graph_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/server/servertest"
)

// TestDatabaseErrorsNeverReachCallers drives the database into errors of
// its own (too many bind parameters; on PostgreSQL, a NUL byte in text)
// and checks that the caller sees "internal error" with a code, never the
// driver's text. gqlgen wraps every resolver error in a *gqlerror.Error,
// which presentError once took for an input error and showed verbatim.
func TestDatabaseErrorsNeverReachCallers(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		ids := make([]string, 70000) // over SQLite's 32766 and PostgreSQL's 65535 parameters
		for i := range ids {
			ids[i] = fmt.Sprint(i + 1)
		}
		cases := map[string]string{
			"too many parameters": `{ projects(first: 1, where: {idIn: [` + strings.Join(ids, ",") + `]}) { totalCount } }`,
			"NUL in text":         `mutation { createLabel(input: {name: "nul", description: "a\u0000b"}) { id } }`,
		}
		for name, q := range cases {
			r := s.Do(admin, q, nil)
			for _, e := range r.Errors {
				low := strings.ToLower(e.Message)
				for _, leak := range []string{"sqlite", "sql", "constraint failed", "pq:", "error:", "sqlstate", "pgx", "parameter", "variables"} {
					if strings.Contains(low, leak) {
						t.Errorf("%s: the caller reads %q", name, e.Message)
					}
				}
				if e.Extensions["code"] == nil {
					t.Errorf("%s: error without a code: %+v", name, e)
				}
			}
			if name == "too many parameters" && r.Code() != "INTERNAL" {
				t.Errorf("%s: want INTERNAL, got %q %+v", name, r.Code(), r.Errors)
			}
		}
		// Input errors gqlgen finds while decoding arguments keep their
		// message, and classified errors theirs.
		if r := s.Do(admin, `{ node(id: "not-a-number") { id } }`, nil); r.Code() != "BAD_USER_INPUT" || r.Errors[0].Message == "internal error" {
			t.Errorf("bad ID: %+v", r.Errors)
		}
		s.CreateProject(admin, "taken", false)
		if r := s.Do(admin, `mutation { createProject(input: {name: "taken"}) { id } }`, nil); r.Code() != "CONFLICT" || !strings.Contains(r.Errors[0].Message, "taken") {
			t.Errorf("duplicate project: %+v", r.Errors)
		}
	})
}
