package httpserver_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/handler/httpserver"
	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
)

// roundtrip sends the request over real HTTP on loopback to a server that
// runs the handler.
func roundtrip(t *testing.T, p *processor.Processor, req *processor.Request) *processor.Response {
	return processortest.SendHTTP(t, httpserver.Handler{Processor: p, TrustForwardedFor: true}, req, func(h http.Header) {
		h.Add("X-Forwarded-For", "198.51.100.1, "+req.ClientIP)
	})
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
			return processortest.SendHTTP(t, httpserver.Handler{Processor: p, TrustForwardedFor: trust}, req, nil)
		})
	}
}

// sendPartial posts a body that claims 1,000 bytes and sends a complete batch
// of 24 (which a server ignoring the failed read would store), then either
// half-closes the connection (the client hung up) or waits, and returns the
// server's answer.
func sendPartial(t *testing.T, srv *httptest.Server, hangUp bool) string {
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /logstores/web/track HTTP/1.1\r\nHost: x\r\nx-log-apiversion: 0.6.0\r\nContent-Length: 1000\r\n\r\n")
	fmt.Fprint(conn, `{"__logs__":[{"a":"b"}]}`)
	if hangUp {
		conn.(*net.TCPConn).CloseWrite()
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	answer, _ := io.ReadAll(conn)
	return string(answer)
}

func TestFailedBodyReadIsNotProcessed(t *testing.T) {
	for _, c := range []struct {
		name   string
		hangUp bool
		want   string
	}{
		{"client hung up", true, "400 Bad Request"},
		{"client too slow", false, "408 Request Timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tc := processortest.Case{Request: processortest.Post("web", nil), Status: 0}
			processortest.RunCase(t, tc, func(t *testing.T, p *processor.Processor, _ *processor.Request) *processor.Response {
				srv := httptest.NewUnstartedServer(httpserver.Handler{Processor: p})
				srv.Config.ReadTimeout = 300 * time.Millisecond
				srv.Start()
				defer srv.Close()
				answer := sendPartial(t, srv, c.hangUp)
				if !strings.HasPrefix(answer, "HTTP/1.1 "+c.want) {
					t.Errorf("answer %q, want %s", answer, c.want)
				}
				return &processor.Response{Header: http.Header{"X-Log-Requestid": {"checked"}}}
			})
		})
	}
}

// TestHealth checks /healthz: 200 and the sink's scheme, without reaching
// the processor (whose logger would record a track request).
func TestHealth(t *testing.T) {
	var logged bytes.Buffer
	p := processor.New(processortest.Config(), nil, slog.New(slog.NewJSONHandler(&logged, nil)))
	srv := httptest.NewServer(httpserver.Handler{Processor: p, Sink: "s3"})
	defer srv.Close()
	resp, err := http.Get(srv.URL + httpserver.HealthPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"status":"ok","sink":"s3"}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET %s: %d %s %q", httpserver.HealthPath, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, err = http.Post(srv.URL+httpserver.HealthPath, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST %s: %d, want 405", httpserver.HealthPath, resp.StatusCode)
	}
	if logged.Len() != 0 {
		t.Errorf("the health check was logged as a request:\n%s", &logged)
	}
}

// TestRequestIDHeader: with RequestIDHeader set, the platform's id for the
// request is answered as x-log-requestid and stored; without it, a client's
// header of that name is ignored.
func TestRequestIDHeader(t *testing.T) {
	const id = "a9e64a3c-1234-5678-abcd-ef0123456789"
	for _, header := range []string{"", "X-Fc-Request-Id"} {
		c := processortest.Case{Request: processortest.Post("web", []byte(`{"__logs__":[{"a":"b"}]}`), "x-log-apiversion", "0.6.0", "X-Fc-Request-Id", id), Status: 200, Entries: 1}
		c.Check = func(t *testing.T, resp *processor.Response, stored []processortest.Object) {
			answered := resp.Header.Get("X-Log-Requestid")
			storedID := processortest.Field(t, processortest.Lines(stored)[0], "__tag__:__request_id__")
			if (answered == id) != (header != "") || storedID != answered {
				t.Errorf("RequestIDHeader %q: answered %q, stored %q; the header said %q", header, answered, storedID, id)
			}
		}
		processortest.RunCase(t, c, func(t *testing.T, p *processor.Processor, req *processor.Request) *processor.Response {
			return processortest.SendHTTP(t, httpserver.Handler{Processor: p, RequestIDHeader: header}, req, nil)
		})
	}
}
