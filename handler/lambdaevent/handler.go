package lambdaevent

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/webtrack/webtrack/shared/processor"
)

// Handler serves every HTTP event family with one processor. It implements
// lambda.Handler, so the runtime hands it the raw event.
type Handler struct {
	P *processor.Processor
}

// Invoke handles one event: it detects the family, converts, processes and
// converts back. The Lambda invocation's request id (the one in the
// function's logs) becomes the request id. An event of no known family, or
// one that does not convert, fails the invocation.
func (h Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	kind, err := Detect(payload)
	if err != nil {
		return nil, err
	}
	switch kind {
	case HTTPAPI:
		return serve(ctx, h.P, payload, HTTPAPIRequest, HTTPAPIResponse)
	case FunctionURL:
		return serve(ctx, h.P, payload, FunctionURLRequest, FunctionURLResponse)
	case REST:
		return serve(ctx, h.P, payload, RESTRequest, RESTResponse)
	case ALB:
		return serve(ctx, h.P, payload, ALBRequest, ALBResponse)
	default: // ALBMultiValue
		return serve(ctx, h.P, payload, ALBRequest, ALBMultiValueResponse)
	}
}

func serve[E, R any](ctx context.Context, p *processor.Processor, payload []byte,
	in func(*E) (*processor.Request, error), out func(*processor.Response) R) ([]byte, error) {
	var ev E
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("decoding %T: %w", ev, err)
	}
	req, err := in(&ev)
	if err != nil {
		return nil, err
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		req.ID = lc.AwsRequestID
	}
	return json.Marshal(out(p.Handle(ctx, req)))
}
