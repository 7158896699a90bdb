package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/database"
	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/server"
	"github.com/berth-registry/berth/internal/server/servertest"
	"github.com/berth-registry/berth/internal/testtool"
	"github.com/berth-registry/berth/registry/storage/s3"
	"github.com/berth-registry/berth/registry/storage/s3/s3test"
	"github.com/berth-registry/berth/registry/storage/storagetest"
)

var s3Admin = servertest.Basic("admin", servertest.AdminPassword)

// onS3 configures berth to keep its blobs in the bucket of opts, under a
// prefix, with garbage collection's grace period off.
func onS3(opts s3.Options, redirect bool) servertest.Option {
	return func(c *config.Config) {
		c.StorageDriver, c.S3Endpoint, c.S3Region, c.S3Bucket = "s3", opts.Endpoint, opts.Region, opts.Bucket
		c.S3AccessKey, c.S3SecretKey, c.S3PathStyle, c.S3Prefix = opts.AccessKey, opts.SecretKey, "true", "registry"
		c.StorageRedirect = fmt.Sprint(redirect)
		c.GCGracePeriod = "0s"
	}
}

// s3Client speaks the registry API with Basic credentials.
type s3Client struct {
	t    *testing.T
	base string
	http *http.Client
}

func (c s3Client) do(method, target string, body []byte, header ...string) *http.Response {
	c.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = c.base + target
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.SetBasicAuth("admin", servertest.AdminPassword)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := c.http
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, target, err)
	}
	return resp
}

func (c s3Client) expect(resp *http.Response, status int, what string) []byte {
	c.t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		c.t.Fatalf("%s: status %d, want %d: %s", what, resp.StatusCode, status, b)
	}
	return b
}

// pushMonolithic uploads content in one POST.
func (c s3Client) pushMonolithic(repo string, content []byte) digest.Digest {
	c.t.Helper()
	d := digest.FromBytes(content)
	c.expect(c.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), content, "Content-Type", "application/octet-stream"), 201, "monolithic upload")
	return d
}

// pushChunked uploads content in PATCHes of chunk bytes, then PUTs.
func (c s3Client) pushChunked(repo string, content []byte, chunk int) digest.Digest {
	c.t.Helper()
	d := digest.FromBytes(content)
	resp := c.do("POST", "/v2/"+repo+"/blobs/uploads/", nil)
	c.expect(resp, 202, "starting an upload")
	loc := resp.Header.Get("Location")
	for off := 0; off < len(content); off += chunk {
		end := min(off+chunk, len(content))
		resp = c.do("PATCH", loc, content[off:end], "Content-Type", "application/octet-stream",
			"Content-Range", fmt.Sprintf("%d-%d", off, end-1))
		c.expect(resp, 202, fmt.Sprintf("PATCH %d-%d", off, end-1))
		loc = resp.Header.Get("Location")
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	c.expect(c.do("PUT", loc+sep+"digest="+d.String(), nil), 201, "closing the upload")
	return d
}

// pushImage pushes a manifest over cfg and layers and returns its digest.
func (c s3Client) pushImage(repo, tag string, cfg digest.Digest, cfgSize int, layers map[digest.Digest]int) digest.Digest {
	c.t.Helper()
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{2, "application/vnd.oci.image.manifest.v1+json", desc{"application/vnd.oci.image.config.v1+json", cfg.String(), cfgSize}, nil}
	for d, size := range layers {
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar", d.String(), size})
	}
	body, _ := json.Marshal(m)
	c.expect(c.do("PUT", "/v2/"+repo+"/manifests/"+tag, body, "Content-Type", m.MediaType), 201, "pushing the manifest")
	return digest.FromBytes(body)
}

// pull fetches blob d and checks its digest.
func (c s3Client) pull(repo string, d digest.Digest) {
	c.t.Helper()
	b := c.expect(c.do("GET", "/v2/"+repo+"/blobs/"+d.String(), nil), 200, "pulling "+d.String())
	if got := digest.FromBytes(b); got != d {
		c.t.Fatalf("pulled %d bytes of %s hashing to %s", len(b), d, got)
	}
}

func content(seed uint64, size int) []byte {
	b, err := io.ReadAll(storagetest.Content(seed, int64(size)))
	if err != nil {
		panic(err)
	}
	return b
}

// objectPath is where versitygw's posix backend keeps blob d of the bucket.
func objectPath(srv *s3test.Server, bucket string, d digest.Digest) string {
	return filepath.Join(srv.Root, bucket, "registry", "blobs", "sha256", d.Encoded()[:2], d.Encoded(), "data")
}

// TestS3StorageServesPushesPullsAndGarbageCollection runs berth with
// --storage-driver s3 on versitygw: images pushed monolithically and in
// chunks (a layer spanning several multipart parts) pull back whole,
// systemInfo names the driver, and garbage collection deletes exactly the
// objects of the deleted image and frees exactly their bytes.
func TestS3StorageServesPushesPullsAndGarbageCollection(t *testing.T) {
	srv := s3test.Start(t)
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) { testS3StorageServesPushesPullsAndGarbageCollection(t, srv, kind) })
	}
}

