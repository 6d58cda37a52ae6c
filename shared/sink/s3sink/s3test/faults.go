package s3test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// RunFaults runs the fault tests: gofakes3 behind a Proxy that goes down,
// throttles, hangs or damages bodies, and gofakes3 stopped and started again.
// After every step what the sink acknowledged must be exactly what the
// bucket holds: none of these failures stores anything. As a client's retry
// is a new request, the Put after a failed one has a request id of its own.
func RunFaults(t *testing.T, d Driver) {
	t.Run("ServerDown", func(t *testing.T) {
		f := newFixture(t, d)
		f.proxy.Down()
		f.putFails(sinktest.NewBatch("REQ0000000000000000000101", 10, 200), 3*time.Second)
		if err := f.proxy.Up(); err != nil {
			t.Fatal(err)
		}
		f.putSucceeds(sinktest.NewBatch("REQ0000000000000000000111", 10, 200))
	})
	t.Run("ServerRestart", func(t *testing.T) {
		RunRestart(t, d, GoFakeS3(t, "webtrack-restart"))
	})
	t.Run("BriefThrottling", func(t *testing.T) {
		f := newFixture(t, d)
		f.proxy.Throttle(2)
		f.putSucceeds(sinktest.NewBatch("REQ0000000000000000000102", 10, 200))
		if n := f.proxy.Requests(); n != 3 {
			t.Errorf("server saw %d requests, want 3 (two answered 503 SlowDown, then the one stored)", n)
		}
	})
	t.Run("LastingThrottling", func(t *testing.T) {
		f := newFixture(t, d)
		f.proxy.Throttle(-1)
		f.putFails(sinktest.NewBatch("REQ0000000000000000000103", 10, 200), 3*time.Second)
		if n := f.proxy.Requests(); n < 2 {
			t.Errorf("server saw %d requests, want retries", n)
		}
		f.proxy.Pass()
		f.putSucceeds(sinktest.NewBatch("REQ0000000000000000000113", 10, 200))
	})
	t.Run("HangingServer", func(t *testing.T) {
		f := newFixture(t, d)
		f.putSucceeds(sinktest.NewBatch("REQ0000000000000000000104", 1, 100)) // leaves a kept-alive connection
		f.proxy.Hang()
		f.putFails(sinktest.NewBatch("REQ0000000000000000000105", 10, 200), 2*time.Second)
		f.proxy.Pass()
		f.putSucceeds(sinktest.NewBatch("REQ0000000000000000000115", 10, 200))
	})
	t.Run("CorruptBodyRejectedThenRetried", func(t *testing.T) {
		f := newFixture(t, d)
		f.proxy.Corrupt(1)
		f.putSucceeds(sinktest.NewBatch("REQ0000000000000000000106", 100, 200))
		if n := f.proxy.Requests(); n != 2 {
			t.Errorf("server saw %d requests, want 2 (the damaged one rejected, then the one stored)", n)
		}
	})
	t.Run("NoSuchBucket", func(t *testing.T) {
		f := newFixture(t, d)
		l := sinktest.NewLedger(sinktest.Harness{Sink: d.Open(t, f.proxy.Endpoint, "no-such-bucket", ""), Stored: f.srv.Stored})
		b := sinktest.NewBatch("REQ0000000000000000000107", 1, 100)
		_, err := l.Put(t, b, 5*time.Second)
		if err == nil || sink.IsRetryable(err) {
			t.Fatalf("Put into a missing bucket: got %v, want an error that is not retryable", err)
		}
		for _, want := range []string{"no-such-bucket", b.RequestID, "NoSuchBucket"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		l.CheckNoneLeft(t)
	})
}

// fixture is a sink behind a proxy, and the ledger of what it acknowledged.
type fixture struct {
	t      *testing.T
	srv    *Server
	proxy  *Proxy
	ledger *sinktest.Ledger
}

func newFixture(t *testing.T, d Driver) *fixture {
	srv := GoFakeS3(t, "webtrack-faults")
	p := NewProxy(t, srv)
	d.UseCredentials(t, srv.AccessKey, srv.SecretKey)
	h := sinktest.Harness{Sink: d.Open(t, p.Endpoint, srv.Bucket, ""), Stored: srv.Stored}
	return &fixture{t: t, srv: srv, proxy: p, ledger: sinktest.NewLedger(h)}
}

// putSucceeds puts b with a generous deadline and checks it is stored.
func (f *fixture) putSucceeds(b *sink.Batch) {
	f.t.Helper()
	f.ledger.MustPut(f.t, b, 20*time.Second)
	f.ledger.CheckNoneLeft(f.t)
}

// putFails puts b and checks it fails in time, retryably, as
// sink.ErrUnavailable, storing nothing.
func (f *fixture) putFails(b *sink.Batch, timeout time.Duration) {
	f.t.Helper()
	mustBeUnavailable(f.t, f.ledger.MustFailRetryably(f.t, b, timeout))
	f.ledger.CheckNoneLeft(f.t)
}

// RunRestart stops srv and starts it again on the same address, with what it
// stored: a Put while it is down fails retryably and stores nothing, and the
// Puts after it is back, the first included, succeed.
func RunRestart(t *testing.T, d Driver, srv *Server) {
	l := sinktest.NewLedger(d.Harness(t, srv, ""))
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000121", 10, 200), 10*time.Second) // leaves a kept-alive connection
	srv.Stop()
	mustBeUnavailable(t, l.MustFailRetryably(t, sinktest.NewBatch("REQ0000000000000000000122", 10, 200), 2*time.Second))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, id := range []string{"REQ0000000000000000000123", "REQ0000000000000000000124", "REQ0000000000000000000125"} {
		l.MustPut(t, sinktest.NewBatch(id, 10, 200), 5*time.Second)
	}
	t.Logf("3 Puts after the restart took %v", time.Since(start).Round(time.Millisecond))
	l.CheckNoneLeft(t)
}

func mustBeUnavailable(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, sink.ErrUnavailable) {
		t.Errorf("error does not wrap sink.ErrUnavailable: %v", err)
	}
}
