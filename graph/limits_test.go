package graph_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/server/servertest"
)

// pushLargeManifest pushes into repo, as admin, an image whose manifest is
// about size bytes: one small config and the same small layer listed over
// and over, so that layers, config and manifest all have work to do.
func pushLargeManifest(t *testing.T, s *servertest.Server, repo, tag string, size int) []byte {
	t.Helper()
	digest := func(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }
	config := []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin"]},"rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := []byte("one small layer")
	send := func(method, path string, body []byte, ct string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
		req.SetBasicAuth("admin", servertest.AdminPassword)
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, msg)
		}
	}
	send(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+digest(config), config, "application/octet-stream", http.StatusCreated)
	send(http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+digest(layer), layer, "application/octet-stream", http.StatusCreated)
	desc := fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}`, digest(layer), len(layer))
	var m bytes.Buffer
	fmt.Fprintf(&m, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[%s`,
		digest(config), len(config), desc)
	for m.Len()+len(desc)+3 < size {
		m.WriteString("," + desc)
	}
	m.WriteString("]}")
	send(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, m.Bytes(), "application/vnd.oci.image.manifest.v1+json", http.StatusCreated)
	return m.Bytes()
}

// rawResponse is what post saw: the status, the body's length, and the
// body itself when it is small enough to decode.
type rawResponse struct {
	status int
	length int64
	body   servertest.Response
}

// post sends body to /graphql anonymously and reads the answer without
// keeping more than 1 MiB of it, so a huge answer does not distort the
// memory figures of the test.
func post(t *testing.T, s *servertest.Server, body []byte) rawResponse {
	t.Helper()
	resp, err := http.Post(s.URL+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	rest, _ := io.Copy(io.Discard, resp.Body)
	out := rawResponse{status: resp.StatusCode, length: int64(len(head)) + rest}
	if rest == 0 {
		json.Unmarshal(head, &out.body)
	}
	return out
}

func operation(query string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b
}

// aliases repeats field n times under aliases a0, a1, ...
func aliases(n int, field string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " a%d: %s", i, field)
	}
	b.WriteString(" }")
	return b.String()
}

// memoryUse runs fn and reports how long it took, how many bytes the
// process allocated meanwhile and the highest live heap seen (sampled).
func memoryUse(fn func()) (elapsed time.Duration, allocated, peakHeap uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var max uint64
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			max = maxOf(max, m.HeapAlloc)
			select {
			case <-done:
				peak <- max
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	fn()
	elapsed = time.Since(start)
	close(done)
	peakHeap = <-peak
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return elapsed, after.TotalAlloc - before.TotalAlloc, peakHeap
}

func maxOf(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// TestAliasBombOnALargeManifestIsRefusedQuickly replays the review's probe:
// 150 aliases of artifact { manifest } on a 4 MB manifest in a public
// project, sent anonymously. It produced a 629 MB answer and 5.5 GB RSS;
// now the complexity limit refuses it before anything is read.
func TestAliasBombOnALargeManifestIsRefusedQuickly(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "pub", true)
		pushLargeManifest(t, s, "pub/big", "v1", 4_000_000)
		bomb := operation(aliases(150, `artifact(repository: "pub/big", reference: "v1") { manifest layers { digest } config { env } }`), nil)
		var r rawResponse
		elapsed, allocated, peak := memoryUse(func() { r = post(t, s, bomb) })
		t.Logf("150-alias bomb: %d in %v, %d bytes answered, %d MB allocated, peak heap %d MB",
			r.status, elapsed, r.length, allocated>>20, peak>>20)
		if r.body.Code() != "COMPLEXITY_LIMIT_EXCEEDED" || r.body.Data != nil && string(r.body.Data) != "null" {
			t.Fatalf("want COMPLEXITY_LIMIT_EXCEEDED and no data, got %d bytes: %+v", r.length, r.body.Errors)
		}
		if allocated > 200<<20 || elapsed > 5*time.Second {
			t.Fatalf("refusing the bomb cost %v and %d MB", elapsed, allocated>>20)
		}
	})
}

// TestReadFieldsAreCappedAcrossAliasesAndFragments: more than ten fields
// that read manifests, configs or annotations in one operation are
// refused, however they are spelled.
func TestReadFieldsAreCappedAcrossAliasesAndFragments(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "pub", true)
		pushImage(t, s, "pub/app", "v1", []byte("layer"))
		cases := map[string]string{
			"aliases": aliases(11, `artifact(repository: "pub/app", reference: "v1") { manifest }`),
			"fragments": `fragment F on Artifact { manifest layers { digest } }
				{ a: artifact(repository: "pub/app", reference: "v1") { ...F } b: artifact(repository: "pub/app", reference: "v1") { ...F }
				  c: artifact(repository: "pub/app", reference: "v1") { ...F } d: artifact(repository: "pub/app", reference: "v1") { ...F }
				  e: artifact(repository: "pub/app", reference: "v1") { ...F } f: artifact(repository: "pub/app", reference: "v1") { ...F } }`,
		}
		for name, q := range cases {
			r := s.Do(servertest.Creds{}, q, nil)
			if r.Code() != "TOO_MANY_READ_FIELDS" || string(r.Data) != "" && string(r.Data) != "null" {
				t.Fatalf("%s: want TOO_MANY_READ_FIELDS, got %s %+v", name, r.Data, r.Errors)
			}
		}
		// Twenty are refused by the complexity limit already.
		if c := s.Do(servertest.Creds{}, aliases(20, `artifact(repository: "pub/app", reference: "v1") { layers { digest } }`), nil).Code(); c != "COMPLEXITY_LIMIT_EXCEEDED" {
			t.Fatalf("20 aliases: got %q", c)
		}
		s.MustDo(servertest.Creds{}, aliases(10, `artifact(repository: "pub/app", reference: "v1") { manifest }`), nil, nil)
	})
}