func testS3StorageServesPushesPullsAndGarbageCollection(t *testing.T, srv *s3test.Server, kind string) {
	opts := srv.Bucket(t)
	s := servertest.Start(t, kind, onS3(opts, false))
	s.CreateProject(s3Admin, "team", false)
	c := s3Client{t: t, base: s.URL}

	var info struct {
		SystemInfo struct{ StorageDriver string }
	}
	s.MustDo(s3Admin, `{ systemInfo { storageDriver } }`, nil, &info)
	if info.SystemInfo.StorageDriver != "s3" {
		t.Fatalf("systemInfo.storageDriver = %q, want s3", info.SystemInfo.StorageDriver)
	}

	shared := content(1, 20<<20+123) // three 8 MiB parts, the last one short
	sharedDigest := c.pushChunked("team/app", shared, 3<<20+7)
	type image struct {
		manifest digest.Digest
		blobs    map[digest.Digest]int
	}
	var imgs []image
	for i := range 2 {
		cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","created":"image %d"}`, i))
		own := content(uint64(10+i), 100000*(i+1))
		img := image{blobs: map[digest.Digest]int{}}
		cfgDigest := c.pushMonolithic("team/app", cfg)
		img.blobs[cfgDigest] = len(cfg)
		img.blobs[c.pushChunked("team/app", own, 40000)] = len(own)
		layers := map[digest.Digest]int{sharedDigest: len(shared)}
		for d, size := range img.blobs {
			if d != cfgDigest {
				layers[d] = size
			}
		}
		img.manifest = c.pushImage("team/app", fmt.Sprintf("v%d", i), cfgDigest, len(cfg), layers)
		img.blobs[sharedDigest] = len(shared)
		imgs = append(imgs, img)
	}
	for _, img := range imgs {
		for d := range img.blobs {
			c.pull("team/app", d)
			if _, err := os.Stat(objectPath(srv, opts.Bucket, d)); err != nil {
				t.Fatalf("blob %s is not an object in the bucket: %v", d, err)
			}
		}
	}

	assertNoUploadLeftovers(t, srv, opts.Bucket)

	var want int64
	var gone []digest.Digest
	for d, size := range imgs[0].blobs {
		if _, kept := imgs[1].blobs[d]; !kept {
			want += int64(size)
			gone = append(gone, d)
		}
	}
	c.expect(c.do("DELETE", "/v2/team/app/manifests/"+imgs[0].manifest.String(), nil), 202, "deleting image 0")
	bytesOnDisk := func() int64 {
		var info struct {
			SystemInfo struct{ StorageBytesOnDisk int64 }
		}
		s.MustDo(s3Admin, `{ systemInfo { storageBytesOnDisk } }`, nil, &info)
		return info.SystemInfo.StorageBytesOnDisk
	}
	before := bytesOnDisk()
	var run struct {
		RunGarbageCollection struct {
			Status       string
			BlobsDeleted int
			BytesFreed   int64
		}
	}
	s.MustDo(s3Admin, `mutation { runGarbageCollection(input: {wait: true}) { status blobsDeleted bytesFreed } }`, nil, &run)
	if r := run.RunGarbageCollection; r.Status != "SUCCEEDED" || r.BlobsDeleted != len(gone) || r.BytesFreed != want {
		t.Fatalf("garbage collection = %+v, want %d blobs and %d bytes", r, len(gone), want)
	}
	if after := bytesOnDisk(); before-after != want {
		t.Fatalf("the bucket went from %d to %d bytes, freeing %d; want %d", before, after, before-after, want)
	}
	for _, d := range gone {
		if _, err := os.Stat(objectPath(srv, opts.Bucket, d)); !os.IsNotExist(err) {
			t.Errorf("blob %s of the deleted image is still in the bucket (%v)", d, err)
		}
	}
	for d := range imgs[1].blobs {
		c.pull("team/app", d)
	}
}

