package lambdaevent

import (
	"github.com/aws/aws-lambda-go/events"

	"github.com/webtrack/webtrack/handler/gateway"
	"github.com/webtrack/webtrack/shared/processor"
)

// FunctionURLRequest converts a Lambda function URL event. The query comes
// from rawQueryString, so repeated parameters stay apart.
func FunctionURLRequest(ev *events.LambdaFunctionURLRequest) (*processor.Request, error) {
	body, err := gateway.DecodeBody(ev.Body, ev.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	header := gateway.Header(ev.Headers, nil)
	return &processor.Request{
		Method:   ev.RequestContext.HTTP.Method,
		Path:     gateway.Path(ev.RawPath),
		Host:     gateway.Host(header, ev.RequestContext.DomainName),
		Query:    rawQuery(ev.RawQueryString, ev.QueryStringParameters),
		Header:   header,
		Body:     body,
		ClientIP: ev.RequestContext.HTTP.SourceIP,
	}, nil
}

// FunctionURLResponse converts the processor's response for a function URL.
func FunctionURLResponse(r *processor.Response) *events.LambdaFunctionURLResponse {
	body, b64 := gateway.EncodeBody(r.Body, r.Header)
	return &events.LambdaFunctionURLResponse{
		StatusCode:      r.Status,
		Headers:         gateway.FlatHeaders(r.Header),
		Body:            body,
		IsBase64Encoded: b64,
	}
}
