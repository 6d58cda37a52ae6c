// Package backoff is the sinks' own retry pacing: jittered exponential waits
// between attempts, bounded by a context.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Delay is a random wait after attempt (counted from 0) failed: between half
// and all of a bound that starts at first and doubles each attempt, up to
// limit.
func Delay(attempt int, first, limit time.Duration) time.Duration {
	bound := min(first<<min(attempt, 10), limit)
	return bound/2 + rand.N(bound/2)
}

// Sleep waits for d and says whether ctx is still live after it; it returns
// false as soon as ctx ends.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
