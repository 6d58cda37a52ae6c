package lambdaevent

import (
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/webtrack/webtrack/handler/gateway"
	"github.com/webtrack/webtrack/shared/processor"
)

// HTTPAPIRequest converts an API Gateway HTTP API event (payload format 2.0).
// The query comes from rawQueryString, so repeated parameters stay apart; a
// named stage's prefix is taken off the path.
func HTTPAPIRequest(ev *events.APIGatewayV2HTTPRequest) (*processor.Request, error) {
	body, err := gateway.DecodeBody(ev.Body, ev.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	header := gateway.Header(ev.Headers, nil)
	path := ev.RawPath
	if st := ev.RequestContext.Stage; st != "" && st != "$default" {
		if rest, ok := strings.CutPrefix(path, "/"+st); ok && strings.HasPrefix(rest, "/") {
			path = rest
		}
	}
	return &processor.Request{
		Method:   ev.RequestContext.HTTP.Method,
		Path:     gateway.Path(path),
		Host:     gateway.Host(header, ev.RequestContext.DomainName),
		Query:    rawQuery(ev.RawQueryString, ev.QueryStringParameters),
		Header:   header,
		Body:     body,
		ClientIP: ev.RequestContext.HTTP.SourceIP,
	}, nil
}

// HTTPAPIResponse converts the processor's response for an HTTP API.
func HTTPAPIResponse(r *processor.Response) *events.APIGatewayV2HTTPResponse {
	body, b64 := gateway.EncodeBody(r.Body, r.Header)
	return &events.APIGatewayV2HTTPResponse{
		StatusCode:      r.Status,
		Headers:         gateway.FlatHeaders(r.Header),
		Body:            body,
		IsBase64Encoded: b64,
	}
}
