package fcevent

import (
	"context"

	"github.com/aliyun/fc-runtime-go-sdk/events"

	"github.com/webtrack/webtrack/shared/processor"
)

// Handler returns the function that fc.Start runs for HTTP trigger
// invocations: convert, process, convert back. An event that cannot be
// converted (a body that is not valid base64) fails the invocation.
func Handler(p *processor.Processor) func(context.Context, *events.HTTPTriggerEvent) (*events.HTTPTriggerResponse, error) {
	return func(ctx context.Context, ev *events.HTTPTriggerEvent) (*events.HTTPTriggerResponse, error) {
		req, err := Request(ev)
		if err != nil {
			return nil, err
		}
		return Response(p.Handle(ctx, req)), nil
	}
}
