package fcevent

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/aliyun/fc-runtime-go-sdk/events"

	"github.com/webtrack/webtrack/shared/processor"
)

// fcEvent is an FC 3.0 HTTP trigger event as the platform sends it, with the
// parts a case changes left as %-verbs.
func fcEvent(t *testing.T, method, rawPath, headers, query, body string, b64 bool) *events.HTTPTriggerEvent {
	t.Helper()
	doc := `{
  "version": "v1",
  "rawPath": ` + quote(rawPath) + `,
  "body": ` + quote(body) + `,
  "isBase64Encoded": ` + map[bool]string{true: "true", false: "false"}[b64] + `,
  "headers": ` + headers + `,
  "queryParameters": ` + query + `,
  "requestContext": {
    "accountId": "1234567890123456",
    "domainName": "webtrack-abcdefghij.cn-hangzhou.fcapp.run",
    "domainPrefix": "webtrack-abcdefghij",
    "http": {"method": ` + quote(method) + `, "path": ` + quote(rawPath) + `, "protocol": "HTTP/1.1",
             "sourceIp": "203.0.113.7", "userAgent": "Mozilla/5.0"},
    "requestId": "1-6744a3f2-0d1e2f3a4b5c6d7e8f901234",
    "time": "2026-11-25T10:00:00Z",
    "timeEpoch": "1795600800000"
  }
}`
	var ev events.HTTPTriggerEvent
	if err := json.Unmarshal([]byte(doc), &ev); err != nil {
		t.Fatalf("event: %v\n%s", err, doc)
	}
	return &ev
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestRequest(t *testing.T) {
	gz := []byte{0x1f, 0x8b, 0x00, 0xff, 0x80}
	cases := []struct {
		name string
		ev   *events.HTTPTriggerEvent
		want processor.Request
	}{{
		name: "POST JSON batch",
		ev: fcEvent(t, "POST", "/logstores/web/track",
			`{"Host": "proj.example.com", "Content-Type": "application/json", "x-log-apiversion": "0.6.0", "x-log-bodyrawsize": "13"}`,
			`{"APIVersion": "0.6.0"}`, `{"__logs__":[]}`, false),
		want: processor.Request{
			Method: "POST", Path: "/logstores/web/track", Host: "proj.example.com",
			Query:  url.Values{"APIVersion": {"0.6.0"}},
			Header: http.Header{"Host": {"proj.example.com"}, "Content-Type": {"application/json"}, "X-Log-Apiversion": {"0.6.0"}, "X-Log-Bodyrawsize": {"13"}},
			Body:   []byte(`{"__logs__":[]}`), ClientIP: "203.0.113.7", ID: "1-6744a3f2-0d1e2f3a4b5c6d7e8f901234",
		},
	}, {
		name: "binary body arrives base64 and leaves decoded",
		ev: fcEvent(t, "POST", "/logstores/web/track", `{"x-log-compresstype": "lz4"}`, `{}`,
			base64.StdEncoding.EncodeToString(gz), true),
		want: processor.Request{
			Method: "POST", Path: "/logstores/web/track", Host: "webtrack-abcdefghij.cn-hangzhou.fcapp.run",
			Query: url.Values{}, Header: http.Header{"X-Log-Compresstype": {"lz4"}},
			Body: gz, ClientIP: "203.0.113.7", ID: "1-6744a3f2-0d1e2f3a4b5c6d7e8f901234",
		},
	}, {
		name: "comma-joined repeats stay one value",
		ev: fcEvent(t, "GET", "/logstores/web/track.gif", `{"Accept": "image/webp,image/*"}`,
			`{"APIVersion": "0.6.0", "tag": "a,b", "msg": "hello world"}`, "", false),
		want: processor.Request{
			Method: "GET", Path: "/logstores/web/track.gif", Host: "webtrack-abcdefghij.cn-hangzhou.fcapp.run",
			Query:  url.Values{"APIVersion": {"0.6.0"}, "tag": {"a,b"}, "msg": {"hello world"}},
			Header: http.Header{"Accept": {"image/webp,image/*"}},
			Body:   []byte{}, ClientIP: "203.0.113.7", ID: "1-6744a3f2-0d1e2f3a4b5c6d7e8f901234",
		},
	}, {
		name: "no headers, no query",
		ev:   fcEvent(t, "OPTIONS", "/logstores/web/track", `null`, `null`, "", false),
		want: processor.Request{
			Method: "OPTIONS", Path: "/logstores/web/track", Host: "webtrack-abcdefghij.cn-hangzhou.fcapp.run",
			Query: url.Values{}, Header: http.Header{}, Body: []byte{},
			ClientIP: "203.0.113.7", ID: "1-6744a3f2-0d1e2f3a4b5c6d7e8f901234",
		},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Request(c.ev)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("got  %+v\nwant %+v", *got, c.want)
			}
		})
	}
}

func TestRequestBadBase64(t *testing.T) {
	ev := fcEvent(t, "POST", "/logstores/web/track", `{}`, `{}`, "not base64!", true)
	if _, err := Request(ev); err == nil {
		t.Fatal("want an error for a body that is not base64")
	}
}

func TestResponse(t *testing.T) {
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	cases := []struct {
		name string
		in   processor.Response
		want events.HTTPTriggerResponse
	}{{
		name: "empty 200",
		in:   processor.Response{Status: 200, Header: http.Header{"X-Log-Requestid": {"R1"}}},
		want: events.HTTPTriggerResponse{StatusCode: 200, Headers: map[string]string{"x-log-requestid": "R1"}},
	}, {
		name: "JSON error stays text",
		in: processor.Response{Status: 400, Header: http.Header{"Content-Type": {"application/json"}, "X-Log-Requestid": {"R2"}},
			Body: []byte(`{"errorCode":"PostBodyInvalid","errorMessage":"x"}`)},
		want: events.HTTPTriggerResponse{StatusCode: 400,
			Headers: map[string]string{"content-type": "application/json", "x-log-requestid": "R2"},
			Body:    `{"errorCode":"PostBodyInvalid","errorMessage":"x"}`},
	}, {
		name: "GIF is base64",
		in:   processor.Response{Status: 200, Header: http.Header{"Content-Type": {"image/gif"}}, Body: gif},
		want: events.HTTPTriggerResponse{StatusCode: 200, Headers: map[string]string{"content-type": "image/gif"},
			IsBase64Encoded: true, Body: base64.StdEncoding.EncodeToString(gif)},
	}, {
		name: "repeated header joined",
		in:   processor.Response{Status: 204, Header: http.Header{"Vary": {"Origin", "Access-Control-Request-Headers"}}},
		want: events.HTTPTriggerResponse{StatusCode: 204, Headers: map[string]string{"vary": "Origin,Access-Control-Request-Headers"}},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Response(&c.in); !reflect.DeepEqual(*got, c.want) {
				t.Errorf("got  %+v\nwant %+v", *got, c.want)
			}
		})
	}
}
