package httpserver_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/webtrack/webtrack/handler/httpserver"
	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
)

// roundtrip sends the request over real HTTP on loopback to a server that
// runs the handler.
func roundtrip(t *testing.T, p *processor.Processor, req *processor.Request) *processor.Response {
	srv := httptest.NewServer(httpserver.Handler{Processor: p, TrustForwardedFor: true})
	defer srv.Close()
	u := srv.URL + req.Path
	if len(req.Query) > 0 {
		u += "?" + req.Query.Encode()
	}
	hr, err := http.NewRequest(req.Method, u, bytes.NewReader(req.Body))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header = req.Header.Clone()
	hr.Header.Add("X-Forwarded-For", "198.51.100.1, "+req.ClientIP)
	if req.Host != "" && req.Host != "127.0.0.1:8080" {
		hr.Host = req.Host
	}
	resp, err := srv.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &processor.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

func TestProtocolCasesOverHTTP(t *testing.T) {
	processortest.Run(t, roundtrip)
}

func TestRawQueryWithInvalidUTF8(t *testing.T) {
	// A beacon whose query holds a raw byte that is not UTF-8, as a broken
	// client may send it, is refused by name rather than stored.
	c := processortest.Case{Request: processortest.Get("web", "track", "APIVersion=0.6.0"), Status: 400, Code: "InvalidEncoding"}
	c.Request.Query = url.Values{"APIVersion": {"0.6.0"}, "k": {"\xff"}}
	processortest.RunCase(t, c, roundtrip)
}

func TestOversizedBodyIsRefusedUnread(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 4<<20)
	c := processortest.Case{Request: processortest.Post("web", big, "x-log-apiversion", "0.6.0"), Status: 400, Code: "PostBodyTooLarge"}
	processortest.RunCase(t, c, roundtrip)
}

func TestForwardedForIgnoredUnlessTrusted(t *testing.T) {
	for _, trust := range []bool{false, true} {
		c := processortest.Case{Request: processortest.Post("web", []byte(`{"__logs__":[{"a":"b"}]}`), "x-log-apiversion", "0.6.0", "X-Forwarded-For", "192.0.2.9"), Status: 200, Entries: 1}
		want := "127.0.0.1"
		if trust {
			want = "192.0.2.9"
		}
		c.Check = func(t *testing.T, _ *processor.Response, stored []processortest.Object) {
			if got := processortest.Field(t, processortest.Lines(stored)[0], "__tag__:__client_ip__"); got != want {
				t.Errorf("trust=%v: client ip %q, want %q", trust, got, want)
			}
		}
		processortest.RunCase(t, c, func(t *testing.T, p *processor.Processor, req *processor.Request) *processor.Response {
			srv := httptest.NewServer(httpserver.Handler{Processor: p, TrustForwardedFor: trust})
			defer srv.Close()
			hr, _ := http.NewRequest(req.Method, srv.URL+req.Path, bytes.NewReader(req.Body))
			hr.Header = req.Header
			resp, err := srv.Client().Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return &processor.Response{Status: resp.StatusCode, Header: resp.Header}
		})
	}
}
