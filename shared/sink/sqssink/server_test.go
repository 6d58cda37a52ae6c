package sqssink_test

import (
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/webtrack/webtrack/shared/awsconfig"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/sqssink"
	"github.com/webtrack/webtrack/shared/sink/sqssink/sqstest"
)

// localSQS is the local-aws-sqs server that TestMain starts for the package.
var localSQS sqstest.Shared

// The sink configured as on Lambda, from the environment TestMain sets.
var drivers = sink.Drivers{"sqs": sqssink.Opener(awsconfig.FromEnvironment)}

func TestMain(m *testing.M) {
	sqstest.UseTestEnvironment()
	os.Exit(localSQS.Run(m))
}

// newClient is a test-side client of the local server, for making queues
// and reading them back.
func newClient(t testing.TB) *sqs.Client {
	t.Helper()
	return sqstest.Client(t, localSQS.Endpoint(t))
}
