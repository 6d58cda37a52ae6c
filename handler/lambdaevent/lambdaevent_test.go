package lambdaevent

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/webtrack/webtrack/shared/processor"
)

// Real-shaped events, as each gateway delivers them (trimmed of fields no
// conversion reads, such as authorizers and TLS details).
const (
	httpAPIEvent = `{
  "version": "2.0", "routeKey": "POST /logstores/{logstore}/track", "rawPath": "/logstores/web/track",
  "rawQueryString": "APIVersion=0.6.0&tag=a&tag=b&msg=hello%20world",
  "cookies": ["sid=1"],
  "headers": {"content-type": "text/plain;charset=UTF-8", "host": "abc123.execute-api.eu-west-1.amazonaws.com",
              "x-forwarded-for": "198.51.100.9", "accept-language": "en,de"},
  "queryStringParameters": {"APIVersion": "0.6.0", "tag": "a,b", "msg": "hello world"},
  "pathParameters": {"logstore": "web"},
  "requestContext": {"accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
    "domainPrefix": "abc123", "http": {"method": "POST", "path": "/logstores/web/track", "protocol": "HTTP/1.1",
    "sourceIp": "198.51.100.9", "userAgent": "Mozilla/5.0"}, "requestId": "JKJaXmPLvHcESHA=", "routeKey": "POST /logstores/{logstore}/track",
    "stage": "$default", "time": "25/Nov/2026:10:00:00 +0000", "timeEpoch": 1795600800000},
  "body": "eyJfX2xvZ3NfXyI6W119", "isBase64Encoded": true
}`
	httpAPIStageEvent = `{
  "version": "2.0", "routeKey": "GET /logstores/{logstore}/{track+}", "rawPath": "/prod/logstores/web/track.gif",
  "rawQueryString": "APIVersion=0.6.0&k=v%26w",
  "headers": {"host": "track.example.com"},
  "requestContext": {"domainName": "track.example.com", "http": {"method": "GET", "path": "/prod/logstores/web/track.gif",
    "protocol": "HTTP/1.1", "sourceIp": "198.51.100.10", "userAgent": "curl"}, "requestId": "a1", "stage": "prod"},
  "isBase64Encoded": false
}`
	functionURLEvent = `{
  "version": "2.0", "routeKey": "$default", "rawPath": "/logstores/web/track", "rawQueryString": "",
  "headers": {"content-type": "application/json", "host": "xyz.lambda-url.us-west-2.on.aws", "x-log-apiversion": "0.6.0",
              "x-log-bodyrawsize": "15"},
  "requestContext": {"accountId": "anonymous", "apiId": "xyz", "domainName": "xyz.lambda-url.us-west-2.on.aws",
    "domainPrefix": "xyz", "http": {"method": "POST", "path": "/logstores/web/track", "protocol": "HTTP/1.1",
    "sourceIp": "192.0.2.44", "userAgent": "okhttp"}, "requestId": "0c1d5f0a-1b2c-4d5e-8f90-123456789abc",
    "routeKey": "$default", "stage": "$default", "time": "25/Nov/2026:10:00:00 +0000", "timeEpoch": 1795600800000},
  "body": "{\"__logs__\":[]}", "isBase64Encoded": false
}`
	restEvent = `{
  "resource": "/logstores/{logstore}/{track+}", "path": "/logstores/web/track_ua.gif", "httpMethod": "GET",
  "headers": {"Host": "abc.execute-api.us-east-1.amazonaws.com", "User-Agent": "Mozilla/5.0", "X-Forwarded-For": "192.0.2.1, 10.0.0.1"},
  "multiValueHeaders": {"Host": ["abc.execute-api.us-east-1.amazonaws.com"], "User-Agent": ["Mozilla/5.0"],
                        "X-Forwarded-For": ["192.0.2.1, 10.0.0.1"]},
  "queryStringParameters": {"APIVersion": "0.6.0", "tag": "b"},
  "multiValueQueryStringParameters": {"APIVersion": ["0.6.0"], "tag": ["a", "b"]},
  "pathParameters": {"logstore": "web", "track": "track_ua.gif"}, "stageVariables": null,
  "requestContext": {"accountId": "123456789012", "resourceId": "us4z18", "stage": "prod", "requestId": "41b45ea3-70b5-11e6-b7bd-69b5aaebc7d9",
    "identity": {"sourceIp": "192.0.2.1", "userAgent": "Mozilla/5.0"}, "resourcePath": "/logstores/{logstore}/{track+}",
    "httpMethod": "GET", "apiId": "abc", "path": "/prod/logstores/web/track_ua.gif", "domainName": "abc.execute-api.us-east-1.amazonaws.com"},
  "body": null, "isBase64Encoded": false
}`
	albEvent = `{
  "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/webtrack/6d0ecf831eec9f09"}},
  "httpMethod": "GET", "path": "/logstores/web/track",
  "queryStringParameters": {"APIVersion": "0.6.0", "msg": "hello%20world", "a%2Bb": "1%2C2"},
  "headers": {"host": "lb-123.us-east-1.elb.amazonaws.com", "x-forwarded-for": "198.51.100.66, 203.0.113.50", "x-forwarded-proto": "https"},
  "body": "", "isBase64Encoded": false
}`
	albMultiEvent = `{
  "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/webtrack/6d0ecf831eec9f09"}},
  "httpMethod": "POST", "path": "/logstores/web/track",
  "multiValueQueryStringParameters": {"APIVersion": ["0.6.0"], "tag": ["a", "b%20c"]},
  "multiValueHeaders": {"host": ["lb-123.us-east-1.elb.amazonaws.com"], "x-forwarded-for": ["203.0.113.51"],
                        "x-log-compresstype": ["lz4"], "accept": ["a", "b"]},
  "body": "AAEC", "isBase64Encoded": true
}`
)

