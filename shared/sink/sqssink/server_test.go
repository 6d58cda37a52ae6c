package sqssink_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/webtrack/webtrack/shared/awsconfig"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/sqssink"
	"github.com/webtrack/webtrack/shared/sink/sqssink/sqstest"
)

// localSQS is the local-aws-sqs server that TestMain starts for the package.
var localSQS struct {
	endpoint string
	err      error
}

// The sink configured as on Lambda, from the environment TestMain sets.
func init() { sink.Register("sqs", sqssink.Opener(awsconfig.FromEnvironment)) }

func TestMain(m *testing.M) {
	sqstest.UseTestEnvironment()
	var stop func()
	localSQS.endpoint, stop, localSQS.err = sqstest.Start("0")
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
