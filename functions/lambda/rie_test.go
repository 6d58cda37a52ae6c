package main

import (
	"path/filepath"
	"testing"

	"github.com/webtrack/webtrack/events"
	"github.com/webtrack/webtrack/functions/internal/rie"
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
		return fn.Invoke(t, s.Payload), nil
	})
	init, err := fn.InitDuration()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events; the emulator reports an init of %.2f ms", len(samples), init)
}

// build compiles the main package in dir as the Lambda runtime runs it.
func build(t testing.TB, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "bootstrap")
	if err := rie.Build(dir, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// startRIE starts bootstrap under the emulator with the tests' file sinks
// allowed, a 30 s timeout and 128 MB, and the given environment added.
func startRIE(t testing.TB, bootstrap string, env ...string) *rie.Function {
	t.Helper()
	base := []string{"WEBTRACK_ALLOW_LOCAL_FILE_SINK=true", "AWS_LAMBDA_FUNCTION_TIMEOUT=30", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128"}
	return rie.Start(t, bootstrap, append(base, env...)...)
}
