package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/webtrack/webtrack/events"
)

// TestRIE runs the built bootstrap under the Lambda Runtime Interface
// Emulator, as `sam local invoke` would in a container, and invokes it with
// every Lambda sample event: each answer and what each stored must match
// expected.json.
func TestRIE(t *testing.T) {
	bootstrap := build(t, ".")
	data := t.TempDir()
	fn := startRIE(t, bootstrap, "WEBTRACK_SINK=file://"+data)
	samples, err := events.Samples("lambda-")
	if err != nil {
		t.Fatal(err)
	}
	events.Replay(t, samples, data, func(_ int, s events.Sample) ([]byte, error) {
		return fn.invoke(t, s.Payload), nil
	})
	init, err := fn.initDuration()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events; the emulator reports an init of %.2f ms", len(samples), init)
}

// build compiles the main package in dir as the Lambda runtime runs it:
// linux, no cgo, -tags lambda.norpc, trimmed and stripped.
func build(t testing.TB, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, dir)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, b)
	}
	return out
}

// function is a bootstrap running under aws-lambda-rie.
type function struct {
	url    string
	mu     sync.Mutex
	stdout bytes.Buffer
}

// startRIE starts aws-lambda-rie on free loopback ports with bootstrap as the
// function, the tests' file sinks allowed, the given environment added, and
// waits until it accepts invocations. The emulator starts the function on the
// first invocation.
func startRIE(t testing.TB, bootstrap string, env ...string) *function {
	t.Helper()
	rie, err := exec.LookPath("aws-lambda-rie")
	if err != nil {
		t.Fatal("aws-lambda-rie is not on PATH: run `bash .ci/test`, whose setup (.ci/setup.d/30-rie.sh) installs it")
	}
	addr, api := freeAddr(t), freeAddr(t)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", addr, "--runtime-api-address", api, bootstrap)
	cmd.Env = append(append(os.Environ(), "WEBTRACK_ALLOW_LOCAL_FILE_SINK=true"), env...)
	cmd.Env = append(cmd.Env, "AWS_LAMBDA_FUNCTION_TIMEOUT=30", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128")
	fn := &function{url: "http://" + addr + "/2015-03-31/functions/function/invocations"}
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			fn.mu.Lock()
			fn.stdout.Write(append(sc.Bytes(), '\n'))
			fn.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		cmd.Wait()
		if t.Failed() {
			t.Logf("aws-lambda-rie output:\n%s", fn.output())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return fn
		}
		if time.Now().After(deadline) {
			t.Fatalf("aws-lambda-rie does not listen on %s: %v\n%s", addr, err, fn.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (fn *function) output() string {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	return fn.stdout.String()
}

// invoke posts one event and returns the function's answer.
func (fn *function) invoke(t testing.TB, payload []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fn.url, bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, fn.output())
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke: status %d, %v: %s\n%s", resp.StatusCode, err, answer, fn.output())
	}
	return answer
}

// initReport is the emulator's log of the function's init: from starting
// the bootstrap to its first request for an invocation. (The REPORT line's
// "Init Duration" times only the emulator's asynchronous start call.)
var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// initDuration is the init the emulator reported, in milliseconds.
func (fn *function) initDuration() (float64, error) {
	// The log line may trail the answer; give the emulator a moment.
	for range 50 {
		if m := initReport.FindStringSubmatch(fn.output()); m != nil {
			return strconv.ParseFloat(m[1], 64)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("no INIT REPORT in the emulator's output:\n%s", fn.output())
}

// freeAddr returns a loopback address with a port that was free just now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
