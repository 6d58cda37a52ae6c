// Package s3test runs real S3-compatible servers on loopback for the tests of
// the S3 and OSS sinks: gofakes3 in process, versitygw as a child process,
// either of which can be stopped and started again, and a proxy in front of
// either that throttles, hangs or goes down on cue.
package s3test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/webtrack/webtrack/shared/loopback"
	"github.com/webtrack/webtrack/shared/sink/objectlayout"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// Server is a running S3-compatible server with one bucket.
type Server struct {
	Endpoint  string // base URL, http://127.0.0.1:PORT
	Bucket    string
	AccessKey string
	SecretKey string
	stop      func()
	start     func() error
}

// Stop stops the server and drops its connections: clients are refused.
func (s *Server) Stop() { s.stop() }

// Start starts the stopped server again on the same address, with the
// objects it held, and returns once it answers.
func (s *Server) Start() error { return s.start() }

// GoFakeS3 starts gofakes3 on loopback with an empty bucket. It checks
// Content-MD5 but no signature, so any credentials pass.
func GoFakeS3(t testing.TB, bucket string) *Server {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatalf("gofakes3: create bucket: %v", err)
	}
	handler := gofakes3.New(backend).Server()
	addr := loopback.FreeAddr(t)
	s := &Server{Endpoint: "http://" + addr, Bucket: bucket, AccessKey: "fake-key", SecretKey: "fake-secret"}
	var srv *http.Server
	s.start = func() error {
		l, err := listenRetrying(addr)
		if err != nil {
			return err
		}
		srv = &http.Server{Handler: handler, ErrorLog: quiet}
		go srv.Serve(l)
		return nil
	}
	s.stop = func() { _ = srv.Close() }
	if err := s.start(); err != nil {
		t.Fatalf("gofakes3: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Versitygw starts versitygw over a temporary directory on a free loopback
// port, creates the bucket and stops the server at cleanup. The binary is
// installed by .ci/setup.d/20-versitygw.sh; without it the test fails.
func Versitygw(t testing.TB, bucket string) *Server {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		t.Fatalf("versitygw not on PATH (%v): run `bash .ci/test`, which installs it into $WEBTRACK_TOOLS/bin, or add that directory to PATH", err)
	}
	s := &Server{Endpoint: "http://" + loopback.FreeAddr(t), Bucket: bucket, AccessKey: "webtrack-root", SecretKey: "webtrack-root-secret"}
	dir := t.TempDir()
	var cmd *exec.Cmd
	var out strings.Builder
	created := false // the bucket, by the first start
	s.stop = func() {
		if cmd != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			cmd = nil
		}
	}
	s.start = func() error {
		cmd = exec.Command(bin, "--quiet", "--port", strings.TrimPrefix(s.Endpoint, "http://"), "posix", dir)
		cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.AccessKey, "ROOT_SECRET_ACCESS_KEY="+s.SecretKey)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting versitygw: %w", err)
		}
		err := s.whenReady(10*time.Second, func(ctx context.Context) error {
			if created {
				_, err := s.Client().HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.Bucket})
				return err
			}
			_, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.Bucket})
			return err
		})
		if err != nil {
			return fmt.Errorf("versitygw at %s: %w\noutput:\n%s", s.Endpoint, err, out.String())
		}
		created = true
		return nil
	}
	t.Cleanup(s.Stop)
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
	return s
}

// whenReady retries op until it succeeds or wait has passed.
func (s *Server) whenReady(wait time.Duration, op func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		err := op(ctx)
		if err == nil || ctx.Err() != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client is an S3 client for reading back what a sink stored.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		HTTPClient:   http.DefaultClient,
	})
}

// Keys lists every object key in the bucket.
func (s *Server) Keys(ctx context.Context) ([]string, error) {
	var keys []string
	pages := s3.NewListObjectsV2Paginator(s.Client(), &s3.ListObjectsV2Input{Bucket: &s.Bucket})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", s.Bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, *o.Key)
		}
	}
	return keys, nil
}

// Stored reads back every object in the bucket as sinktest wants it: NDJSON
// lines grouped by the request id in each key.
func (s *Server) Stored(ctx context.Context) (map[string][]string, error) {
	keys, err := s.Keys(ctx)
	if err != nil {
		return nil, err
	}
	objects := make([]sinktest.Object, 0, len(keys))
	for _, key := range keys {
		nd, err := s.Read(ctx, key)
		if err != nil {
			return nil, err
		}
		objects = append(objects, sinktest.Object{Key: key, NDJSON: nd})
	}
	return sinktest.ByRequest(objects), nil
}

// Read reads back one object and returns its NDJSON, decompressed as its
// key's extension says.
func (s *Server) Read(ctx context.Context, key string) ([]byte, error) {
	out, err := s.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &key})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	return objectlayout.Decode(key, body)
}
