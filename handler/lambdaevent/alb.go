package lambdaevent

import (
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/webtrack/webtrack/handler/gateway"
	"github.com/webtrack/webtrack/shared/processor"
)

// ALBRequest converts an Application Load Balancer target group event, with
// or without multi-value headers. The load balancer passes the query still
// URL-encoded, and the client's address only as the X-Forwarded-For entry
// it appends (gateway.LastForwardedFor): the entries before it are the
// client's to choose.
func ALBRequest(ev *events.ALBTargetGroupRequest) (*processor.Request, error) {
	body, err := gateway.DecodeBody(ev.Body, ev.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	header := gateway.Header(ev.Headers, ev.MultiValueHeaders)
	return &processor.Request{
		Method:   ev.HTTPMethod,
		Path:     gateway.Path(ev.Path),
		Host:     header.Get("Host"),
		Query:    values(ev.QueryStringParameters, ev.MultiValueQueryStringParameters, true),
		Header:   header,
		Body:     body,
		ClientIP: gateway.LastForwardedFor(header),
	}, nil
}

// ALBResponse converts the processor's response for a target group without
// multi-value headers.
func ALBResponse(r *processor.Response) *events.ALBTargetGroupResponse {
	resp := albResponse(r)
	resp.Headers = gateway.FlatHeaders(r.Header)
	return resp
}

// ALBMultiValueResponse converts the processor's response for a target group
// with multi-value headers, which reads only multiValueHeaders.
func ALBMultiValueResponse(r *processor.Response) *events.ALBTargetGroupResponse {
	resp := albResponse(r)
	resp.MultiValueHeaders = gateway.MultiHeaders(r.Header)
	return resp
}

func albResponse(r *processor.Response) *events.ALBTargetGroupResponse {
	body, b64 := gateway.EncodeBody(r.Body, r.Header)
	return &events.ALBTargetGroupResponse{
		StatusCode:        r.Status,
		StatusDescription: strconv.Itoa(r.Status) + " " + http.StatusText(r.Status),
		Body:              body,
		IsBase64Encoded:   b64,
	}
}
