package events_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/webtrack/webtrack/events"
	"github.com/webtrack/webtrack/shared/processor/processortest"
)

var update = flag.Bool("update", false, "rewrite the sample events and expected.json from their definitions here")

// form is one request as a client sends it, and what must come of it.
type form struct {
	name    string // the file name after the front door's prefix
	method  string
	path    string
	query   string // as sent, percent-encoded
	headers [][2]string
	body    []byte
	events.Want
}

// batch is what the browser SDK sends: three page events.
const batch = `{"__topic__":"web","__source__":"browser","__logs__":[` +
	`{"page":"/home","event":"view","referrer":"https://search.example.org/"},` +
	`{"page":"/products/42","event":"view","referrer":"/home"},` +
	`{"page":"/products/42","event":"add_to_cart","referrer":"/home"}],` +
	`"__tags__":{"app":"shop","release":"2026.11"}}`

var (
	origin   = [2]string{"origin", "https://shop.example.com"}
	browser  = [2]string{"user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"}
	referer  = [2]string{"referer", "https://shop.example.com/products/42"}
	lz4Batch = processortest.LZ4([]byte(batch))
)

// forms are the request forms every front door has a sample of.
var forms = []form{{
	name: "post-json", method: "POST", path: "/logstores/web/track", query: "APIVersion=0.6.0",
	headers: [][2]string{{"content-type", "text/plain;charset=UTF-8"}, origin, browser, referer},
	body:    []byte(batch), Want: events.Want{Status: 200, Entries: 3},
}, {
	// No Content-Type: gateways that pass text types as strings (function
	// URLs, REST APIs without binary media types) would mangle the block.
	name: "post-lz4", method: "POST", path: "/logstores/web/track",
	headers: [][2]string{{"x-log-apiversion", "0.6.0"},
		{"x-log-bodyrawsize", strconv.Itoa(len(batch))}, {"x-log-compresstype", "lz4"}, {"user-agent", "alibabacloud-sls-sdk/5.0"}},
	body: lz4Batch, Want: events.Want{Status: 200, Entries: 3},
}, {
	name: "get-gif", method: "GET", path: "/logstores/web/track.gif",
	query:   "APIVersion=0.6.0&__topic__=web&page=%2Fproducts%2F42&event=view&title=Blue%20mug",
	headers: [][2]string{{"accept", "image/avif,image/webp,*/*"}, browser, referer},
	Want:    events.Want{Status: 200, Entries: 1},
}, {
	name: "options-preflight", method: "OPTIONS", path: "/logstores/web/track",
	headers: [][2]string{origin, browser, {"access-control-request-method", "POST"},
		{"access-control-request-headers", "content-type,x-log-apiversion,x-log-bodyrawsize,x-log-compresstype"}},
	Want: events.Want{Status: 200},
}, {
	name: "post-no-apiversion", method: "POST", path: "/logstores/web/track",
	headers: [][2]string{{"content-type", "application/json"}, origin},
	body:    []byte(batch), Want: events.Want{Status: 400, Code: "MissingAPIVersion"},
}, signedForm(), {
	name: "signed-preflight", method: "OPTIONS", path: "/logstores/web",
	headers: [][2]string{origin, browser, {"access-control-request-method", "POST"},
		{"access-control-request-headers", "authorization,content-md5,content-type,x-acs-security-token,x-log-apiversion,x-log-bodyrawsize,x-log-date,x-log-signaturemethod"}},
	Want: events.Want{Status: 200},
}}

// signedForm is a signed write as the SDK's STS mode sends it. The samples
// run with no WEBTRACK_TOKEN_SECRETS, so every front door must route it to
// the signed path, which answers that the key is not known.
func signedForm() form {
	c := processortest.Mint(processortest.NewSecret, 15*time.Minute, "web")
	r := processortest.Signed("web", batch, c, processortest.ReceivedAt)
	f := form{name: "signed-post", method: "POST", path: r.Path, body: r.Body, Want: events.Want{Status: 401, Code: "InvalidAccessKeyId"}}
	for _, name := range slices.Sorted(maps.Keys(r.Header)) {
		f.headers = append(f.headers, [2]string{strings.ToLower(name), r.Header.Get(name)})
	}
	return f
}

// doors are the front doors, each a file name prefix and the event its
// gateway makes of a form.
var doors = []struct {
	prefix string
	event  func(form) map[string]any
}{
	{"fc", fcEvent},
	{"lambda-httpapi", func(f form) map[string]any { return v2Event(f, false) }},
	{"lambda-functionurl", func(f form) map[string]any { return v2Event(f, true) }},
	{"lambda-restapi", restEvent},
	{"lambda-alb", func(f form) map[string]any { return albEvent(f, false) }},
	{"lambda-alb-multivalue", func(f form) map[string]any { return albEvent(f, true) }},
}

