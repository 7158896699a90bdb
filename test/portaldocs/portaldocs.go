// Package portaldocs reads the GraphQL documents the portal sends, as
// graphql-codegen lists them in portal/src/gql/gql.ts, so that tests and
// benchmarks ask exactly what the portal asks.
package portaldocs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
)

// All returns every document of the portal.
func All() ([]string, error) {
	_, file, _, _ := runtime.Caller(0)
	src, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "portal", "src", "gql", "gql.ts"))
	if err != nil {
		return nil, err
	}
	var docs []string
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		switch {
		case strings.HasPrefix(line, "type Documents = {"):
			in = true
		case in && strings.HasPrefix(line, "};"):
			in = false
		case in && strings.HasPrefix(line, `    "`):
			key := strings.TrimSpace(line)
			key = key[:strings.LastIndex(key, `": typeof`)+1]
			var doc string
			if err := json.Unmarshal([]byte(key), &doc); err != nil {
				return nil, fmt.Errorf("decoding %.80s: %w", key, err)
			}
			docs = append(docs, doc)
		}
	}
	if len(docs) < 10 {
		return nil, fmt.Errorf("found only %d portal documents", len(docs))
	}
	return docs, nil
}

var opName = regexp.MustCompile(`^\s*(?:query|mutation|subscription)\s+(\w+)`)

// Named returns the document whose operation is called name.
func Named(name string) (string, error) {
	docs, err := All()
	if err != nil {
		return "", err
	}
	for _, d := range docs {
		if m := opName.FindStringSubmatch(d); m != nil && m[1] == name {
			return d, nil
		}
	}
	return "", fmt.Errorf("the portal has no operation %q", name)
}
