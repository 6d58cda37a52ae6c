// Package rie runs a built Lambda bootstrap under the AWS Lambda Runtime
// Interface Emulator, as `sam local invoke` would in a container, for tests.
package rie

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
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/loopback"
)

// Build compiles the main package in dir into out as the Lambda runtime
// runs it: linux, no cgo, -tags lambda.norpc, trimmed and stripped.
func Build(dir, out string) error {
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, dir)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", dir, err, b)
	}
	return nil
}

// Function is a bootstrap running under aws-lambda-rie.
type Function struct {
	url    string
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
}

// Start starts aws-lambda-rie on free loopback ports with bootstrap as the
// function and env added to the test's environment, and waits until it
// accepts invocations; it stops at cleanup. The emulator starts the
// function on the first invocation.
func Start(t testing.TB, bootstrap string, env ...string) *Function {
	t.Helper()
	bin, err := exec.LookPath("aws-lambda-rie")
	if err != nil {
		t.Fatal("aws-lambda-rie is not on PATH: run `bash .ci/test`, whose setup (.ci/setup.d/30-rie.sh) installs it")
	}
	addr, api := loopback.FreeAddr(t), loopback.FreeAddr(t)
	cmd := exec.Command(bin, "--runtime-interface-emulator-address", addr, "--runtime-api-address", api, bootstrap)
	cmd.Env = append(os.Environ(), env...)
	fn := &Function{url: "http://" + addr + "/2015-03-31/functions/function/invocations", cmd: cmd}
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
		sc.Buffer(nil, 1<<20)
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
			t.Logf("aws-lambda-rie output:\n%s", fn.Output())
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
			t.Fatalf("aws-lambda-rie does not listen on %s: %v\n%s", addr, err, fn.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Output is what the emulator and the function wrote so far.
func (fn *Function) Output() string {
	fn.mu.Lock()
	defer fn.mu.Unlock()
	return fn.stdout.String()
}

// Invoke posts one event and returns the function's answer.
func (fn *Function) Invoke(t testing.TB, payload []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fn.url, bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, fn.Output())
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke: status %d, %v: %s\n%s", resp.StatusCode, err, answer, fn.Output())
	}
	return answer
}

// initReport is the emulator's log of the function's init: from starting
// the bootstrap to its first request for an invocation. (The REPORT line's
// "Init Duration" times only the emulator's asynchronous start call.)
var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// InitDuration is the init the emulator reported, in milliseconds.
func (fn *Function) InitDuration() (float64, error) {
	// The log line may trail the answer; give the emulator a moment.
	for range 50 {
		if m := initReport.FindStringSubmatch(fn.Output()); m != nil {
			return strconv.ParseFloat(m[1], 64)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("no INIT REPORT in the emulator's output:\n%s", fn.Output())
}