// TestStorageRedirectSendsBlobGETsToPresignedS3URLs: with
// --storage-redirect, GET answers 307 to a presigned URL that a plain
// HTTP client follows to the bytes (Range included); HEAD is still
// answered by berth.
func TestStorageRedirectSendsBlobGETsToPresignedS3URLs(t *testing.T) {
	srv := s3test.Start(t)
	opts := srv.Bucket(t)
	s := servertest.Start(t, database.SQLite, onS3(opts, true))
	s.CreateProject(s3Admin, "team", false)
	c := s3Client{t: t, base: s.URL}
	blob := content(7, 3<<20)
	d := c.pushMonolithic("team/app", blob)

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp := s3Client{t: t, base: s.URL, http: noFollow}.do("GET", "/v2/team/app/blobs/"+d.String(), nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("GET status %d, want 307", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || "http://"+loc.Host != opts.Endpoint || loc.Query().Get("X-Amz-Expires") != "900" || loc.Query().Get("X-Amz-Signature") == "" {
		t.Fatalf("Location %q is not a 15-minute presigned URL at %s", resp.Header.Get("Location"), opts.Endpoint)
	}

	// A real client follows the redirect to the bytes.
	c.pull("team/app", d)
	ranged := c.expect(c.do("GET", "/v2/team/app/blobs/"+d.String(), nil, "Range", "bytes=1000-1999"), 206, "ranged GET")
	if !bytes.Equal(ranged, blob[1000:2000]) {
		t.Fatalf("ranged GET through the redirect returned %d other bytes", len(ranged))
	}

	head := c.do("HEAD", "/v2/team/app/blobs/"+d.String(), nil)
	head.Body.Close()
	if head.StatusCode != 200 || head.ContentLength != int64(len(blob)) || head.Header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("HEAD = %d, %d bytes, digest %q; want berth's own 200", head.StatusCode, head.ContentLength, head.Header.Get("Docker-Content-Digest"))
	}

	// The URL is the storage's: without its signature S3 refuses.
	unsigned := *loc
	unsigned.RawQuery = ""
	plain, err := http.Get(unsigned.String())
	if err != nil {
		t.Fatal(err)
	}
	plain.Body.Close()
	if plain.StatusCode != http.StatusForbidden {
		t.Fatalf("the object without a signature: status %d, want 403", plain.StatusCode)
	}
}

// TestStorageRedirectStreamsWhenTheDriverCannotPresign: the filesystem
// driver has no URL to give, so berth streams the blob itself.
func TestStorageRedirectStreamsWhenTheDriverCannotPresign(t *testing.T) {
	s := servertest.Start(t, database.SQLite, func(c *config.Config) { c.StorageRedirect = "true" })
	s.CreateProject(s3Admin, "team", false)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c := s3Client{t: t, base: s.URL, http: noFollow}
	blob := []byte("streamed by berth")
	d := c.pushMonolithic("team/app", blob)
	got := c.expect(c.do("GET", "/v2/team/app/blobs/"+d.String(), nil), 200, "GET on the filesystem driver")
	if sha256.Sum256(got) != sha256.Sum256(blob) {
		t.Fatalf("GET returned %q", got)
	}
}

// assertNoUploadLeftovers checks that finished uploads left nothing in the
// bucket: no upload objects, no pending records, no multipart uploads.
func assertNoUploadLeftovers(t *testing.T, srv *s3test.Server, bucket string) {
	t.Helper()
	root := filepath.Join(srv.Root, bucket)
	filepath.WalkDir(root, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if de.Type().IsRegular() && (strings.HasPrefix(rel, filepath.Join("registry", "uploads")) || strings.HasPrefix(de.Name(), ".") && strings.HasSuffix(de.Name(), ".pending")) {
			t.Errorf("finished uploads left %s in the bucket", rel)
		}
		if de.Type().IsRegular() && strings.Contains(rel, "multipart") {
			t.Errorf("finished uploads left a multipart upload: %s", rel)
		}
		return nil
	})
}

// TestS3ChunkedUploadStartedOnOneReplicaFinishesOnAnother: two berths
// share a database and a bucket; an upload begun on one, continued on
// both and closed on the other pulls back whole from the first. Nothing
// of the upload lives in either process: the multipart upload and its
// pending record are in the bucket, the session in the database.
func TestS3ChunkedUploadStartedOnOneReplicaFinishesOnAnother(t *testing.T) {
	srv := s3test.Start(t)
	for _, kind := range dbtest.Dialects {
		t.Run(kind, func(t *testing.T) { testS3ChunkedUploadAcrossReplicas(t, srv, kind) })
	}
}

