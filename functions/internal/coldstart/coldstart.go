// Package coldstart compares a function binary with a hello-world function
// built the same way: its size, and the median time it takes to become
// ready, measured by the caller's runtime harness. The binaries are started
// in turn so that the machine's load falls on both alike.
package coldstart

import (
	"os"
	"slices"
	"testing"
	"time"
)

// Result is one comparison.
type Result struct {
	Size, HelloSize   int64
	Start, HelloStart time.Duration // medians
	runs              int
}

// Measure starts each binary runs times with start, which returns how long
// the binary took to become ready.
func Measure(t *testing.T, bin, hello string, runs int, start func(bin string) time.Duration) Result {
	t.Helper()
	var starts, helloStarts []time.Duration
	for range runs {
		starts = append(starts, start(bin))
		helloStarts = append(helloStarts, start(hello))
	}
	return Result{Size: size(t, bin), HelloSize: size(t, hello), Start: median(starts), HelloStart: median(helloStarts), runs: runs}
}

// SizeRatio is the binary's size over hello-world's.
func (r Result) SizeRatio() float64 { return float64(r.Size) / float64(r.HelloSize) }

// StartRatio is the binary's median start over hello-world's.
func (r Result) StartRatio() float64 { return float64(r.Start) / float64(r.HelloStart) }

// Log writes the figures to the test log.
func (r Result) Log(t *testing.T) {
	t.Helper()
	t.Logf("size: webtrack %d bytes, hello %d bytes (%.2fx)", r.Size, r.HelloSize, r.SizeRatio())
	t.Logf("start, median of %d: webtrack %v, hello %v (%.2fx)", r.runs, r.Start, r.HelloStart, r.StartRatio())
}

func size(t *testing.T, bin string) int64 {
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func median(xs []time.Duration) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
