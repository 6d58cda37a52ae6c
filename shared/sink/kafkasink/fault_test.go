package kafkasink_test

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// newLedger keeps what h's sink acknowledged; its Check also logs how many
// records r read, duplicates too.
func newLedger(h sinktest.Harness, r *reader) *sinktest.Ledger {
	l := sinktest.NewLedger(h)
	l.Received = func() int { return len(r.records) }
	return l
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
	l := newLedger(h, r)
	b := sinktest.NewBatch("REQ0000000000000000000070", 4096, 760)
	l.MustFailRetryably(t, b, time.Second)

	newCluster(t, kfake.Ports(port)) // the broker comes up on that port
	l.MustPut(t, b, 20*time.Second)
	l.Check(t)
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
	l := newLedger(h, r)
	b := sinktest.NewBatch("REQ0000000000000000000071", 4096, 760)
	l.MustFailRetryably(t, b, time.Second)

	hl.close() // the hung broker restarts and answers
	newCluster(t, kfake.Ports(port))
	l.MustPut(t, b, 20*time.Second)
	l.Check(t)
}

// injector answers Produce requests with errors, or holds them, instead of
// the cluster.
type injector struct {
	c        *kfake.Cluster
	fail     sinktest.Countdown // answer this many next Produce requests with errors
	injected atomic.Int64
	// hold makes Produce requests wait, then answers them with a time-out
	// error once released, as a broker that was stuck does on recovering.
	hold sinktest.Gate
}

func newInjector(c *kfake.Cluster) *injector {
	in := &injector{c: c}
	c.ControlKey(int16(kmsg.Produce), in.control)
	return in
}

func (in *injector) control(req kmsg.Request) (kmsg.Response, error, bool) {
	in.c.KeepControl()
	if hold := in.hold.Held(); hold != nil {
		in.c.SleepControl(func() { <-hold })
		return produceError(req.(*kmsg.ProduceRequest), kerr.RequestTimedOut), nil, true
	}
	if !in.fail.Take() {
		return nil, nil, false
	}
	code := kerr.NotLeaderForPartition
	if in.injected.Add(1)%2 == 0 {
		code = kerr.RequestTimedOut
	}
	return produceError(req.(*kmsg.ProduceRequest), code), nil, true
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
	l := newLedger(h, r)
	b := sinktest.NewBatch("REQ0000000000000000000072", 4096, 760)

	in.fail.Store(1 << 40) // errors past the deadline
	l.MustFailRetryably(t, b, time.Second)

	in.fail.Store(4) // a few more, then the broker recovers
	before := in.injected.Load()
	l.MustPut(t, b, 20*time.Second)
	if n := in.injected.Load() - before; n != 4 {
		t.Errorf("%d errors injected after recovery began; want 4", n)
	}
	l.Check(t)
}

func TestProduceHangs(t *testing.T) {
	c := newCluster(t)
	in := newInjector(c)
	h, r := newHarness(t, c.ListenAddrs(), "")
	l := newLedger(h, r)
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000073", 10, 100), 10*time.Second)

	in.hold.Hold()
	b := sinktest.NewBatch("REQ0000000000000000000074", 4096, 760)
	l.MustFailRetryably(t, b, time.Second)

	in.hold.Release()
	l.MustPut(t, b, 20*time.Second)
	l.Check(t)
}
