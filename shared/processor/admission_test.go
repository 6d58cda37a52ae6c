package processor_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/webtrack/webtrack/shared/processor"
	"github.com/webtrack/webtrack/shared/processor/processortest"
	"github.com/webtrack/webtrack/shared/sink"
)

// gatedSink holds every Put until the gate opens, counting how many it holds
// at once and the most bytes of lines it held at once.
type gatedSink struct {
	gate            chan struct{}
	inFlight, most  atomic.Int32
	held, mostHeld  atomic.Int64
	stored, entries atomic.Int32
}

func (s *gatedSink) Put(ctx context.Context, b *sink.Batch) error {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	raise(&s.most, n)
	h := s.held.Add(int64(len(b.NDJSON)))
	defer s.held.Add(-int64(len(b.NDJSON)))
	raise(&s.mostHeld, h)
	select {
	case <-s.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.stored.Add(1)
	s.entries.Add(int32(b.Entries))
	return nil
}

func (*gatedSink) Close() error { return nil }

// largeBatch is a 200 KB batch as an lz4 request, streamed as the HTTP
// server streams it.
func largeBatch() processor.Request {
	raw := []byte(`{"__logs__":[{"v":"` + strings.Repeat("x", 200<<10) + `"}]}`)
	body := processortest.LZ4(raw)
	req := processortest.Post("web", nil, "x-log-apiversion", "0.6.0", "x-log-compresstype", "lz4", "x-log-bodyrawsize", strconv.Itoa(len(raw)))
	req.BodyReader, req.ContentLength = bytes.NewReader(body), int64(len(body))
	return req
}

func raise[T int32 | int64, A interface {
	Load() T
	CompareAndSwap(old, new T) bool
}](most A, n T) {
	for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
	}
}

// storeShare is the part of the budget that a request's lines stand for
// while they are stored: the lines, a group commit's copy and their
// compressed form.
const storeShare = 2.25

// minimumBudget is the smallest budget the configuration allows for cfg.
func minimumBudget(cfg processor.Config) int64 {
	return processor.MaxRequestCost(cfg.MaxBodyBytes, cfg.MaxEntries)
}

func TestAdmissionBoundsRequestsInFlight(t *testing.T) {
	cfg := processortest.Config()
	cfg.MaxInflightBytes = minimumBudget(cfg) + 2<<20 // the minimum, and room for about two more 200 KB batches
	s := &gatedSink{gate: make(chan struct{})}
	p := processor.New(cfg, s, slog.New(slog.DiscardHandler))

	const clients = 8
	var wg sync.WaitGroup
	statuses := make([]int, clients)
	for i := range clients {
		wg.Go(func() {
			req := largeBatch()
			statuses[i] = p.Handle(context.Background(), &req).Status
		})
	}
	for deadline := time.Now().Add(5 * time.Second); s.inFlight.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // room for more to get in, were they let in
	if got := s.inFlight.Load(); got < 2 || got == clients {
		t.Errorf("%d of %d requests reached the sink while it was held, want some but not all", got, clients)
	}
	close(s.gate)
	wg.Wait()
	for i, st := range statuses {
		if st != 200 {
			t.Errorf("client %d: status %d, want 200 after waiting", i, st)
		}
	}
	if held := float64(s.mostHeld.Load()) * storeShare; held > float64(cfg.MaxInflightBytes) || s.stored.Load() != clients {
		t.Errorf("lines held at once stand for %.0f bytes of a %d budget; %d stored (want %d)", held, cfg.MaxInflightBytes, s.stored.Load(), clients)
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

func TestAdmissionGivesUpAtTheDeadline(t *testing.T) {
	cfg := processortest.Config()
	cfg.MaxInflightBytes = minimumBudget(cfg) // one request at a time
	cfg.SinkTimeout = 2 * time.Second
	s := &gatedSink{gate: make(chan struct{})}
	p := processor.New(cfg, s, slog.New(slog.DiscardHandler))
	first := largeBatch()
	go p.Handle(context.Background(), &first) // holds the budget for 2 s
	for deadline := time.Now().Add(5 * time.Second); s.inFlight.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}

	// The second request's own deadline (less the 300 ms kept to answer)
	// comes long before the first lets go.
	second := largeBatch()
	body := &countingReader{r: io.MultiReader(second.BodyReader, bytes.NewReader(make([]byte, 256<<10)))}
	second.BodyReader, second.ContentLength = body, second.ContentLength+256<<10
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	resp := p.Handle(ctx, &second)
	if resp.Status != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(resp.Body), "ServerBusy") {
		t.Errorf("waiting past the deadline: %d %q (Retry-After %q), want 503 ServerBusy with Retry-After", resp.Status, resp.Body, resp.Header.Get("Retry-After"))
	}
	if n := body.n.Load(); n > 1<<10 {
		t.Errorf("%d bytes of the body of a request that was never admitted were read", n)
	}
	if s.stored.Load() != 0 {
		t.Error("a request was stored")
	}
}

