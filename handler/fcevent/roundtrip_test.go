package fcevent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aliyun/fc-runtime-go-sdk/events"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
)

// invocationID stands in for FC's request id when a case brings none.
const invocationID = "1-6744a3f2-0d1e2f3a4b5c6d7e8f901234"

// TestProtocol runs the protocol's case table through the HTTP trigger: the
// request as FC's gateway turns it into an event (repeated headers and query
// values comma-joined, the query decoded, binary bodies base64), the event
// through JSON as the runtime hands it over, and the response as the gateway
// sends it on.
func TestProtocol(t *testing.T) {
	used := 0
	for _, c := range processortest.Cases() {
		if want, ok := lossy[c.Name]; ok {
			used++
			c.Status, c.Code, c.Entries, c.Check = http.StatusOK, "", 1, storedField("a", want)
		}
		t.Run(c.Name, func(t *testing.T) { processortest.RunCase(t, c, roundtrip) })
	}
	if used != len(lossy) {
		t.Errorf("%d of the %d lossy cases are in the table; update lossy", used, len(lossy))
	}
}

// lossy are the cases whose request FC's gateway cannot pass on as sent, and
// the value of field a that is stored instead.
var lossy = map[string]string{
	"invalid utf-8 in a beacon": "\ufffd", // %FF, decoded into a JSON string, arrives as U+FFFD
}

func storedField(key, want string) func(*testing.T, *processor.Response, []processortest.Object) {
	return func(t *testing.T, _ *processor.Response, stored []processortest.Object) {
		if len(stored) != 1 || len(stored[0].Lines) != 1 || stored[0].Lines[0][key] != want {
			t.Errorf("stored %v, want one entry with %s=%q", stored, key, want)
		}
	}
}

func roundtrip(t *testing.T, p *processor.Processor, req *processor.Request) *processor.Response {
	t.Helper()
	id := req.ID
	if id == "" {
		id = invocationID
	}
	headers := map[string]string{"Host": req.Host}
	for k, vs := range req.Header {
		headers[k] = strings.Join(vs, ",")
	}
	query := map[string]string{}
	for k, vs := range req.Query {
		query[k] = strings.Join(vs, ",")
	}
	b64 := !utf8.Valid(req.Body)
	body := string(req.Body)
	if b64 {
		body = base64.StdEncoding.EncodeToString(req.Body)
	}
	ev := map[string]any{
		"version": "v1", "rawPath": req.Path, "body": body, "isBase64Encoded": b64,
		"headers": headers, "queryParameters": query,
		"requestContext": map[string]any{
			"accountId": "1234567890123456", "domainName": "webtrack.cn-hangzhou.fcapp.run", "requestId": id,
			"http": map[string]string{"method": req.Method, "path": req.Path, "protocol": "HTTP/1.1", "sourceIp": req.ClientIP},
		},
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var in events.HTTPTriggerEvent
	if err := json.Unmarshal(payload, &in); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := Handler(p)(ctx, &in)
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	resp := clientView(t, out)
	if got := resp.Header.Get("X-Log-Requestid"); req.ID == "" && got != id {
		t.Errorf("x-log-requestid %q, want the invocation's %q", got, id)
	}
	return resp
}

// clientView is the response as FC's gateway sends it to the client.
func clientView(t *testing.T, out *events.HTTPTriggerResponse) *processor.Response {
	t.Helper()
	raw, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var r events.HTTPTriggerResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	resp := &processor.Response{Status: r.StatusCode, Header: http.Header{}, Body: []byte(r.Body)}
	for k, v := range r.Headers {
		resp.Header.Set(k, v)
	}
	if r.IsBase64Encoded {
		if resp.Body, err = base64.StdEncoding.DecodeString(r.Body); err != nil {
			t.Fatalf("response body: %v", err)
		}
	}
	return resp
}
