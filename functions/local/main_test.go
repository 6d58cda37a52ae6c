//go:build unix

package main_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/processor/processortest"
)

func TestServesAndStores(t *testing.T) {
	s := startTrackServer(t, bin)
	resp, err := http.Post(s.URL+"/logstores/web/track?APIVersion=0.6.0", "text/plain;charset=UTF-8",
		strings.NewReader(`{"__topic__":"t","__logs__":[{"msg":"héllo"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Log-Requestid")
	if resp.StatusCode != 200 || id == "" {
		t.Fatalf("status %d, request id %q", resp.StatusCode, id)
	}
	lines := processortest.Lines(processortest.ReadObjects(t, s.dir))
	if len(lines) != 1 || lines[0]["msg"] != "héllo" || lines[0]["__topic__"] != "t" {
		t.Fatalf("stored %v", lines)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	reqs := s.checkRequests(t)
	if len(reqs) != 1 || reqs[0].RequestID != id || reqs[0].Entries != 1 || reqs[0].Logstore != "web" {
		t.Errorf("request log lines %+v do not describe the request\n%s", reqs, s.Log())
	}
}

// TestShutdownKeepsInFlightRequest sends half a request, stops the server,
// then sends the rest: the request must still be answered 200 and stored.
func TestShutdownKeepsInFlightRequest(t *testing.T) {
	s := startTrackServer(t, bin)
	body := `{"__logs__":[{"a":"1"},{"a":"2"}]}`
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /logstores/web/track HTTP/1.1\r\nHost: x\r\nx-log-apiversion: 0.6.0\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	time.Sleep(200 * time.Millisecond) // the server is now reading the body
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop() }()
	time.Sleep(200 * time.Millisecond)
	io.WriteString(conn, body[10:])
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the in-flight request: %v\n%s", err, s.Log())
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("in-flight request answered %d", resp.StatusCode)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if n := len(processortest.Lines(processortest.ReadObjects(t, s.dir))); n != 2 {
		t.Fatalf("%d entries stored, want 2", n)
	}
}

func TestBadConfigurationStopsStartup(t *testing.T) {
	for env, want := range map[string]string{
		"WEBTRACK_MAX_ENTRIES=lots":          "WEBTRACK_MAX_ENTRIES",
		"WEBTRACK_SINK=ftp://nowhere":        `unknown scheme "ftp"`,
		"WEBTRACK_TRUST_FORWARDED_FOR=maybe": "WEBTRACK_TRUST_FORWARDED_FOR",
	} {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "WEBTRACK_ADDR=127.0.0.1:0", env)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("%s: err %v, output %q, want it to name %s", env, err, out, want)
		}
	}
}
