package retention_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/riverqueue/river"

	"github.com/berth-registry/berth/ent"
	"github.com/berth-registry/berth/ent/schema/rules"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/errdefs"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/retention"
	"github.com/berth-registry/berth/internal/viewer"
	"github.com/berth-registry/berth/registry/registrytest"
)

const (
	adminPassword = "pw-Admin-1"
	ociManifest   = "application/vnd.oci.image.manifest.v1+json"
	ociIndex      = "application/vnd.oci.image.index.v1+json"
)

// fixture is a registry with project "team", an admin, and a retention
// service working its jobs on its own queue.
type fixture struct {
	t     *testing.T
	db    *database.DB
	reg   *registrytest.Server
	svc   *retention.Service
	admin context.Context
	sys   context.Context
	// project is the project run and setPolicy work on.
	project string
}

func newFixture(t *testing.T, db *database.DB) *fixture {
	t.Helper()
	reg := registrytest.Start(t, db, "")
	u := reg.CreateUser(t, "admin", adminPassword, true)
	reg.CreateProject(t, "team", false)
	log := slog.New(slog.DiscardHandler)
	svc := retention.New(retention.Options{Client: db.Client, Auth: reg.Auth, Content: reg.Artifacts, Logger: log})
	workers := river.NewWorkers()
	river.AddWorker(workers, svc.Worker())
	ctx := context.Background()
	q, err := jobs.New(ctx, jobs.Options{DB: db, Logger: log, Workers: workers, Work: true, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	svc.Jobs = q
	q.Register("RETENTION", func(projectID int) river.JobArgs { return retention.RunArgs{ProjectID: projectID} })
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	admin := viewer.NewContext(ctx, &viewer.Viewer{Kind: viewer.User, UserID: u.ID, Username: u.Username, Admin: true})
	return &fixture{t: t, db: db, reg: reg, svc: svc, admin: admin, sys: viewer.SystemContext(ctx), project: "team"}
}

// do sends a registry request as the admin.
func (f *fixture) do(method, path string, body []byte, header ...string) (int, []byte) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.reg.URL+path, bytes.NewReader(body))
	req.SetBasicAuth("admin", adminPassword)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (f *fixture) blob(repo string, content []byte) digest.Digest {
	f.t.Helper()
	d := digest.FromBytes(content)
	if st, b := f.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), content); st != 201 {
		f.t.Fatalf("pushing a blob to %s: %d %s", repo, st, b)
	}
	return d
}

// putManifest pushes body under ref (a tag or its digest) and returns its digest.
func (f *fixture) putManifest(repo, ref, mediaType string, body []byte) digest.Digest {
	f.t.Helper()
	if st, b := f.do("PUT", "/v2/"+repo+"/manifests/"+ref, body, "Content-Type", mediaType); st != 201 {
		f.t.Fatalf("pushing %s:%s: %d %s", repo, ref, st, b)
	}
	return digest.FromBytes(body)
}

