package kafkasink_test

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// slack is how long past its deadline a failing Put may take to return.
const slack = 500 * time.Millisecond

// ledger keeps what Put acknowledged, to compare with what was stored.
type ledger struct {
	s     sink.Sink
	acked map[string][]string
}

func newLedger(s sink.Sink) *ledger { return &ledger{s: s, acked: map[string][]string{}} }

// put runs Put with deadline d, records the batch if acknowledged, and
// returns how long Put took and its error.
func (l *ledger) put(b *sink.Batch, d time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	err := l.s.Put(ctx, b)
	if err == nil {
		l.acked[b.RequestID] = sinktest.Lines(b)[b.RequestID]
	}
	return time.Since(start), err
}

func (l *ledger) mustPut(t *testing.T, b *sink.Batch, d time.Duration) {
	t.Helper()
	if _, err := l.put(b, d); err != nil {
		t.Fatalf("Put %s: %v", b.RequestID, err)
	}
}

// mustFailRetryably fails the test unless Put fails with a retryable error
// within d plus slack.
func (l *ledger) mustFailRetryably(t *testing.T, b *sink.Batch, d time.Duration) {
	t.Helper()
	took, err := l.put(b, d)
	switch {
	case err == nil:
		t.Fatalf("Put %s succeeded against a failing broker", b.RequestID)
	case !sink.IsRetryable(err):
		t.Fatalf("Put %s: error is not retryable: %v", b.RequestID, err)
	case took > d+slack:
		t.Fatalf("Put %s took %v, past its %v deadline", b.RequestID, took, d)
	}
	t.Logf("Put %s failed after %v: %v", b.RequestID, took.Round(time.Millisecond), err)
}

// check asserts that the topic holds exactly what was acknowledged, once
// deduplicated on (request id, entry) as consumers do, and logs how many
// duplicates that took.
func (l *ledger) check(t *testing.T, h sinktest.Harness, r *reader) {
	t.Helper()
	sinktest.Expect(t, h, l.acked)
	lines := 0
	for _, ls := range l.acked {
		lines += len(ls)
	}
	t.Logf("acknowledged and stored: %d batches, %d lines; %d records read", len(l.acked), lines, len(r.records))
}

// freePort returns a loopback port that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestBrokerDown(t *testing.T) {
	port := freePort(t)
	h, r := newHarness(t, []string{"127.0.0.1:" + strconv.Itoa(port)}, "")
	l := newLedger(h.Sink)
	b := sinktest.NewBatch("REQ0000000000000000000070", 4096, 760)
	l.mustFailRetryably(t, b, time.Second)

	newCluster(t, kfake.Ports(port)) // the broker comes up on that port
	l.mustPut(t, b, 20*time.Second)
	l.check(t, h, r)
}

// hangingListener accepts connections and never answers on them.
type hangingListener struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newHangingListener(t *testing.T) *hangingListener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hl := &hangingListener{ln: ln}
	go hl.accept()
	t.Cleanup(hl.close)
	return hl
}

func (hl *hangingListener) accept() {
	for {
		c, err := hl.ln.Accept()
		if err != nil {
			return
		}
		hl.mu.Lock()
		hl.conns = append(hl.conns, c)
		hl.mu.Unlock()
	}
}

// close stops listening and drops every connection, as a restart would.
func (hl *hangingListener) close() {
	hl.ln.Close()
	hl.mu.Lock()
	defer hl.mu.Unlock()
	for _, c := range hl.conns {
		c.Close()
	}
	hl.conns = nil
}

func TestBrokerHangs(t *testing.T) {
	hl := newHangingListener(t)
	port := hl.ln.Addr().(*net.TCPAddr).Port
	h, r := newHarness(t, []string{hl.ln.Addr().String()}, "")
	l := newLedger(h.Sink)
	b := sinktest.NewBatch("REQ0000000000000000000071", 4096, 760)
	l.mustFailRetryably(t, b, time.Second)

	hl.close() // the hung broker restarts and answers
	newCluster(t, kfake.Ports(port))
	l.mustPut(t, b, 20*time.Second)
	l.check(t, h, r)
}

// injector answers Produce requests with errors, or holds them, instead of
// the cluster.
type injector struct {
	c        *kfake.Cluster
	fail     atomic.Int64 // answer this many next Produce requests with errors
	injected atomic.Int64
	mu       sync.Mutex
	hold     chan struct{} // while set, Produce requests wait for it to close
}

func newInjector(c *kfake.Cluster) *injector {
	in := &injector{c: c}
	c.ControlKey(int16(kmsg.Produce), in.control)
	return in
}

func (in *injector) control(req kmsg.Request) (kmsg.Response, error, bool) {
	in.c.KeepControl()
	if hold := in.holding(); hold != nil {
		in.c.SleepControl(func() { <-hold })
		return produceError(req.(*kmsg.ProduceRequest), kerr.RequestTimedOut), nil, true
	}
	if !take(&in.fail) {
		return nil, nil, false
	}
	code := kerr.NotLeaderForPartition
	if in.injected.Add(1)%2 == 0 {
		code = kerr.RequestTimedOut
	}
	return produceError(req.(*kmsg.ProduceRequest), code), nil, true
}

func (in *injector) holding() chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.hold
}

// setHold makes Produce requests wait, or releases them with a time-out
// error, as a broker that was stuck answers once it recovers.
func (in *injector) setHold(on bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	switch {
	case on && in.hold == nil:
		in.hold = make(chan struct{})
	case !on && in.hold != nil:
		close(in.hold)
		in.hold = nil
	}
}

// take decrements n if it is positive and says whether it did.
func take(n *atomic.Int64) bool {
	for {
		v := n.Load()
		if v <= 0 {
			return false
		}
		if n.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

// produceError answers every partition of req with the error err.
func produceError(req *kmsg.ProduceRequest, err *kerr.Error) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	resp.Version = req.Version
	for _, rt := range req.Topics {
		t := kmsg.NewProduceResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			p := kmsg.NewProduceResponseTopicPartition()
			p.Partition = rp.Partition
			p.ErrorCode = err.Code
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func TestProduceErrors(t *testing.T) {
	c := newCluster(t)
	in := newInjector(c)
	h, r := newHarness(t, c.ListenAddrs(), "")
	l := newLedger(h.Sink)
	b := sinktest.NewBatch("REQ0000000000000000000072", 4096, 760)

	in.fail.Store(1 << 40) // errors past the deadline
	l.mustFailRetryably(t, b, time.Second)

	in.fail.Store(4) // a few more, then the broker recovers
	before := in.injected.Load()
	l.mustPut(t, b, 20*time.Second)
	if n := in.injected.Load() - before; n != 4 {
		t.Errorf("%d errors injected after recovery began; want 4", n)
	}
	l.check(t, h, r)
}

func TestProduceHangs(t *testing.T) {
	c := newCluster(t)
	in := newInjector(c)
	h, r := newHarness(t, c.ListenAddrs(), "")
	l := newLedger(h.Sink)
	l.mustPut(t, sinktest.NewBatch("REQ0000000000000000000073", 10, 100), 10*time.Second)

	in.setHold(true)
	b := sinktest.NewBatch("REQ0000000000000000000074", 4096, 760)
	l.mustFailRetryably(t, b, time.Second)

	in.setHold(false)
	l.mustPut(t, b, 20*time.Second)
	l.check(t, h, r)
}
