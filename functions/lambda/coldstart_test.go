package main

import (
	"os"
	"slices"
	"testing"

	"github.com/webtrack/webtrack/events"
)

// TestColdStart compares the bootstrap with a hello-world function built the
// same way (testdata/hello): size, and the init the emulator reports (the
// median of several cold starts of each, taken in turn). The goals are 1.5x
// hello-world's size and under 2x its init; both depend on which sinks
// sinks.go links, so the test logs the ratios and fails only
// past 3x init, which start-up work (a network call, a large table built at
// init) would cause.
func TestColdStart(t *testing.T) {
	const runs = 7
	bins := map[string]string{"webtrack": build(t, "."), "hello": build(t, "./testdata/hello")}
	samples, err := events.Samples("lambda-httpapi-options")
	if err != nil || len(samples) != 1 {
		t.Fatalf("the HTTP API preflight sample: %v", err)
	}
	inits := map[string][]float64{}
	for range runs {
		for name, bin := range bins {
			fn := startRIE(t, bin, "WEBTRACK_SINK=file://"+t.TempDir())
			fn.invoke(t, samples[0].Payload)
			ms, err := fn.initDuration()
			if err != nil {
				t.Fatal(err)
			}
			inits[name] = append(inits[name], ms)
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
	w, h := median(inits["webtrack"]), median(inits["hello"])
	t.Logf("size: webtrack %d bytes, hello %d bytes (%.2fx)", size["webtrack"], size["hello"], float64(size["webtrack"])/float64(size["hello"]))
	t.Logf("init, median of %d: webtrack %.2f ms %v, hello %.2f ms %v (%.2fx)", runs, w, inits["webtrack"], h, inits["hello"], w/h)
	if w > 3*h {
		t.Errorf("init %.2f ms is over three times hello-world's %.2f ms", w, h)
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
