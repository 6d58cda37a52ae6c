package groupcommit_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/groupcommit"
)

// paced sends n requests to s, one every interval, each with its own
// timeout from when it starts, as the processor gives each request the
// sink timeout. It checks that exactly the requests answered nil are
// stored in inner, and returns how many were.
func paced(t *testing.T, s sink.Sink, inner *slowSink, n int, interval, timeout time.Duration) (stored int) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = put(s, i, timeout) })
		time.Sleep(interval)
	}
	wg.Wait()
	want := map[int]bool{}
	for i, err := range errs {
		want[i] = err == nil
		if err == nil {
			stored++
		}
	}
	checkStored(t, inner.puts, want)
	return stored
}

// TestSlowSinkStoresAsMuchAsWritingAlone sends a request every 50 ms, each
// with a 1 s deadline, to a working sink that takes a fixed time over each
// write, through group commit and straight to it, both at once: group
// commit must store every request that writing alone stores, from its
// first write (cold) and once it knows the sink's latency (warm), and still
// share writes where the latency leaves it the time.
func TestSlowSinkStoresAsMuchAsWritingAlone(t *testing.T) {
	const n, interval, timeout = 30, 50 * time.Millisecond, time.Second
	for _, latency := range []time.Duration{200 * time.Millisecond, 600 * time.Millisecond, 800 * time.Millisecond} {
		for _, warmed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/warm=%v", latency, warmed), func(t *testing.T) {
				t.Parallel()
				alone, grouped := &slowSink{delay: latency}, &slowSink{delay: latency}
				s := groupcommit.New(grouped, groupcommit.DefaultOptions())
				if warmed {
					warm(t, s, grouped)
				}
				var storedAlone, storedGrouped int
				var wg sync.WaitGroup
				wg.Go(func() { storedAlone = paced(t, alone, alone, n, interval, timeout) })
				wg.Go(func() { storedGrouped = paced(t, s, grouped, n, interval, timeout) })
				wg.Wait()
				t.Logf("alone %d of %d stored in %d writes; group commit %d stored in %d writes",
					storedAlone, n, len(alone.puts), storedGrouped, len(grouped.puts))
				if storedGrouped < storedAlone {
					t.Errorf("group commit stored %d of %d requests, writing alone %d", storedGrouped, n, storedAlone)
				}
				if warmed && latency <= timeout/5 && len(grouped.puts) > n/2 {
					t.Errorf("group commit made %d writes for %d requests", len(grouped.puts), n)
				}
			})
		}
	}
}
