//go:build unix

package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/webtrack/webtrack/functions/internal/localserver"
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

// trackServer is a running local server with a file sink, and the request
// lines it logged.
type trackServer struct {
	*localserver.Server
	dir string

	mu       sync.Mutex
	requests []trackLog
	update   chan struct{}
}

// trackLog is the server's log line for one request.
type trackLog struct {
	Msg       string `json:"msg"`
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

// startTrackServer starts serverBin with a file sink in a temporary
// directory. env adds to a clean WEBTRACK_* configuration.
func startTrackServer(t testing.TB, serverBin string, env ...string) *trackServer {
	t.Helper()
	s := &trackServer{dir: t.TempDir(), update: make(chan struct{}, 1)}
	onLine := func(line []byte) {
		var l trackLog
		if json.Unmarshal(line, &l) == nil && l.Msg == "track request" {
			s.mu.Lock()
			s.requests = append(s.requests, l)
			s.mu.Unlock()
		}
		select {
		case s.update <- struct{}{}:
		default:
		}
	}
	s.Server = localserver.Start(t, serverBin, onLine, append([]string{
		"WEBTRACK_SINK=file://" + s.dir, "WEBTRACK_LOG_LEVEL=info", "WEBTRACK_CLIENT_METADATA=true",
	}, env...)...)
	return s
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
			t.Fatalf("%s; the server's log:\n%s", failed, s.Log())
		}
		if stored >= n {
			return
		}
		select {
		case <-s.update:
		case <-deadline:
			t.Fatalf("after %v the server stored %d entries in logstore %q, want %d; its log:\n%s", timeout, stored, logstore, n, s.Log())
		}
	}
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