func TestDetect(t *testing.T) {
	cases := []struct {
		event string
		want  Kind
	}{
		{httpAPIEvent, HTTPAPI}, {httpAPIStageEvent, HTTPAPI}, {functionURLEvent, FunctionURL},
		{restEvent, REST}, {albEvent, ALB}, {albMultiEvent, ALBMultiValue},
	}
	for _, c := range cases {
		if got, err := Detect([]byte(c.event)); err != nil || got != c.want {
			t.Errorf("Detect = %v, %v; want %v for\n%s", got, err, c.want, c.event)
		}
	}
	for _, bad := range []string{`{}`, `{"Records": [{"s3": {}}]}`, `{"version": "2.0", "requestContext": {}}`, `[1]`} {
		if got, err := Detect([]byte(bad)); err == nil {
			t.Errorf("Detect(%s) = %v, want an error", bad, got)
		}
	}
}

func decode[E any](t *testing.T, doc string) *E {
	t.Helper()
	var ev E
	if err := json.Unmarshal([]byte(doc), &ev); err != nil {
		t.Fatal(err)
	}
	return &ev
}

func TestRequest(t *testing.T) {
	cases := []struct {
		name    string
		convert func() (*processor.Request, error)
		want    processor.Request
	}{{
		name: "HTTP API keeps repeated query values apart",
		convert: func() (*processor.Request, error) {
			return HTTPAPIRequest(decode[events.APIGatewayV2HTTPRequest](t, httpAPIEvent))
		},
		want: processor.Request{Method: "POST", Path: "/logstores/web/track", Host: "abc123.execute-api.eu-west-1.amazonaws.com",
			Query: url.Values{"APIVersion": {"0.6.0"}, "tag": {"a", "b"}, "msg": {"hello world"}},
			Header: http.Header{"Content-Type": {"text/plain;charset=UTF-8"}, "Host": {"abc123.execute-api.eu-west-1.amazonaws.com"},
				"X-Forwarded-For": {"198.51.100.9"}, "Accept-Language": {"en,de"}},
			Body: []byte(`{"__logs__":[]}`), ClientIP: "198.51.100.9"},
	}, {
		name: "HTTP API named stage leaves the path",
		convert: func() (*processor.Request, error) {
			return HTTPAPIRequest(decode[events.APIGatewayV2HTTPRequest](t, httpAPIStageEvent))
		},
		want: processor.Request{Method: "GET", Path: "/logstores/web/track.gif", Host: "track.example.com",
			Query: url.Values{"APIVersion": {"0.6.0"}, "k": {"v&w"}}, Header: http.Header{"Host": {"track.example.com"}},
			Body: []byte{}, ClientIP: "198.51.100.10"},
	}, {
		name: "function URL",
		convert: func() (*processor.Request, error) {
			return FunctionURLRequest(decode[events.LambdaFunctionURLRequest](t, functionURLEvent))
		},
		want: processor.Request{Method: "POST", Path: "/logstores/web/track", Host: "xyz.lambda-url.us-west-2.on.aws",
			Query: url.Values{}, Header: http.Header{"Content-Type": {"application/json"}, "Host": {"xyz.lambda-url.us-west-2.on.aws"},
				"X-Log-Apiversion": {"0.6.0"}, "X-Log-Bodyrawsize": {"15"}},
			Body: []byte(`{"__logs__":[]}`), ClientIP: "192.0.2.44"},
	}, {
		name: "REST API uses the multi-value maps and the identity's address",
		convert: func() (*processor.Request, error) {
			return RESTRequest(decode[events.APIGatewayProxyRequest](t, restEvent))
		},
		want: processor.Request{Method: "GET", Path: "/logstores/web/track_ua.gif", Host: "abc.execute-api.us-east-1.amazonaws.com",
			Query: url.Values{"APIVersion": {"0.6.0"}, "tag": {"a", "b"}},
			Header: http.Header{"Host": {"abc.execute-api.us-east-1.amazonaws.com"}, "User-Agent": {"Mozilla/5.0"},
				"X-Forwarded-For": {"192.0.2.1, 10.0.0.1"}},
			Body: []byte{}, ClientIP: "192.0.2.1"},
	}, {
		name: "ALB decodes the query and takes the forwarded address it appended, not the client's forged one",
		convert: func() (*processor.Request, error) {
			return ALBRequest(decode[events.ALBTargetGroupRequest](t, albEvent))
		},
		want: processor.Request{Method: "GET", Path: "/logstores/web/track", Host: "lb-123.us-east-1.elb.amazonaws.com",
			Query: url.Values{"APIVersion": {"0.6.0"}, "msg": {"hello world"}, "a+b": {"1,2"}},
			Header: http.Header{"Host": {"lb-123.us-east-1.elb.amazonaws.com"}, "X-Forwarded-For": {"198.51.100.66, 203.0.113.50"},
				"X-Forwarded-Proto": {"https"}},
			Body: []byte{}, ClientIP: "203.0.113.50"},
	}, {
		name: "ALB multi-value",
		convert: func() (*processor.Request, error) {
			return ALBRequest(decode[events.ALBTargetGroupRequest](t, albMultiEvent))
		},
		want: processor.Request{Method: "POST", Path: "/logstores/web/track", Host: "lb-123.us-east-1.elb.amazonaws.com",
			Query: url.Values{"APIVersion": {"0.6.0"}, "tag": {"a", "b c"}},
			Header: http.Header{"Host": {"lb-123.us-east-1.elb.amazonaws.com"}, "X-Forwarded-For": {"203.0.113.51"},
				"X-Log-Compresstype": {"lz4"}, "Accept": {"a", "b"}},
			Body: []byte{0, 1, 2}, ClientIP: "203.0.113.51"},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.convert()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("got  %+v\nwant %+v", *got, c.want)
			}
		})
	}
}

