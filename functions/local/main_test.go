package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/processor/processortest"
)

// server is the built local server running as a child process.
type server struct {
	cmd  *exec.Cmd
	addr string
	logs *bytes.Buffer
	done chan error
}

// bin is the server binary, built once for the package's tests.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "webtrack-local")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "webtrack-local")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func start(t *testing.T, env ...string) *server {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), append([]string{"WEBTRACK_ADDR=127.0.0.1:0"}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, logs: new(bytes.Buffer), done: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.logs.WriteString(line + "\n")
			var l struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" {
				addrc <- l.Addr
			}
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case s.addr = <-addrc:
	case err := <-s.done:
		t.Fatalf("server exited before listening: %v\n%s", err, s.logs)
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not listen within 20s\n%s", s.logs)
	}
	return s
}

func TestServesAndStores(t *testing.T) {
	dir := t.TempDir()
	s := start(t, "WEBTRACK_SINK=file://"+dir)
	resp, err := http.Post("http://"+s.addr+"/logstores/web/track?APIVersion=0.6.0", "text/plain;charset=UTF-8",
		strings.NewReader(`{"__topic__":"t","__logs__":[{"msg":"héllo"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Log-Requestid") == "" {
		t.Fatalf("status %d, request id %q", resp.StatusCode, resp.Header.Get("X-Log-Requestid"))
	}
	lines := processortest.Lines(processortest.ReadObjects(t, dir))
	if len(lines) != 1 || lines[0]["msg"] != "héllo" || lines[0]["__topic__"] != "t" {
		t.Fatalf("stored %v", lines)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-s.done; err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	var logged struct {
		RequestID string `json:"request_id"`
		Entries   int
		Status    int
	}
	for line := range strings.Lines(s.logs.String()) {
		if strings.Contains(line, `"track request"`) {
			json.Unmarshal([]byte(line), &logged)
		}
	}
	if logged.RequestID != resp.Header.Get("X-Log-Requestid") || logged.Entries != 1 || logged.Status != 200 {
		t.Errorf("request log line %+v does not describe the request\n%s", logged, s.logs)
	}
}

// TestShutdownKeepsInFlightRequest sends half a request, stops the server,
// then sends the rest: the request must still be answered 200 and stored.
func TestShutdownKeepsInFlightRequest(t *testing.T) {
	dir := t.TempDir()
	s := start(t, "WEBTRACK_SINK=file://"+dir)
	body := `{"__logs__":[{"a":"1"},{"a":"2"}]}`
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /logstores/web/track HTTP/1.1\r\nHost: %s\r\nx-log-apiversion: 0.6.0\r\nContent-Length: %d\r\n\r\n%s", s.addr, len(body), body[:10])
	time.Sleep(200 * time.Millisecond) // the server is now reading the body
	s.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	io.WriteString(conn, body[10:])
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the in-flight request: %v\n%s", err, s.logs)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("in-flight request answered %d", resp.StatusCode)
	}
	if err := <-s.done; err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if n := len(processortest.Lines(processortest.ReadObjects(t, dir))); n != 2 {
		t.Fatalf("%d entries stored, want 2", n)
	}
}

func TestBadConfigurationStopsStartup(t *testing.T) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "WEBTRACK_ADDR=127.0.0.1:0", "WEBTRACK_MAX_ENTRIES=lots", "WEBTRACK_SINK=ftp://nowhere")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatal("started with a bad configuration")
	}
	if !strings.Contains(string(out), "WEBTRACK_MAX_ENTRIES") {
		t.Errorf("message does not name the variable: %s", out)
	}
}

func TestUnknownSinkSchemeStopsStartup(t *testing.T) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "WEBTRACK_ADDR=127.0.0.1:0", "WEBTRACK_SINK=ftp://nowhere")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `unknown scheme "ftp"`) {
		t.Fatalf("err %v, output %s", err, out)
	}
}
