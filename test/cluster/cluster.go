// Package cluster runs berth scaled out on one machine, for the tests and
// benchmarks that need it: several `berth serve` processes on one
// PostgreSQL database, one Redis and one blob store (a directory they all
// use, or an S3 bucket on versitygw), behind a round-robin reverse proxy
// that, like an Ingress controller, stops sending to a replica it cannot
// reach. Everything listens on loopback.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/database/dbtest"
	"github.com/berth-registry/berth/internal/testtool"
	"github.com/berth-registry/berth/registry/storage/s3/s3test"
)

// AdminPassword is the password of the admin user of every cluster.
const AdminPassword = "cluster-Admin-pass-1"

// Storage drivers a cluster can share.
const (
	Filesystem = "filesystem"
	S3         = "s3"
)

// Options shape a cluster.
type Options struct {
	Replicas int    // default 3
	Storage  string // Filesystem (default) or S3
	// Env adds BERTH_* settings to every replica.
	Env []string
}

// Replica is one berth process.
type Replica struct {
	URL  string // http://127.0.0.1:port, bypassing the proxy
	Host string
	cmd  *exec.Cmd
	logs *testtool.SyncBuffer
	down atomic.Bool
	hits atomic.Int64
	done chan struct{}
}

// Hits is how many requests the proxy sent to r.
func (r *Replica) Hits() int64 { return r.hits.Load() }

// Cluster is replicas behind a proxy.
type Cluster struct {
	URL  string // the proxy: http://127.0.0.1:port, berth's external URL
	Host string
	// Replicas in the order the proxy takes turns.
	Replicas []*Replica
	next     atomic.Uint64
}

var (
	binaryOnce sync.Once
	binaryDir  string
	binaryPath string
	binaryErr  error
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// BuildBinary builds cmd/berth once per test process, for every test
// that runs the real binary; RemoveBinary deletes it.
func BuildBinary() (string, error) {
	binaryOnce.Do(func() {
		if binaryDir, binaryErr = os.MkdirTemp("", "berth-test-bin"); binaryErr != nil {
			return
		}
		binaryPath = filepath.Join(binaryDir, "berth")
		cmd := exec.Command("go", "build", "-o", binaryPath, "./cmd/berth")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			binaryErr = fmt.Errorf("go build ./cmd/berth: %v\n%s", err, out)
		}
	})
	return binaryPath, binaryErr
}

// RemoveBinary deletes what BuildBinary built; call it from TestMain.
func RemoveBinary() {
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
}

