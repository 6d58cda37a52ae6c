// Package fcevent converts Function Compute 3.0 HTTP trigger events to the
// processor's requests and its responses back to HTTP trigger responses.
package fcevent

import (
	"net/http"
	"net/url"

	"github.com/aliyun/fc-runtime-go-sdk/events"

	"github.com/webtrack/webtrack/handler/gateway"
	"github.com/webtrack/webtrack/shared/processor"
)

// Request converts an HTTP trigger event. FC joins repeated headers and query
// parameters with commas; each stays one value.
func Request(ev *events.HTTPTriggerEvent) (*processor.Request, error) {
	body, err := gateway.DecodeBody(deref(ev.Body), ev.IsBase64Encoded != nil && *ev.IsBase64Encoded)
	if err != nil {
		return nil, err
	}
	header := http.Header{}
	if ev.Headers != nil {
		header = gateway.Header(*ev.Headers, nil)
	}
	query := url.Values{}
	if ev.QueryParameters != nil {
		for k, v := range *ev.QueryParameters {
			query.Set(k, v)
		}
	}
	return &processor.Request{
		Method:   deref(ev.TriggerContext.Http.Method),
		Path:     gateway.Path(deref(ev.RawPath)),
		Host:     gateway.Host(header, deref(ev.TriggerContext.DomainName)),
		Query:    query,
		Header:   header,
		Body:     body,
		ClientIP: deref(ev.TriggerContext.Http.SourceIp),
		ID:       deref(ev.TriggerContext.RequestId),
	}, nil
}

// Response converts the processor's response; a GIF body is base64-encoded.
func Response(r *processor.Response) *events.HTTPTriggerResponse {
	body, b64 := gateway.EncodeBody(r.Body, r.Header)
	return &events.HTTPTriggerResponse{
		StatusCode:      r.Status,
		Headers:         gateway.FlatHeaders(r.Header),
		IsBase64Encoded: b64,
		Body:            body,
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