func TestRequestLargerThanTheBudgetIsRefusedAtOnce(t *testing.T) {
	cfg := processortest.Config()
	cfg.MaxInflightBytes = 256 << 10
	p := processor.New(cfg, &gatedSink{gate: make(chan struct{})}, slog.New(slog.DiscardHandler))
	req := largeBatch()
	start := time.Now()
	resp := p.Handle(context.Background(), &req)
	if resp.Status != 400 || !strings.Contains(string(resp.Body), "WEBTRACK_MAX_INFLIGHT_BYTES") || time.Since(start) > time.Second {
		t.Errorf("request over the whole budget: %d %s after %v, want an immediate 400 naming the budget", resp.Status, resp.Body, time.Since(start))
	}
}

// A client that sends its headers and then no body holds no memory, so a
// crowd of them does not lock out anyone else; nor do clients that send a
// few bytes and stall, beyond the few bytes they sent.
func TestIdleUploadsDoNotLockOthersOut(t *testing.T) {
	cfg := processortest.Config()
	cfg.MaxInflightBytes = 2 * minimumBudget(cfg)
	cfg.SinkTimeout = 2 * time.Second
	s := &gatedSink{gate: make(chan struct{})}
	close(s.gate)
	p := processor.New(cfg, s, slog.New(slog.DiscardHandler))

	var idle sync.WaitGroup
	var stalls []*io.PipeWriter
	defer func() {
		for _, w := range stalls {
			w.CloseWithError(io.ErrUnexpectedEOF)
		}
		idle.Wait()
	}()
	for i := range 220 {
		r, w := io.Pipe()
		stalls = append(stalls, w)
		req := processortest.Post("web", nil, "x-log-apiversion", "0.6.0")
		req.BodyReader, req.ContentLength = r, int64(cfg.MaxBodyBytes)
		idle.Go(func() { p.Handle(context.Background(), &req) })
		if i%10 == 0 { // one in ten sends its first bytes, then stalls
			w.Write([]byte(`{"__logs__":[`))
		}
	}
	time.Sleep(100 * time.Millisecond) // every idle upload is waiting on its body

	for i := range 3 {
		req := processortest.Post("web", []byte(processortest.Batch), "x-log-apiversion", "0.6.0")
		req.BodyReader, req.ContentLength = bytes.NewReader(req.Body), int64(len(req.Body))
		req.Body = nil
		if resp := p.Handle(context.Background(), &req); resp.Status != 200 {
			t.Errorf("request %d beside 220 idle uploads: %d %s, want 200", i, resp.Status, resp.Body)
		}
	}
}

