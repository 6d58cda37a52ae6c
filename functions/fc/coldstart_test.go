package main

import (
	"testing"
	"time"

	"github.com/webtrack/webtrack/functions/internal/coldstart"
)

// TestColdStart compares the function with a hello-world function built the
// same way (testdata/hello): size, and the time from starting the process to
// its first request for an invocation. Size is exact and held to the goal,
// 1.5x hello-world's (it measures 1.29x). Start-up measures 1.1–1.3x, but
// is noisy on a shared machine (a parallel test run lifts one side more than
// the other), so it fails past 2x, which start-up work such as a network
// call or a large table built at init would cause.
func TestColdStart(t *testing.T) {
	r := coldstart.Measure(t, build(t, "."), build(t, "./testdata/hello"), 7, func(bin string) time.Duration {
		return startFC(t, bin, "WEBTRACK_SINK=file://"+t.TempDir()).init()
	})
	r.Log(t)
	if r.SizeRatio() > 1.5 {
		t.Errorf("the function is %.2fx hello-world's size; the goal is 1.5x", r.SizeRatio())
	}
	if r.StartRatio() > 2 {
		t.Errorf("start-up is %.2fx hello-world's", r.StartRatio())
	}
}