func TestResponse(t *testing.T) {
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	gifResp := &processor.Response{Status: 200, Header: http.Header{"Content-Type": {"image/gif"}, "X-Log-Requestid": {"R1"}}, Body: gif}
	errResp := &processor.Response{Status: 413, Header: http.Header{"Content-Type": {"application/json"}, "Vary": {"Origin", "Accept"}},
		Body: []byte(`{"errorCode":"PostBodyTooLarge"}`)}
	gif64 := base64.StdEncoding.EncodeToString(gif)
	cases := []struct {
		name      string
		got, want any
	}{
		{"HTTP API GIF", HTTPAPIResponse(gifResp), &events.APIGatewayV2HTTPResponse{StatusCode: 200,
			Headers: map[string]string{"content-type": "image/gif", "x-log-requestid": "R1"}, Body: gif64, IsBase64Encoded: true}},
		{"HTTP API error", HTTPAPIResponse(errResp), &events.APIGatewayV2HTTPResponse{StatusCode: 413,
			Headers: map[string]string{"content-type": "application/json", "vary": "Origin,Accept"}, Body: `{"errorCode":"PostBodyTooLarge"}`}},
		{"function URL GIF", FunctionURLResponse(gifResp), &events.LambdaFunctionURLResponse{StatusCode: 200,
			Headers: map[string]string{"content-type": "image/gif", "x-log-requestid": "R1"}, Body: gif64, IsBase64Encoded: true}},
		{"REST error", RESTResponse(errResp), &events.APIGatewayProxyResponse{StatusCode: 413,
			MultiValueHeaders: map[string][]string{"content-type": {"application/json"}, "vary": {"Origin", "Accept"}},
			Body:              `{"errorCode":"PostBodyTooLarge"}`}},
		{"ALB GIF", ALBResponse(gifResp), &events.ALBTargetGroupResponse{StatusCode: 200, StatusDescription: "200 OK",
			Headers: map[string]string{"content-type": "image/gif", "x-log-requestid": "R1"}, Body: gif64, IsBase64Encoded: true}},
		{"ALB multi-value error", ALBMultiValueResponse(errResp), &events.ALBTargetGroupResponse{StatusCode: 413,
			StatusDescription: "413 Request Entity Too Large",
			MultiValueHeaders: map[string][]string{"content-type": {"application/json"}, "vary": {"Origin", "Accept"}},
			Body:              `{"errorCode":"PostBodyTooLarge"}`}},
	}
	for _, c := range cases {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", c.name, c.got, c.want)
		}
	}
}
