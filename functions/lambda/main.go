// Command lambda is webtrack's AWS Lambda function (provided.al2023, built
// with -tags lambda.norpc as bootstrap). One binary serves API Gateway HTTP
// and REST APIs, function URLs and ALB target groups.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/webtrack/webtrack/handler/lambdaevent"
	"github.com/webtrack/webtrack/shared/startup"
)

func main() {
	svc, err := startup.FromEnv(context.Background(), drivers())
	if err != nil {
		slog.Error("start-up failed", "err", err)
		os.Exit(1)
	}
	lambda.StartWithOptions(lambdaevent.Handler{P: svc.Processor}, lambda.WithEnableSIGTERM(func() {
		if err := svc.Close(); err != nil {
			slog.Error("closing the sink", "err", err)
		}
	}))
}
