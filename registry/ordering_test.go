package registry_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"testing"

	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
)

// TestListingsPageInByteOrderWhateverTheCollation: tags/list and _catalog
// page with n/last in byte order, with the same pages on SQLite, on
// PostgreSQL and on a PostgreSQL database with a linguistic collation
// (where "B" sorts after "a-b" and punctuation is ignored at first).
func TestListingsPageInByteOrderWhateverTheCollation(t *testing.T) {
	tags := []string{"B", "a", "A", "a-b", "ab", "a_b", "a.b", "Z", "_z", "z", "1.0", "1.0-rc1", "10", "9", "v1.2", "V1.2"}
	repos := []string{"team/a-b", "team/ab", "team/a_b", "team/a.b", "team/a/b", "team/z", "team/a", "team/a__b"}
	wantTags, wantRepos := slices.Clone(tags), slices.Clone(repos)
	sort.Strings(wantTags)
	sort.Strings(wantRepos)
	dbs := map[string]func(t *testing.T) *database.DB{
		"sqlite":             func(t *testing.T) *database.DB { return dbtest.Open(t, database.SQLite) },
		"postgres":           func(t *testing.T) *database.DB { return dbtest.Open(t, database.Postgres) },
		"postgres-icu-en-US": func(t *testing.T) *database.DB { return dbtest.OpenLinguistic(t) },
	}
	for name, open := range dbs {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, open(t))
			m, _ := e.image("admin", "team/app", "")
			for _, tag := range tags {
				expect(t, e.putManifest("admin", "team/app", tag, m, ociManifest), 201, "")
			}
			for _, r := range repos {
				m, _ := e.image("admin", r, "")
				expect(t, e.putManifest("admin", r, "v1", m, ociManifest), 201, "")
			}
			for _, n := range []int{1, 2, 3, 5} {
				if got := e.pages(t, "/v2/team/app/tags/list", "tags", n); !slices.Equal(got, wantTags) {
					t.Errorf("tags in pages of %d: %q, want %q", n, got, wantTags)
				}
				want := append([]string{"team/app"}, wantRepos...)
				sort.Strings(want)
				if got := e.pages(t, "/v2/_catalog", "repositories", n); !slices.Equal(got, want) {
					t.Errorf("catalog in pages of %d: %q, want %q", n, got, want)
				}
			}
		})
	}
}

// pages walks a listing n at a time with last, as clients do.
func (e *env) pages(t *testing.T, path, field string, n int) []string {
	t.Helper()
	var all []string
	last := ""
	for range 100 {
		q := url.Values{"n": {fmt.Sprint(n)}}
		if last != "" {
			q.Set("last", last)
		}
		b := expect(t, e.do(req{method: "GET", path: path + "?" + q.Encode(), user: "admin"}), 200, "")
		var page map[string]any
		json.Unmarshal(b, &page)
		items, _ := page[field].([]any)
		if len(items) == 0 {
			return all
		}
		for _, it := range items {
			all = append(all, it.(string))
		}
		last = all[len(all)-1]
	}
	t.Fatalf("%s never ended", path)
	return nil
}
