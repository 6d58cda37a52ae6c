package s3test

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/loopback"
)

// Proxy is a reverse proxy on loopback in front of a Server that can fail on
// cue: answer 503 SlowDown, accept connections and never answer, or close its
// port altogether. It starts passing every request through.
type Proxy struct {
	Endpoint string // base URL, http://127.0.0.1:PORT
	addr     string
	next     http.Handler
	requests atomic.Int64

	mu       sync.Mutex
	throttle int  // requests still to answer 503; negative: all
	corrupt  int  // request bodies still to damage
	hang     bool // accept connections and never answer
	srv      *http.Server
	parked   []net.Conn
	stopHang chan struct{}
}

// NewProxy starts a proxy in front of target and stops it at cleanup.
func NewProxy(t testing.TB, target *Server) *Proxy {
	t.Helper()
	u, err := url.Parse(target.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = quiet
	p := &Proxy{addr: loopback.FreeAddr(t), next: rp, stopHang: make(chan struct{})}
	p.Endpoint = "http://" + p.addr
	if err := p.Up(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Down)
	return p
}

// Requests counts the requests that reached the proxy's handler.
func (p *Proxy) Requests() int { return int(p.requests.Load()) }

// Throttle answers the next n requests with 503 SlowDown, every request when
// n is negative.
func (p *Proxy) Throttle(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.throttle = n
}

// Corrupt flips one byte in the body of each of the next n requests.
func (p *Proxy) Corrupt(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.corrupt = n
}

// Hang makes the proxy accept connections and requests and never answer.
func (p *Proxy) Hang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hang = true
}

// Pass ends throttling and hanging: requests go through again.
func (p *Proxy) Pass() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.throttle, p.hang = 0, false
	p.releaseHung()
}

// Down closes the port and every connection: clients are refused.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseHung()
	if p.srv != nil {
		_ = p.srv.Close()
		p.srv = nil
	}
}

// Up opens the port again.
func (p *Proxy) Up() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		return nil
	}
	l, err := listenRetrying(p.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(p.serve), ErrorLog: quiet}
	p.srv = srv
	go func() { _ = srv.Serve(&parkingListener{Listener: l, p: p}) }()
	return nil
}

// quiet drops the proxy's logs of the connections that tests break on purpose.
var quiet = log.New(io.Discard, "", 0)

// listenRetrying listens on addr, waiting briefly if the port is still held.
func listenRetrying(addr string) (net.Listener, error) {
	var err error
	for range 50 {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			return l, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}

// releaseHung closes the connections held by Hang. p.mu must be held.
func (p *Proxy) releaseHung() {
	for _, c := range p.parked {
		_ = c.Close()
	}
	p.parked = nil
	close(p.stopHang)
	p.stopHang = make(chan struct{})
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	hang, throttled, corrupt, stopHang := p.decide()
	if corrupt {
		r.Body = &flipFirstByte{ReadCloser: r.Body}
	}
	switch {
	case hang:
		select { // a connection kept alive from before Hang
		case <-r.Context().Done():
		case <-stopHang:
		}
		panic(http.ErrAbortHandler) // drop the connection without an answer
	case throttled:
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+
			`<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>proxy</RequestId></Error>`)
	default:
		p.next.ServeHTTP(w, r)
	}
}

// decide says how to treat one request, counting it against Throttle and
// Corrupt.
func (p *Proxy) decide() (hang, throttled, corrupt bool, stopHang chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	throttled = p.throttle != 0
	if p.throttle > 0 {
		p.throttle--
	}
	corrupt = !throttled && p.corrupt > 0
	if corrupt {
		p.corrupt--
	}
	return p.hang, throttled, corrupt, p.stopHang
}

// flipFirstByte damages a body in transit, keeping its length.
type flipFirstByte struct {
	io.ReadCloser
	done bool
}

func (f *flipFirstByte) Read(b []byte) (int, error) {
	n, err := f.ReadCloser.Read(b)
	if n > 0 && !f.done {
		b[0] ^= 0xff
		f.done = true
	}
	return n, err
}

// parkingListener holds, unread, the connections accepted while hanging.
type parkingListener struct {
	net.Listener
	p *Proxy
}

func (l *parkingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !l.park(c) {
			return c, nil
		}
	}
}

func (l *parkingListener) park(c net.Conn) bool {
	l.p.mu.Lock()
	defer l.p.mu.Unlock()
	if l.p.hang {
		l.p.parked = append(l.p.parked, c)
	}
	return l.p.hang
}
