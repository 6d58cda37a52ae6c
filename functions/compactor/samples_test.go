package main

import (
	"testing"

	"github.com/webtrack/webtrack/events"
	"github.com/webtrack/webtrack/functions/internal/rie"
)

// TestRIESamples invokes the built compactor under the emulator with every
// compactor sample event, over a file sink: each answer and what each
// stored must match expected.json.
func TestRIESamples(t *testing.T) {
	samples, err := events.Samples("compactor-")
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) == 0 {
		t.Fatal("no compactor samples in events/")
	}
	data := t.TempDir()
	fn := rie.Start(t, built(t, buildBootstrap), "WEBTRACK_SINK=file://"+data, "WEBTRACK_ALLOW_LOCAL_FILE_SINK=true")
	events.Replay(t, samples, data, func(_ int, s events.Sample) ([]byte, error) {
		return fn.Invoke(t, s.Payload), nil
	})
}
