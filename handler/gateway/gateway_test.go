package gateway

import (
	"net/http"
	"reflect"
	"testing"
)

func TestEncodeBody(t *testing.T) {
	cases := []struct {
		contentType string
		body        string
		want        string
		b64         bool
	}{
		{"application/json", `{"a":1}`, `{"a":1}`, false},
		{"application/json; charset=utf-8", `{}`, `{}`, false},
		{"text/plain;charset=UTF-8", "ok", "ok", false},
		{"application/problem+json", `{}`, `{}`, false},
		{"image/gif", "GIF89a", "R0lGODlh", true},
		{"", "\x00\x01", "AAE=", true},
		{"image/gif", "", "", false},
	}
	for _, c := range cases {
		got, b64 := EncodeBody([]byte(c.body), http.Header{"Content-Type": {c.contentType}})
		if got != c.want || b64 != c.b64 {
			t.Errorf("EncodeBody(%q, %q) = %q, %v; want %q, %v", c.body, c.contentType, got, b64, c.want, c.b64)
		}
	}
}

func TestDecodeBody(t *testing.T) {
	if b, err := DecodeBody("R0lGODlh", true); err != nil || string(b) != "GIF89a" {
		t.Errorf("base64: %q, %v", b, err)
	}
	if b, err := DecodeBody("R0lGODlh", false); err != nil || string(b) != "R0lGODlh" {
		t.Errorf("text: %q, %v", b, err)
	}
	if _, err := DecodeBody("R0lG*", true); err == nil {
		t.Error("want an error for invalid base64")
	}
}

func TestHeader(t *testing.T) {
	got := Header(map[string]string{"x-a": "1", "x-b": "2,3"}, map[string][]string{"x-a": {"1", "4"}})
	want := http.Header{"X-A": {"1", "4"}, "X-B": {"2,3"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestPath(t *testing.T) {
	for raw, want := range map[string]string{
		"/logstores/web/track":    "/logstores/web/track",
		"/logstores/w%65b/track":  "/logstores/web/track",
		"/logstores/web%zz/track": "/logstores/web%zz/track",
		"/logstores/a%2Fb/track":  "/logstores/a/b/track",
	} {
		if got := Path(raw); got != want {
			t.Errorf("Path(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestLastForwardedFor(t *testing.T) {
	for _, c := range []struct {
		values []string
		want   string
	}{
		{nil, ""},
		{[]string{"203.0.113.5"}, "203.0.113.5"},
		// A client forges the first entries; the proxy appends the real one.
		{[]string{"198.51.100.66, 203.0.113.5"}, "203.0.113.5"},
		{[]string{"198.51.100.66,203.0.113.5 "}, "203.0.113.5"},
		{[]string{"198.51.100.66", "10.0.0.1, 203.0.113.5"}, "203.0.113.5"},
		{[]string{"2001:db8::1"}, "2001:db8::1"},
	} {
		if got := LastForwardedFor(http.Header{"X-Forwarded-For": c.values}); got != c.want {
			t.Errorf("LastForwardedFor(%q) = %q, want %q", c.values, got, c.want)
		}
	}
}