// samples returns every sample event file and expected.json.
func samples(t *testing.T) (files map[string][]byte, manifest map[string]events.Want) {
	files, manifest = map[string][]byte{}, map[string]events.Want{}
	for _, d := range doors {
		for _, f := range forms {
			if d.prefix == "lambda-alb-multivalue" && f.name != "get-gif" {
				continue // one multi-value sample shows the mode
			}
			name := d.prefix + "-" + f.name + ".json"
			files[name] = marshal(t, d.event(f))
			manifest[name] = f.Want
		}
	}
	addQueueSamples(t, files, manifest)
	return files, manifest
}

func marshal(t *testing.T, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSamplesAreCurrent checks that events/ holds exactly what the
// definitions here make; go test ./events -run Current -update rewrites it.
func TestSamplesAreCurrent(t *testing.T) {
	files, manifest := samples(t)
	files["expected.json"] = marshal(t, manifest)
	for name, want := range files {
		if *update {
			if err := os.WriteFile(name, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not what its definition makes (%v); run go test ./events -run Current -update", name, err)
		}
	}
}

func body(f form) (string, bool) {
	if utf8.Valid(f.body) {
		return string(f.body), false
	}
	return base64.StdEncoding.EncodeToString(f.body), true
}

// decodedQuery is the query as gateways that decode it pass it on: repeated
// values comma-joined.
func decodedQuery(f form) map[string]string {
	q, _ := url.ParseQuery(f.query)
	m := map[string]string{}
	for k, vs := range q {
		m[k] = strings.Join(vs, ",")
	}
	return m
}

func fcEvent(f form) map[string]any {
	b, b64 := body(f)
	headers := map[string]string{"Host": "webtrack-abcdefghij.cn-hangzhou.fcapp.run", "X-Forwarded-Proto": "https"}
	for _, h := range f.headers {
		headers[http.CanonicalHeaderKey(h[0])] = h[1]
	}
	return map[string]any{
		"version": "v1", "rawPath": f.path, "body": b, "isBase64Encoded": b64,
		"headers": headers, "queryParameters": decodedQuery(f),
		"requestContext": map[string]any{
			"accountId": "1234567890123456", "domainName": "webtrack-abcdefghij.cn-hangzhou.fcapp.run",
			"domainPrefix": "webtrack-abcdefghij", "requestId": "1-6744a3f2-0d1e2f3a4b5c6d7e8f901234",
			"time": "2026-11-25T10:00:00Z", "timeEpoch": "1795600800000",
			"http": map[string]string{"method": f.method, "path": f.path, "protocol": "HTTP/1.1",
				"sourceIp": "203.0.113.7", "userAgent": header(f, "user-agent")},
		},
	}
}

func v2Event(f form, functionURL bool) map[string]any {
	b, b64 := body(f)
	domain, routeKey := "abc123defg.execute-api.eu-west-1.amazonaws.com", f.method+" "+route(f)
	if functionURL {
		domain, routeKey = "xyz7abc3def9ghi2jkl5mno8pq.lambda-url.eu-west-1.on.aws", "$default"
	}
	headers := map[string]string{"host": domain, "x-forwarded-for": "198.51.100.9", "x-forwarded-port": "443",
		"x-forwarded-proto": "https", "x-amzn-trace-id": "Root=1-6744a3f2-0d1e2f3a4b5c6d7e8f901234"}
	for _, h := range f.headers {
		headers[h[0]] = h[1]
	}
	rc := map[string]any{
		"accountId": "123456789012", "apiId": strings.Split(domain, ".")[0], "domainName": domain,
		"domainPrefix": strings.Split(domain, ".")[0], "requestId": "JKJaXmPLvHcESHA=", "routeKey": routeKey,
		"stage": "$default", "time": "25/Nov/2026:10:00:00 +0000", "timeEpoch": 1795600800000,
		"http": map[string]string{"method": f.method, "path": f.path, "protocol": "HTTP/1.1",
			"sourceIp": "198.51.100.9", "userAgent": header(f, "user-agent")},
	}
	ev := map[string]any{
		"version": "2.0", "routeKey": routeKey, "rawPath": f.path, "rawQueryString": f.query,
		"headers": headers, "requestContext": rc, "isBase64Encoded": b64,
	}
	if f.query != "" {
		ev["queryStringParameters"] = decodedQuery(f)
	}
	if !functionURL {
		ev["pathParameters"] = pathParameters(f)
	}
	if b != "" {
		ev["body"] = b
	}
	return ev
}

func restEvent(f form) map[string]any {
	b, b64 := body(f)
	headers := [][2]string{{"Host", "abc123defg.execute-api.eu-west-1.amazonaws.com"}, {"X-Forwarded-For", "192.0.2.1, 10.0.0.1"},
		{"X-Forwarded-Proto", "https"}, {"X-Amzn-Trace-Id", "Root=1-6744a3f2-0d1e2f3a4b5c6d7e8f901234"}}
	headers = append(headers, f.headers...)
	single, multi := map[string]string{}, map[string][]string{}
	for _, h := range headers {
		single[http.CanonicalHeaderKey(h[0])] = h[1]
		multi[http.CanonicalHeaderKey(h[0])] = []string{h[1]}
	}
	q, _ := url.ParseQuery(f.query)
	var qs, mq any // null when there is no query, as the REST API sends it
	if len(q) > 0 {
		qs, mq = decodedQuery(f), q
	}
	var bodyField any
	if b != "" {
		bodyField = b
	}
	return map[string]any{
		"resource": route(f), "path": f.path, "httpMethod": f.method,
		"headers": single, "multiValueHeaders": multi,
		"queryStringParameters": qs, "multiValueQueryStringParameters": mq,
		"pathParameters": pathParameters(f), "stageVariables": nil,
		"body": bodyField, "isBase64Encoded": b64,
		"requestContext": map[string]any{
			"accountId": "123456789012", "apiId": "abc123defg", "resourceId": "us4z18", "stage": "prod",
			"requestId": "41b45ea3-70b5-11e6-b7bd-69b5aaebc7d9", "extendedRequestId": "KlFo4F2HliAFkTw=",
			"domainName": "abc123defg.execute-api.eu-west-1.amazonaws.com", "domainPrefix": "abc123defg",
			"resourcePath": route(f), "httpMethod": f.method, "path": "/prod" + f.path, "protocol": "HTTP/1.1",
			"requestTime": "25/Nov/2026:10:00:00 +0000", "requestTimeEpoch": 1795600800000,
			"identity": map[string]any{"sourceIp": "192.0.2.1", "userAgent": header(f, "user-agent")},
		},
	}
}

func albEvent(f form, multiValue bool) map[string]any {
	b, b64 := body(f)
	headers := [][2]string{{"host", "webtrack-1234567890.eu-west-1.elb.amazonaws.com"},
		{"x-forwarded-for", "203.0.113.50"}, {"x-forwarded-port", "443"}, {"x-forwarded-proto", "https"},
		{"x-amzn-trace-id", "Root=1-6744a3f2-0d1e2f3a4b5c6d7e8f901234"}}
	headers = append(headers, f.headers...)
	ev := map[string]any{
		"requestContext": map[string]any{"elb": map[string]string{
			"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/webtrack/6d0ecf831eec9f09"}},
		"httpMethod": f.method, "path": f.path, "body": b, "isBase64Encoded": b64,
	}
	// The load balancer passes the query on still percent-encoded.
	single, multi := map[string]string{}, map[string][]string{}
	for _, kv := range strings.Split(f.query, "&") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			single[k] = v
			multi[k] = append(multi[k], v)
		}
	}
	if multiValue {
		mh := map[string][]string{}
		for _, h := range headers {
			mh[h[0]] = append(mh[h[0]], h[1])
		}
		ev["multiValueHeaders"], ev["multiValueQueryStringParameters"] = mh, multi
	} else {
		sh := map[string]string{}
		for _, h := range headers {
			sh[h[0]] = h[1]
		}
		ev["headers"], ev["queryStringParameters"] = sh, single
	}
	return ev
}

// route is the template.yaml route that serves the form: one per GET and
// POST path, one OPTIONS route for them all.
func route(f form) string {
	switch {
	case f.path == "/logstores/web": // signed writes and their preflight
		return "/logstores/{logstore}"
	case f.method == "OPTIONS":
		return "/logstores/{logstore}/{track}"
	}
	return strings.Replace(f.path, "/logstores/web/", "/logstores/{logstore}/", 1)
}

// pathParameters are the values of the route's parameters.
func pathParameters(f form) map[string]string {
	p := map[string]string{"logstore": "web"}
	if f.method == "OPTIONS" && f.path != "/logstores/web" {
		p["track"] = strings.TrimPrefix(f.path, "/logstores/web/")
	}
	return p
}

func header(f form, name string) string {
	for _, h := range f.headers {
		if h[0] == name {
			return h[1]
		}
	}
	return ""
}
