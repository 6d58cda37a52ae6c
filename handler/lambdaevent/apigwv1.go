package lambdaevent

import (
	"github.com/aws/aws-lambda-go/events"

	"github.com/webtrack/webtrack/handler/gateway"
	"github.com/webtrack/webtrack/shared/processor"
)

// RESTRequest converts an API Gateway REST API proxy event (payload format
// 1.0). Its path has no stage prefix; the gateway has already decoded the
// query, and the multi-value maps keep repeated headers and parameters apart.
func RESTRequest(ev *events.APIGatewayProxyRequest) (*processor.Request, error) {
	body, err := gateway.DecodeBody(ev.Body, ev.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	header := gateway.Header(ev.Headers, ev.MultiValueHeaders)
	return &processor.Request{
		Method:   ev.HTTPMethod,
		Path:     ev.Path,
		Host:     gateway.Host(header, ev.RequestContext.DomainName),
		Query:    values(ev.QueryStringParameters, ev.MultiValueQueryStringParameters, false),
		Header:   header,
		Body:     body,
		ClientIP: ev.RequestContext.Identity.SourceIP,
	}, nil
}

// RESTResponse converts the processor's response for a REST API.
func RESTResponse(r *processor.Response) *events.APIGatewayProxyResponse {
	body, b64 := gateway.EncodeBody(r.Body, r.Header)
	return &events.APIGatewayProxyResponse{
		StatusCode:        r.Status,
		MultiValueHeaders: gateway.MultiHeaders(r.Header),
		Body:              body,
		IsBase64Encoded:   b64,
	}
}
