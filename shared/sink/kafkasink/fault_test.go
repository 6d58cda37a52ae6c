package kafkasink_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/webtrack/webtrack/shared/loopback"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// newLedger keeps what h's sink acknowledged; its Check also logs how many
// records r read, duplicates too.
func newLedger(h sinktest.Harness, r *reader) *sinktest.Ledger {
	l := sinktest.NewLedger(h)
	l.Received = func() int { return len(r.records) }
	return l
}

func TestBrokerDown(t *testing.T) {
	port := loopback.FreePort(t)
	h, r := newHarness(t, []string{"127.0.0.1:" + strconv.Itoa(port)}, "")
	l := newLedger(h, r)
	l.MustFailRetryably(t, sinktest.NewBatch("REQ0000000000000000000070", 4096, 760), time.Second)

	newCluster(t, kfake.Ports(port)) // the broker comes up on that port
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000075", 4096, 760), 20*time.Second)
	l.CheckNoneLeft(t)
}

// recovers puts batches of ids until one succeeds, and fails the test
// unless that is the first or the second, within 5s: what a client that
// retries at once sees when the back end is back.
func recovers(t *testing.T, l *sinktest.Ledger, ids ...string) {
	t.Helper()
	start := time.Now()
	for i, id := range ids[:2] {
		_, err := l.Put(t, sinktest.NewBatch(id, 100, 200), 2*time.Second)
		if err == nil {
			t.Logf("Put %d succeeded %v after the back end came back", i+1, time.Since(start).Round(time.Millisecond))
			break
		}
		if i == 1 || !sink.IsRetryable(err) {
			t.Fatalf("Put %d after the back end came back: %v", i+1, err)
		}
		t.Logf("Put %d after the back end came back failed: %v", i+1, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("recovery took %v", took)
	}
	for _, id := range ids[2:] {
		l.MustPut(t, sinktest.NewBatch(id, 100, 200), 2*time.Second)
	}
}

// TestClusterRebuilt stops the cluster and starts another on the same port,
// where the topic is new, with a new topic id.
func TestClusterRebuilt(t *testing.T) {
	port := loopback.FreePort(t)
	old := newCluster(t, kfake.Ports(port))
	h, r := newHarness(t, old.ListenAddrs(), "")
	l := newLedger(h, r)
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000080", 100, 200), 10*time.Second)
	l.Check(t)

	old.Close()
	l.MustFailRetryably(t, sinktest.NewBatch("REQ0000000000000000000081", 100, 200), time.Second)

	c := newCluster(t, kfake.Ports(port))
	r = newReader(t, c.ListenAddrs())
	l = newLedger(sinktest.Harness{Sink: h.Sink, Stored: r.stored}, r)
	recovers(t, l, "REQ0000000000000000000082", "REQ0000000000000000000083", "REQ0000000000000000000084")
	l.CheckNoneLeft(t) // REQ…81, sent to the old cluster, must not reach the new one
}

// TestTopicRecreated deletes the topic and creates it anew while the sink
// keeps producing.
func TestTopicRecreated(t *testing.T) {
	c := newCluster(t)
	h, r := newHarness(t, c.ListenAddrs(), "")
	l := newLedger(h, r)
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000085", 100, 200), 10*time.Second)
	l.Check(t)

	recreateTopic(t, c)
	r = newReader(t, c.ListenAddrs())
	l = newLedger(sinktest.Harness{Sink: h.Sink, Stored: r.stored}, r)
	recovers(t, l, "REQ0000000000000000000086", "REQ0000000000000000000087", "REQ0000000000000000000088")
	l.CheckNoneLeft(t)

	// Again, with Puts under way: all of them purge the topic once, and
	// each, produced again, succeeds within its deadline.
	recreateTopic(t, c)
	want := map[string][]string{}
	var batches []*sink.Batch
	for i := range 8 {
		b := sinktest.NewBatch(fmt.Sprintf("REQ%021d", 90+i), 100, 200)
		batches = append(batches, b)
		maps.Copy(want, sinktest.Lines(b))
	}
	var wg sync.WaitGroup
	for _, b := range batches {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := h.Sink.Put(ctx, b); err != nil {
				t.Errorf("Put %s: %v", b.RequestID, err)
			}
		})
	}
	wg.Wait()
	sinktest.Expect(t, sinktest.Harness{Sink: h.Sink, Stored: newReader(t, c.ListenAddrs()).stored}, want)
}

// recreateTopic deletes the topic and creates it again, with one partition.
func recreateTopic(t *testing.T, c *kfake.Cluster) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	del := kmsg.NewPtrDeleteTopicsRequest()
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.Topic = kmsg.StringPtr(topic)
	del.Topics, del.TopicNames = append(del.Topics, dt), []string{topic}
	delResp, err := del.RequestWith(ctx, cl)
	if err != nil || delResp.Topics[0].ErrorCode != 0 {
		t.Fatalf("deleting the topic: %v %v", err, delResp)
	}
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = topic, 1, 1
	create.Topics = append(create.Topics, ct)
	createResp, err := create.RequestWith(ctx, cl)
	if err != nil || createResp.Topics[0].ErrorCode != 0 {
		t.Fatalf("creating the topic: %v %v", err, createResp)
	}
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
	l.MustFailRetryably(t, sinktest.NewBatch("REQ0000000000000000000071", 4096, 760), time.Second)

	hl.close() // the hung broker restarts and answers
	newCluster(t, kfake.Ports(port))
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000076", 4096, 760), 20*time.Second)
	l.CheckNoneLeft(t)
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

	in.fail.Store(1 << 40) // errors past the deadline
	l.MustFailRetryably(t, sinktest.NewBatch("REQ0000000000000000000072", 4096, 760), time.Second)

	in.fail.Store(4) // a few more, then the broker recovers
	before := in.injected.Load()
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000077", 4096, 760), 20*time.Second)
	if n := in.injected.Load() - before; n != 4 {
		t.Errorf("%d errors injected after recovery began; want 4", n)
	}
	l.CheckNoneLeft(t)
}

func TestProduceHangs(t *testing.T) {
	c := newCluster(t)
	in := newInjector(c)
	h, r := newHarness(t, c.ListenAddrs(), "")
	l := newLedger(h, r)
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000073", 10, 100), 10*time.Second)

	in.hold.Hold()
	l.MustFailRetryably(t, sinktest.NewBatch("REQ0000000000000000000074", 4096, 760), time.Second)

	// The held requests are answered with a time-out: the failed Put's
	// records must then be dropped, not sent again.
	in.hold.Release()
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000078", 4096, 760), 20*time.Second)
	l.CheckNoneLeft(t)
}
