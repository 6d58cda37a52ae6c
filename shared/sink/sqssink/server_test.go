package sqssink_test

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

	"github.com/webtrack/webtrack/shared/awsconfig"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/sqssink"
)

// localSQS is the local-aws-sqs server that TestMain starts for the package.
var localSQS struct {
	endpoint string
	err      error
}

// The sink configured as on Lambda, from the environment TestMain sets.
func init() { sink.Register("sqs", sqssink.Opener(awsconfig.FromEnvironment)) }

func TestMain(m *testing.M) {
	// Test credentials, and no look-ups beyond the loopback: no shared
	// files, no instance metadata.
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "test",
		"AWS_SECRET_ACCESS_KEY":       "test",
		"AWS_REGION":                  "us-east-1",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
	} {
		os.Setenv(k, v)
	}
	os.Unsetenv("AWS_ENDPOINT_URL_SQS")
	os.Unsetenv("AWS_ENDPOINT_URL")
	os.Unsetenv("AWS_PROFILE")
	var stop func()
	localSQS.endpoint, stop, localSQS.err = startLocalSQS("0")
	code := m.Run()
	if stop != nil {
		stop()
	}
	os.Exit(code)
}

// serverEndpoint returns the local SQS server's endpoint, or fails the test
// if it could not be started.
func serverEndpoint(t testing.TB) string {
	t.Helper()
	if localSQS.err != nil {
		t.Fatalf("local SQS server: %v", localSQS.err)
	}
	return localSQS.endpoint
}

// startLocalSQS runs .ci/node-sqs/serve.mjs (or $WEBTRACK_LOCAL_SQS) under
// node on a loopback port ("0": a free one) and waits until it listens.
func startLocalSQS(port string) (endpoint string, stop func(), err error) {
	launcher := os.Getenv("WEBTRACK_LOCAL_SQS")
	if launcher == "" {
		launcher = filepath.Join("..", "..", "..", ".ci", "node-sqs", "serve.mjs")
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

// newClient is a test-side client of the local server, for making queues
// and reading them back.
func newClient(t testing.TB) *sqs.Client {
	t.Helper()
	return clientOf(t, serverEndpoint(t))
}

// clientOf is a test-side client of the server at endpoint.
func clientOf(t testing.TB, endpoint string) *sqs.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

var queueCount atomic.Int64

// newQueue makes an empty queue with a fresh name; suffix ".fifo" makes a
// FIFO queue.
func newQueue(t testing.TB, c *sqs.Client, suffix string) (name, url string) {
	t.Helper()
	name = fmt.Sprintf("webtrack-test-%d%s", queueCount.Add(1), suffix)
	return name, createQueue(t, c, name)
}

// createQueue makes the queue named name and returns its URL.
func createQueue(t testing.TB, c *sqs.Client, name string) string {
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