// image pushes a distinct image named name to repo under tags (by digest
// when there are none) and returns its digest and manifest size.
func (f *fixture) image(repo, name string, tags ...string) (digest.Digest, int) {
	f.t.Helper()
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Labels":{"name":%q}},"rootfs":{"type":"layers","diff_ids":[]}}`, name))
	layer := []byte("a layer shared by every test image")
	cd, ld := f.blob(repo, cfg), f.blob(repo, layer)
	body := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}]}`,
		ociManifest, cd, len(cfg), ld, len(layer)))
	d := digest.FromBytes(body)
	if len(tags) == 0 {
		f.putManifest(repo, d.String(), ociManifest, body)
	}
	for _, t := range tags {
		f.putManifest(repo, t, ociManifest, body)
	}
	return d, len(body)
}

// setTimes sets when an artifact was pushed and, unless nil, last pulled.
func (f *fixture) setTimes(repo string, d digest.Digest, pushed time.Time, pulled *time.Time) {
	f.t.Helper()
	a, err := f.reg.Artifacts.Resolve(f.sys, repo, d.String())
	if err != nil {
		f.t.Fatal(err)
	}
	u := f.db.Artifact.UpdateOneID(a.ID).SetPushedAt(pushed)
	if pulled != nil {
		u.SetPulledAt(*pulled)
	}
	if err := u.Exec(f.sys); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) exists(repo string, d digest.Digest) bool {
	f.t.Helper()
	_, err := f.reg.Artifacts.Resolve(f.sys, repo, d.String())
	return err == nil
}

// run runs the policy of the project and waits for it to finish.
func (f *fixture) run(dryRun bool) *ent.RetentionExecution {
	f.t.Helper()
	exec, err := f.svc.Start(f.admin, f.project, dryRun)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exec, err = f.svc.Wait(ctx, exec.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	if exec.Status != retention.StatusSucceeded {
		f.t.Fatalf("run %d: %s\n%s", exec.ID, exec.Status, exec.Log)
	}
	return exec
}

func (f *fixture) setPolicy(rs ...rules.RetentionRule) {
	f.t.Helper()
	if _, err := f.svc.SetPolicy(f.admin, f.project, rs, nil); err != nil {
		f.t.Fatal(err)
	}
}

func n(i int) *int { return &i }

func all(p string) rules.Pattern    { return rules.Pattern{Pattern: p} }
func not(p string) rules.Pattern    { return rules.Pattern{Pattern: p, Exclude: true} }
func ago(d time.Duration) time.Time { return time.Now().Add(-d) }

const day = 24 * time.Hour

// img is one image of a retention case.
type img struct {
	name   string // also its tag unless tags or untagged say otherwise
	repo   string // "app" unless set
	tags   []string
	bare   bool          // pushed by digest, untagged
	pushed time.Duration // how long ago
	pulled time.Duration // how long ago; 0 is never
}

func (i img) repository(project string) string {
	if i.repo == "" {
		return project + "/app"
	}
	return project + "/" + i.repo
}

// retentionCase is a row of the rule matrix.
type retentionCase struct {
	name      string
	images    []img
	rules     []rules.RetentionRule
	immutable []rules.Pattern // tag patterns, all repositories
	deleted   []string
	retained  map[string]string // name → a part of its reason
}

// TestRetentionRuleMatrix: each template, including and excluding
// patterns, the untagged switch, a tag no rule selects, disabled rules,
// OR-ed rules and immutable tags; for each, the dry run lists exactly what
// the real run then deletes, and every survivor it lists says which rule
// kept it.
func TestRetentionRuleMatrix(t *testing.T) {
	cases := []retentionCase{
		{
			name: "latest pushed keeps the newest",
			images: []img{{name: "v1", pushed: 5 * time.Hour}, {name: "v2", pushed: 4 * time.Hour}, {name: "v3", pushed: 3 * time.Hour},
				{name: "v4", pushed: 2 * time.Hour}, {name: "v5", pushed: time.Hour}},
			rules:   []rules.RetentionRule{{Repositories: all("**"), Tags: all("**"), Template: rules.LatestPushed, Count: n(2)}},
			deleted: []string{"v1", "v2", "v3"},
			retained: map[string]string{
				"v4": `rule 1: latest 2 pushed of tags "**" in repositories "**"`,
				"v5": `rule 1: latest 2 pushed of tags "**" in repositories "**"`,
			},
		},
		{
			name: "latest pulled keeps the most recently pulled, never pulled last",
			images: []img{{name: "a", pushed: 4 * time.Hour, pulled: time.Hour}, {name: "b", pushed: time.Hour},
				{name: "c", pushed: 3 * time.Hour, pulled: 2 * time.Hour}, {name: "d", pushed: 2 * time.Hour, pulled: 3 * time.Hour}},
			rules:    []rules.RetentionRule{{Repositories: all("**"), Tags: all("**"), Template: rules.LatestPulled, Count: n(2)}},
			deleted:  []string{"b", "d"},
			retained: map[string]string{"a": "latest 2 pulled", "c": "latest 2 pulled"},
		},
		{
			name:     "pushed within days",
			images:   []img{{name: "new", pushed: day}, {name: "week", pushed: 6 * day}, {name: "old", pushed: 10 * day}},
			rules:    []rules.RetentionRule{{Repositories: all("**"), Tags: all("**"), Template: rules.PushedWithinDays, Days: n(7)}},
			deleted:  []string{"old"},
			retained: map[string]string{"new": "pushed within 7 days", "week": "pushed within 7 days"},
		},
		{
			name: "pulled within days",
			images: []img{{name: "recent", pushed: 20 * day, pulled: day}, {name: "stale", pushed: 20 * day, pulled: 10 * day},
				{name: "never", pushed: time.Hour}},
			rules:    []rules.RetentionRule{{Repositories: all("**"), Tags: all("**"), Template: rules.PulledWithinDays, Days: n(7)}},
			deleted:  []string{"stale", "never"},
			retained: map[string]string{"recent": "pulled within 7 days"},
		},
		{
			name:     "always keeps everything it selects",
			images:   []img{{name: "v1", pushed: 300 * day}, {name: "v2", pushed: time.Hour}},
			rules:    []rules.RetentionRule{{Repositories: all("**"), Tags: all("**"), Template: rules.Always}},
			retained: map[string]string{"v1": "rule 1: always", "v2": "rule 1: always"},
		},
		{
			name: "an including repository pattern leaves other repositories alone",
			images: []img{{name: "a1", pushed: 2 * time.Hour}, {name: "a2", pushed: time.Hour},
				{name: "c1", repo: "tools/cli", pushed: 2 * time.Hour}, {name: "c2", repo: "tools/cli", pushed: time.Hour}},
			rules:    []rules.RetentionRule{{Repositories: all("app"), Tags: all("**"), Template: rules.LatestPushed, Count: n(1)}},
			deleted:  []string{"a1"},
			retained: map[string]string{"a2": `in repositories "app"`},
		},
		{
			name: "an excluding repository pattern prunes the others",
			images: []img{{name: "a1", pushed: 2 * time.Hour}, {name: "a2", pushed: time.Hour},
				{name: "c1", repo: "tools/cli", pushed: 2 * time.Hour}, {name: "c2", repo: "tools/cli", pushed: time.Hour}},
			rules:    []rules.RetentionRule{{Repositories: not("app"), Tags: all("**"), Template: rules.LatestPushed, Count: n(1)}},
			deleted:  []string{"c1"},
			retained: map[string]string{"c2": `in repositories not "app"`},
		},
		{
			name: "an including tag pattern selects only its tags",
			images: []img{{name: "v1", pushed: 4 * time.Hour}, {name: "v2", pushed: 3 * time.Hour}, {name: "dev1", pushed: 5 * time.Hour},
				{name: "v3", pushed: time.Hour}},
			rules:    []rules.RetentionRule{{Repositories: all("**"), Tags: all("v*"), Template: rules.LatestPushed, Count: n(1)}},
			deleted:  []string{"v1", "v2"},
			retained: map[string]string{"v3": `of tags "v*"`},
		},
		{
			name:     "an excluding tag pattern selects the other tags",
			images:   []img{{name: "v1", pushed: 5 * time.Hour}, {name: "dev1", pushed: 4 * time.Hour}, {name: "dev2", pushed: 3 * time.Hour}},
			rules:    []rules.RetentionRule{{Repositories: all("**"), Tags: not("v*"), Template: rules.LatestPushed, Count: n(1)}},
			deleted:  []string{"dev1"},
			retained: map[string]string{"dev2": `of tags not "v*"`},
		},
		{
			name: "untagged artifacts are left alone without the switch",
			images: []img{{name: "u1", bare: true, pushed: 5 * time.Hour}, {name: "t1", pushed: 4 * time.Hour},
				{name: "t2", pushed: 3 * time.Hour}, {name: "u2", bare: true, pushed: time.Hour}},
			rules:    []rules.RetentionRule{{Repositories: all("**"), Tags: all("**"), Template: rules.LatestPushed, Count: n(1)}},
			deleted:  []string{"t1"},
			retained: map[string]string{"t2": "latest 1 pushed"},
		},
		{
			name: "the untagged switch selects untagged artifacts too",
			images: []img{{name: "u1", bare: true, pushed: 5 * time.Hour}, {name: "t1", pushed: 4 * time.Hour},
				{name: "t2", pushed: 3 * time.Hour}, {name: "u2", bare: true, pushed: time.Hour}},
			rules:    []rules.RetentionRule{{Repositories: all("**"), Tags: all("**"), Untagged: true, Template: rules.LatestPushed, Count: n(1)}},
			deleted:  []string{"u1", "t1", "t2"},
			retained: map[string]string{"u2": `of tags "**" and untagged artifacts`},
		},
		{
			name: "a tag no rule selects protects its artifact",
			images: []img{{name: "v1", tags: []string{"v1", "latest"}, pushed: 5 * time.Hour}, {name: "v2", pushed: 4 * time.Hour},
				{name: "v3", pushed: time.Hour}},
			rules:    []rules.RetentionRule{{Repositories: all("**"), Tags: all("v*"), Template: rules.LatestPushed, Count: n(1)}},
			deleted:  []string{"v2"},
			retained: map[string]string{"v1": `also tagged "latest", which no rule selects`, "v3": "rule 1"},
		},
		{
			name:   "a disabled rule keeps nothing",
			images: []img{{name: "v1", pushed: 2 * time.Hour}, {name: "v2", pushed: time.Hour}},
			rules: []rules.RetentionRule{
				{Repositories: all("**"), Tags: all("**"), Template: rules.Always, Disabled: true},
				{Repositories: all("**"), Tags: all("**"), Template: rules.LatestPushed, Count: n(1)},
			},
			deleted:  []string{"v1"},
			retained: map[string]string{"v2": "rule 2: latest 1 pushed"},
		},
		{
			name:   "a policy of disabled rules selects nothing",
			images: []img{{name: "v1", pushed: 2 * time.Hour}, {name: "v2", pushed: time.Hour}},
			rules:  []rules.RetentionRule{{Repositories: all("**"), Tags: all("**"), Template: rules.LatestPushed, Count: n(1), Disabled: true}},
		},
		{
			name: "rules are OR-ed: what any rule keeps stays",
			images: []img{{name: "release-1", pushed: 6 * time.Hour}, {name: "v1", pushed: 5 * time.Hour},
				{name: "v2", pushed: 4 * time.Hour}, {name: "v3", pushed: time.Hour}},
			rules: []rules.RetentionRule{
				{Repositories: all("**"), Tags: all("v*"), Template: rules.LatestPushed, Count: n(1)},
				{Repositories: all("**"), Tags: all("{v1,release-*}"), Template: rules.Always},
			},
			deleted:  []string{"v2"},
			retained: map[string]string{"v3": "rule 1", "v1": "rule 2: always", "release-1": "rule 2: always"},
		},
		{
			name: "immutable tags are kept, naming the immutability rule",
			images: []img{{name: "v1.0", pushed: 5 * time.Hour}, {name: "v1.1", pushed: 4 * time.Hour},
				{name: "v2.0", pushed: 3 * time.Hour}, {name: "v2.1", pushed: time.Hour}},
			rules:     []rules.RetentionRule{{Repositories: all("**"), Tags: all("**"), Template: rules.LatestPushed, Count: n(1)}},
			immutable: []rules.Pattern{all("v1*")},
			deleted:   []string{"v2.0"},
			retained: map[string]string{
				"v1.0": `tag "v1.0" is immutable by immutability rule`,
				"v1.1": `tag "v1.1" is immutable by immutability rule`,
				"v2.1": "rule 1",
			},
		},
	}
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f.t, f.project = t, fmt.Sprintf("case%d", i)
				f.reg.CreateProject(t, f.project, false)
				f.runCase(tc)
			})
		}
	})
}

// runCase pushes the images of tc, applies its rules, and checks that a
// dry run plans what tc expects and a real run deletes exactly that.
func (f *fixture) runCase(tc retentionCase) {
	t := f.t
	digests := map[string]digest.Digest{}
	names := map[digest.Digest]string{}
	for _, im := range tc.images {
		tags := im.tags
		if tags == nil && !im.bare {
			tags = []string{im.name}
		}
		d, _ := f.image(im.repository(f.project), im.name, tags...)
		var pulled *time.Time
		if im.pulled > 0 {
			at := ago(im.pulled)
			pulled = &at
		}
		f.setTimes(im.repository(f.project), d, ago(im.pushed), pulled)
		digests[im.name], names[d] = d, im.name
	}
	for _, p := range tc.immutable {
		if _, err := f.svc.CreateImmutabilityRule(f.admin, f.project, retention.ImmutabilityInput{Repositories: all("**"), Tags: p}); err != nil {
			t.Fatal(err)
		}
	}
	f.setPolicy(tc.rules...)

	named := func(cs []rules.Candidate) []string {
		var out []string
		for _, c := range cs {
			out = append(out, names[digest.Digest(c.Digest)])
		}
		slices.Sort(out)
		return out
	}
	want := slices.Sorted(slices.Values(tc.deleted))
	dry := f.run(true)
	if got := named(dry.Deleted); !slices.Equal(got, want) {
		t.Fatalf("the dry run would delete %v, want %v\n%s", got, want, dry.Log)
	}
	check := func(exec *ent.RetentionExecution) {
		t.Helper()
		if got := named(exec.Retained); !slices.Equal(got, slices.Sorted(maps.Keys(tc.retained))) {
			t.Errorf("retained %v, want those of %v", got, tc.retained)
		}
		for _, c := range exec.Retained {
			if want := tc.retained[names[digest.Digest(c.Digest)]]; !strings.Contains(c.Reason, want) {
				t.Errorf("%s retained because %q, want it to say %q", names[digest.Digest(c.Digest)], c.Reason, want)
			}
		}
		for _, c := range exec.Deleted {
			if !strings.Contains(c.Reason, "kept by no rule") {
				t.Errorf("%s deleted because %q", names[digest.Digest(c.Digest)], c.Reason)
			}
		}
		if exec.RetainedCount != len(tc.retained) {
			t.Errorf("retained count %d, want %d", exec.RetainedCount, len(tc.retained))
		}
		total := 0
		for _, rc := range exec.Repositories {
			total += rc.Deleted
		}
		if total != len(tc.deleted) {
			t.Errorf("repository counts %+v add up to %d deletions, want %d", exec.Repositories, total, len(tc.deleted))
		}
	}
	check(dry)
	for _, im := range tc.images {
		if !f.exists(im.repository(f.project), digests[im.name]) {
			t.Fatalf("the dry run deleted %s", im.name)
		}
	}

	real := f.run(false)
	if got := named(real.Deleted); !slices.Equal(got, want) {
		t.Fatalf("the run deleted %v, its dry run said %v\n%s", got, want, real.Log)
	}
	check(real)
	for _, im := range tc.images {
		gone := slices.Contains(tc.deleted, im.name)
		if f.exists(im.repository(f.project), digests[im.name]) == gone {
			t.Errorf("%s: exists = %v after the run, want %v", im.name, !gone, !gone)
		}
	}
}

// TestIndexChildrenAndReferrersGoOnlyWithTheirRoot: the manifests an index
// lists and an artifact's referrers are never candidates on their own,
// even untagged under a rule that selects untagged artifacts; they go
// when their root goes.
func TestIndexChildrenAndReferrersGoOnlyWithTheirRoot(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		repo := "team/app"
		index := func(tag string, children ...digest.Digest) digest.Digest {
			var list []string
			for _, c := range children {
				a, err := f.reg.Artifacts.Resolve(f.sys, repo, c.String())
				if err != nil {
					t.Fatal(err)
				}
				list = append(list, fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, ociManifest, c, len(a.Manifest)))
			}
			return f.putManifest(repo, tag, ociIndex, []byte(`{"schemaVersion":2,"mediaType":"`+ociIndex+`","manifests":[`+strings.Join(list, ",")+`]}`))
		}
		signature := func(subject digest.Digest) digest.Digest {
			empty := f.blob(repo, []byte("{}"))
			body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],"subject":{"mediaType":%q,"digest":%q,"size":1}}`,
				ociManifest, empty, ociIndex, subject)
			d := digest.FromBytes([]byte(body))
			return f.putManifest(repo, d.String(), ociManifest, []byte(body))
		}
		oldAmd, _ := f.image(repo, "old amd64")
		oldArm, _ := f.image(repo, "old arm64")
		old := index("old", oldAmd, oldArm)
		oldSig := signature(old)
		newAmd, _ := f.image(repo, "new amd64")
		newArm, _ := f.image(repo, "new arm64")
		cur := index("new", newAmd, newArm)
		curSig := signature(cur)
		for i, d := range []digest.Digest{oldAmd, oldArm, old, oldSig, newAmd, newArm, cur, curSig} {
			f.setTimes(repo, d, ago(time.Duration(10-i)*time.Hour), nil)
		}
		f.setPolicy(rules.RetentionRule{Repositories: all("**"), Tags: all("**"), Untagged: true, Template: rules.LatestPushed, Count: n(1)})

		for _, dry := range []bool{true, false} {
			exec := f.run(dry)
			if len(exec.Deleted) != 1 || exec.Deleted[0].Digest != old.String() {
				t.Fatalf("dry run %v deleted %+v, want only the old index", dry, exec.Deleted)
			}
			if len(exec.Retained) != 1 || exec.Retained[0].Digest != cur.String() || !strings.Contains(exec.Retained[0].Reason, "rule 1") {
				t.Fatalf("dry run %v retained %+v, want only the new index", dry, exec.Retained)
			}
		}
		for _, d := range []digest.Digest{oldAmd, oldArm, old, oldSig} {
			if f.exists(repo, d) {
				t.Errorf("%s outlived its index", d)
			}
		}
		for _, d := range []digest.Digest{newAmd, newArm, cur, curSig} {
			if !f.exists(repo, d) {
				t.Errorf("%s went, though its index was kept", d)
			}
		}
	})
}

