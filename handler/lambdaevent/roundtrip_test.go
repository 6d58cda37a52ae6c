package lambdaevent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
)

// invocationID is the Lambda request id of every roundtrip.
const invocationID = "7f6e5d4c-3b2a-4190-8e7d-6c5b4a392817"

// TestProtocol runs the protocol's case table through every event family:
// the request as that family's gateway turns it into an event, the event
// through Handler.Invoke as the runtime calls it, and the response as the
// gateway presents it to the client.
func TestProtocol(t *testing.T) {
	used := 0
	for _, kind := range []Kind{HTTPAPI, FunctionURL, REST, ALB, ALBMultiValue} {
		t.Run(strings.ReplaceAll(kind.String(), " ", "_"), func(t *testing.T) {
			for _, c := range processortest.Cases() {
				if want, ok := lossy[kind][c.Name]; ok {
					used++
					c.Status, c.Code, c.Entries, c.Check = http.StatusOK, "", 1, storedField("a", want)
				}
				t.Run(c.Name, func(t *testing.T) { processortest.RunCase(t, c, roundtripVia(kind)) })
			}
		})
	}
	if want := len(lossy[REST]) + len(lossy[ALB]); used != want {
		t.Errorf("%d of the %d lossy cases are in the table; update lossy", used, want)
	}
}

// lossy are the cases whose request a gateway cannot pass on as sent, and
// the value of field a that is stored instead.
var lossy = map[Kind]map[string]string{
	// %FF, decoded into a JSON string, arrives as U+FFFD.
	REST: {"invalid utf-8 in a beacon": "\ufffd"},
	// Without multi-value headers an ALB passes only the last of a=first&a=second.
	ALB: {"repeated beacon parameter": "second"},
}

func storedField(key, want string) func(*testing.T, *processor.Response, []processortest.Object) {
	return func(t *testing.T, _ *processor.Response, stored []processortest.Object) {
		if len(stored) != 1 || len(stored[0].Lines) != 1 || stored[0].Lines[0][key] != want {
			t.Errorf("stored %v, want one entry with %s=%q", stored, key, want)
		}
	}
}

func roundtripVia(kind Kind) processortest.Roundtrip {
	return func(t *testing.T, p *processor.Processor, req *processor.Request) *processor.Response {
		payload, err := json.Marshal(gatewayEvent(kind, req))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := Detect(payload); got != kind {
			t.Fatalf("Detect = %v, %v; want %v", got, err, kind)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: invocationID})
		out, err := Handler{P: p}.Invoke(ctx, payload)
		if err != nil {
			t.Fatalf("Invoke: %v", err)
		}
		resp := clientView(t, kind, out)
		if got := resp.Header.Get("X-Log-Requestid"); got != invocationID {
			t.Errorf("x-log-requestid %q, want the invocation's %q", got, invocationID)
		}
		return resp
	}
}

// gatewayEvent is req as the gateway of kind delivers it to the function.
func gatewayEvent(kind Kind, req *processor.Request) map[string]any {
	b64 := !utf8.Valid(req.Body)
	body := string(req.Body)
	if b64 {
		body = base64.StdEncoding.EncodeToString(req.Body)
	}
	header := req.Header.Clone()
	header.Set("Host", req.Host)
	lower := map[string]string{} // HTTP API, function URLs: lower-case, repeats comma-joined
	for k, vs := range header {
		lower[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	joined := map[string]string{}
	for k, vs := range req.Query {
		joined[k] = strings.Join(vs, ",")
	}
	switch kind {
	case HTTPAPI, FunctionURL:
		domain := "abc123.execute-api.eu-west-1.amazonaws.com"
		if kind == FunctionURL {
			domain = "xyz.lambda-url.eu-west-1.on.aws"
		}
		return map[string]any{
			"version": "2.0", "routeKey": "$default", "rawPath": req.Path, "rawQueryString": req.Query.Encode(),
			"headers": lower, "queryStringParameters": joined, "body": body, "isBase64Encoded": b64,
			"requestContext": map[string]any{"domainName": domain, "requestId": "JKJaXmPLvHcESHA=", "stage": "$default",
				"http": map[string]string{"method": req.Method, "path": req.Path, "protocol": "HTTP/1.1", "sourceIp": req.ClientIP}},
		}
	case REST:
		return map[string]any{
			"resource": "/{proxy+}", "path": req.Path, "httpMethod": req.Method,
			"headers": last(header), "multiValueHeaders": header,
			"queryStringParameters": last(req.Query), "multiValueQueryStringParameters": req.Query,
			"body": body, "isBase64Encoded": b64,
			"requestContext": map[string]any{"stage": "prod", "resourcePath": "/{proxy+}", "httpMethod": req.Method,
				"requestId": "41b45ea3-70b5-11e6-b7bd-69b5aaebc7d9", "identity": map[string]string{"sourceIp": req.ClientIP}},
		}
	}
	// ALB: the client's address appended to X-Forwarded-For, the query
	// passed on still URL-encoded.
	if xff := header.Get("X-Forwarded-For"); xff != "" {
		header.Set("X-Forwarded-For", xff+", "+req.ClientIP)
	} else {
		header.Set("X-Forwarded-For", req.ClientIP)
	}
	encoded := url.Values{}
	for k, vs := range req.Query {
		for _, v := range vs {
			encoded.Add(url.QueryEscape(k), url.QueryEscape(v))
		}
	}
	ev := map[string]any{
		"httpMethod": req.Method, "path": req.Path, "body": body, "isBase64Encoded": b64,
		"requestContext": map[string]any{"elb": map[string]string{"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/webtrack/0123456789abcdef"}},
	}
	if kind == ALBMultiValue {
		multi := map[string][]string{}
		for k, vs := range header {
			multi[strings.ToLower(k)] = vs
		}
		ev["multiValueHeaders"], ev["multiValueQueryStringParameters"] = multi, encoded
	} else {
		single := map[string]string{}
		for k, v := range last(header) {
			single[strings.ToLower(k)] = v
		}
		ev["headers"], ev["queryStringParameters"] = single, last(encoded)
	}
	return ev
}

// last keeps the last value of each name, as payload 1.0 single-value maps do.
func last(m map[string][]string) map[string]string {
	out := map[string]string{}
	for k, vs := range m {
		out[k] = vs[len(vs)-1]
	}
	return out
}

// clientView is the response as the gateway of kind presents it: HTTP APIs,
// function URLs and single-value ALBs read only headers, multi-value ALBs
// only multiValueHeaders, REST APIs both.
func clientView(t *testing.T, kind Kind, out []byte) *processor.Response {
	t.Helper()
	var r struct {
		StatusCode        int
		Headers           map[string]string
		MultiValueHeaders map[string][]string
		Body              string
		IsBase64Encoded   bool
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	resp := &processor.Response{Status: r.StatusCode, Header: http.Header{}, Body: []byte(r.Body)}
	if kind != ALBMultiValue {
		for k, v := range r.Headers {
			resp.Header.Set(k, v)
		}
	}
	if kind == REST || kind == ALBMultiValue {
		for k, vs := range r.MultiValueHeaders {
			resp.Header.Del(k)
			for _, v := range vs {
				resp.Header.Add(k, v)
			}
		}
	}
	if r.IsBase64Encoded {
		var err error
		if resp.Body, err = base64.StdEncoding.DecodeString(r.Body); err != nil {
			t.Fatalf("response body: %v", err)
		}
	}
	return resp
}
