package sqssink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/webtrack/webtrack/shared/awsconfig"
	"github.com/webtrack/webtrack/shared/loopback"
	"github.com/webtrack/webtrack/shared/sink"
	"github.com/webtrack/webtrack/shared/sink/sinktest"
	"github.com/webtrack/webtrack/shared/sink/sqssink"
	"github.com/webtrack/webtrack/shared/sink/sqssink/sqstest"
)

// proxy is a loopback reverse proxy in front of the local SQS server that
// can hang, throttle, slow down SendMessageBatch, or fail some or all of its
// messages, and that counts the calls it sees.
type proxy struct {
	srv      *httptest.Server
	upstream *httputil.ReverseProxy
	target   string
	requests atomic.Int64       // requests seen
	lookups  atomic.Int64       // GetQueueUrl calls seen
	sends    atomic.Int64       // SendMessageBatch calls seen
	lastSend atomic.Int64       // when the last SendMessageBatch arrived, in Unix nanoseconds
	inFlight atomic.Int64       // SendMessageBatch calls under way
	maxIn    atomic.Int64       // the most SendMessageBatch calls seen under way at once
	delay    atomic.Int64       // how long each SendMessageBatch waits before going on, in nanoseconds
	throttle sinktest.Countdown // answer this many next requests with 503 or throttling
	partial  sinktest.Countdown // fail the last message of this many next SendMessageBatch
	reject   sinktest.Countdown // fail every message of this many next SendMessageBatch, as the sender's fault
	hang     sinktest.Gate      // while held, requests wait without an answer
	// beforeLookup, if set, runs once, before the next GetQueueUrl goes on.
	beforeLookup atomic.Pointer[func()]
}

// newProxy starts a proxy on addr ("127.0.0.1:0" for any port).
func newProxy(t *testing.T, addr string) *proxy {
	t.Helper()
	target, err := url.Parse(localSQS.Endpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{upstream: httputil.NewSingleHostReverseProxy(target), target: target.String()}
	p.upstream.ErrorLog = log.New(io.Discard, "", 0) // requests cut off by a client's deadline
	p.srv = httptest.NewUnstartedServer(p)
	p.srv.Listener = ln
	p.srv.Start()
	t.Cleanup(p.close)
	return p
}

// close stops the proxy: connections to it are refused from then on.
func (p *proxy) close() {
	p.hang.Release()
	p.srv.Close()
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.requests.Add(1)
	send := r.Header.Get("X-Amz-Target") == "AmazonSQS.SendMessageBatch"
	if r.Header.Get("X-Amz-Target") == "AmazonSQS.GetQueueUrl" {
		p.lookups.Add(1)
		if f := p.beforeLookup.Swap(nil); f != nil {
			(*f)()
		}
	}
	if send {
		p.sends.Add(1)
		p.lastSend.Store(time.Now().UnixNano())
		in := p.inFlight.Add(1)
		defer p.inFlight.Add(-1)
		for m := p.maxIn.Load(); in > m && !p.maxIn.CompareAndSwap(m, in); m = p.maxIn.Load() {
		}
		select {
		case <-time.After(time.Duration(p.delay.Load())):
		case <-r.Context().Done():
			return
		}
	}
	if hang := p.hang.Held(); hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case p.throttle.Take():
		refuse(w, n)
	case send && p.partial.Take():
		p.failLast(w, r)
	case send && p.reject.Take():
		rejectAll(w, r)
	default:
		p.upstream.ServeHTTP(w, r)
	}
}

// rejectAll answers a SendMessageBatch with every message failed by the
// sender's fault, as SQS does for messages it refuses.
func rejectAll(w http.ResponseWriter, r *http.Request) {
	var in batchRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, "proxy: bad SendMessageBatch", http.StatusBadRequest)
		return
	}
	var out batchResponse
	for _, e := range in.Entries {
		out.fail(e, "InvalidMessageContents", true)
	}
	out.write(w)
}

