// Command compactor is webtrack's queue compactor on AWS Lambda
// (provided.al2023, built with -tags lambda.norpc as bootstrap). An SQS or
// Kafka event source mapping hands it the batches that the ingest function's
// sqs:// or kafka:// sink queued, and it stores them as one object per
// partition through WEBTRACK_SINK (s3://, oss:// or file://).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/webtrack/webtrack/handler/queueevent"
	"github.com/webtrack/webtrack/shared/compact"
)

func main() {
	c, err := compact.FromEnv(context.Background(), objectDrivers())
	if err != nil {
		slog.Error("start-up failed", "err", err)
		os.Exit(1)
	}
	lambda.StartWithOptions(queueevent.Handler{C: c}, lambda.WithEnableSIGTERM(func() {
		if err := c.Close(); err != nil {
			slog.Error("closing the sink", "err", err)
		}
	}))
}
