package s3test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// Opener opens the sink under test on an S3-compatible endpoint and bucket.
type Opener func(t testing.TB, endpoint, bucket string) sink.Sink

// slack is how far past its context's deadline a failing Put may return.
const slack = 500 * time.Millisecond

// RunFaults runs the fault tests: gofakes3 behind a Proxy that goes down,
// throttles, hangs or damages bodies. After every step what the sink
// acknowledged must be exactly what the bucket holds.
func RunFaults(t *testing.T, open Opener) {
	t.Run("ServerDown", func(t *testing.T) {
		f := newFixture(t, open)
		f.proxy.Down()
		b := sinktest.NewBatch("REQ0000000000000000000101", 10, 200)
		f.putFails(b, 3*time.Second)
		if err := f.proxy.Up(); err != nil {
			t.Fatal(err)
		}
		f.putSucceeds(b)
	})
	t.Run("BriefThrottling", func(t *testing.T) {
		f := newFixture(t, open)
		f.proxy.Throttle(2)
		f.putSucceeds(sinktest.NewBatch("REQ0000000000000000000102", 10, 200))
		if n := f.proxy.Requests(); n != 3 {
			t.Errorf("server saw %d requests, want 3 (two answered 503 SlowDown, then the one stored)", n)
		}
	})
	t.Run("LastingThrottling", func(t *testing.T) {
		f := newFixture(t, open)
		f.proxy.Throttle(-1)
		b := sinktest.NewBatch("REQ0000000000000000000103", 10, 200)
		f.putFails(b, 3*time.Second)
		if n := f.proxy.Requests(); n < 2 {
			t.Errorf("server saw %d requests, want retries", n)
		}
		f.proxy.Pass()
		f.putSucceeds(b)
	})
	t.Run("HangingServer", func(t *testing.T) {
		f := newFixture(t, open)
		f.putSucceeds(sinktest.NewBatch("REQ0000000000000000000104", 1, 100)) // leaves a kept-alive connection
		f.proxy.Hang()
		b := sinktest.NewBatch("REQ0000000000000000000105", 10, 200)
		f.putFails(b, 2*time.Second)
		f.proxy.Pass()
		f.putSucceeds(b)
	})
	t.Run("CorruptBodyRejectedThenRetried", func(t *testing.T) {
		f := newFixture(t, open)
		f.proxy.Corrupt(1)
		f.putSucceeds(sinktest.NewBatch("REQ0000000000000000000106", 100, 200))
		if n := f.proxy.Requests(); n != 2 {
			t.Errorf("server saw %d requests, want 2 (the damaged one rejected, then the one stored)", n)
		}
	})
	t.Run("NoSuchBucket", func(t *testing.T) {
		f := newFixture(t, open)
		s := open(t, f.proxy.Endpoint, "no-such-bucket")
		b := sinktest.NewBatch("REQ0000000000000000000107", 1, 100)
		err := put(s, b, 5*time.Second)
		if err == nil || sink.IsRetryable(err) {
			t.Fatalf("Put into a missing bucket: got %v, want an error that is not retryable", err)
		}
		for _, want := range []string{"no-such-bucket", b.RequestID, "NoSuchBucket"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		f.expect()
	})
}

// fixture is a sink behind a proxy, and what it acknowledged.
type fixture struct {
	t     *testing.T
	srv   *Server
	proxy *Proxy
	sink  sink.Sink
	acked map[string][]string
}

func newFixture(t *testing.T, open Opener) *fixture {
	srv := GoFakeS3(t, "webtrack-faults")
	p := NewProxy(t, srv)
	return &fixture{t: t, srv: srv, proxy: p, sink: open(t, p.Endpoint, srv.Bucket), acked: map[string][]string{}}
}

func put(s sink.Sink, b *sink.Batch, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.Put(ctx, b)
}

// putSucceeds puts b with a generous deadline and checks it is stored.
func (f *fixture) putSucceeds(b *sink.Batch) {
	f.t.Helper()
	if err := put(f.sink, b, 20*time.Second); err != nil {
		f.t.Fatalf("Put %s: %v", b.RequestID, err)
	}
	f.acked[b.RequestID] = sinktest.Lines(b)[b.RequestID]
	f.expect()
}

// putFails puts b and checks it fails in time, retryably, storing nothing.
func (f *fixture) putFails(b *sink.Batch, timeout time.Duration) {
	f.t.Helper()
	start := time.Now()
	err := put(f.sink, b, timeout)
	elapsed := time.Since(start)
	if err == nil {
		f.acked[b.RequestID] = sinktest.Lines(b)[b.RequestID]
		f.t.Fatalf("Put %s succeeded, want a retryable error", b.RequestID)
	}
	if !sink.IsRetryable(err) {
		f.t.Errorf("Put %s: error is not retryable: %v", b.RequestID, err)
	}
	if !errors.Is(err, sink.ErrUnavailable) {
		f.t.Errorf("Put %s: error does not wrap sink.ErrUnavailable: %v", b.RequestID, err)
	}
	if elapsed > timeout+slack {
		f.t.Errorf("Put %s returned after %v, past its %v deadline", b.RequestID, elapsed, timeout)
	}
	f.t.Logf("failed after %v as expected: %v", elapsed.Round(time.Millisecond), err)
	f.expect()
}

// expect checks that the bucket holds exactly what was acknowledged.
func (f *fixture) expect() {
	f.t.Helper()
	sinktest.Expect(f.t, sinktest.Harness{Sink: f.sink, Stored: f.srv.Stored}, f.acked)
}