// Requests whose reservations grow (a body that arrives after its headers,
// then lines far larger than the body) all finish, whatever the mix and
// however many arrive at once: none waits on memory that another waiting
// request holds.
func TestGrowingReservationsAllFinish(t *testing.T) {
	cfg := processortest.Config()
	cfg.MaxInflightBytes = minimumBudget(cfg) + 1<<20
	s := &gatedSink{gate: make(chan struct{})}
	close(s.gate)
	p := processor.New(cfg, s, slog.New(slog.DiscardHandler))

	tag := strings.Repeat("t", 2<<10)
	bodies := [][]byte{
		// lines of about 200 KB from a body of 2 KB: the tag is on every line
		[]byte(`{"__tags__":{"t":"` + tag + `"},"__logs__":[` + strings.Repeat(`{},`, cfg.MaxEntries-1) + `{}]}`),
		[]byte(`{"__logs__":[{"v":"` + strings.Repeat("x", 240<<10) + `"}]}`), // near the body limit
		[]byte(processortest.Batch),
	}
	const clients = 14
	var writers sync.WaitGroup
	var handlers sync.WaitGroup
	statuses := make([]int, clients)
	start := make(chan struct{})
	for i := range clients {
		r, w := io.Pipe()
		body := bodies[i%len(bodies)]
		req := processortest.Post("web", nil, "x-log-apiversion", "0.6.0")
		req.BodyReader, req.ContentLength = r, int64(len(body))
		handlers.Go(func() { statuses[i] = p.Handle(context.Background(), &req).Status })
		writers.Go(func() {
			<-start // every request has sent its headers first
			for len(body) > 0 {
				n, err := w.Write(body[:min(len(body), 16<<10)])
				if err != nil {
					return
				}
				body = body[n:]
			}
			w.Close()
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(start)
	handlers.Wait()
	writers.Wait()
	for i, st := range statuses {
		if st != 200 {
			t.Errorf("client %d: status %d, want 200", i, st)
		}
	}
	if s.stored.Load() != clients {
		t.Errorf("%d of %d stored", s.stored.Load(), clients)
	}
}

// A small body whose tag every entry repeats makes lines far larger than
// itself: they are counted before they are allocated, so the lines of
// requests held in the sink never stand for more than the budget.
func TestLinesAreCountedBeforeTheyAreBuilt(t *testing.T) {
	cfg := processortest.Config()
	cfg.MaxInflightBytes = minimumBudget(cfg) + 3<<20
	s := &gatedSink{gate: make(chan struct{})}
	p := processor.New(cfg, s, slog.New(slog.DiscardHandler))

	tag := strings.Repeat("t", 2<<10)
	body := []byte(`{"__tags__":{"t":"` + tag + `"},"__logs__":[` + strings.Repeat(`{},`, cfg.MaxEntries-1) + `{}]}`)
	const clients = 20
	var wg sync.WaitGroup
	statuses := make([]int, clients)
	for i := range clients {
		wg.Go(func() {
			req := processortest.Post("web", nil, "x-log-apiversion", "0.6.0", "x-log-bodyrawsize", "1")
			req.BodyReader, req.ContentLength = bytes.NewReader(body), int64(len(body))
			statuses[i] = p.Handle(context.Background(), &req).Status
		})
	}
	for deadline := time.Now().Add(5 * time.Second); s.inFlight.Load() < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // room for more to get in, were they let in
	if n, held := s.inFlight.Load(), float64(s.held.Load())*storeShare; n < 3 || held > float64(cfg.MaxInflightBytes) {
		t.Errorf("%d requests in the sink, whose lines stand for %.0f bytes; want at least 3, within the budget of %d", n, held, cfg.MaxInflightBytes)
	}
	close(s.gate)
	wg.Wait()
	for i, st := range statuses {
		if st != 200 {
			t.Errorf("client %d: status %d, want 200", i, st)
		}
	}
}

// Lines that would not fit the budget are refused before they are built:
// what a request will hold is counted before it is allocated, never after.
func TestLinesOverTheBudgetAreNeverBuilt(t *testing.T) {
	cfg := processortest.Config()
	cfg.MaxInflightBytes = 200 << 10
	p := processor.New(cfg, &gatedSink{gate: make(chan struct{})}, slog.New(slog.DiscardHandler))
	tag := strings.Repeat("t", 2<<10)
	body := []byte(`{"__tags__":{"t":"` + tag + `"},"__logs__":[` + strings.Repeat(`{},`, cfg.MaxEntries-1) + `{}]}`) // 2 KB, 225 KB of lines
	send := func() *processor.Response {
		req := processortest.Post("web", nil, "x-log-apiversion", "0.6.0")
		req.BodyReader, req.ContentLength = bytes.NewReader(body), int64(len(body))
		return p.Handle(context.Background(), &req)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp := send()
	runtime.ReadMemStats(&after)
	if resp.Status != 400 || !strings.Contains(string(resp.Body), "WEBTRACK_MAX_INFLIGHT_BYTES") {
		t.Errorf("lines over the budget: %d %s, want 400 naming the budget", resp.Status, resp.Body)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 100<<10 {
		t.Errorf("%d bytes allocated to refuse a request whose lines take 225 KB", grew)
	}
}
