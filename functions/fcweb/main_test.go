package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
)

// bootstrap is the function as deployed, built once for the package's tests.
var bootstrap string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "webtrack-fcweb")
	if err != nil {
		panic(err)
	}
	bootstrap = filepath.Join(dir, "bootstrap")
	// As the deploy builds it: Function Compute's custom runtime runs
	// linux/amd64, and the binary must need no C library.
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bootstrap, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fcHeaders adds what Function Compute adds to a request it passes to a
// custom runtime: its request id, the role's credentials, and the client's
// address appended to whatever X-Forwarded-For the client sent.
func fcHeaders(h http.Header, requestID, clientIP string) {
	h.Set("X-Fc-Request-Id", requestID)
	h.Set("X-Fc-Access-Key-Id", "STS.fresh")
	h.Set("X-Fc-Access-Key-Secret", "fresh-secret")
	h.Set("X-Fc-Security-Token", "fresh-token")
	h.Set("X-Forwarded-For", "198.51.100.1, "+clientIP) // the first entry is the client's forgery
}

// TestProtocolTable runs the protocol table through the function's handler
// over real HTTP, each request as Function Compute delivers it: the answers,
// what is stored, the request id and client address taken from FC's
// headers.
func TestProtocolTable(t *testing.T) {
	var n atomic.Int64
	processortest.Run(t, func(t *testing.T, p *processor.Processor, req *processor.Request) *processor.Response {
		id := fmt.Sprintf("1-6744a3f2-%024d", n.Add(1))
		resp := processortest.SendHTTP(t, handler(p, "file"), req, func(h http.Header) { fcHeaders(h, id, req.ClientIP) })
		if got := resp.Header.Get("X-Log-Requestid"); got != id {
			t.Errorf("x-log-requestid %q, want x-fc-request-id %q", got, id)
		}
		return resp
	})
}

func TestListenAddr(t *testing.T) {
	for port, want := range map[string]string{"": "0.0.0.0:9000", "8080": "0.0.0.0:8080"} {
		if got, err := listenAddr(port); got != want || err != nil {
			t.Errorf("listenAddr(%q) = %q, %v; want %q", port, got, err, want)
		}
	}
	for _, port := range []string{"0", "65536", "nine", "127.0.0.1:9000"} {
		if _, err := listenAddr(port); err == nil {
			t.Errorf("listenAddr(%q) took a bad port", port)
		}
	}
}