// Binary is BuildBinary for one test, which fails if the build does.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := BuildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Start runs a cluster until the test ends. It needs PostgreSQL and Redis
// (and versitygw for S3), skipping without them unless services are
// required.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Replicas == 0 {
		o.Replicas = 3
	}
	if o.Storage == "" {
		o.Storage = Filesystem
	}
	env := []string{
		"BERTH_DATABASE_URL=" + dbtest.URL(t, "postgres"),
		"BERTH_REDIS_URL=" + dbtest.RedisURL(t),
		"BERTH_ADMIN_PASSWORD=" + AdminPassword,
		"BERTH_SECRET_KEY=" + secretKey(),
		"BERTH_TRUSTED_PROXIES=127.0.0.1/32",
		"BERTH_LOG_LEVEL=warn",
	}
	shared := t.TempDir() // the blob store of them all (filesystem)
	switch o.Storage {
	case Filesystem:
	case S3:
		b := s3test.Start(t).Bucket(t)
		env = append(env, "BERTH_STORAGE_DRIVER=s3", "BERTH_S3_ENDPOINT="+b.Endpoint, "BERTH_S3_REGION="+b.Region,
			"BERTH_S3_BUCKET="+b.Bucket, "BERTH_S3_ACCESS_KEY="+b.AccessKey, "BERTH_S3_SECRET_KEY="+b.SecretKey,
			"BERTH_S3_PATH_STYLE=true")
	default:
		t.Fatalf("unknown storage %q", o.Storage)
	}
	env = append(env, o.Env...)
	bin := Binary(t)

	c := &Cluster{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.Host = ln.Addr().String()
	c.URL = "http://" + c.Host
	env = append(env, "BERTH_EXTERNAL_URL="+c.URL)
	proxy := httptest.NewUnstartedServer(c.proxy())
	proxy.Listener.Close()
	proxy.Listener = ln
	proxy.Start()
	t.Cleanup(proxy.Close)

	// The replicas start at once, as a Deployment's pods do: migrations
	// and the first admin must not trip over each other.
	var wg sync.WaitGroup
	errs := make([]error, o.Replicas)
	for i := 0; i < o.Replicas; i++ {
		dataDir := shared
		if o.Storage == S3 {
			dataDir = t.TempDir()
		}
		r := &Replica{logs: &testtool.SyncBuffer{}, done: make(chan struct{})}
		c.Replicas = append(c.Replicas, r)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.start(t, i, bin, append(env, "BERTH_DATA_DIR="+dataDir))
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for i, r := range c.Replicas {
			r.stop()
			if t.Failed() {
				t.Logf("replica %d (%s) logs:\n%s", i, r.URL, r.logs.String())
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return c
}

// start runs replica i and waits until it is ready. It runs on a
// goroutine of its own, so it returns its error instead of failing t. The
// free port it picks can be taken by another test's process before berth
// binds it; berth then exits, and it starts again on another port.
func (r *Replica) start(t testing.TB, i int, bin string, env []string) error {
	attempt := 0
	return testtool.StartAgain(func() error {
		attempt++
		port, err := freePort()
		if err != nil {
			return err
		}
		r.Host = "127.0.0.1:" + strconv.Itoa(port)
		r.URL = "http://" + r.Host
		r.logs = &testtool.SyncBuffer{} // an earlier attempt's "address already in use" is not this one's
		r.cmd = exec.Command(bin, "serve")
		r.cmd.Env = append(os.Environ(), append(env, "BERTH_ADDR="+r.Host)...)
		r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
		if err := r.cmd.Start(); err != nil {
			return err
		}
		r.done = make(chan struct{})
		go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(r.cmd, r.done)
		// Only once berth says it listens is the port its own: until then
		// whoever took it in between would answer /readyz.
		err = testtool.WaitListening(r.logs.String, r.done, 60*time.Second)
		if errors.Is(err, testtool.ErrPortTaken) {
			t.Logf("replica %d: port %d was taken before berth could bind it; starting it again on another", i, port)
			return err
		}
		if err == nil {
			err = r.waitReady(60 * time.Second)
		}
		if err != nil {
			r.cmd.Process.Kill()
			<-r.done
			return fmt.Errorf("replica %d on %s did not become ready (attempt %d): %v\n%s", i, r.Host, attempt, err, r.logs.String())
		}
		return nil
	})
}

func (r *Replica) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-r.done:
			return errors.New("berth exited")
		default:
		}
		resp, err := http.Get(r.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/readyz: %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *Replica) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.done:
	case <-time.After(15 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
	}
}

// Kill ends replica i with SIGKILL: no shutdown, no cleanup, as a node
// that loses power.
func (c *Cluster) Kill(i int) {
	r := c.Replicas[i]
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// Logs returns what replica i printed so far.
func (c *Cluster) Logs(i int) string { return c.Replicas[i].logs.String() }

type replicaKey struct{}

// proxy sends each request to the next replica that is not known to be
// down, and marks a replica down when it refuses connections.
func (c *Cluster) proxy() http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			r := pr.In.Context().Value(replicaKey{}).(*Replica)
			u, _ := url.Parse(r.URL)
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			r := resp.Request.Context().Value(replicaKey{}).(*Replica)
			for i, x := range c.Replicas {
				if x == r {
					resp.Header.Set("X-Cluster-Replica", strconv.Itoa(i))
				}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			if errors.Is(err, syscall.ECONNREFUSED) {
				req.Context().Value(replicaKey{}).(*Replica).down.Store(true)
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var r *Replica
		for range c.Replicas {
			cand := c.Replicas[c.next.Add(1)%uint64(len(c.Replicas))]
			if !cand.down.Load() {
				r = cand
				break
			}
		}
		if r == nil {
			http.Error(w, "no replica is up", http.StatusBadGateway)
			return
		}
		r.hits.Add(1)
		rp.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), replicaKey{}, r)))
	})
}

// secretKey is a fresh BERTH_SECRET_KEY: 32 random bytes, base64.
func secretKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