// TestArtifactBytesAreReadOncePerRequest asks for the manifest, layers
// and config of one artifact under three aliases: the
// manifest is loaded from the database once and the config read from the
// blob store once.
func TestArtifactBytesAreReadOncePerRequest(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "pub", true)
		manifest := pushLargeManifest(t, s, "pub/big", "v1", 1_000_000)
		before := s.Berth.Artifacts().ReadCounts()
		var out map[string]struct {
			Manifest string
			Layers   []struct{ Digest string }
			Config   struct{ Env []string }
		}
		s.MustDo(servertest.Creds{}, aliases(3, `artifact(repository: "pub/big", reference: "v1") { manifest layers { digest } config { env } }`), nil, &out)
		after := s.Berth.Artifacts().ReadCounts()
		if len(out) != 3 || out["a2"].Manifest != string(manifest) || len(out["a1"].Layers) < 1000 || out["a0"].Config.Env[0] != "PATH=/usr/bin" {
			t.Fatalf("unexpected answer: %d aliases", len(out))
		}
		if m, c := after.Manifests-before.Manifests, after.Configs-before.Configs; m != 1 || c != 1 {
			t.Fatalf("three aliases read the manifest %d times and the config %d times, want once each", m, c)
		}
	})
}

// TestAnswerBudgetStopsLargeAnswers: ten aliases of a 4 MB manifest are
// within the field limits but would answer 40 MB; the answer stops at the
// 16 MiB budget with RESPONSE_TOO_LARGE on the fields beyond it.
func TestAnswerBudgetStopsLargeAnswers(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "pub", true)
		pushLargeManifest(t, s, "pub/big", "v1", 4_000_000)
		q := operation(aliases(10, `artifact(repository: "pub/big", reference: "v1") { manifest }`), nil)
		var r rawResponse
		elapsed, allocated, peak := memoryUse(func() { r = post(t, s, q) })
		t.Logf("10 aliases of a 4 MB manifest: %d bytes answered in %v, %d MB allocated, peak heap %d MB", r.length, elapsed, allocated>>20, peak>>20)
		if r.length > 17<<20 || r.length < 8<<20 {
			t.Fatalf("answered %d bytes", r.length)
		}
		resp, err := http.Post(s.URL+"/graphql", "application/json", bytes.NewReader(q))
		if err != nil {
			t.Fatal(err)
		}
		var body servertest.Response
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if len(body.Errors) == 0 {
			t.Fatal("no error for the fields beyond the budget")
		}
		for _, e := range body.Errors {
			if e.Extensions["code"] != "RESPONSE_TOO_LARGE" {
				t.Fatalf("error %+v", e)
			}
		}
	})
}

// TestConnectionsArePaged: a nested connection listing edges must say how
// many, no page holds more than 100, and asking for bytes in a page is
// priced per item.
func TestConnectionsArePaged(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "pub", true)
		pushImage(t, s, "pub/app", "v1", []byte("layer"))
		cases := map[string]string{
			`{ repository(name: "pub/app") { artifacts { edges { node { digest } } } } }`:               "BAD_USER_INPUT",
			`{ repository(name: "pub/app") { artifacts(first: 101) { totalCount } } }`:                  "BAD_USER_INPUT",
			`{ projects(last: 1000) { totalCount } }`:                                                   "BAD_USER_INPUT",
			`{ repository(name: "pub/app") { artifacts(first: 20) { edges { node { manifest } } } } }`:  "COMPLEXITY_LIMIT_EXCEEDED",
			`{ nodes(ids: [1,2,3,4,5,6,7,8,9,10,11,12,13]) { ... on Artifact { layers { digest } } } }`: "COMPLEXITY_LIMIT_EXCEEDED",
			`{ repository(name: "pub/app") { artifacts { totalCount } } }`:                              "",
			`{ repository(name: "pub/app") { artifacts(first: 5) { edges { node { manifest } } } } }`:   "",
		}
		for q, want := range cases {
			if r := s.Do(servertest.Creds{}, q, nil); r.Code() != want {
				t.Errorf("%s: want %q, got %q %+v", q, want, r.Code(), r.Errors)
			}
		}
	})
}

