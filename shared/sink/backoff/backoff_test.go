package backoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/sink/backoff"
)

func TestDelayDoublesUpToMax(t *testing.T) {
	const first, max = 100 * time.Millisecond, time.Second
	for attempt, bound := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		bound *= time.Millisecond
		for range 100 {
			if d := backoff.Delay(attempt, first, max); d < bound/2 || d >= bound {
				t.Fatalf("Delay(%d) = %v, want in [%v, %v)", attempt, d, bound/2, bound)
			}
		}
	}
	if d := backoff.Delay(1<<20, first, max); d < max/2 || d >= max {
		t.Fatalf("Delay after many attempts = %v, want in [%v, %v)", d, max/2, max)
	}
}

func TestSleep(t *testing.T) {
	if !backoff.Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep with a live context returned false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if backoff.Sleep(ctx, time.Minute) {
		t.Fatal("Sleep with a cancelled context returned true")
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Sleep with a cancelled context took %v", took)
	}
}
