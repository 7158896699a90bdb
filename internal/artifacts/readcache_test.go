package artifacts_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/artifacts"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/viewer"
)

// TestCachedManifestsFollowChanges: a manifest served from the cache
// follows a tag moved or deleted by the same process at once, and by
// another process (a second replica on the same database) within a
// second; the cache never decides who may read.
func TestCachedManifestsFollowChanges(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			db := dbtest.Open(t, kind)
			f := newFixture(t, db)
			other := artifacts.New(artifacts.Options{Client: db.Client, Blobs: f.s.Blobs, Auth: f.s.Auth})
			t.Cleanup(func() { other.Close() })
			get := func(s *artifacts.Service, ctx context.Context) (string, error) {
				a, err := s.GetManifest(ctx, "team/app", "v1", true)
				if err != nil {
					return "", err
				}
				return a.Digest, nil
			}
			first := f.image(f.admin, "team/app", "v1", "amd64").Digest.String()
			for _, s := range []*artifacts.Service{f.s.Artifacts, other} {
				for range 2 { // the second from the cache
					if d, err := get(s, f.dev); err != nil || d != first {
						t.Fatalf("v1 = %s, %v; want %s", d, err, first)
					}
				}
			}
			outsider := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.User, UserID: 999999, Username: "outsider"})
			if _, err := get(f.s.Artifacts, outsider); err == nil {
				t.Fatal("an outsider read a cached manifest of a private project")
			}

			moved := f.image(f.admin, "team/app", "v1", "arm64").Digest.String()
			if d, err := get(f.s.Artifacts, f.dev); err != nil || d != moved {
				t.Fatalf("right after the tag moved, the same process serves %s, %v; want %s", d, err, moved)
			}
			start := time.Now()
			for {
				d, err := get(other, f.dev)
				if err == nil && d == moved {
					break
				}
				if time.Since(start) > 1500*time.Millisecond {
					t.Fatalf("another process still serves %s, %v after %v", d, err, time.Since(start))
				}
				time.Sleep(50 * time.Millisecond)
			}

			if err := f.s.Artifacts.DeleteManifest(f.admin, "team/app", "v1"); err != nil {
				t.Fatal(err)
			}
			if _, err := get(f.s.Artifacts, f.dev); !errors.Is(err, artifacts.ErrManifestUnknown) {
				t.Fatalf("right after the tag was deleted: %v, want MANIFEST_UNKNOWN", err)
			}
		})
	}
}

// TestRegistryTokenScopesDecideWithoutTheMembership: a verified registry
// token's scopes grant what they name (the token service checked the role
// when it issued them); for anything else the role decides.
func TestRegistryTokenScopesDecideWithoutTheMembership(t *testing.T) {
	db := dbtest.Open(t, "sqlite")
	f := newFixture(t, db)
	f.image(f.admin, "team/app", "v1", "amd64")
	outsider := viewer.NewContext(context.Background(), &viewer.Viewer{Kind: viewer.User, UserID: 999999, Username: "outsider"})
	scoped := auth.WithTokenScopes(outsider, func(repo string, a auth.Action) bool {
		return repo == "team/app" && a == auth.RepositoryPull
	})
	if _, err := f.s.Artifacts.GetManifest(scoped, "team/app", "v1", false); err != nil {
		t.Fatalf("a token granting pull: %v", err)
	}
	if _, err := f.s.Artifacts.Access(scoped, "team/app", auth.RepositoryPush); err == nil {
		t.Fatal("a token granting pull let an outsider push")
	}
	if _, err := f.s.Artifacts.Access(scoped, "team/other", auth.RepositoryPull); err == nil {
		t.Fatal("a token for one repository opened another")
	}
}

// TestCachedBlobSizesFollowUnlinks: a blob whose size was served from the
// cache is unknown right after it is unlinked from the repository.
func TestCachedBlobSizesFollowUnlinks(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			f := newFixture(t, dbtest.Open(t, kind))
			d := f.blob(f.admin, "team/app", []byte("a layer"))
			r, err := f.s.Artifacts.Access(f.dev, "team/app", auth.RepositoryPull)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if size, err := f.s.Artifacts.BlobSize(f.dev, r, d); err != nil || size != 7 {
					t.Fatalf("BlobSize = %d, %v", size, err)
				}
			}
			if err := f.s.Artifacts.UnlinkBlob(f.admin, "team/app", d); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.Artifacts.BlobSize(f.dev, r, d); !errors.Is(err, artifacts.ErrBlobUnknown) {
				t.Fatalf("right after the unlink: %v, want BLOB_UNKNOWN", err)
			}
		})
	}
}

// TestAPushToANewRepositoryLooksItsProjectUpOnce: the requests of a push
// to a repository that does not exist yet find its project in the name
// cache after the first, while a pull still looks the repository up, and
// so finds one that a push created meanwhile.
func TestAPushToANewRepositoryLooksItsProjectUpOnce(t *testing.T) {
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) {
			db := dbtest.Open(t, kind)
			f := newFixture(t, db)

			// A push creates the repository its first requests did not find.
			if r, err := f.s.Artifacts.Access(f.dev, "team/later", auth.RepositoryPush); err != nil || r.Repository != nil {
				t.Fatalf("Access for a push to a new repository: %+v, %v", r, err)
			}
			d := f.blob(f.admin, "team/later", []byte("a layer"))
			f.blob(f.admin, "team/later", []byte("another layer"))
			f.image(f.admin, "team/later", "v1", "amd64")
			r, err := f.s.Artifacts.Access(f.dev, "team/later", auth.RepositoryPull)
			if err != nil || r.Repository == nil {
				t.Fatalf("a pull right after the push: %+v, %v", r, err)
			}
			if size, err := f.s.Artifacts.BlobSize(f.dev, r, d); err != nil || size != 7 {
				t.Fatalf("BlobSize right after the push = %d, %v", size, err)
			}
			if _, err := f.s.Artifacts.GetManifest(f.dev, "team/later", "v1", false); err != nil {
				t.Fatalf("the manifest right after the push: %v", err)
			}

			// The second request does not look the project up: renamed
			// behind the cache's back, it is still found for the push,
			// not for a pull.
			if _, err := f.s.Artifacts.Access(f.dev, "team/fresh", auth.RepositoryPush); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL().ExecContext(t.Context(), `UPDATE projects SET name = 'elsewhere' WHERE name = 'team'`); err != nil {
				t.Fatal(err)
			}
			if r, err := f.s.Artifacts.Access(f.dev, "team/fresh", auth.RepositoryPush); err != nil || r.Project.Name != "team" {
				t.Fatalf("the push's second request: %+v, %v; want the cached project", r, err)
			}
			if _, err := f.s.Artifacts.Access(f.dev, "team/fresh", auth.RepositoryPull); err == nil {
				t.Fatal("a pull was answered from a name cached without its repository")
			}
		})
	}
}
