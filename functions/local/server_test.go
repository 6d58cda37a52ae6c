//go:build unix

package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

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

// trackServer is a running command with a file sink, and the request lines it
// logged.
type trackServer struct {
	url, dir string

	mu       sync.Mutex
	requests []trackLog
	stderr   bytes.Buffer
	update   chan struct{}

	cmd      *exec.Cmd
	stopOnce sync.Once
	stopErr  error
	exited   chan error
}

// trackLog is the server's log line for one request.
type trackLog struct {
	Msg       string `json:"msg"`
	Addr      string `json:"addr"`
	RequestID string `json:"request_id"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Project   string `json:"project"`
	Logstore  string `json:"logstore"`
	Entries   int    `json:"entries"`
	Status    int    `json:"status"`
	ErrorCode string `json:"error_code"`
	Error     string `json:"error"`
}

// startTrackServer starts serverBin on a free port with a file sink in a temporary
// directory. env adds to a clean WEBTRACK_* configuration.
func startTrackServer(t testing.TB, serverBin string, env ...string) *trackServer {
	t.Helper()
	s := &trackServer{dir: t.TempDir(), update: make(chan struct{}, 1)}
	cmd := exec.Command(serverBin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WEBTRACK_") && !strings.HasPrefix(kv, "PORT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "WEBTRACK_ADDR=127.0.0.1:0", "WEBTRACK_SINK=file://"+s.dir, "WEBTRACK_LOG_LEVEL=info", "WEBTRACK_CLIENT_METADATA=true")
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the server: %v", err)
	}
	addr := make(chan string, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l trackLog
			_ = json.Unmarshal(sc.Bytes(), &l)
			s.mu.Lock()
			s.stderr.Write(sc.Bytes())
			s.stderr.WriteByte('\n')
			if l.Msg == "track request" {
				s.requests = append(s.requests, l)
			}
			s.mu.Unlock()
			if l.Msg == "listening" {
				addr <- l.Addr
			}
			select {
			case s.update <- struct{}{}:
			default:
			}
		}
	}()
	s.cmd, s.exited = cmd, make(chan error, 1)
	go func() {
		<-logDone // Wait closes the pipe: read it to the end first
		s.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("server did not stop cleanly on SIGTERM: %v\n%s", err, s.log())
		}
	})
	select {
	case a := <-addr:
		s.url = "http://" + a
	case err := <-s.exited:
		s.exited <- err
		t.Fatalf("server exited before listening: %v\n%s", err, s.log())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not log that it listens within 30s\n%s", s.log())
	}
	return s
}

func (s *trackServer) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// waitEntries waits until the server has logged that it stored at least n
// entries into logstore, failing at once if it refused a request for it.
func (s *trackServer) waitEntries(t *testing.T, logstore string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		stored, failed := 0, ""
		s.mu.Lock()
		for _, r := range s.requests {
			if r.Logstore == logstore && r.Status == http.StatusOK {
				stored += r.Entries
			}
			if r.Path == "/logstores/"+logstore+"/track" && r.Status != http.StatusOK && failed == "" {
				failed = fmt.Sprintf("%s %s answered %d %s: %s", r.Method, r.Path, r.Status, r.ErrorCode, r.Error)
			}
		}
		s.mu.Unlock()
		if failed != "" { // the clients do not retry: those entries are lost
			t.Fatalf("%s; the server's log:\n%s", failed, s.log())
		}
		if stored >= n {
			return
		}
		select {
		case <-s.update:
		case <-deadline:
			t.Fatalf("after %v the server stored %d entries in logstore %q, want %d; its log:\n%s", timeout, stored, logstore, n, s.log())
		}
	}
}

// stop sends SIGTERM and waits up to 15s for a clean exit; later calls
// return the first call's result.
func (s *trackServer) stop() error {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case s.stopErr = <-s.exited:
		case <-time.After(15 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
			s.stopErr = fmt.Errorf("still running 15s after SIGTERM")
		}
	})
	return s.stopErr
}

// checkRequests fails for every request the server did not answer with 200.
func (s *trackServer) checkRequests(t *testing.T) []trackLog {
	t.Helper()
	s.mu.Lock()
	reqs := slices.Clone(s.requests)
	s.mu.Unlock()
	for _, r := range reqs {
		if r.Status != http.StatusOK {
			t.Errorf("server answered %s %s with %d %s: %s", r.Method, r.Path, r.Status, r.ErrorCode, r.Error)
		}
	}
	return reqs
}