// TestOversizedRequestsAre413: a 2 MiB body, with or without a
// Content-Length, is refused before gqlgen reads it, and so is a query
// string over 1 MiB.
func TestOversizedRequestsAre413(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		big := operation(`{ systemInfo { version } }`+strings.Repeat(" ", 2<<20), nil)
		check := func(name string, resp *http.Response, want int) {
			t.Helper()
			defer resp.Body.Close()
			var body servertest.Response
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("%s: body is not JSON: %v", name, err)
			}
			if resp.StatusCode != want || body.Code() != "REQUEST_TOO_LARGE" {
				t.Fatalf("%s: %d %+v, want %d REQUEST_TOO_LARGE", name, resp.StatusCode, body.Errors, want)
			}
		}
		resp, err := http.Post(s.URL+"/graphql", "application/json", bytes.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		check("with Content-Length", resp, http.StatusRequestEntityTooLarge)
		// io.MultiReader hides the length: the body goes chunked.
		resp, err = http.Post(s.URL+"/graphql", "application/json", io.MultiReader(bytes.NewReader(big)))
		if err != nil {
			t.Fatal(err)
		}
		check("chunked", resp, http.StatusRequestEntityTooLarge)
		resp, err = http.Get(s.URL + "/graphql?query=" + strings.Repeat("%20", (1<<20)/3+10) + "%7BsystemInfo%7Bversion%7D%7D")
		if err != nil {
			t.Fatal(err)
		}
		check("GET", resp, http.StatusRequestURITooLong)
		// Just under the limit is still served.
		ok := operation(`{ systemInfo { version } }`+strings.Repeat(" ", 1<<19), nil)
		if r := post(t, s, ok); r.status != http.StatusOK || r.body.Code() != "" {
			t.Fatalf("a 512 KiB operation: %d %+v", r.status, r.body.Errors)
		}
	})
}

// portalDocument returns the portal's operation named name, from the
// documents graphql-codegen lists in portal/src/gql/gql.ts.
func portalDocument(t *testing.T, name string) string {
	t.Helper()
	src, err := os.ReadFile("../portal/src/gql/gql.ts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		i := strings.LastIndex(line, `": typeof types.`+name+`Document`)
		if !strings.HasPrefix(line, `"`) || i < 0 {
			continue
		}
		var doc string
		if err := json.Unmarshal([]byte(line[:i+1]), &doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	t.Fatalf("no portal document %s", name)
	return ""
}

// TestPortalArtifactPageStillWorks runs the portal's artifact page query,
// anonymously, on a 4 MB manifest in a public project and on an ordinary
// image: every field answers within the limits.
func TestPortalArtifactPageStillWorks(t *testing.T) {
	each(t, func(t *testing.T, s *servertest.Server) {
		s.CreateProject(admin, "pub", true)
		manifest := pushLargeManifest(t, s, "pub/big", "v1", 4_000_000)
		pushImage(t, s, "pub/app", "v1", []byte("a layer"))
		doc := portalDocument(t, "ArtifactPage")
		for _, repo := range []string{"pub/big", "pub/app"} {
			var out struct {
				Artifact *struct {
					Digest   string
					Manifest string
					Layers   []struct{ Digest string }
					Config   *struct{ Os string }
					Children []struct{ Digest string }
				}
			}
			s.MustDo(servertest.Creds{}, doc, map[string]any{"repository": repo, "reference": "v1"}, &out)
			a := out.Artifact
			if a == nil || len(a.Layers) == 0 || a.Config == nil || a.Config.Os != "linux" || a.Manifest == "" {
				t.Fatalf("%s: %+v", repo, a)
			}
			if repo == "pub/big" && a.Manifest != string(manifest) {
				t.Fatalf("the large manifest came back altered (%d bytes, want %d)", len(a.Manifest), len(manifest))
			}
		}
	})
}

// introspectionQuery is graphql-js's getIntrospectionQuery(), which
// GraphiQL sends for its documentation and completion.
const introspectionQuery = `query IntrospectionQuery {
  __schema { queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue } interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } } }`

// TestIntrospectionWorksButCannotMultiply: GraphiQL's introspection query
// is answered (the depth limit once refused it, so GraphiQL had no docs
// and no completion), while introspection that nests lists four deep,
// multiplying by the schema's size at every level, is still refused by
// gqlparser's validation.
func TestIntrospectionWorksButCannotMultiply(t *testing.T) {
	s := servertest.Start(t, "sqlite")
	var out struct {
		Schema struct{ Types []struct{ Name string } } `json:"__schema"`
	}
	s.MustDo(servertest.Creds{}, introspectionQuery, nil, &out)
	if len(out.Schema.Types) < 20 {
		t.Fatalf("introspection returned %d types", len(out.Schema.Types))
	}
	bomb := `{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }`
	if r := s.Do(servertest.Creds{}, bomb, nil); r.Code() != "GRAPHQL_VALIDATION_FAILED" || !strings.Contains(r.Errors[0].Message, "introspection depth") {
		t.Fatalf("nested introspection: got %q %+v", r.Code(), r.Errors)
	}
}
