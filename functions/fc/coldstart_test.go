package main

import (
	"testing"
	"time"

	"github.com/webtrack/webtrack/functions/internal/coldstart"
)

// TestColdStart compares the function with a hello-world function built the
// same way (testdata/hello): size, and the time from starting the process to
// its first request for an invocation. The goals are 1.5x hello-world's size
// and under 2x its start-up. Size is exact and held to the goal; start-up
// is noisy on a shared machine, so it fails only past 3x, which start-up
// work (a network call, a large table built at init) would cause.
func TestColdStart(t *testing.T) {
	r := coldstart.Measure(t, build(t, "."), build(t, "./testdata/hello"), 7, func(bin string) time.Duration {
		return startFC(t, bin, "WEBTRACK_SINK=file://"+t.TempDir()).init()
	})
	r.Log(t)
	if r.SizeRatio() > 1.5 {
		t.Errorf("the function is %.2fx hello-world's size; the goal is 1.5x", r.SizeRatio())
	}
	if r.StartRatio() > 3 {
		t.Errorf("start-up is %.2fx hello-world's", r.StartRatio())
	}
}
