// Package localserver runs a built local server (functions/local) for tests:
// on a free loopback port, with none of the developer's WEBTRACK_* settings,
// its JSON log kept, and stopped with SIGTERM at the test's cleanup.
package localserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is a running local server.
type Server struct {
	URL string // http://127.0.0.1:port

	cmd      *exec.Cmd
	mu       sync.Mutex
	log      bytes.Buffer
	exited   chan error
	stopOnce sync.Once
	stopErr  error
}

// Start runs bin with env added to the environment (less any WEBTRACK_* or
// PORT variable) and WEBTRACK_ADDR=127.0.0.1:0, and waits until it logs that
// it listens. onLine, unless nil, sees every log line as it is read. At
// cleanup the server is stopped, and a server that does not stop cleanly
// fails the test.
func Start(t testing.TB, bin string, onLine func(line []byte), env ...string) *Server {
	t.Helper()
	cmd := exec.Command(bin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WEBTRACK_") && !strings.HasPrefix(kv, "PORT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "WEBTRACK_ADDR=127.0.0.1:0")
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the local server: %v", err)
	}
	s := &Server{cmd: cmd, exited: make(chan error, 1)}
	addr := make(chan string, 1)
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.log.Write(sc.Bytes())
			s.log.WriteByte('\n')
			s.mu.Unlock()
			var l struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
				addr <- l.Addr
			}
			if onLine != nil {
				onLine(sc.Bytes())
			}
		}
	}()
	go func() {
		<-logDone // Wait closes the pipe: read it to the end first
		s.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("the local server did not stop cleanly on SIGTERM: %v\n%s", err, s.Log())
		}
	})
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case err := <-s.exited:
		s.exited <- err
		t.Fatalf("the local server exited before listening: %v\n%s", err, s.Log())
	case <-time.After(30 * time.Second):
		t.Fatalf("the local server did not log that it listens within 30s\n%s", s.Log())
	}
	return s
}

// Log is what the server has logged so far.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop sends SIGTERM and waits up to 15s for a clean exit; later calls
// return the first call's result.
func (s *Server) Stop() error {
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
