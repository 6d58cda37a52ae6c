package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/webtrack/webtrack/events"
)

// TestRuntimeAPI runs the built function against a loopback server that
// speaks FC's runtime API as fc-runtime-go-sdk v0.3.1 uses it, and hands it
// every FC sample event: each answer and what each stored must match
// expected.json.
func TestRuntimeAPI(t *testing.T) {
	data := t.TempDir()
	fn := startFC(t, build(t, "."), "WEBTRACK_SINK=file://"+data)
	samples, err := events.Samples("fc-")
	if err != nil {
		t.Fatal(err)
	}
	events.Replay(t, samples, data, func(i int, s events.Sample) ([]byte, error) {
		return fn.invoke(fmt.Sprintf("1-6744a3f2-%024d", i), s.Payload)
	})
	t.Logf("%d events; %v from start to the first request for an invocation", len(samples), fn.init())
}

// build compiles the main package in dir as FC's go1 runtime runs it:
// linux/amd64, no cgo, trimmed and stripped.
func build(t testing.TB, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "main")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, dir)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, b)
	}
	return out
}

// runtimeAPI is FC's runtime API, as far as the SDK uses it: the function
// polls GET /2020-11-11/runtime/invocation/next, receives an event with its
// request id, deadline and timeout in x-fc-* headers, and posts the answer
// to …/{request-id}/response, or a failure to …/{request-id}/error.
type runtimeAPI struct {
	next    chan invocation
	mu      sync.Mutex
	waiting map[string]chan result
	polled  chan struct{} // closed at the first poll
	once    sync.Once
}

type invocation struct {
	id      string
	payload []byte
}

type result struct {
	answer []byte
	failed bool
}

func (api *runtimeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix = "/2020-11-11/runtime/invocation/"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	switch {
	case ok && r.Method == http.MethodGet && rest == "next":
		api.once.Do(func() { close(api.polled) })
		select {
		case inv := <-api.next:
			h := w.Header()
			h.Set("x-fc-request-id", inv.id)
			h.Set("x-fc-function-deadline", strconv.FormatInt(time.Now().Add(30*time.Second).UnixMilli(), 10))
			h.Set("x-fc-function-timeout", "30")
			h.Set("x-fc-function-name", "webtrack")
			h.Set("x-fc-function-handler", "main")
			h.Set("x-fc-function-memory", "128")
			h.Set("x-fc-region", "cn-hangzhou")
			w.Write(inv.payload)
		case <-r.Context().Done():
		}
	case ok && r.Method == http.MethodPost:
		id, kind, _ := strings.Cut(rest, "/")
		body, _ := io.ReadAll(r.Body)
		api.mu.Lock()
		done := api.waiting[id]
		delete(api.waiting, id)
		api.mu.Unlock()
		if done == nil || kind != "response" && kind != "error" {
			http.Error(w, "no such invocation", http.StatusNotFound)
			return
		}
		done <- result{answer: body, failed: kind == "error"}
	default:
		http.NotFound(w, r)
	}
}

// fcFunction is a built function started against the runtime API.
type fcFunction struct {
	api     *runtimeAPI
	started time.Time
	firstAt time.Time
}

// startFC starts bin with FC_RUNTIME_API pointing at a loopback runtime API,
// FC_FUNCTION_NAME set as Function Compute sets it, the tests' file sinks
// allowed, and the given environment added.
func startFC(t testing.TB, bin string, env ...string) *fcFunction {
	t.Helper()
	api := &runtimeAPI{next: make(chan invocation), waiting: map[string]chan result{}, polled: make(chan struct{})}
	srv := httptest.NewServer(api)
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(), "FC_FUNCTION_NAME=webtrack", "WEBTRACK_ALLOW_LOCAL_FILE_SINK=true"), env...)
	cmd.Env = append(cmd.Env, "FC_RUNTIME_API="+strings.TrimPrefix(srv.URL, "http://"))
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	fn := &fcFunction{api: api, started: time.Now()}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		srv.Close()
		if t.Failed() {
			t.Logf("function output:\n%s", out)
		}
	})
	select {
	case <-api.polled:
		fn.firstAt = time.Now()
	case <-exited:
		t.Fatalf("the function exited before asking for an invocation: %v", waitErr) // its output follows, from Cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("the function did not ask for an invocation within 10s") // its output follows, from Cleanup
	}
	return fn
}

// init is the time from starting the process to its first poll.
func (fn *fcFunction) init() time.Duration { return fn.firstAt.Sub(fn.started) }

// invoke hands the function one event and returns its answer.
func (fn *fcFunction) invoke(id string, payload []byte) ([]byte, error) {
	done := make(chan result, 1)
	fn.api.mu.Lock()
	fn.api.waiting[id] = done
	fn.api.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case fn.api.next <- invocation{id: id, payload: payload}:
	case <-ctx.Done():
		return nil, fmt.Errorf("the function did not take the invocation")
	}
	select {
	case r := <-done:
		if r.failed {
			return nil, fmt.Errorf("the invocation failed: %s", r.answer)
		}
		return r.answer, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no answer within 30s")
	}
}
