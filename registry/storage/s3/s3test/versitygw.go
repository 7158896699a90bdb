// Package s3test starts a real S3 server for tests: versitygw with its
// posix backend on a temporary directory.
package s3test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berth-registry/berth/internal/testtool"
	"github.com/berth-registry/berth/registry/storage/s3"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is its URL, http://127.0.0.1:<port>.
	Endpoint             string
	AccessKey, SecretKey string
	// Root is the directory holding the buckets.
	Root string
}

// Binary returns the path of versitygw from <repo>/.tools/bin or PATH. A
// missing binary skips the test, unless BERTH_TEST_REQUIRE_SERVICES=1.
func Binary(t testing.TB) string {
	t.Helper()
	return testtool.Path(t, "versitygw")
}

// Start runs versitygw on a loopback port with its posix backend on a
// temporary directory, until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	s := &Server{AccessKey: "berth-test", SecretKey: "berth-test-" + strings.ToLower(rand.Text()), Root: t.TempDir()}
	for attempt := 0; ; attempt++ {
		addr := freeAddr(t)
		s.Endpoint = "http://" + addr
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "--port", addr, "--quiet", "posix", s.Root)
		// Keys through the environment: they stay out of process listings.
		cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
		logFile, err := os.Create(filepath.Join(t.TempDir(), "versitygw.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatalf("starting versitygw: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cancel()
			<-exited
			logFile.Close()
		}
		if waitReady(addr, exited) {
			t.Cleanup(stop)
			return s
		}
		stop()
		if attempt == 2 {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("versitygw did not start on %s:\n%s", addr, log)
		}
	}
}

// Bucket creates a new bucket and returns driver options for it.
func (s *Server) Bucket(t testing.TB) s3.Options {
	t.Helper()
	name := "berth-" + strings.ToLower(rand.Text())[:12]
	client := awss3.New(awss3.Options{
		Region: "us-east-1", UsePathStyle: true, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey}, nil
		}),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	return s3.Options{Endpoint: s.Endpoint, Region: "us-east-1", Bucket: name, AccessKey: s.AccessKey, SecretKey: s.SecretKey, PathStyle: true}
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitReady waits until addr answers HTTP, or the process exits.
func waitReady(addr string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(20 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		resp, err := client.Get(fmt.Sprintf("http://%s/", addr))
		if err == nil {
			resp.Body.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
