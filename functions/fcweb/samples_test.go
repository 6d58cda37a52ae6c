//go:build unix

package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/webtrack/webtrack/events"
)

// triggerEvent is the part of an FC HTTP trigger event (the go1 function's
// input, events/fc-*.json) that says what request reached the trigger.
type triggerEvent struct {
	RawPath         string            `json:"rawPath"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	Headers         map[string]string `json:"headers"`
	QueryParameters map[string]string `json:"queryParameters"`
	RequestContext  struct {
		RequestID string `json:"requestId"`
		HTTP      struct {
			Method   string `json:"method"`
			SourceIP string `json:"sourceIp"`
		} `json:"http"`
	} `json:"requestContext"`
}

// TestFCSampleEvents hands the bootstrap, over HTTP as Function Compute
// passes trigger requests to a custom runtime, the same requests as the go1
// function's sample events: the GIF beacon, the CORS preflights, JSON and
// LZ4 posts, the refusals. Each answer and what each stores must match
// events/expected.json, as for the go1 function.
func TestFCSampleEvents(t *testing.T) {
	f := startFunction(t)
	samples, err := events.Samples("fc-")
	if err != nil {
		t.Fatal(err)
	}
	events.Replay(t, samples, f.dir, func(_ int, s events.Sample) ([]byte, error) {
		var ev triggerEvent
		if err := json.Unmarshal(s.Payload, &ev); err != nil {
			return nil, err
		}
		body := []byte(ev.Body)
		if ev.IsBase64Encoded {
			if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
				return nil, err
			}
		}
		q := url.Values{}
		for k, v := range ev.QueryParameters {
			q.Set(k, v)
		}
		r, err := http.NewRequest(ev.RequestContext.HTTP.Method, f.url+ev.RawPath+"?"+q.Encode(), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		for k, v := range ev.Headers {
			r.Header.Set(k, v)
		}
		r.Host = ev.Headers["Host"]
		fcHeaders(r.Header, ev.RequestContext.RequestID, ev.RequestContext.HTTP.SourceIP)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		answer, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if got := resp.Header.Get("X-Log-Requestid"); got != ev.RequestContext.RequestID {
			return nil, fmt.Errorf("x-log-requestid %q, want x-fc-request-id %q", got, ev.RequestContext.RequestID)
		}
		// The answer in the go1 function's form, which Check reads.
		gif := strings.HasPrefix(resp.Header.Get("Content-Type"), "image/gif")
		out := string(answer)
		if gif {
			out = base64.StdEncoding.EncodeToString(answer)
		}
		return json.Marshal(map[string]any{"statusCode": resp.StatusCode, "body": out, "isBase64Encoded": gif})
	})
}
