package processor_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
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
// at once.
type gatedSink struct {
	gate            chan struct{}
	inFlight, most  atomic.Int32
	stored, entries atomic.Int32
}

func (s *gatedSink) Put(ctx context.Context, b *sink.Batch) error {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
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

func TestAdmissionBoundsRequestsInFlight(t *testing.T) {
	cfg := processortest.Config()
	cfg.MaxInflightBytes = 1500 << 10 // room for two 200 KB batches (about 700 KB each)
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
	time.Sleep(200 * time.Millisecond) // room for a third to get in, were it let in
	if got := s.inFlight.Load(); got != 2 {
		t.Errorf("%d requests reached the sink while it was held, want the 2 that fit", got)
	}
	close(s.gate)
	wg.Wait()
	for i, st := range statuses {
		if st != 200 {
			t.Errorf("client %d: status %d, want 200 after waiting", i, st)
		}
	}
	if s.most.Load() > 2 || s.stored.Load() != clients {
		t.Errorf("at most %d in flight (want 2), %d stored (want %d)", s.most.Load(), s.stored.Load(), clients)
	}
}

func TestAdmissionGivesUpAtTheDeadline(t *testing.T) {
	cfg := processortest.Config()
	cfg.MaxInflightBytes = 1 << 20
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
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	resp := p.Handle(ctx, &second)
	if resp.Status != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(resp.Body), "ServerBusy") {
		t.Errorf("waiting past the deadline: %d %q (Retry-After %q), want 503 ServerBusy with Retry-After", resp.Status, resp.Body, resp.Header.Get("Retry-After"))
	}
	if rest, _ := io.ReadAll(second.BodyReader); len(rest) == 0 {
		t.Error("the body of a request that was never admitted was read")
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
