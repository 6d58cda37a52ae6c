package main

import (
	"testing"
	"time"

	"github.com/webtrack/webtrack/events"
	"github.com/webtrack/webtrack/functions/internal/coldstart"
)

// TestColdStart compares the bootstrap with a hello-world function built the
// same way (testdata/hello): size, and the init the emulator reports. The
// S3 and SQS clients are built from the function's environment alone
// (awsconfig.FromEnvironment), without the SDK's config package. The S3 and
// SQS service packages still take the bootstrap to 1.62x hello-world's size
// (S3 alone 1.53x, SQS alone 1.42x; see the README's Deploying section), over
// the 1.5x goal, so size is held at 1.65x to catch growth. Init measures
// 1.4–1.8x under the emulator and up to 2.1x while other tests run, so it
// fails only past 3x, which start-up work (a network call, a large table
// built at init) would cause.
func TestColdStart(t *testing.T) {
	samples, err := events.Samples("lambda-httpapi-options")
	if err != nil || len(samples) != 1 {
		t.Fatalf("the HTTP API preflight sample: %v", err)
	}
	r := coldstart.Measure(t, build(t, "."), build(t, "./testdata/hello"), 7, func(bin string) time.Duration {
		fn := startRIE(t, bin, "WEBTRACK_SINK=file://"+t.TempDir())
		fn.Invoke(t, samples[0].Payload)
		ms, err := fn.InitDuration()
		if err != nil {
			t.Fatal(err)
		}
		return time.Duration(ms * float64(time.Millisecond))
	})
	r.Log(t)
	if r.SizeRatio() > 1.65 {
		t.Errorf("the bootstrap is %.2fx hello-world's size", r.SizeRatio())
	}
	if r.StartRatio() > 3 {
		t.Errorf("init is %.2fx hello-world's", r.StartRatio())
	}
}