// refuse answers as SQS does when overloaded: 503, or a throttling error.
func refuse(w http.ResponseWriter, n int64) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if n%2 == 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"__type":"com.amazonaws.sqs#ServiceUnavailable","message":"Service Unavailable"}`)
		return
	}
	w.WriteHeader(http.StatusBadRequest)
	io.WriteString(w, `{"__type":"com.amazonaws.sqs#RequestThrottled","message":"Rate exceeded"}`)
}

type batchRequest struct {
	QueueUrl string
	Entries  []json.RawMessage
}

type batchResponse struct {
	Successful []json.RawMessage
	Failed     []json.RawMessage
}

// fail reports the request's entry e failed with code, by the sender's fault
// or not.
func (out *batchResponse) fail(e json.RawMessage, code string, senderFault bool) {
	var id struct{ Id string }
	json.Unmarshal(e, &id)
	out.Failed = append(out.Failed, json.RawMessage(fmt.Sprintf(
		`{"Id":%q,"Code":%q,"Message":"injected by the test proxy","SenderFault":%t}`, id.Id, code, senderFault)))
}

// write answers with out as SQS's JSON protocol does.
func (out *batchResponse) write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(out)
}

// failLast forwards a SendMessageBatch without its last message, and answers
// with the server's result plus that message reported failed, not by the
// sender's fault: what SQS does when part of a batch meets an internal error.
func (p *proxy) failLast(w http.ResponseWriter, r *http.Request) {
	var in batchRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Entries) == 0 {
		http.Error(w, "proxy: bad SendMessageBatch", http.StatusBadRequest)
		return
	}
	last := in.Entries[len(in.Entries)-1]
	in.Entries = in.Entries[:len(in.Entries)-1]
	var out batchResponse
	if len(in.Entries) > 0 {
		if err := p.forward(r, in, &out); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
	}
	out.fail(last, "InternalError", false)
	out.write(w)
}

// forward sends the trimmed request to the server and decodes its answer.
func (p *proxy) forward(r *http.Request, in batchRequest, out *batchResponse) error {
	body, _ := json.Marshal(in)
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, p.target+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", r.Header.Get("Content-Type"))
	req.Header.Set("X-Amz-Target", r.Header.Get("X-Amz-Target"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("server: %s: %s", resp.Status, msg)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// newLedger opens a sink on a new queue through endpoint, with the extra URL
// parameters params, and keeps what it acknowledged; its Check also logs how
// many messages the reader received, duplicates too.
func newLedger(t *testing.T, endpoint, params string) (*sinktest.Ledger, *reader) {
	h, r := newHarness(t, "", endpoint, params)
	l := sinktest.NewLedger(h)
	l.Received = func() int { return r.messages }
	return l, r
}

func TestServerDown(t *testing.T) {
	p := newProxy(t, "127.0.0.1:0")
	addr := p.srv.Listener.Addr().String()
	l, _ := newLedger(t, p.srv.URL, "")
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000010", 10, 100), 10*time.Second)

	p.close() // connections are refused from now on
	l.MustFailRetryably(t, sinktest.NewBatch("REQ0000000000000000000011", 4096, 760), time.Second)

	newProxy(t, addr) // the server is back on the same address
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000013", 4096, 760), 10*time.Second)
	l.CheckNoneLeft(t)
}

func TestServerDownBeforeQueueLookup(t *testing.T) {
	addr := loopback.FreeAddr(t)
	l, _ := newLedger(t, "http://"+addr, "")
	l.MustFailRetryably(t, sinktest.NewBatch("REQ0000000000000000000012", 3, 100), time.Second)

	newProxy(t, addr)
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000014", 3, 100), 10*time.Second)
	l.CheckNoneLeft(t)
}

// TestServerRestart stops the SQS server and starts another on the same
// port, which has lost the queue until it is made again.
func TestServerRestart(t *testing.T) {
	endpoint, stop, err := sqstest.Start("0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	c := sqstest.Client(t, endpoint)
	name, queueURL := sqstest.NewQueue(t, c, "")
	s, err := drivers.Open(context.Background(), "sqs://"+name+"?endpoint="+url.QueryEscape(endpoint))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := &reader{client: c, queueURL: queueURL, parts: map[string]map[int]string{}}
	l := sinktest.NewLedger(sinktest.Harness{Sink: s, Stored: r.stored})
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000015", 10, 100), 10*time.Second)
	l.Check(t)

	stop()
	l.MustFailRetryably(t, sinktest.NewBatch("REQ0000000000000000000016", 10, 100), time.Second)

	port := endpoint[strings.LastIndex(endpoint, ":")+1:]
	if _, stop, err = sqstest.Start(port); err != nil {
		t.Fatal(err)
	}
	sqstest.CreateQueue(t, c, name)
	r.parts = map[string]map[int]string{} // what the stopped server held is gone
	l = sinktest.NewLedger(sinktest.Harness{Sink: s, Stored: r.stored})
	start := time.Now()
	for _, id := range []string{"REQ0000000000000000000017", "REQ0000000000000000000018"} {
		l.MustPut(t, sinktest.NewBatch(id, 10, 100), 5*time.Second)
	}
	t.Logf("2 Puts after the restart took %v", time.Since(start).Round(time.Millisecond))
	l.Check(t)
}

// TestQueueRecreated deletes the queue and makes it again with the same
// name. A Put that meets the queue gone looks its URL up again, once, within
// the same Put: it succeeds if the queue is back by then, and fails, with a
// plain error, if it is not.
func TestQueueRecreated(t *testing.T) {
	p := newProxy(t, "127.0.0.1:0")
	c := newClient(t)
	name, queueURL := sqstest.NewQueue(t, c, "")
	s, err := drivers.Open(context.Background(), "sqs://"+name+"?endpoint="+url.QueryEscape(p.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(context.Background(), sinktest.NewBatch("REQ0000000000000000000021", 10, 100)); err != nil {
		t.Fatal(err)
	}

	// A new queue and a new ledger: the messages went with the old queue.
	deleteQueue(t, c, queueURL)
	sqstest.CreateQueue(t, c, name)
	r := &reader{client: c, queueURL: queueURL, parts: map[string]map[int]string{}}
	l := sinktest.NewLedger(sinktest.Harness{Sink: s, Stored: r.stored})
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000022", 10, 100), 10*time.Second)
	l.Check(t)

	// Gone when the Put sends, back when it looks the name up again.
	deleteQueue(t, c, queueURL)
	recreate := func() {
		if _, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name)}); err != nil {
			t.Errorf("CreateQueue %s: %v", name, err)
		}
	}
	p.beforeLookup.Store(&recreate)
	lookups := p.lookups.Load()
	r.parts = map[string]map[int]string{}
	l = sinktest.NewLedger(sinktest.Harness{Sink: s, Stored: r.stored})
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000026", 10, 100), 10*time.Second)
	if n := p.lookups.Load() - lookups; n != 1 {
		t.Errorf("%d GetQueueUrl calls in a Put that met the queue gone; want 1", n)
	}
	l.Check(t)

	// Gone for good: one lookup, then a plain error.
	deleteQueue(t, c, queueURL)
	lookups = p.lookups.Load()
	_, err = l.Put(t, sinktest.NewBatch("REQ0000000000000000000023", 10, 100), 5*time.Second)
	if err == nil || sink.IsRetryable(err) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Put to a deleted queue: got %v, want a plain error saying it does not exist", err)
	}
	sqstest.CreateQueue(t, c, name)
	r.parts = map[string]map[int]string{}
	l = sinktest.NewLedger(sinktest.Harness{Sink: s, Stored: r.stored})
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000024", 10, 100), 10*time.Second)
	if n := p.lookups.Load() - lookups; n != 2 {
		t.Errorf("%d GetQueueUrl calls after the queue was gone; want 2, one in the Put that failed and one in the next", n)
	}
	l.Check(t)
}

func deleteQueue(t *testing.T, c *sqs.Client, queueURL string) {
	t.Helper()
	if _, err := c.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(queueURL)}); err != nil {
		t.Fatal(err)
	}
}

func TestThrottled(t *testing.T) {
	p := newProxy(t, "127.0.0.1:0")
	l, _ := newLedger(t, p.srv.URL, "")
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000019", 10, 100), 10*time.Second)

	p.throttle.Store(1 << 40) // throttling past the deadline
	l.MustFailRetryably(t, sinktest.NewBatch("REQ0000000000000000000020", 4096, 760), time.Second)

	p.throttle.Store(5) // a short burst, then the server recovers
	before := p.requests.Load()
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000025", 4096, 760), 10*time.Second)
	if n := p.requests.Load() - before; n < 6 {
		t.Errorf("%d requests reached the proxy; want the 5 refused and the retries after them", n)
	}
	l.CheckNoneLeft(t)
}

func TestPartialBatchFailure(t *testing.T) {
	p := newProxy(t, "127.0.0.1:0")
	l, r := newLedger(t, p.srv.URL, "")
	b := sinktest.NewBatch("REQ0000000000000000000030", 4096, 760)

	p.partial.Store(3) // three requests each lose their last message once
	l.MustPut(t, b, 10*time.Second)
	l.Check(t)
	parts := len(r.parts[b.RequestID])
	if r.messages != parts {
		t.Errorf("%d messages stored for %d parts: only failed messages should be sent again", r.messages, parts)
	}

	failed := sinktest.NewBatch("REQ0000000000000000000031", 4096, 760)
	p.partial.Store(1 << 40)                             // the same messages keep failing past the deadline
	err := l.MustFailRetryably(t, failed, 3*time.Second) // long enough for the first parts to land, even under -race
	if !strings.Contains(err.Error(), "failed 1 of 1 messages") {
		t.Errorf("error does not say which messages failed: %v", err)
	}

	p.partial.Store(0) // the client tries again, a new request, once the server recovers
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000032", 4096, 760), 10*time.Second)
	// The parts that SQS accepted stay: at least once.
	if n := l.Check(t); n == 0 || n >= failed.Entries {
		t.Errorf("the failed Put left %d of its %d lines; want the parts sent before it failed", n, failed.Entries)
	}
}

func TestServerHangs(t *testing.T) {
	p := newProxy(t, "127.0.0.1:0")
	l, _ := newLedger(t, p.srv.URL, "")
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000040", 10, 100), 10*time.Second)

	p.hang.Hold()
	l.MustFailRetryably(t, sinktest.NewBatch("REQ0000000000000000000041", 4096, 760), time.Second)

	p.hang.Release()
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000042", 4096, 760), 10*time.Second)
	l.Check(t) // a call cut off by the deadline may have gone through
}

// TestBoundedConcurrency sends a 3 MiB batch of 4,096 one-line messages, 410
// SendMessageBatch calls: at most sqssink.MaxInFlight may be under way at
// once, and every part must arrive.
func TestBoundedConcurrency(t *testing.T) {
	p := newProxy(t, "127.0.0.1:0")
	p.delay.Store(int64(5 * time.Millisecond))
	l, r := newLedger(t, p.srv.URL, "&max_message_bytes=1024")
	start := time.Now()
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000043", 4096, 760), 30*time.Second)
	t.Logf("%d SendMessageBatch calls in %v, at most %d at once", p.sends.Load(), time.Since(start).Round(time.Millisecond), p.maxIn.Load())
	l.Check(t)
	if r.messages != 4096 {
		t.Errorf("%d messages received; want 4096", r.messages)
	}
	if n := p.maxIn.Load(); n > sqssink.MaxInFlight || n < 2 {
		t.Errorf("at most %d SendMessageBatch calls under way at once; want 2 to %d", n, sqssink.MaxInFlight)
	}
}

// TestNoSendNearDeadline checks that no call starts within
// sqssink.SendMargin of the deadline, and measures what a Put that cannot
// finish in time leaves behind.
func TestNoSendNearDeadline(t *testing.T) {
	p := newProxy(t, "127.0.0.1:0")
	l, _ := newLedger(t, p.srv.URL, "&max_message_bytes=1024")
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000044", 1, 100), 10*time.Second) // the queue URL lookup

	before := p.sends.Load()
	l.MustFailRetryably(t, sinktest.NewBatch("REQ0000000000000000000049", 10, 100), sqssink.SendMargin/2)
	if n := p.sends.Load() - before; n != 0 {
		t.Errorf("%d SendMessageBatch calls with less than sqssink.SendMargin left", n)
	}

	// Every call now takes 150ms: the 410 calls of this batch take 8s.
	p.delay.Store(int64(150 * time.Millisecond))
	before = p.sends.Load()
	const d = time.Second
	deadline := time.Now().Add(d)
	l.MustFailRetryably(t, sinktest.NewBatch("REQ0000000000000000000045", 4096, 760), d)
	last := time.Unix(0, p.lastSend.Load())
	t.Logf("%d SendMessageBatch calls; the last reached the server %v before the deadline", p.sends.Load()-before, deadline.Sub(last).Round(time.Millisecond))
	p.delay.Store(0)
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000046", 10, 100), 10*time.Second)
	l.Check(t)
}

// TestStopsAfterFailure makes SQS refuse the messages of one call: the Put
// fails for good, and starts no further call.
func TestStopsAfterFailure(t *testing.T) {
	p := newProxy(t, "127.0.0.1:0")
	l, _ := newLedger(t, p.srv.URL, "&max_message_bytes=1024")
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000047", 1, 100), 10*time.Second) // the queue URL lookup

	p.delay.Store(int64(20 * time.Millisecond))
	p.reject.Store(1)
	before := p.sends.Load()
	_, err := l.Put(t, sinktest.NewBatch("REQ0000000000000000000048", 4096, 760), 10*time.Second)
	if err == nil || sink.IsRetryable(err) || !strings.Contains(err.Error(), "InvalidMessageContents") {
		t.Fatalf("Put: got %v, want a plain error naming InvalidMessageContents", err)
	}
	n := p.sends.Load() - before
	t.Logf("%d of 410 SendMessageBatch calls made", n)
	if n > 2*sqssink.MaxInFlight {
		t.Errorf("%d SendMessageBatch calls made; want those under way when one failed, at most %d", n, 2*sqssink.MaxInFlight)
	}
	l.Check(t)
}

// lateAnswers is an SDK HTTP client whose answers to SendMessageBatch reach
// the sink only once the call's context has ended: SQS stored the messages,
// and the sink learns it past its deadline. Real networks open this window
// for an instant around the deadline; here it is held open, so that what
// the sink does in it is certain.
type lateAnswers struct{ http.Client }

func (c *lateAnswers) Do(r *http.Request) (*http.Response, error) {
	resp, err := c.Client.Do(r)
	if err != nil || r.Header.Get("X-Amz-Target") != "AmazonSQS.SendMessageBatch" {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	<-r.Context().Done()
	return resp, nil
}

// TestAnswersAfterDeadline sends a batch of nine SendMessageBatch calls,
// one more than are made at once, and hands back the answers of the first
// eight only after the deadline: the ninth is never sent, so the Put must
// fail.
func TestAnswersAfterDeadline(t *testing.T) {
	c := newClient(t)
	name, queueURL := sqstest.NewQueue(t, c, "")
	late := func(ctx context.Context, region string) (aws.Config, error) {
		cfg, err := awsconfig.FromEnvironment(ctx, region)
		cfg.HTTPClient = &lateAnswers{}
		return cfg, err
	}
	u, err := url.Parse("sqs://" + name + "?max_message_bytes=1024&endpoint=" + url.QueryEscape(localSQS.Endpoint(t)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqssink.Opener(late)(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := &reader{client: c, queueURL: queueURL, parts: map[string]map[int]string{}}
	l := sinktest.NewLedger(sinktest.Harness{Sink: s, Stored: r.stored})
	l.Received = func() int { return r.messages }

	b := sinktest.NewBatch("REQ0000000000000000000060", 9*10, 760) // one line a message, ten a call
	l.MustFailRetryably(t, b, time.Second)
	if n := l.Check(t); n != 8*10 {
		t.Errorf("%d of the batch's %d lines stored; want those of the 8 calls made", n, b.Entries)
	}
}
