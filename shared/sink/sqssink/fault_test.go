package sqssink_test

import (
	"bytes"
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

	"github.com/webtrack/webtrack/shared/sink/sinktest"
)

// proxy is a loopback reverse proxy in front of the local SQS server that
// can hang, throttle, or fail some messages of a SendMessageBatch.
type proxy struct {
	srv      *httptest.Server
	upstream *httputil.ReverseProxy
	target   string
	requests atomic.Int64       // requests seen
	throttle sinktest.Countdown // answer this many next requests with 503 or throttling
	partial  sinktest.Countdown // fail the last message of this many next SendMessageBatch
	hang     sinktest.Gate      // while held, requests wait without an answer
}

// newProxy starts a proxy on addr ("127.0.0.1:0" for any port).
func newProxy(t *testing.T, addr string) *proxy {
	t.Helper()
	target, err := url.Parse(serverEndpoint(t))
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
	case r.Header.Get("X-Amz-Target") == "AmazonSQS.SendMessageBatch" && p.partial.Take():
		p.failLast(w, r)
	default:
		p.upstream.ServeHTTP(w, r)
	}
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
	var id struct{ Id string }
	json.Unmarshal(last, &id)
	out.Failed = append(out.Failed, json.RawMessage(fmt.Sprintf(
		`{"Id":%q,"Code":"InternalError","Message":"injected by the test proxy","SenderFault":false}`, id.Id)))
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(out)
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

// newLedger opens a sink on a new queue through endpoint, and keeps what it
// acknowledged; its Check also logs how many messages the reader received,
// duplicates too.
func newLedger(t *testing.T, endpoint string) (*sinktest.Ledger, *reader) {
	h, r := newHarness(t, "", endpoint, "")
	l := sinktest.NewLedger(h)
	l.Received = func() int { return r.messages }
	return l, r
}

func TestServerDown(t *testing.T) {
	p := newProxy(t, "127.0.0.1:0")
	addr := p.srv.Listener.Addr().String()
	l, _ := newLedger(t, p.srv.URL)
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000010", 10, 100), 10*time.Second)

	p.close() // connections are refused from now on
	down := sinktest.NewBatch("REQ0000000000000000000011", 4096, 760)
	l.MustFailRetryably(t, down, time.Second)

	newProxy(t, addr) // the server is back on the same address
	l.MustPut(t, down, 10*time.Second)
	l.Check(t)
}

func TestServerDownBeforeQueueLookup(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	l, _ := newLedger(t, "http://"+addr)
	b := sinktest.NewBatch("REQ0000000000000000000012", 3, 100)
	l.MustFailRetryably(t, b, time.Second)

	newProxy(t, addr)
	l.MustPut(t, b, 10*time.Second)
	l.Check(t)
}

func TestThrottled(t *testing.T) {
	p := newProxy(t, "127.0.0.1:0")
	l, _ := newLedger(t, p.srv.URL)
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000019", 10, 100), 10*time.Second)
	b := sinktest.NewBatch("REQ0000000000000000000020", 4096, 760)

	p.throttle.Store(1 << 40) // throttling past the deadline
	l.MustFailRetryably(t, b, time.Second)

	p.throttle.Store(5) // a short burst, then the server recovers
	before := p.requests.Load()
	l.MustPut(t, b, 10*time.Second)
	if n := p.requests.Load() - before; n < 6 {
		t.Errorf("%d requests reached the proxy; want the 5 refused and the retries after them", n)
	}
	l.Check(t)
}

func TestPartialBatchFailure(t *testing.T) {
	p := newProxy(t, "127.0.0.1:0")
	l, r := newLedger(t, p.srv.URL)
	b := sinktest.NewBatch("REQ0000000000000000000030", 4096, 760)

	p.partial.Store(3) // three requests each lose their last message once
	l.MustPut(t, b, 10*time.Second)
	l.Check(t)
	parts := len(r.parts[b.RequestID])
	if r.messages != parts {
		t.Errorf("%d messages stored for %d parts: only failed messages should be sent again", r.messages, parts)
	}

	again := sinktest.NewBatch("REQ0000000000000000000031", 4096, 760)
	p.partial.Store(1 << 40) // the same messages keep failing past the deadline
	err := l.MustFailRetryably(t, again, time.Second)
	if !strings.Contains(err.Error(), "failed 1 of 1 messages") {
		t.Errorf("error does not say which messages failed: %v", err)
	}

	p.partial.Store(0) // the client tries again once the server recovers
	l.MustPut(t, again, 10*time.Second)
	l.Check(t)
}

func TestServerHangs(t *testing.T) {
	p := newProxy(t, "127.0.0.1:0")
	l, _ := newLedger(t, p.srv.URL)
	l.MustPut(t, sinktest.NewBatch("REQ0000000000000000000040", 10, 100), 10*time.Second)

	p.hang.Hold()
	b := sinktest.NewBatch("REQ0000000000000000000041", 4096, 760)
	l.MustFailRetryably(t, b, time.Second)

	p.hang.Release()
	l.MustPut(t, b, 10*time.Second)
	l.Check(t)
}
