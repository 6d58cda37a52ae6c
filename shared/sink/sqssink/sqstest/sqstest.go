// Package sqstest runs local-aws-sqs, the SQS server that the tests of the
// SQS sink and of the queue path run against.
package sqstest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Start runs .ci/node-sqs/serve.mjs (or $WEBTRACK_LOCAL_SQS) under node on a
// loopback port ("0": a free one) and waits until it listens. The launcher
// is found above the test's directory, at the repository's root; `bash
// .ci/test` installs local-aws-sqs beside it.
func Start(port string) (endpoint string, stop func(), err error) {
	launcher := os.Getenv("WEBTRACK_LOCAL_SQS")
	if launcher == "" {
		if launcher, err = findLauncher(); err != nil {
			return "", nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(launcher), "node_modules", "local-aws-sqs")); err != nil {
		return "", nil, fmt.Errorf("local-aws-sqs is not installed next to %s: run `bash .ci/test`, which installs it (%w)", launcher, err)
	}
	cmd := exec.Command("node", launcher, port)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("starting local-aws-sqs (is node installed?): %w", err)
	}
	stop = func() { cmd.Process.Kill(); cmd.Wait() }
	listening := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		listening <- strings.TrimSpace(strings.TrimPrefix(line, "listening "))
	}()
	select {
	case p := <-listening:
		if p == "" {
			stop()
			return "", nil, errors.New("local-aws-sqs exited before listening")
		}
		return "http://127.0.0.1:" + p, stop, nil
	case <-time.After(20 * time.Second):
		stop()
		return "", nil, errors.New("local-aws-sqs did not listen within 20s")
	}
}

// Shared is a local-aws-sqs that a package's TestMain starts for all of the
// package's tests.
type Shared struct {
	endpoint string
	err      error
}

// Run starts the server, runs the tests and stops the server, returning
// m.Run's exit code. A server that does not start fails each test that
// asks for its Endpoint.
func (s *Shared) Run(m *testing.M) int {
	var stop func()
	s.endpoint, stop, s.err = Start("0")
	code := m.Run()
	if stop != nil {
		stop()
	}
	return code
}

// Endpoint is the server's endpoint, or fails the test if it did not start.
func (s *Shared) Endpoint(t testing.TB) string {
	t.Helper()
	if s.err != nil {
		t.Fatalf("local SQS server: %v", s.err)
	}
	return s.endpoint
}

// Client is a test-side client of the server at endpoint, for making queues
// and reading them back.
func Client(t testing.TB, endpoint string) *sqs.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

var queueCount atomic.Int64

// NewQueue makes an empty queue with a fresh name; suffix ".fifo" makes a
// FIFO queue.
func NewQueue(t testing.TB, c *sqs.Client, suffix string) (name, url string) {
	t.Helper()
	name = fmt.Sprintf("webtrack-test-%d%s", queueCount.Add(1), suffix)
	return name, CreateQueue(t, c, name)
}

// CreateQueue makes the queue named name and returns its URL.
func CreateQueue(t testing.TB, c *sqs.Client, name string) string {
	t.Helper()
	in := &sqs.CreateQueueInput{QueueName: aws.String(name)}
	if strings.HasSuffix(name, ".fifo") {
		in.Attributes = map[string]string{string(types.QueueAttributeNameFifoQueue): "true"}
	}
	out, err := c.CreateQueue(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateQueue %s: %v", name, err)
	}
	return aws.ToString(out.QueueUrl)
}

// UseTestEnvironment sets, for the whole test process, what the tests' AWS
// clients read: test credentials and region, and no look-up beyond the
// loopback (no shared files or profile, no instance metadata, no endpoint
// or session token from the developer's shell). A TestMain calls it first.
func UseTestEnvironment() {
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	} {
		os.Setenv(k, v)
	}
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_PROFILE", "AWS_SESSION_TOKEN"} {
		os.Unsetenv(k)
	}
}

// findLauncher looks for .ci/node-sqs/serve.mjs in the working directory and
// above it.
func findLauncher() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		launcher := filepath.Join(dir, ".ci", "node-sqs", "serve.mjs")
		if _, err := os.Stat(launcher); err == nil {
			return launcher, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no .ci/node-sqs/serve.mjs above the working directory: set WEBTRACK_LOCAL_SQS or run `bash .ci/test`")
		}
		dir = parent
	}
}
