//go:build bench

package bench

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// The part of zot's zb benchmark (cmd/zb in project-zot/zot) the issue
// compares: 10 MB monolithic and chunked pushes, 10 MB and 100 MB pulls,
// each by zbClients clients at once.
const (
	zbClients = 2
	zbPushes  = 20 // images pushed per measurement, over all clients
	zbPulls10 = 40
	zbPulls   = 10 // of the 100 MB image
)

// zbBlob is a layer as zb makes them: a random first page, then zeros.
type zbBlob struct {
	path   string
	size   int64
	digest digest.Digest
}

func newZBBlob(t *testing.T, size int64) zbBlob {
	path := filepath.Join(t.TempDir(), fmt.Sprintf("%d.blob", size))
	page := make([]byte, 4096)
	rand.Read(page)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(page); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Seek(0, io.SeekStart)
	d, err := digest.FromReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return zbBlob{path: path, size: size, digest: d}
}

// zbClient makes the requests one zb client makes, request for request:
// Basic credentials on every request (zb -A user:pass), an upload's
// Location followed by its path alone, and manifests asked for without an
// Accept header.
type zbClient struct {
	reg    *registry
	client *http.Client
}

func newZBClient(reg *registry) *zbClient {
	return &zbClient{reg: reg, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}, Timeout: time.Minute}}
}

func (c *zbClient) close() { c.client.CloseIdleConnections() }

// do sends a request with body (of known length) and reads the answer.
func (c *zbClient) do(method, u string, body []byte, want int, hdr ...string) (*http.Response, []byte, error) {
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if c.reg.user != "" {
		req.SetBasicAuth(c.reg.user, c.reg.pass)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	// Manifests and errors are read; layers are counted, not kept.
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil {
		_, err = drain(resp.Body)
	}
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != want {
		return nil, nil, fmt.Errorf("%s %s: %d, want %d: %.200s", method, u, resp.StatusCode, want, out)
	}
	return resp, out, nil
}

// location is where zb sends an upload's next request: the base URL and
// the path of the Location, without its query, unless the registry
// cannot do without it.
func (c *zbClient) location(resp *http.Response) (string, error) {
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return "", err
	}
	if c.reg.uploadStateInQuery {
		return resp.Request.URL.ResolveReference(loc).String(), nil
	}
	return c.reg.base + loc.Path, nil
}

func withDigest(u string, d digest.Digest) string {
	pu, _ := url.Parse(u)
	q := pu.Query()
	q.Set("digest", d.String())
	pu.RawQuery = q.Encode()
	return pu.String()
}

// randomConfig is an image config unique to one push, as zb's are.
func randomConfig() ([]byte, digest.Digest) {
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "author": rand.Text(),
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{}},
	})
	return cfg, digest.FromBytes(cfg)
}

// putManifest pushes zb's manifest of one layer and a config under tag.
func (c *zbClient) putManifest(repo, tag string, cfg []byte, cd digest.Digest, layer zbBlob) error {
	m, _ := json.MarshalIndent(map[string]any{
		"schemaVersion": 2,
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cfg)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.digest, "size": layer.size}},
	}, "", "\t")
	_, _, err := c.do("PUT", c.reg.base+"/v2/"+repo+"/manifests/"+tag, m, http.StatusCreated,
		"Content-Type", "application/vnd.oci.image.manifest.v1+json")
	return err
}

// pushMonolith is zb's "Push Monolith": POST, then PUT of the whole layer
// with its digest; the same for the config; then the manifest.
func (c *zbClient) pushMonolith(repo, tag string, layer zbBlob, content []byte) error {
	cfg, cd := randomConfig()
	for _, b := range []struct {
		body []byte
		d    digest.Digest
	}{{content, layer.digest}, {cfg, cd}} {
		resp, _, err := c.do("POST", c.reg.base+"/v2/"+repo+"/blobs/uploads/", nil, http.StatusAccepted)
		if err != nil {
			return err
		}
		loc, err := c.location(resp)
		if err != nil {
			return err
		}
		if _, _, err := c.do("PUT", withDigest(loc, b.d), b.body, http.StatusCreated, "Content-Type", "application/octet-stream"); err != nil {
			return err
		}
	}
	return c.putManifest(repo, tag, cfg, cd, layer)
}

// pushChunked is zb's "Push Chunk Streamed": POST, PATCH of the whole
// layer, PUT with the digest; for the config POST, an empty PATCH, a
// PATCH of the config and the PUT; then the manifest.
func (c *zbClient) pushChunked(repo, tag string, layer zbBlob, content []byte) error {
	cfg, cd := randomConfig()
	for _, b := range []struct {
		chunks [][]byte
		d      digest.Digest
	}{{[][]byte{content}, layer.digest}, {[][]byte{nil, cfg}, cd}} {
		resp, _, err := c.do("POST", c.reg.base+"/v2/"+repo+"/blobs/uploads/", nil, http.StatusAccepted)
		if err != nil {
			return err
		}
		loc, err := c.location(resp)
		if err != nil {
			return err
		}
		for _, chunk := range b.chunks {
			if resp, _, err = c.do("PATCH", loc, chunk, http.StatusAccepted, "Content-Type", "application/octet-stream"); err != nil {
				return err
			}
		}
		if loc, err = c.location(resp); err != nil {
			return err
		}
		if _, _, err := c.do("PUT", withDigest(loc, b.d), nil, http.StatusCreated, "Content-Type", "application/octet-stream"); err != nil {
			return err
		}
	}
	return c.putManifest(repo, tag, cfg, cd, layer)
}

// pull is zb's "Pull": HEAD and GET of the manifest (with a Content-Type
// header and no Accept), then HEAD and GET of the config and the layer.
func (c *zbClient) pull(repo, tag string, layer zbBlob) error {
	mu := c.reg.base + "/v2/" + repo + "/manifests/" + tag
	hdr := []string{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}
	if c.reg.manifestNeedsAccept {
		hdr = append(hdr, "Accept", "application/vnd.oci.image.manifest.v1+json")
	}
	if _, _, err := c.do("HEAD", mu, nil, http.StatusOK, hdr...); err != nil {
		return err
	}
	_, body, err := c.do("GET", mu, nil, http.StatusOK, hdr...)
	if err != nil {
		return err
	}
	var m struct {
		Config struct{ Digest digest.Digest }
		Layers []struct{ Digest digest.Digest }
	}
	if err := json.Unmarshal(body, &m); err != nil || len(m.Layers) != 1 || m.Layers[0].Digest != layer.digest {
		return fmt.Errorf("GET %s without Accept: not the image's manifest (%v): %.200s", mu, err, body)
	}
	for _, d := range []digest.Digest{m.Config.Digest, layer.digest} {
		bu := c.reg.base + "/v2/" + repo + "/blobs/" + d.String()
		if _, _, err := c.do("HEAD", bu, nil, http.StatusOK); err != nil {
			return err
		}
		if _, _, err := c.do("GET", bu, nil, http.StatusOK); err != nil {
			return err
		}
	}
	return nil
}

// zbRun runs requests calls of fn spread over zbClients clients, each with
// its own connections, and returns requests per second over the whole.
func zbRun(reg *registry, requests int, fn func(c *zbClient, client, i int) error) (float64, error) {
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for client := range zbClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newZBClient(reg)
			defer c.close()
			for i := range requests / zbClients {
				if err := fn(c, client, i); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if n := failed.Load(); n > 0 {
		return 0, fmt.Errorf("%d of %d failed, first: %v", n, requests, firstErr.Load())
	}
	return float64(requests) / took.Seconds(), nil
}