// TestLatestPulledFollowsPulls: pulls through the registry decide what
// LATEST_PULLED keeps.
func TestLatestPulledFollowsPulls(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		old, _ := f.image("team/app", "old", "old")
		f.image("team/app", "mid", "mid")
		f.image("team/app", "new", "new")
		if st, b := f.do("GET", "/v2/team/app/manifests/old", nil, "Accept", ociManifest); st != 200 {
			t.Fatalf("pull: %d %s", st, b)
		}
		if err := f.reg.Artifacts.FlushPulls(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.setPolicy(rules.RetentionRule{Repositories: all("**"), Tags: all("**"), Template: rules.LatestPulled, Count: n(1)})
		exec := f.run(true)
		if len(exec.Retained) != 1 || exec.Retained[0].Digest != old.String() || len(exec.Deleted) != 2 {
			t.Fatalf("retained %+v, deleted %+v; want the pulled one kept", exec.Retained, exec.Deleted)
		}
	})
}

// TestPoliciesAreValidated: rules and schedules that make no sense are
// refused as invalid, and nothing is stored.
func TestPoliciesAreValidated(t *testing.T) {
	rule := func(change func(r *rules.RetentionRule)) []rules.RetentionRule {
		r := rules.RetentionRule{Repositories: all("**"), Tags: all("**"), Template: rules.LatestPushed, Count: n(3)}
		change(&r)
		return []rules.RetentionRule{r}
	}
	sixteen := make([]rules.RetentionRule, rules.MaxRules+1)
	for i := range sixteen {
		sixteen[i] = rules.RetentionRule{Repositories: all("**"), Tags: all("**"), Template: rules.Always}
	}
	cron := func(s string) *string { return &s }
	cases := []struct {
		name     string
		rules    []rules.RetentionRule
		schedule *string
	}{
		{"more than 15 rules", sixteen, nil},
		{"an empty repository pattern", rule(func(r *rules.RetentionRule) { r.Repositories = all("") }), nil},
		{"a malformed tag pattern", rule(func(r *rules.RetentionRule) { r.Tags = all("v[1") }), nil},
		{"no count", rule(func(r *rules.RetentionRule) { r.Count = nil }), nil},
		{"a count of 0", rule(func(r *rules.RetentionRule) { r.Count = n(0) }), nil},
		{"a count over 10000", rule(func(r *rules.RetentionRule) { r.Count = n(10001) }), nil},
		{"no days", rule(func(r *rules.RetentionRule) { r.Template, r.Count = rules.PulledWithinDays, nil }), nil},
		{"days over 36500", rule(func(r *rules.RetentionRule) { r.Template, r.Count, r.Days = rules.PushedWithinDays, nil, n(36501) }), nil},
		{"days on a count template", rule(func(r *rules.RetentionRule) { r.Days = n(3) }), nil},
		{"an unknown template", rule(func(r *rules.RetentionRule) { r.Template = "NEWEST" }), nil},
		{"a malformed schedule", rule(func(*rules.RetentionRule) {}), cron("every day")},
	}
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		for _, tc := range cases {
			_, err := f.svc.SetPolicy(f.admin, "team", tc.rules, tc.schedule)
			if !errors.Is(err, errdefs.ErrInvalid) {
				t.Errorf("%s: %v, want invalid", tc.name, err)
			}
		}
		if pol, err := f.svc.Policy(f.admin, "team"); pol != nil || err != nil {
			t.Fatalf("a refused policy was stored: %+v, %v", pol, err)
		}
		if _, err := f.svc.SetPolicy(f.admin, "team", sixteen[:rules.MaxRules], cron("@daily")); err != nil {
			t.Fatalf("15 rules and @daily: %v", err)
		}
	})
}