func testS3ChunkedUploadAcrossReplicas(t *testing.T, srv *s3test.Server, kind string) {
	opts := srv.Bucket(t)
	// Replicas share the database and so the key of its secrets, which
	// on SQLite would otherwise be each data dir's own.
	var dbURL string
	first := servertest.Start(t, kind, onS3(opts, false), func(c *config.Config) { dbURL, c.SecretKey = c.DatabaseURL, dbtest.SecretKey })
	second := servertest.Start(t, kind, onS3(opts, false), func(c *config.Config) { c.DatabaseURL, c.SecretKey = dbURL, dbtest.SecretKey })
	first.CreateProject(s3Admin, "team", false)
	a, b := s3Client{t: t, base: first.URL}, s3Client{t: t, base: second.URL}

	blob := content(21, 2*s3.DefaultPartSize+4321)
	d := digest.FromBytes(blob)
	resp := a.do("POST", "/v2/team/app/blobs/uploads/", nil)
	a.expect(resp, 202, "starting the upload on the first replica")
	loc := resp.Header.Get("Location")
	cuts := []int{0, 5 << 20, s3.DefaultPartSize + 3, 2*s3.DefaultPartSize + 1, len(blob)}
	for i := 0; i+1 < len(cuts); i++ {
		c := []s3Client{a, b}[i%2]
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		resp = c.do("PATCH", u.RequestURI(), blob[cuts[i]:cuts[i+1]], "Content-Type", "application/octet-stream",
			"Content-Range", fmt.Sprintf("%d-%d", cuts[i], cuts[i+1]-1))
		c.expect(resp, 202, fmt.Sprintf("PATCH %d on replica %d", i, i%2+1))
		loc = resp.Header.Get("Location")
	}
	u, _ := url.Parse(loc)
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	b.expect(b.do("PUT", u.RequestURI(), nil), 201, "closing the upload on the second replica")
	a.pull("team/app", d)
	assertNoUploadLeftovers(t, srv, opts.Bucket)
}

// craneBinary returns crane from .tools/bin or PATH, skipping (or failing,
// when services are required) without it.
func craneBinary(t *testing.T) string {
	t.Helper()
	return testtool.Path(t, "crane")
}

// TestCranePullsThroughStorageRedirect: a real registry client follows the
// 307s of --storage-redirect to versitygw and gets every blob whole.
func TestCranePullsThroughStorageRedirect(t *testing.T) {
	craneBin := craneBinary(t)
	srv := s3test.Start(t)
	opts := srv.Bucket(t)
	s := servertest.Start(t, database.SQLite, onS3(opts, true))
	s.CreateProject(s3Admin, "team", false)
	c := s3Client{t: t, base: s.URL}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	cfgDigest := c.pushMonolithic("team/app", cfg)
	layer := content(31, 9<<20)
	layerDigest := c.pushChunked("team/app", layer, 4<<20)
	c.pushImage("team/app", "v1", cfgDigest, len(cfg), map[digest.Digest]int{layerDigest: len(layer)})

	home := t.TempDir()
	host := strings.TrimPrefix(s.URL, "http://")
	env := append(os.Environ(), "DOCKER_CONFIG="+home, "HOME="+home)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(craneBin, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("crane %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("auth", "login", host, "-u", "admin", "-p", servertest.AdminPassword, "--insecure")
	dir := filepath.Join(home, "image")
	run("pull", "--insecure", "--format", "oci", host+"/team/app:v1", dir)
	got, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", layerDigest.Encoded()))
	if err != nil {
		t.Fatalf("crane stored no layer: %v", err)
	}
	if digest.FromBytes(got) != layerDigest {
		t.Fatalf("crane pulled a layer of %d bytes hashing to %s, want %s", len(got), digest.FromBytes(got), layerDigest)
	}
}

// TestS3StoreThatCannotBeReachedIsAConfigError: a missing bucket or wrong
// keys stop berth at start with an error naming the setting, and without
// the secret in it.
func TestS3StoreThatCannotBeReachedIsAConfigError(t *testing.T) {
	srv := s3test.Start(t)
	good := srv.Bucket(t)
	for name, change := range map[string]func(o *s3.Options){
		"missing bucket": func(o *s3.Options) { o.Bucket = "no-such-bucket" },
		"wrong secret":   func(o *s3.Options) { o.SecretKey = "not-the-secret" },
	} {
		t.Run(name, func(t *testing.T) {
			opts := good
			change(&opts)
			cfg := newConfig(t)
			onS3(opts, false)(cfg)
			_, err := server.OpenStore(cfg)
			var cerr *config.Error
			if !errors.As(err, &cerr) || !strings.Contains(err.Error(), "--s3-bucket") {
				t.Fatalf("OpenStore = %v, want a config error naming --s3-bucket", err)
			}
			if strings.Contains(err.Error(), opts.SecretKey) {
				t.Fatalf("the error shows the secret key: %v", err)
			}
		})
	}
}
