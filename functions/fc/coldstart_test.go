package main

import (
	"os"
	"slices"
	"testing"
	"time"
)

// TestColdStart compares the function with a hello-world function built the
// same way (testdata/hello): size, and the time from starting the process to
// its first request for an invocation (the median of several starts of
// each, taken in turn). The goals are 1.5x hello-world's size and under 2x
// its start-up; both depend on which sinks sinks.go links, so
// the test logs the ratios and fails only past 3x start-up, which start-up
// work (a network call, a large table built at init) would cause.
func TestColdStart(t *testing.T) {
	const runs = 7
	bins := map[string]string{"webtrack": build(t, "."), "hello": build(t, "./testdata/hello")}
	starts := map[string][]time.Duration{}
	for range runs {
		for name, bin := range bins {
			fn := startFC(t, bin, "WEBTRACK_SINK=file://"+t.TempDir())
			starts[name] = append(starts[name], fn.init())
		}
	}
	size := map[string]int64{}
	for name, bin := range bins {
		fi, err := os.Stat(bin)
		if err != nil {
			t.Fatal(err)
		}
		size[name] = fi.Size()
	}
	w, h := median(starts["webtrack"]), median(starts["hello"])
	t.Logf("size: webtrack %d bytes, hello %d bytes (%.2fx)", size["webtrack"], size["hello"], float64(size["webtrack"])/float64(size["hello"]))
	t.Logf("start-up, median of %d: webtrack %v %v, hello %v %v (%.2fx)", runs, w, starts["webtrack"], h, starts["hello"], float64(w)/float64(h))
	if w > 3*h {
		t.Errorf("start-up %v is over three times hello-world's %v", w, h)
	}
}

func median(xs []time.Duration) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
